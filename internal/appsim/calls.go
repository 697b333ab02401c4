package appsim

import (
	"maps"
	"net/http"
	"strings"
	"time"
)

// Call is one request the simulator received.
type Call struct {
	At       time.Time // from the injected clock
	Endpoint string    // "POST /v2/apps", "GET /v2/apps", "GET /v2/apps/{id}", "DELETE /v2/apps/{id}", "GET /live/{id}/health", ...
}

// maxLog bounds the call log of a long soak; the oldest half is dropped.
const maxLog = 1 << 20

// record counts and logs a request and returns the clock's now.
func (s *Server) record(endpoint string, _ *http.Request) time.Time {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[endpoint]++
	if len(s.log) >= maxLog {
		s.log = append(s.log[:0], s.log[maxLog/2:]...)
	}
	s.log = append(s.log, Call{At: now, Endpoint: endpoint})
	return now
}

// Calls returns the number of requests per endpoint since start (or ResetCalls).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// APICalls is the number of /v2 requests since start (or ResetCalls), every
// endpoint together. It reads the counters, not the log, which keeps only
// its newest half once full.
func (s *Server) APICalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for endpoint, c := range s.calls {
		if isAPI(endpoint) {
			n += c
		}
	}
	return n
}

// CallLog returns a copy of the call log, oldest first.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.log...)
}

// ResetCalls clears the counters and the log (not the rate-limit window).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.log = nil
}

func isAPI(endpoint string) bool { return strings.Contains(endpoint, " /v2/") }
