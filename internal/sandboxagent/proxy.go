package sandboxagent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// proxyTimeout is how long the proxy waits for a port's answer (504 after).
const proxyTimeout = 60 * time.Second

// maxProxied bounds a proxied answer, which the agent buffers whole.
const maxProxied = 64 << 20

var proxyMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodDelete: true,
	http.MethodPatch: true, http.MethodOptions: true, http.MethodHead: true,
}

// proxyClient forwards to the sandbox's ports. It asks for gzip itself and
// undoes it, so the answer it passes on is never encoded (the agent drops
// Content-Encoding, as httpx's decoded content needs).
var proxyClient = &http.Client{
	Timeout:       proxyTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// proxy forwards a request, with its query, to localhost:{port}/{path} in
// the sandbox, without the caller's Authorization and Host, and answers what
// that port answers. Nothing listening is 502; no answer within 60 s is 504.
func (a *Agent) proxy(w http.ResponseWriter, r *http.Request) {
	if !proxyMethods[r.Method] {
		detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || port < 1 || port > 65535 {
		unprocessable(w, "path", "port", "Input should be a valid integer, unable to parse string as an integer", "int_parsing")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		detail(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	target := fmt.Sprintf("http://localhost:%d/%s", port, r.PathValue("path"))
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, rd)
	if err != nil {
		detail(w, http.StatusBadRequest, err.Error())
		return
	}
	for k, vs := range r.Header {
		switch strings.ToLower(k) {
		case "host", "authorization", "content-length", "accept-encoding":
			continue
		}
		out.Header[k] = vs
	}
	res, err := proxyClient.Do(out)
	if err != nil {
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			detail(w, http.StatusGatewayTimeout, fmt.Sprintf("Timeout connecting to port %d", port))
			return
		}
		detail(w, http.StatusBadGateway, fmt.Sprintf("Cannot connect to port %d", port))
		return
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxProxied+1))
	if err != nil || len(data) > maxProxied {
		detail(w, http.StatusBadGateway, fmt.Sprintf("Cannot read the answer of port %d", port))
		return
	}
	for k, vs := range res.Header {
		switch strings.ToLower(k) {
		case "transfer-encoding", "content-encoding", "content-length":
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(res.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}
