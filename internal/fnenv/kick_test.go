package fnenv

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/redistest"
)

// kickRecorder is a stand-in reconcile function: it records each request and
// then holds it, as a run of passes does, so the caller must not wait for it.
type kickRecorder struct {
	mu   sync.Mutex
	reqs []recordedKick
	hold chan struct{}
}

type recordedKick struct {
	path, auth, body string
}

func (k *kickRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	k.mu.Lock()
	k.reqs = append(k.reqs, recordedKick{r.URL.Path, r.Header.Get("Authorization"), string(b)})
	k.mu.Unlock()
	select {
	case <-k.hold:
	case <-r.Context().Done():
	}
}

func (k *kickRecorder) got() []recordedKick {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]recordedKick(nil), k.reqs...)
}

// An acquire that takes a pool below target asks the reconcile function for
// a run, at the web URL the platform's own variables name, answers without
// waiting for that run, and coalesces a second kick within the interval.
func TestAcquireKicksReconcileWithoutWaitingForIt(t *testing.T) {
	dep := deployment(t)
	rec := &kickRecorder{hold: make(chan struct{})}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(rec.hold) })
	env := envMap{
		EnvAPIToken: token, EnvRedisURL: redistest.URL(),
		EnvConfig:        `{"deployment":"` + dep + `","pools":{"python":{"target_ready":2,"on_empty":"create"}}}`,
		EnvSecret:        "kick-test-secret-kick-test-secret-32",
		"__OW_API_HOST":  srv.URL,
		"__OW_NAMESPACE": "fn-abc",
	}
	l := &Lazy{getenv: env.get, logOut: io.Discard}
	ctx := context.Background()

	start := time.Now()
	resp := l.DO(ctx, "acquire", webEvent("POST", "", token, `{"image":"python"}`))
	took := time.Since(start)
	require.Equal(t, 202, resp["statusCode"], resp["body"])
	require.Less(t, took, kickTimeout, "the answer never waits for the run")
	t.Logf("acquire with a kick answered in %v", took)
	// Written before the answer; the stand-in reads it a moment later.
	require.Eventually(t, func() bool { return len(rec.got()) == 1 }, 2*time.Second, 5*time.Millisecond)
	kicks := rec.got()
	require.Equal(t, recordedKick{"/api/v1/web/fn-abc/hotpool/reconcile", "Bearer " + token, `{"action":"run"}`}, kicks[0])

	resp = l.DO(ctx, "acquire", webEvent("POST", "", token, `{"image":"python"}`))
	require.Equal(t, 202, resp["statusCode"])
	require.Len(t, rec.got(), 1, "a second acquire within the interval does not kick again")

	// Another container (a second Lazy) is coalesced by Redis.
	l2 := &Lazy{getenv: env.get, logOut: io.Discard}
	resp = l2.DO(ctx, "acquire", webEvent("POST", "", token, `{"image":"python"}`))
	require.Equal(t, 202, resp["statusCode"])
	require.Len(t, rec.got(), 1, "another function within the interval does not kick again")

	// A run that ran out of time hands its work over: never coalesced.
	app, err := l.Get()
	require.NoError(t, err)
	app.kicker.Handover()
	app.KicksSent()
	require.Eventually(t, func() bool { return len(rec.got()) == 2 }, 2*time.Second, 5*time.Millisecond)
}

func TestKickCanBeTurnedOff(t *testing.T) {
	require.Nil(t, newKicker(envMap{EnvKickURL: "off"}.get, token, nil, "k", nil))
}
