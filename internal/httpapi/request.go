package httpapi

import (
	"net/url"
	"strings"
	"time"
)

// MaxBodyBytes caps every request body (docs/api.md).
const MaxBodyBytes = 64 << 10

// Request is one HTTP request, whatever carried it.
type Request struct {
	Method  string
	Path    string            // "/acquire/renew"
	Headers map[string]string // lower-case names
	Query   string            // raw query string, without "?"
	Body    []byte
	// DecodeErr is a transport-level decoding failure (bad base64, a body of
	// the wrong type). It is answered as invalid_request, after the token check.
	DecodeErr error
	// ReceivedAt is when the request arrived; Handle stamps it (before auth
	// and decoding) unless the transport did. The acquire latency counts from it.
	ReceivedAt time.Time
}

// Response is what a transport writes back.
type Response struct {
	Status  int
	Headers map[string]string // canonical names ("Content-Type")
	Body    []byte
}

// Header reads a request header by any casing.
func (r Request) Header(name string) string {
	if v, ok := r.Headers[strings.ToLower(name)]; ok {
		return v
	}
	return ""
}

// LowerHeaders copies headers with lower-case names. When two spellings of
// one name arrive, the one already in lower case (the platforms' own
// spelling) wins, whatever the map's order.
func LowerHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		if _, dup := out[lk]; !dup || lk == k {
			out[lk] = v
		}
	}
	return out
}

// RoutePath joins a function's name and the sub-path its platform hands over
// ("" or "/renew"), unless the path already starts with the function's route.
func RoutePath(fn, p string) string {
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if fn == "" {
		return p
	}
	prefix := "/" + fn
	if p == prefix || strings.HasPrefix(p, prefix+"/") {
		return p
	}
	return prefix + p
}

// cleanPath drops a trailing slash so "/acquire/" routes as "/acquire".
func cleanPath(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	if p == "" {
		return "/"
	}
	return p
}
