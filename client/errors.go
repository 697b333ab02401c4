package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hotpool/hotpool/api"
)

// Sentinel errors, matched with errors.Is. They mirror the seed SDK's
// exceptions (PoolExhaustedError, PoolShutdownError, WarmUpTimeoutError,
// SandboxCreationError) plus the rest of the contract's stable codes.
var (
	ErrPoolExhausted = errors.New("hotpool: pool exhausted")
	// ErrTooManyPools: default_pool_config already serves max_dynamic_pools
	// pools; empty ones are collected after their idle_timeout. It is also an
	// ErrPoolExhausted.
	ErrTooManyPools    error = tooManyPools{}
	ErrPoolShutdown          = errors.New("hotpool: pool shut down")
	ErrWarmUpTimeout         = errors.New("hotpool: warm-up timed out")
	ErrSandboxCreation       = errors.New("hotpool: sandbox creation failed")
	ErrLeaseMismatch         = errors.New("hotpool: lease token does not match")
	ErrLeaseExpired          = errors.New("hotpool: lease expired")
	// ErrStateConflict: the sandbox moved to another state meanwhile (for
	// instance reaped as its lease expired); read the new state, do not retry blindly.
	ErrStateConflict   = errors.New("hotpool: sandbox state changed meanwhile")
	ErrSandboxNotFound = errors.New("hotpool: sandbox not found")
	ErrClaimNotFound   = errors.New("hotpool: claim not found")
	ErrUnknownImage    = errors.New("hotpool: unknown image")
	ErrUnauthorized    = errors.New("hotpool: unauthorized")
	ErrInvalidRequest  = errors.New("hotpool: invalid request")
	ErrNotFound        = errors.New("hotpool: not found")
	// ErrUnavailable: the server, Redis or the platform could not be reached,
	// or the server answered 503 unavailable.
	ErrUnavailable = errors.New("hotpool: unavailable")
	// ErrInternal: the server answered 500 (a server bug, never bad input).
	ErrInternal = errors.New("hotpool: internal server error")
)

// codeErrors maps each stable error code of the contract to its sentinel.
var codeErrors = map[string]error{
	api.CodePoolExhausted:         ErrPoolExhausted,
	api.CodeTooManyPools:          ErrTooManyPools,
	api.CodePoolShutdown:          ErrPoolShutdown,
	api.CodeWarmUpTimeout:         ErrWarmUpTimeout,
	api.CodeSandboxCreationFailed: ErrSandboxCreation,
	api.CodeLeaseMismatch:         ErrLeaseMismatch,
	api.CodeLeaseExpired:          ErrLeaseExpired,
	api.CodeStateConflict:         ErrStateConflict,
	api.CodeSandboxNotFound:       ErrSandboxNotFound,
	api.CodeClaimNotFound:         ErrClaimNotFound,
	api.CodeUnknownImage:          ErrUnknownImage,
	api.CodeUnauthorized:          ErrUnauthorized,
	api.CodeInvalidRequest:        ErrInvalidRequest,
	api.CodeNotFound:              ErrNotFound,
	api.CodeUnavailable:           ErrUnavailable,
	api.CodeInternal:              ErrInternal,
	// A route that exists but not for this method: the caller's mistake.
	api.CodeMethodNotAllowed: ErrInvalidRequest,
}

type tooManyPools struct{}

func (tooManyPools) Error() string        { return "hotpool: too many pools" }
func (tooManyPools) Is(target error) bool { return target == ErrPoolExhausted }

// APIError is an error answer of the hotpool API. It unwraps to the sentinel
// of its code, so errors.Is(err, ErrPoolExhausted) works on it.
type APIError struct {
	Status     int             // HTTP status
	Code       string          // stable code, e.g. "pool_exhausted"
	Message    string          // the server's human words
	RequestID  string          // X-Request-Id of the answer, for the server's log
	RetryAfter time.Duration   // from Retry-After; 0 when absent
	Details    json.RawMessage // the error's details object, if any
	// URL is what was called ("GET http://…/metrics"): a 404 names it, since
	// it most often means HOTPOOL_URL is not a hotpool deployment's base URL.
	URL string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("hotpool: ")
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	// A shut-down pool waits for someone to start it, not for time to pass.
	if e.RetryAfter > 0 && e.Code != "pool_shutdown" {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Status == http.StatusNotFound && e.Code == "not_found" && e.URL != "" {
		fmt.Fprintf(&b, " (%s: is the URL the base URL of a hotpool deployment, such as http://127.0.0.1:8080 or https://…/api/v1/web/NAMESPACE/hotpool?)", e.URL)
	}
	return b.String()
}

// Unwrap returns the sentinel of the error's code. An unknown code falls back
// on the status class, so a newer server's codes still match something.
func (e *APIError) Unwrap() error {
	if s, ok := codeErrors[e.Code]; ok {
		return s
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusServiceUnavailable, e.Status == http.StatusBadGateway, e.Status == http.StatusGatewayTimeout:
		return ErrUnavailable
	case e.Status >= 500:
		return ErrInternal
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	default:
		return ErrInvalidRequest
	}
}

// decodeAPIError builds an APIError from a non-2xx answer. A body that is not
// the contract's shape (a proxy's HTML page, say) still gives a clear error.
func decodeAPIError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{
		Status:     status,
		RequestID:  h.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(h.Get("Retry-After")),
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error.Code != "" {
		e.Code, e.Message, e.Details = eb.Error.Code, eb.Error.Message, eb.Error.Details
		return e
	}
	e.Code = fallbackCode(status)
	e.Message = fmt.Sprintf("HTTP %d %s", status, snippet(body))
	return e
}

func fallbackCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return api.CodeUnauthorized
	case status == http.StatusNotFound:
		return api.CodeNotFound
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return api.CodeUnavailable
	case status >= 500:
		return api.CodeInternal
	default:
		return api.CodeInvalidRequest
	}
}

// snippet is the start of a non-JSON body on one line, for error messages.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// parseRetryAfter reads whole seconds (the contract's form); HTTP dates are
// not sent by hotpool and read as absent.
func parseRetryAfter(v string) time.Duration {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &n); err != nil || n < 0 {
		return 0
	}
	if n > 3600 {
		n = 3600
	}
	return time.Duration(n) * time.Second
}

// WarmUpError is a warm-up that ran out of time. It matches ErrWarmUpTimeout
// and names each pool that had not reached its target.
type WarmUpError struct {
	Timeout time.Duration
	Pools   map[string]PoolProgress // every pool's last known ready/target
}

func (e *WarmUpError) Error() string {
	var lagging, all []string
	for _, name := range slices.Sorted(maps.Keys(e.Pools)) {
		p := e.Pools[name]
		s := fmt.Sprintf("%s %d/%d", name, p.Ready, p.Target)
		all = append(all, s)
		if p.Ready < p.Target {
			lagging = append(lagging, s)
		}
	}
	if len(lagging) == 0 {
		// The last report was already at target: the pools moved after it.
		lagging = all
	}
	msg := fmt.Sprintf("warm_up_timeout: pools not at target after %s", e.Timeout)
	if len(lagging) > 0 {
		msg += ": " + strings.Join(lagging, ", ")
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrWarmUpTimeout) true.
func (e *WarmUpError) Unwrap() error { return ErrWarmUpTimeout }

// AgentError is an error answer of a sandbox's agent (exec, files,
// processes), or of the platform's edge in front of it.
type AgentError struct {
	Status  int
	Message string
	// FromAgent is true when the agent itself answered (its {"detail": …}
	// shape); false when something in front of it did, such as the platform
	// answering 404 for an app that no longer exists.
	FromAgent bool
	Sandbox   string // the sandbox's id, when known
}

// Error names what went wrong in the contract's terms, then what the agent
// said.
func (e *AgentError) Error() string {
	said := fmt.Sprintf("sandbox agent: HTTP %d: %s", e.Status, e.Message)
	switch sentinel := e.Unwrap(); sentinel {
	case nil:
		return said
	case ErrSandboxGone:
		name := "the sandbox"
		if e.Sandbox != "" {
			name = "sandbox " + e.Sandbox
		}
		return fmt.Sprintf("hotpool: %s is gone: it was released or its lease expired, and its agent no longer answers (HTTP %d: %s); acquire another", name, e.Status, e.Message)
	case ErrUnauthorized:
		return fmt.Sprintf("hotpool: the sandbox's agent refused the agent token (%s): use the agent_token that acquire returned (HOTPOOL_AGENT_TOKEN, printed by acquire --env)", said)
	default:
		return fmt.Sprintf("%s (%s)", sentinel, said)
	}
}

// Errors of the sandbox agent's contract (docs/agent.md), matched with errors.Is.
var (
	// ErrExecTimeout: the agent killed the command at its timeout (408 for
	// Exec, with no partial output; the TIMEOUT error event of ExecStream,
	// after the lines that came before it).
	ErrExecTimeout = errors.New("hotpool: sandbox command timed out")
	// ErrFileNotFound: the agent has no file or directory at that path (404
	// "File not found: …" or "Path not found: …"), as opposed to a 404 for a
	// route the agent does not have.
	ErrFileNotFound = errors.New("hotpool: file not found in the sandbox")
	// ErrPathNotAllowed: the path is outside /workspace, /home/sandbox and
	// /tmp (the agent's 403 on a file route).
	ErrPathNotAllowed = errors.New("hotpool: path not allowed in the sandbox (use /workspace, /home/sandbox or /tmp)")
	// ErrNotADirectory: ListFiles was given a file (400 "Not a directory").
	ErrNotADirectory = errors.New("hotpool: not a directory in the sandbox")
	// ErrIsADirectory: ReadFile was given a directory (400 "Path is a directory").
	ErrIsADirectory = errors.New("hotpool: is a directory in the sandbox")
	// ErrProcessNotFound: the agent did not start a process with that pid
	// (404 "Process N not tracked"): only StartProcess's pids are known.
	ErrProcessNotFound = errors.New("hotpool: process not tracked by the sandbox's agent")
	// ErrProcessNotRunning: a kill of a process that has already exited, or
	// with a signal that does not exist (400 "Failed to kill process").
	ErrProcessNotRunning = errors.New("hotpool: the process could not be signalled (it has exited, or the signal is invalid)")
	// ErrSandboxGone: the sandbox's app no longer answers as an agent (the
	// platform's 404 for an app that was deleted): it was released, or its
	// lease expired and it was reaped. Acquire another.
	ErrSandboxGone = errors.New("hotpool: the sandbox is gone (released or expired)")
	// ErrStreamIncomplete: a stream (ExecStream, FollowLogs) was cut before
	// its end: the connection broke or nothing arrived for too long. The
	// output received may be incomplete, and the command may still be
	// running.
	ErrStreamIncomplete = errors.New("hotpool: the stream was cut before its end: the output may be incomplete")
)

// Unwrap maps the agent's statuses to the errors above: 401 (no token) and
// 403 (wrong token) are ErrUnauthorized, except a 403 on a file route for a
// path outside the allowed roots; 408 is ErrExecTimeout; the 404s and 400s
// name what was not found or not right; a 404 that the agent did not answer
// itself is ErrSandboxGone.
func (e *AgentError) Unwrap() error {
	switch {
	case e.Status == http.StatusForbidden && strings.Contains(e.Message, "Access denied"):
		return ErrPathNotAllowed
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ErrUnauthorized
	case e.Status == http.StatusRequestTimeout:
		return ErrExecTimeout
	case e.Status == http.StatusNotFound && (strings.HasPrefix(e.Message, "File not found") || strings.HasPrefix(e.Message, "Path not found")):
		return ErrFileNotFound
	case e.Status == http.StatusNotFound && strings.HasPrefix(e.Message, "Process ") && strings.Contains(e.Message, "not tracked"):
		return ErrProcessNotFound
	case e.Status == http.StatusNotFound && !e.FromAgent:
		return ErrSandboxGone
	case e.Status == http.StatusBadRequest && strings.HasPrefix(e.Message, "Not a directory"):
		return ErrNotADirectory
	case e.Status == http.StatusBadRequest && strings.HasPrefix(e.Message, "Path is a directory"):
		return ErrIsADirectory
	case e.Status == http.StatusBadRequest && strings.HasPrefix(e.Message, "Failed to kill process"):
		return ErrProcessNotRunning
	}
	return nil
}
