package appsim

import (
	"maps"
	"strconv"
)

// SetFailRate changes the share of new deployments that end in ERROR; safe
// while serving. A soak turns ERROR deployments on for its fault phase and
// off again before it checks convergence.
func (s *Server) SetFailRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.FailRate = rate
}

// Injected counts the faults injected into /v2 requests since start, by kind:
// "429", "500", "503", "drop" and "slow" (a request delayed by Faults.Delay).
// ERROR deployments are not faults of a request; they are counted by the
// reconciler as failed creates.
func (s *Server) Injected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.injected)
}

// countInjection records one request's faults; called with s.mu held.
func (s *Server) countInjection(inj *injection) {
	if s.injected == nil {
		s.injected = map[string]int{}
	}
	if inj.delay > 0 {
		s.injected["slow"]++
	}
	switch {
	case inj.drop:
		s.injected["drop"]++
	case inj.status != 0:
		s.injected[strconv.Itoa(inj.status)]++
	}
}
