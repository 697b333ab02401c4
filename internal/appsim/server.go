package appsim

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/sandboxagent"
)

// Options configure a simulator. The zero value is usable: any bearer token,
// the wall clock, deployments ACTIVE at once, no failures, seed 0.
type Options struct {
	// Token is the only bearer token accepted on /v2; empty accepts any
	// non-empty token.
	Token string
	// Clock drives deployment progress and the call log, so a simulated-time
	// harness can move deployments along.
	Clock pool.Clock
	// CreateDelay is how long a deployment takes from PENDING_BUILD to ACTIVE;
	// the four phases share it equally.
	CreateDelay time.Duration
	// CreateJitter spreads each deployment's delay uniformly over
	// CreateDelay × [1-CreateJitter, 1+CreateJitter] (0: every one takes
	// CreateDelay), drawn from Seed.
	CreateJitter float64
	// AgentRoot is where each app's agent keeps its sandbox's file system
	// (AgentRoot/<app id>/workspace, …); "" makes a temporary directory that
	// Close removes.
	AgentRoot string
	// Isolation confines the commands each app's agent runs (zero: the
	// host's shell); see sandboxagent.Isolation.
	Isolation sandboxagent.Isolation
	// FailRate is the probability (0-1) that a new deployment ends in ERROR
	// (half way through CreateDelay, when its build "fails").
	FailRate float64
	// Seed makes ids, failures and injected faults deterministic.
	Seed uint64
	// RateLimitPerMinute and RateLimitPerHour make the simulator answer 429
	// like DigitalOcean (250 and 5,000) when exceeded over a sliding window;
	// 0 disables each. RateLimit-* headers are sent either way.
	RateLimitPerMinute int
	RateLimitPerHour   int
}

// HeaderLimit is the RateLimit-Limit sent when no hourly limit is set: DigitalOcean's.
const HeaderLimit = 5000

// Server is a simulated App Platform API. Safe for concurrent use.
type Server struct {
	opts  Options
	clock pool.Clock

	mu         sync.Mutex
	rng        *rand.Rand
	apps       map[string]*app
	order      []string          // app ids in creation order: the list order
	names      map[string]string // app name -> id
	faults     Faults
	queued     []int
	healthFail map[string]bool
	injected   map[string]int // faults injected by kind (Injected)
	calls      map[string]int
	agentRoot  string             // where sandboxes' file systems live (Options.AgentRoot or a temporary one)
	ownRoot    bool               // agentRoot was made here and is removed by Close
	namespaces []Namespace        // functions namespaces (AddNamespace)
	triggers   map[string]Trigger // "ns/name" → trigger
	log        []Call
	window     []time.Time // times of /v2 calls in the last hour, oldest first

	srv *http.Server
	ln  net.Listener
}

// New returns a simulator; serve it with Start or use it as an http.Handler.
func New(opts Options) *Server {
	clock := opts.Clock
	if clock == nil {
		clock = pool.SystemClock{}
	}
	return &Server{
		opts:       opts,
		clock:      clock,
		rng:        rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		apps:       map[string]*app{},
		names:      map[string]string{},
		healthFail: map[string]bool{},
		calls:      map[string]int{},
		triggers:   map[string]Trigger{},
	}
}

// Start listens on 127.0.0.1 (a free port) and serves in the background. It
// returns the base URL: the API is at <base>/v2/apps.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("appsim: listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a started server; it is a no-op otherwise.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	root, own := s.agentRoot, s.ownRoot
	var agents []*sandboxagent.Agent
	for _, a := range s.apps {
		if a.agent != nil {
			agents = append(agents, a.agent)
		}
	}
	s.mu.Unlock()
	// Every sandbox's background processes end with the platform.
	for _, ag := range agents {
		_ = ag.Close()
	}
	if own {
		defer os.RemoveAll(root)
	}
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// ServeHTTP routes the /v2/apps API and the live URLs of apps.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v2/apps" || strings.HasPrefix(path, "/v2/apps/"):
		s.serveAPI(w, r, path)
	case path == "/v2/functions/namespaces" || strings.HasPrefix(path, "/v2/functions/namespaces/"):
		s.serveFunctions(w, r, path)
	case strings.HasPrefix(path, "/live/"):
		// The untrimmed path: the agent's proxy tells /proxy/8000/ from /proxy/8000.
		s.serveLive(w, r, strings.TrimPrefix(r.URL.Path, "/live/"))
	default:
		s.record("other", r)
		writeError(w, http.StatusNotFound, "", "The resource you requested could not be found.")
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	id := strings.TrimPrefix(strings.TrimPrefix(path, "/v2/apps"), "/")
	endpoint := r.Method + " /v2/apps"
	if id != "" {
		endpoint += "/{id}"
	}
	now := s.record(endpoint, r)
	reqID := s.newID()
	w.Header().Set("X-Request-Id", reqID)

	inj := s.draw()
	if inj.delay > 0 {
		t := time.NewTimer(inj.delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if inj.drop {
		dropConnection(w)
		return
	}
	if !s.authorized(r) {
		s.setRateHeaders(w, now)
		writeError(w, http.StatusUnauthorized, reqID, "Unable to authenticate you.")
		return
	}
	if retryAfter, limited := s.overLimit(now); limited {
		inj.status, inj.retryAfter = http.StatusTooManyRequests, retryAfter
	}
	s.setRateHeaders(w, now)
	switch inj.status {
	case http.StatusTooManyRequests:
		// Nothing is left until the Retry-After: say so consistently.
		secs := retrySeconds(inj.retryAfter)
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(now.Add(time.Duration(secs)*time.Second).Unix(), 10))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, reqID, "API rate limit exceeded.")
		return
	case http.StatusInternalServerError:
		writeError(w, http.StatusInternalServerError, reqID, "Unexpected server-side error")
		return
	case http.StatusServiceUnavailable:
		writeError(w, http.StatusServiceUnavailable, reqID, "The service is temporarily unavailable.")
		return
	case 0:
	default:
		writeError(w, inj.status, reqID, http.StatusText(inj.status))
		return
	}

	switch {
	case id == "" && r.Method == http.MethodPost:
		s.createApp(w, r, reqID, now)
	case id == "" && r.Method == http.MethodGet:
		s.listApps(w, r, reqID, now)
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodGet:
		s.getApp(w, r, reqID, id, now)
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodDelete:
		s.deleteApp(w, reqID, id)
	default:
		writeError(w, http.StatusNotFound, reqID, "The resource you requested could not be found.")
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return false
	}
	return s.opts.Token == "" || pool.TokensEqual(token, s.opts.Token)
}

// dropConnection hijacks the connection and closes it without an answer: the
// client sees EOF, as when a proxy drops a request.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// httptest.ResponseRecorder cannot be hijacked; an aborted handler is
		// the closest thing net/http offers.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func retrySeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}

// newID returns a UUID-shaped id from the seeded generator.
func (s *Server) newID() string {
	s.mu.Lock()
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
	s.mu.Unlock()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xfff, 0x8000|(lo>>48)&0x3fff, lo&0xffffffffffff)
}
