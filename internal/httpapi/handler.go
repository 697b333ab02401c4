package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/metrics"
	"github.com/hotpool/hotpool/internal/pool"
)

// Options configures a Handler.
type Options struct {
	Service *pool.Service
	// Token is the API bearer token (HOTPOOL_API_TOKEN). Empty refuses every
	// request but /healthz: a deployment without a token is never open.
	Token  string
	Logger *slog.Logger // nil: slog.Default()
	Clock  pool.Clock   // times the request for the log line; nil: the system clock
	// Budget reports the DigitalOcean API budget in GET /metrics; nil leaves it out.
	Budget metrics.BudgetSource
	// NewRequestID makes the id of a request that brought none; nil: 16 random hex digits.
	NewRequestID func() string
}

// Handler answers the contract's routes.
type Handler struct {
	o      Options
	routes map[string]route
	// tokenHash is the API token's sha256: presented tokens are hashed and
	// compared in constant time, so not even the token's length leaks.
	tokenHash string
}

// New builds a Handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = pool.SystemClock{}
	}
	if o.NewRequestID == nil {
		o.NewRequestID = randomRequestID
	}
	h := &Handler{o: o}
	h.routes = map[string]route{
		"/acquire":        {"acquire", http.MethodPost, h.acquire},
		"/acquire/renew":  {"renew", http.MethodPost, h.renew},
		"/acquire/cancel": {"cancel", http.MethodPost, h.cancel},
		"/release":        {"release", http.MethodPost, h.release},
		"/metrics":        {"metrics", http.MethodGet, h.metrics},
		"/reconcile":      {"reconcile", http.MethodPost, h.reconcile},
		// The admin actions under routes named for them; POST /reconcile
		// {"action": …} does the same and keeps working.
		"/reconcile/shutdown": {"reconcile_shutdown", http.MethodPost, h.admin(ActionShutdown)},
		"/reconcile/start":    {"reconcile_start", http.MethodPost, h.admin(ActionStart)},
		"/reconcile/warm-up":  {"reconcile_warm_up", http.MethodPost, h.admin(ActionWarmUp)},
	}
	// Trimmed like a presented token: a stray newline from a .env file or a
	// secret store would otherwise refuse every request, forever.
	if t := strings.TrimSpace(o.Token); t != "" {
		h.tokenHash = pool.HashToken(t)
	}
	return h
}

func randomRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// A caller's request id is echoed only when it is short and plain, so it
// cannot inject anything into headers or log lines.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// route is one path of the contract: its log op, its method, its handler.
type route struct {
	op     string
	method string
	do     func(context.Context, Request) outcome
}

// outcome is what one route did, for the response and the log line.
type outcome struct {
	status    int
	body      any    // JSON-encoded, unless raw is set
	raw       []byte // a pre-rendered body (Prometheus text)
	ctype     string
	headers   map[string]string
	op        string
	pool      string
	sandboxID string
	result    string // "ok", "claim", "replay", or the error code
	source    string // acquire: pool or cold
	err       error
}

// Handle answers one request. It never panics: a panic inside a route is
// answered as internal and logged.
func (h *Handler) Handle(ctx context.Context, req Request) (resp Response) {
	start := h.o.Clock.Now()
	if req.ReceivedAt.IsZero() {
		// Stamped before auth and decoding: the acquire latency is the
		// server's whole share of the request, not just the Store call.
		req.ReceivedAt = start
	}
	rid := req.Header("X-Request-Id")
	if !saneRequestID.MatchString(rid) {
		rid = h.o.NewRequestID()
	}
	out := outcome{op: "unknown"}
	// op is the route's, set before it runs, so a panic's line names it.
	op := out.op
	defer func() {
		if p := recover(); p != nil {
			out = h.fail(op, fmt.Errorf("panic: %v", p))
		}
		resp = h.respond(ctx, rid, start, out)
		if strings.EqualFold(req.Method, http.MethodHead) {
			// HEAD is GET without the body (API.md).
			resp.Body = nil
		}
	}()
	out = h.route(ctx, req, &op)
	return resp
}

// route authenticates, then dispatches. The token is checked before the
// path, the method or the body is looked at (except /healthz, open by
// contract). It sets *op to the route's op before running it.
func (h *Handler) route(ctx context.Context, req Request, op *string) outcome {
	path := cleanPath(req.Path)
	method := strings.ToUpper(req.Method)
	if path == "/healthz" {
		if method != http.MethodGet && method != http.MethodHead {
			return h.methodNotAllowed("healthz", "GET")
		}
		return outcome{status: http.StatusOK, body: map[string]string{"status": "ok"}, op: "healthz", result: "ok"}
	}
	if !h.authorized(req.Header("Authorization")) {
		return h.fail("auth", errUnauthorized)
	}
	rt, ok := h.routes[path]
	if !ok {
		return h.fail("route", fmt.Errorf("%w: %s", errNotFound, path))
	}
	*op = rt.op
	if method != rt.method && (method != http.MethodHead || rt.method != http.MethodGet) {
		allow := rt.method
		if allow == http.MethodGet {
			allow = "GET, HEAD"
		}
		return h.methodNotAllowed(rt.op, allow)
	}
	if req.DecodeErr != nil {
		return h.fail(rt.op, pool.InvalidField("body", "%v", req.DecodeErr))
	}
	if h.o.Service == nil {
		return h.fail(rt.op, fmt.Errorf("%w: the service is not configured", pool.ErrUnavailable))
	}
	return rt.do(ctx, req)
}

// authorized compares "Bearer <token>" with the API token in constant time.
func (h *Handler) authorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || h.tokenHash == "" {
		return false
	}
	return pool.TokensEqual(pool.HashToken(strings.TrimSpace(token)), h.tokenHash)
}

func (h *Handler) methodNotAllowed(op, allow string) outcome {
	o := h.fail(op, fmt.Errorf("%w: use %s", errMethodNotAllowed, allow))
	o.headers = map[string]string{"Allow": allow}
	return o
}

// fail turns an error into its outcome through the one table.
func (h *Handler) fail(op string, err error) outcome {
	r := ruleFor(err)
	o := outcome{
		status: r.status,
		body:   api.ErrorBody{Error: api.ErrorDetail{Code: r.code, Message: message(r, err), Details: details(err)}},
		op:     op,
		result: r.code,
		err:    err,
	}
	if r.retryAfter > 0 {
		o.headers = map[string]string{"Retry-After": strconv.Itoa(r.retryAfter)}
	}
	return o
}

// respond encodes the outcome and writes the request's log line.
func (h *Handler) respond(ctx context.Context, rid string, start time.Time, out outcome) Response {
	resp := Response{Status: out.status, Headers: map[string]string{}}
	for k, v := range out.headers {
		resp.Headers[k] = v
	}
	resp.Headers["X-Request-Id"] = rid
	if out.raw != nil {
		resp.Body = out.raw
		resp.Headers["Content-Type"] = out.ctype
	} else {
		b, err := json.Marshal(out.body)
		if err != nil {
			out = h.fail(out.op, fmt.Errorf("encoding the response: %v", err))
			b, _ = json.Marshal(out.body)
			resp.Status = out.status
		}
		resp.Body = append(b, '\n')
		resp.Headers["Content-Type"] = "application/json"
	}
	line := logging.Request{
		Op: out.op, RequestID: rid, Pool: out.pool, SandboxID: out.sandboxID,
		Status: resp.Status, Outcome: out.result, Source: out.source,
		Duration: h.o.Clock.Now().Sub(start),
	}
	if resp.Status >= 500 {
		// Domain and backend errors carry no secrets; the detail the caller
		// does not see (a Redis error, a panic) is here.
		line.Err = out.err
	}
	logging.LogRequest(ctx, h.o.Logger, line)
	return resp
}
