package fnenv

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The variables that shape the kick (docs/digitalocean.md).
const (
	// EnvKickURL is the URL of the reconcile function's POST /reconcile; by
	// default, on DigitalOcean, the web URL the platform's own variables name:
	// __OW_API_HOST/api/v1/web/__OW_NAMESPACE/hotpool/reconcile. "off"
	// disables kicks (the cron trigger alone refills).
	EnvKickURL = "HOTPOOL_KICK_URL"
	// kickEvery coalesces kicks: one a container, and one a deployment (a
	// Redis SET NX), per interval. A run already under way picks the new
	// work up at its next pass, RunEvery later.
	kickEvery = 5 * time.Second
	// kickSendWait bounds how long a function's answer waits for a kick's
	// request to be written, so the platform does not freeze the container
	// with it half sent; the answer to it is never waited for.
	kickSendWait = time.Second
	// kickTimeout ends the abandoned call; the reconcile run it started goes
	// on without its caller.
	kickTimeout = 5 * time.Second
)

// kickBody asks the reconcile function for a run (httpapi.ActionRun).
var kickBody = []byte(`{"action":"run"}`)

// kicker starts a reconcile run through the reconcile function's own HTTP
// endpoint when acquire or release leaves work to do. Kick never blocks;
// Sent waits (bounded) for the requests already started to be written.
type kicker struct {
	url     func() string // "" when no URL can be had now
	token   string
	coalesc func(ctx context.Context, force bool) bool // true: this caller kicks
	hc      *http.Client
	log     *slog.Logger
	now     func() time.Time

	last    atomic.Int64 // unix nanos of the last kick from this container
	pending sync.WaitGroup
}

func newKicker(getenv Getenv, token string, rdb *redis.Client, key string, log *slog.Logger) *kicker {
	override := strings.TrimSpace(getenv(EnvKickURL))
	if override == "off" {
		return nil
	}
	url := func() string {
		if override != "" {
			return override
		}
		// The Go launcher sets these from every activation's /run message.
		host, ns := getenv("__OW_API_HOST"), getenv("__OW_NAMESPACE")
		if host == "" || ns == "" {
			return ""
		}
		return strings.TrimSuffix(host, "/") + "/api/v1/web/" + ns + "/hotpool/reconcile"
	}
	return &kicker{
		url: url, token: token, hc: &http.Client{Timeout: kickTimeout}, log: log, now: time.Now,
		coalesc: func(ctx context.Context, force bool) bool {
			if force {
				// Still marks the interval, so acquires do not kick on top.
				_ = rdb.Set(ctx, key, "1", kickEvery).Err()
				return true
			}
			ok, err := rdb.SetNX(ctx, key, "1", kickEvery).Result()
			return err == nil && ok
		},
	}
}

// Kick starts a kick unless one left this container, or any function of the
// deployment, within kickEvery.
func (k *kicker) Kick() { k.kick(false) }

// Handover starts a kick whatever kicked before: a run that ran out of time
// with work in flight hands it to the next run.
func (k *kicker) Handover() { k.kick(true) }

func (k *kicker) kick(force bool) {
	now := k.now().UnixNano()
	last := k.last.Load()
	if !force && (now-last < int64(kickEvery) || !k.last.CompareAndSwap(last, now)) {
		return
	}
	k.last.Store(now)
	url := k.url()
	if url == "" {
		return
	}
	// pending counts this kick until its request is written (or it gives up).
	k.pending.Add(1)
	go func() {
		var once sync.Once
		sent := func() { once.Do(k.pending.Done) }
		defer sent()
		ctx, cancel := context.WithTimeout(context.Background(), kickTimeout)
		defer cancel()
		if !k.coalesc(ctx, force) {
			return // another function kicked within kickEvery
		}
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent() }})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(kickBody))
		if err != nil {
			k.log.Warn("kick: bad reconcile URL", slog.String("op", "kick"), slog.String("error", err.Error()))
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+k.token)
		res, err := k.hc.Do(req)
		if err != nil {
			// A timeout is expected: the run outlives kickTimeout.
			k.log.Debug("kick: no answer", slog.String("op", "kick"), slog.String("error", err.Error()))
			return
		}
		_ = res.Body.Close()
		if res.StatusCode >= 300 {
			k.log.Warn("kick: reconcile refused the run", slog.String("op", "kick"), slog.Int("status", res.StatusCode))
		}
	}()
}

// Sent waits until every kick started so far has written its request (or
// given up), at most kickSendWait.
func (k *kicker) Sent() {
	done := make(chan struct{})
	go func() { k.pending.Wait(); close(done) }()
	t := time.NewTimer(kickSendWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
