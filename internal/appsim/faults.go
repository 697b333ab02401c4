package appsim

import (
	"net/http"
	"time"
)

// Faults are injected into /v2 requests; each rate is a probability (0-1)
// drawn per request from the seeded generator. Live URLs are not affected
// (use SetHealthFailing).
type Faults struct {
	Rate429    float64
	Rate500    float64
	Rate503    float64
	DropRate   float64       // hijack the connection and close it unanswered
	Delay      time.Duration // added before every /v2 answer (slow responses)
	RetryAfter time.Duration // Retry-After of injected 429s; default 1s
}

// DropConnection in QueueFaults drops the connection instead of answering.
const DropConnection = -1

// SetFaults replaces the fault rates; safe while serving.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// QueueFaults makes the next /v2 requests answer these statuses in order
// (429 with Retry-After, 500, 503, any other error status, or
// DropConnection), before any rate applies; for deterministic tests.
func (s *Server) QueueFaults(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, statuses...)
}

// SetHealthFailing makes one app's health path answer 503 (or heals it).
func (s *Server) SetHealthFailing(appID string, failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if failing {
		s.healthFail[appID] = true
	} else {
		delete(s.healthFail, appID)
	}
}

type injection struct {
	status     int // 0: none
	drop       bool
	delay      time.Duration
	retryAfter time.Duration
}

// draw decides the faults of one /v2 request.
func (s *Server) draw() injection {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	inj := injection{delay: f.Delay, retryAfter: f.RetryAfter}
	if inj.retryAfter <= 0 {
		inj.retryAfter = time.Second
	}
	defer s.countInjection(&inj)
	if len(s.queued) > 0 {
		st := s.queued[0]
		s.queued = s.queued[1:]
		if st == DropConnection {
			inj.drop = true
		} else {
			inj.status = st
		}
		return inj
	}
	if f.DropRate > 0 && s.rng.Float64() < f.DropRate {
		inj.drop = true
		return inj
	}
	u := s.rng.Float64()
	switch {
	case u < f.Rate429:
		inj.status = http.StatusTooManyRequests
	case u < f.Rate429+f.Rate500:
		inj.status = http.StatusInternalServerError
	case u < f.Rate429+f.Rate500+f.Rate503:
		inj.status = http.StatusServiceUnavailable
	}
	return inj
}
