package events

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// lifecycle is the order a sandbox's events are emitted in.
var lifecycle = []string{
	redisstate.EventSandboxReady, redisstate.EventSandboxAcquired,
	redisstate.EventSandboxReleased, redisstate.EventSandboxDeleted,
}

// emitInterleaved appends the lifecycles of sandboxes, interleaved at random
// but each sandbox's events in order, with a pool event now and then. It
// returns the ids in stream order and each sandbox's ids in its order.
func emitInterleaved(t *testing.T, b backend, rng *rand.Rand, sandboxes []string) (all []string, per map[string][]string) {
	per = map[string][]string{}
	next := map[string]int{}
	left := len(sandboxes) * len(lifecycle)
	for left > 0 {
		sb := sandboxes[rng.IntN(len(sandboxes))]
		if next[sb] == len(lifecycle) {
			continue
		}
		id := b.emit(t, lifecycle[next[sb]], "python", sb, "")
		next[sb]++
		left--
		all = append(all, id)
		per[sb] = append(per[sb], id)
		if rng.IntN(5) == 0 {
			all = append(all, b.emit(t, redisstate.EventPoolExhausted, "python", "", "empty"))
		}
	}
	return all, per
}

// TestIntermittentReceiverGetsEverythingInOrder is the issue's "what must be
// shown": a receiver that fails every third request, times out on others
// (some after it already processed the batch), still gets every event, none
// first arrives out of order, and every signature verifies.
func TestIntermittentReceiverGetsEverythingInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, func(n int) behaviour {
			switch {
			case n%3 == 0:
				return reject
			case n%7 == 0:
				return acceptThenHang
			case n%11 == 0:
				return hang
			}
			return accept
		})
		hook := pool.Webhook{URL: rcv.srv.URL + "/hook", SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, rcv.srv.Client(), clock, nil,
			WithMaxAttempts(6), WithBatchSize(4), WithBackoff(time.Second, 4*time.Second), WithRequestTimeout(200*time.Millisecond))

		rng := rand.New(rand.NewPCG(7, 11))
		var all []string
		per := map[string][]string{}
		add := func(sbs ...string) {
			a, p := emitInterleaved(t, b, rng, sbs)
			all = append(all, a...)
			for k, v := range p {
				per[k] = append(per[k], v...)
			}
		}
		add("sb-a", "sb-b", "sb-c", "sb-d", "sb-e")

		var total Report
		for pass := 0; pass < 200 && len(rcv.firstIDs()) < len(all) || pass < 3; pass++ {
			rep, err := d.Deliver(context.Background())
			require.NoError(t, err)
			total.Delivered += rep.Delivered
			total.Failures += rep.Failures
			total.Attempts += rep.Attempts
			total.DeadLettered += rep.DeadLettered
			total.Trimmed += rep.Trimmed
			if pass == 1 {
				add("sb-f", "sb-g", "sb-h", "sb-i", "sb-j") // events keep arriving between passes
			}
			clock.Advance(4 * time.Second)
		}

		require.Equal(t, all, rcv.firstIDs(), "every event arrives, first arrivals in stream order")
		first := map[string][]string{}
		for _, e := range rcv.first {
			if e.SandboxID != "" {
				first[e.SandboxID] = append(first[e.SandboxID], e.ID)
			}
		}
		require.Equal(t, per, first, "each sandbox's events arrive in the order they happened")
		for _, e := range rcv.first {
			if e.SandboxID != "" {
				require.Equal(t, "python", e.Pool)
				require.True(t, e.At.Equal(t0), "at survives the trip")
			}
		}
		require.Zero(t, rcv.badSigs, "every signature verifies")
		require.Positive(t, rcv.duplicates, "a batch processed before a timeout was sent again (at-least-once)")
		require.Equal(t, len(all), total.Delivered, "each event is acknowledged once")
		require.Positive(t, total.Failures)
		require.Zero(t, total.DeadLettered)
		require.Zero(t, b.xlen(t, b.keys.DeadEvents()))
		require.Equal(t, int64(len(all)), total.Trimmed, "everything delivered is trimmed")
		require.Zero(t, b.xlen(t, b.keys.Events()))
		require.Equal(t, all[len(all)-1], b.hookField(t, hook, "cursor"))
		require.Empty(t, b.hookField(t, hook, "attempts"), "retry state is cleared once the head is delivered")
		t.Logf("%d events, %d requests, %d failures, %d duplicates seen by the receiver", len(all), rcv.count(), total.Failures, rcv.duplicates)
	})
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(reject))
		// Credentials in the query must not reach the dead letter stream.
		hook := pool.Webhook{URL: rcv.srv.URL + "/hook?key=query-credential", SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, rcv.srv.Client(), clock, nil,
			WithMaxAttempts(3), WithBatchSize(2), WithBackoff(10*time.Second, time.Minute))
		var ids []string
		for i := 0; i < 3; i++ {
			ids = append(ids, b.emit(t, redisstate.EventSandboxFailed, "python", "sb"+string(rune('a'+i)), "create_failed"))
		}
		ctx := context.Background()

		rep, err := d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, Report{Attempts: 1, Failures: 1, Waiting: 1}, rep)
		require.Equal(t, "1", b.hookField(t, hook, "attempts"))
		require.Equal(t, "status 500", b.hookField(t, hook, "last_error"))

		// Backoff: nothing is sent again before next_at.
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempts)
		require.Equal(t, 1, rcv.count())
		clock.Advance(5 * time.Second)
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Attempts, "the first wait is 7.5-10 s")

		clock.Advance(5 * time.Second)
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Attempts)
		clock.Advance(time.Minute)
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		// The third attempt dead-letters the first batch, and the pass moves
		// on to the second batch, whose first attempt fails.
		require.Equal(t, 2, rep.DeadLettered)
		require.Equal(t, 2, rep.Attempts)
		require.Equal(t, ids[1], b.hookField(t, hook, "cursor"))
		require.Equal(t, "1", b.hookField(t, hook, "attempts"), "the new head starts counting afresh")
		for i := 0; i < 2; i++ {
			clock.Advance(time.Minute)
			_, err = d.Deliver(ctx)
			require.NoError(t, err)
		}
		require.Equal(t, ids[2], b.hookField(t, hook, "cursor"))
		require.Equal(t, 6, rcv.count(), "three attempts for each of the two batches")

		dead, err := b.rdb.XRange(ctx, b.keys.DeadEvents(), "-", "+").Result()
		require.NoError(t, err)
		require.Len(t, dead, 3)
		for i, m := range dead {
			require.Equal(t, ids[i], m.Values["id"])
			require.Equal(t, redisstate.EventSandboxFailed, m.Values["type"])
			require.Equal(t, "python", m.Values["pool"])
			require.Equal(t, "create_failed", m.Values["reason"])
			require.Equal(t, "3", m.Values["attempts"])
			require.Equal(t, "status 500", m.Values["error"])
			require.Equal(t, rcv.srv.URL+"/hook", m.Values["webhook"])
			require.NotContains(t, m.Values["webhook"], "query-credential")
		}
		require.Zero(t, b.xlen(t, b.keys.Events()), "dead-lettered events leave the outbox too")
	})
}

func TestTrimStopsAtTheSlowestWebhook(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		fast := newReceiver(t, clock, always(accept))
		var mu sync.Mutex
		slowOK := false
		slow := newReceiver(t, clock, func(n int) behaviour {
			mu.Lock()
			defer mu.Unlock()
			if slowOK || n == 1 {
				return accept
			}
			return reject
		})
		hooks := []pool.Webhook{
			{URL: fast.srv.URL, SecretEnv: "HOOK_SECRET"},
			{URL: slow.srv.URL, SecretEnv: "HOOK_SECRET_2"},
		}
		slow.secret = testSecret2
		d := NewDeliverer(b.rdb, b.prefix, hooks, secrets, http.DefaultClient, clock, nil,
			WithBatchSize(2), WithBackoff(time.Second, time.Second), WithMaxAttempts(100))
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, b.emit(t, redisstate.EventSandboxReady, "python", "sb"+string(rune('a'+i)), "ready"))
		}
		ctx := context.Background()
		rep, err := d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 5+2, rep.Delivered, "fast got all five, slow its first batch of two")
		require.Equal(t, int64(2), rep.Trimmed, "only what the slow webhook passed")
		require.Equal(t, int64(3), b.xlen(t, b.keys.Events()))
		require.Len(t, fast.firstIDs(), 5)

		mu.Lock()
		slowOK = true
		mu.Unlock()
		clock.Advance(time.Second)
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, rep.Delivered)
		require.Equal(t, int64(3), rep.Trimmed)
		require.Zero(t, b.xlen(t, b.keys.Events()))
		require.Equal(t, ids, slow.firstIDs())
		require.Equal(t, 3, fast.count(), "fast: three batches of at most two, nothing resent")
	})
}

func TestNewWebhookHoldsTheOutbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(accept))
		// The second webhook's secret is not set: it sends nothing, counts no
		// attempt, and, having no cursor, keeps every entry from being trimmed.
		hooks := []pool.Webhook{{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET"}, {URL: rcv.srv.URL + "/b", SecretEnv: "UNSET_SECRET"}}
		d := NewDeliverer(b.rdb, b.prefix, hooks, secrets, nil, clock, nil)
		b.emit(t, redisstate.EventPoolDrained, "python", "", "")
		rep, err := d.Deliver(context.Background())
		require.Error(t, err)
		require.Contains(t, err.Error(), "UNSET_SECRET")
		require.Equal(t, 1, rep.Delivered)
		require.Equal(t, 1, rep.Attempts)
		require.Zero(t, rep.Trimmed)
		require.Equal(t, int64(1), b.xlen(t, b.keys.Events()))
		require.Empty(t, b.hookField(t, hooks[1], "attempts"))
	})
}

func TestFilterSkipsAndMalformedEntriesPassOver(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(accept))
		hook := pool.Webhook{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET", Events: []string{redisstate.EventSandboxReady}}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, nil, clock, nil)
		ready := b.emit(t, redisstate.EventSandboxReady, "python", "sb1", "ready")
		b.emit(t, redisstate.EventSandboxAcquired, "python", "sb1", "pool")
		_, err := b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: b.keys.Events(), Values: []any{"junk", "1"}}).Result()
		require.NoError(t, err)
		last := b.emit(t, redisstate.EventSandboxAcquired, "python", "sb1", "pool")

		rep, err := d.Deliver(context.Background())
		require.NoError(t, err)
		require.Equal(t, []string{ready}, rcv.firstIDs())
		require.Equal(t, 1, rep.Delivered)
		require.Equal(t, 2, rep.Skipped)
		require.Equal(t, 1, rep.Malformed)
		require.Equal(t, last, b.hookField(t, hook, "cursor"), "the cursor moves past what the filter skips")
		require.Zero(t, b.xlen(t, b.keys.Events()))
	})
}

func TestDeadlineLeavesTheRestForTheNextPass(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		rcv := newReceiver(t, clock, func(n int) behaviour {
			if n == 2 {
				// The pass's deadline arrives while this POST is in flight.
				once.Do(cancel)
				return hang
			}
			return accept
		})
		hook := pool.Webhook{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, nil, clock, nil, WithBatchSize(1))
		var ids []string
		for i := 0; i < 4; i++ {
			ids = append(ids, b.emit(t, redisstate.EventSandboxReady, "python", "sb"+string(rune('a'+i)), "ready"))
		}
		rep, err := d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Delivered)
		require.Zero(t, rep.Failures, "a POST cut short by our own deadline is not the receiver's failure")
		require.Empty(t, b.hookField(t, hook, "attempts"))
		require.Equal(t, ids[0], b.hookField(t, hook, "cursor"))

		rep, err = d.Deliver(context.Background())
		require.NoError(t, err)
		require.Equal(t, 3, rep.Delivered)
		require.Equal(t, ids, rcv.firstIDs())
	})
}

// TestOverlappingDeliverers: two deliverers running at once (a pass that
// outlived its lock next to a new one) may duplicate a batch, but every event
// arrives and first arrivals stay in stream order.
func TestOverlappingDeliverers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, func(n int) behaviour {
			if n%4 == 0 {
				return reject
			}
			return accept
		})
		hook := []pool.Webhook{{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET"}}
		opts := []Option{WithBatchSize(3), WithBackoff(time.Millisecond, time.Millisecond), WithMaxAttempts(50)}
		d1 := NewDeliverer(b.rdb, b.prefix, hook, secrets, nil, clock, nil, opts...)
		d2 := NewDeliverer(b.rdb, b.prefix, hook, secrets, nil, clock, nil, opts...)
		rng := rand.New(rand.NewPCG(3, 5))
		all, _ := emitInterleaved(t, b, rng, []string{"s1", "s2", "s3", "s4", "s5"})

		for round := 0; round < 100 && len(rcv.firstIDs()) < len(all); round++ {
			var wg sync.WaitGroup
			for _, d := range []*Deliverer{d1, d2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := d.Deliver(context.Background())
					require.NoError(t, err)
				}()
			}
			wg.Wait()
			clock.Advance(time.Second)
		}
		require.Equal(t, all, rcv.firstIDs())
		require.Zero(t, rcv.badSigs)
	})
}

func TestBackoffGrowsAndOnlyShortens(t *testing.T) {
	d := NewDeliverer(nil, "p", nil, secrets, nil, pool.NewManualClock(t0), nil, WithBackoff(time.Second, time.Minute))
	for attempt, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 100: time.Minute} {
		for i := 0; i < 50; i++ {
			w := d.backoff(attempt)
			require.LessOrEqual(t, w, max, "attempt %d", attempt)
			require.GreaterOrEqual(t, w, max-max/4, "attempt %d", attempt)
		}
	}
}

func TestAfter(t *testing.T) {
	require.Equal(t, "-", after(""))
	require.Equal(t, "5-1", after("5-0"))
	require.Equal(t, "1700000000000-8", after("1700000000000-7"))
	require.Equal(t, "6-0", after("5-18446744073709551615"))
	require.Equal(t, "-", after("garbage"))
}

func TestDisplayURLDropsCredentials(t *testing.T) {
	require.Equal(t, "https://h.example/p", displayURL("https://user:pw@h.example/p?token=abc#x"))
	require.Equal(t, "(unparsable url)", displayURL("http://[::1"))
	require.False(t, strings.Contains(displayURL("https://h/p?sig=1"), "sig"))
}

// TestRedirectIsAFailure: following a 302 would turn the POST into a GET
// without a body, and its 200 would acknowledge events nobody received.
func TestRedirectIsAFailure(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(accept))
		redirect := http.NewServeMux()
		redirect.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, rcv.srv.URL, http.StatusFound)
		})
		srv := httptest.NewServer(redirect)
		t.Cleanup(srv.Close)
		hook := pool.Webhook{URL: srv.URL, SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, http.DefaultClient, clock, nil)
		b.emit(t, redisstate.EventSandboxReady, "python", "sb1", "ready")
		rep, err := d.Deliver(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, rep.Failures)
		require.Zero(t, rep.Delivered)
		require.Equal(t, "status 302", b.hookField(t, hook, "last_error"))
		require.Zero(t, rcv.count(), "the redirect was not followed")
		require.Nil(t, http.DefaultClient.CheckRedirect, "the caller's client is left as it was")
	})
}

func TestNilSecretsReadTheEnvironment(t *testing.T) {
	t.Setenv("HOOK_SECRET_FROM_ENV", testSecret)
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(accept))
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET_FROM_ENV"}}, nil, nil, clock, nil)
		b.emit(t, redisstate.EventPoolDrained, "python", "", "")
		rep, err := d.Deliver(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, rep.Delivered)
	})
}

// One receiver cannot forge events to another. Two webhooks whose variables
// hold one secret get nothing (no attempt is counted, and the error names
// both variables, never the value). With a secret each, every signature
// names its receiver, so a delivery replayed to the other receiver is
// refused, even by a receiver that verifies with the same secret, and even
// with the name in the header rewritten.
func TestWebhooksNeedTheirOwnSecretAndSignForTheirReceiver(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		type delivery struct {
			header string
			body   []byte
		}
		var mu sync.Mutex
		got := map[string]delivery{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[r.URL.Path] = delivery{r.Header.Get(client.SignatureHeader), body}
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		hooks := []pool.Webhook{
			{URL: srv.URL + "/a?token=x", SecretEnv: "A_SECRET"},
			{URL: srv.URL + "/b", Name: "billing", SecretEnv: "B_SECRET"},
		}
		b.emit(t, redisstate.EventPoolDrained, "python", "", "")
		ctx := context.Background()

		shared := func(env string) string { return testSecret }
		rep, err := NewDeliverer(b.rdb, b.prefix, hooks, shared, nil, clock, nil).Deliver(ctx)
		require.Error(t, err)
		require.Contains(t, err.Error(), "A_SECRET and B_SECRET")
		require.NotContains(t, err.Error(), testSecret)
		require.Zero(t, rep.Attempts)
		require.Empty(t, got)

		own := func(env string) string {
			return map[string]string{"A_SECRET": testSecret, "B_SECRET": testSecret2}[env]
		}
		rep, err = NewDeliverer(b.rdb, b.prefix, hooks, own, nil, clock, nil).Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Delivered)
		a, bb := got["/a"], got["/b"]
		now := clock.Now()
		nameA := srv.URL + "/a"
		require.NoError(t, client.VerifyWebhook(testSecret, nameA, a.header, a.body, now, time.Minute))
		require.NoError(t, client.VerifyWebhook(testSecret2, "billing", bb.header, bb.body, now, time.Minute))
		var p client.WebhookPayload
		require.NoError(t, json.Unmarshal(bb.body, &p))
		require.Equal(t, "billing", p.Receiver)
		require.NotContains(t, a.header+string(a.body), "token=x", "the default name drops the query")

		require.ErrorIs(t, client.VerifyWebhook(testSecret, "billing", a.header, a.body, now, time.Minute), client.ErrSignatureInvalid,
			"a's delivery replayed to billing, verified with a's secret")
		forged := strings.Replace(a.header, "r="+url.QueryEscape(nameA), "r=billing", 1)
		require.NotEqual(t, a.header, forged)
		require.ErrorIs(t, client.VerifyWebhook(testSecret, "billing", forged, a.body, now, time.Minute), client.ErrSignatureInvalid,
			"the name is under the MAC")
		require.ErrorIs(t, client.VerifyWebhook(testSecret, nameA, bb.header, bb.body, now, time.Minute), client.ErrSignatureInvalid)
		require.NoError(t, client.VerifySignature(testSecret, a.header, a.body, now, time.Minute), "v1 still verifies for earlier verifiers")
	})
}

// Past its cap the outbox drops its oldest entries. A webhook whose cursor is
// behind them has lost events: the deliverer reports the gap once, leaves a
// gap marker in the dead letter stream, and goes on from the oldest entry
// kept, instead of carrying on as if nothing happened.
func TestOutboxGapIsReportedAndDeadLettered(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(accept))
		hook := pool.Webhook{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, nil, clock, nil)
		first := b.emit(t, redisstate.EventSandboxReady, "python", "a", "ready")
		rep, err := d.Deliver(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Delivered)

		// The receiver's cursor is at "first". Three more events; the cap
		// drops two of them (as lib.lua's emit does, noting the mark).
		lost1 := b.emit(t, redisstate.EventSandboxAcquired, "python", "a", "pool")
		b.emit(t, redisstate.EventSandboxReleased, "python", "a", "")
		kept := b.emit(t, redisstate.EventSandboxDeleted, "python", "a", "released")
		require.NoError(t, b.rdb.XTrimMinID(ctx, b.keys.Events(), kept).Err())
		require.NoError(t, b.rdb.HSet(ctx, b.keys.Manager(), "events_trimmed_to", kept).Err())

		rep, err = d.Deliver(ctx)
		require.NoError(t, err, "a gap is reported, not a failure of the pass")
		require.Equal(t, 1, rep.Gaps)
		require.Equal(t, 1, rep.Delivered, "delivery goes on from the oldest entry kept")
		require.Len(t, rep.Errors, 1)
		require.Contains(t, rep.Errors[0], "lost events")
		require.Contains(t, rep.Errors[0], first)
		dead, err := b.rdb.XRange(ctx, b.keys.DeadEvents(), "-", "+").Result()
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, "outbox.gap", dead[0].Values["type"])
		require.Contains(t, dead[0].Values["reason"], first)
		require.Contains(t, dead[0].Values["reason"], kept)
		require.NotEqual(t, lost1, kept)

		b.emit(t, redisstate.EventPoolDrained, "python", "", "")
		rep, err = d.Deliver(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Gaps, "reported once")
		require.Equal(t, int64(1), b.xlen(t, b.keys.DeadEvents()))
	})
}
