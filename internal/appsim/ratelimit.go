package appsim

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// overLimit applies the simulator's own sliding-window limits. An accepted
// call enters the window; a rejected one does not, so a client that backs
// off is not locked out. It returns how long until a slot frees.
func (s *Server) overLimit(now time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	check := func(limit int, period time.Duration) (time.Duration, bool) {
		if limit <= 0 {
			return 0, false
		}
		i := s.since(now.Add(-period))
		if len(s.window)-i < limit {
			return 0, false
		}
		// The oldest call inside the window frees the first slot.
		return s.window[len(s.window)-limit].Add(period).Sub(now), true
	}
	if d, ok := check(s.opts.RateLimitPerMinute, time.Minute); ok {
		return d, true
	}
	if d, ok := check(s.opts.RateLimitPerHour, time.Hour); ok {
		return d, true
	}
	s.window = append(s.window, now)
	return 0, false
}

// setRateHeaders sends RateLimit-Limit/Remaining/Reset as DigitalOcean does:
// the hourly quota, what is left of it, and when the oldest request expires.
func (s *Server) setRateHeaders(w http.ResponseWriter, now time.Time) {
	s.mu.Lock()
	s.prune(now)
	used := len(s.window)
	reset := now
	if used > 0 {
		reset = s.window[0].Add(time.Hour)
	}
	s.mu.Unlock()
	limit := s.opts.RateLimitPerHour
	if limit <= 0 {
		limit = HeaderLimit
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, limit-used)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

// prune drops window entries older than an hour; s.mu is held.
func (s *Server) prune(now time.Time) {
	if i := s.since(now.Add(-time.Hour)); i > 0 {
		s.window = append(s.window[:0], s.window[i:]...)
	}
}

// since is the index of the first window entry after t; s.mu is held.
func (s *Server) since(t time.Time) int {
	return sort.Search(len(s.window), func(i int) bool { return s.window[i].After(t) })
}
