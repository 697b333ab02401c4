package httpapi

import (
	"io"
	"net/http"
	"strings"
)

// ServeHTTP carries the contract on net/http (the local server). The token
// is checked before the body is read; a body over the cap is read only up to
// one byte past it, which the core answers as invalid_request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := Request{
		Method: r.Method,
		// Escaped, like the paths Lambda and DigitalOcean hand over: the core
		// unescapes once (cleanPath), so "%252F" stays "%2F", never "/".
		Path:    r.URL.EscapedPath(),
		Headers: make(map[string]string, len(r.Header)),
		Query:   r.URL.RawQuery,
	}
	for k, v := range r.Header {
		if len(v) > 0 {
			req.Headers[strings.ToLower(k)] = v[0]
		}
	}
	if h.authorized(req.Headers["authorization"]) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			req.DecodeErr = err
		}
		req.Body = body
	}
	resp := h.Handle(r.Context(), req)
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
}
