package events

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

const (
	testSecret  = "whsec-test-0123456789"
	testSecret2 = "whsec-test-second-receiver"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// backend is one Redis a test runs against.
type backend struct {
	rdb    *redis.Client
	prefix string
	keys   redisstate.Keys
}

// eachBackend runs f against the real redis-server and against miniredis:
// every script must run on both Luas.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		f(t, backend{rdb: rdb, prefix: prefix, keys: redisstate.NewKeys(prefix)})
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		f(t, backend{rdb: rdb, prefix: "mini", keys: redisstate.NewKeys("mini")})
	})
}

// emit appends one event as the redisstate scripts do (lib.lua emit).
func (b backend) emit(t *testing.T, typ, poolName, sandboxID, reason string) string {
	t.Helper()
	id, err := b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: b.keys.Events(), Values: []any{
		"type", typ, "pool", poolName, "sandbox_id", sandboxID, "at", strconv.FormatInt(t0.UnixMilli(), 10), "reason", reason,
	}}).Result()
	require.NoError(t, err)
	return id
}

func (b backend) xlen(t *testing.T, key string) int64 {
	t.Helper()
	n, err := b.rdb.XLen(context.Background(), key).Result()
	require.NoError(t, err)
	return n
}

func (b backend) hookField(t *testing.T, w pool.Webhook, field string) string {
	t.Helper()
	v, err := b.rdb.HGet(context.Background(), b.keys.Webhooks(), hookID(w)+"."+field).Result()
	if err == redis.Nil {
		return ""
	}
	require.NoError(t, err)
	return v
}

// behaviour is what the receiver does with its n-th request (1-based).
type behaviour int

const (
	accept         behaviour = iota // record, 200
	reject                          // 500, record nothing
	hang                            // record nothing, never answer (the client times out)
	acceptThenHang                  // record, then never answer: the sender must retry, the receiver dedupes
)

// receiver is a webhook endpoint that verifies every signature, dedupes by
// event id, and keeps the order in which each event first arrived.
type receiver struct {
	t      *testing.T
	clock  pool.Clock
	secret string
	decide func(n int) behaviour

	mu         sync.Mutex
	requests   int
	badSigs    int
	seen       map[string]bool
	first      []client.WebhookEvent // first arrivals, in order
	duplicates int
	srv        *httptest.Server
}

func newReceiver(t *testing.T, clock pool.Clock, decide func(n int) behaviour) *receiver {
	r := &receiver{t: t, clock: clock, secret: testSecret, decide: decide, seen: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	n := r.requests
	// The receiver's name is its webhook's default: the URL it was posted
	// to, without the query (pool.Webhook.ReceiverName).
	name := "http://" + req.Host + req.URL.Path
	if err := client.VerifyWebhook(r.secret, name, req.Header.Get(client.SignatureHeader), body, r.clock.Now(), 5*time.Minute); err != nil {
		r.badSigs++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	b := r.decide(n)
	if b == accept || b == acceptThenHang {
		var p client.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil || p.Receiver != name {
			r.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, e := range p.Events {
			if r.seen[e.ID] {
				r.duplicates++
				continue
			}
			r.seen[e.ID] = true
			r.first = append(r.first, e)
		}
	}
	r.mu.Unlock()
	switch b {
	case reject:
		w.WriteHeader(http.StatusInternalServerError)
	case hang, acceptThenHang:
		// Held until the sender gives up (its request timeout closes the
		// connection); bounded so a broken test cannot hang.
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (r *receiver) firstIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.first))
	for i, e := range r.first {
		ids[i] = e.ID
	}
	return ids
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

func always(b behaviour) func(int) behaviour { return func(int) behaviour { return b } }

// secrets holds two distinct secrets, as two webhooks must have.
func secrets(env string) string {
	switch env {
	case "HOOK_SECRET":
		return testSecret
	case "HOOK_SECRET_2":
		return testSecret2
	}
	return ""
}
