package appplatform_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// backends runs a test against the real redis-server and against miniredis
// (whose Lua the local server embeds).
func backends(t *testing.T, run func(t *testing.T, rdb redis.Scripter, key string)) {
	t.Run("redis", func(t *testing.T) {
		c, prefix := redistest.Client(t)
		run(t, c, redisstate.NewKeys(prefix).Budget())
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		run(t, c, redisstate.NewKeys("mini").Budget())
	})
}

// sleeper moves a manual clock instead of sleeping and records each wait.
type sleeper struct {
	clock *pool.ManualClock
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.Advance(d)
	return nil
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum time.Duration
	for _, w := range s.waits {
		sum += w
	}
	return sum
}

func newBudget(t *testing.T, rdb redis.Scripter, key string, limits pool.APIBudget) (*appplatform.Budget, *pool.ManualClock, *sleeper) {
	t.Helper()
	clock := pool.NewManualClock(epoch)
	sl := &sleeper{clock: clock}
	b, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: rdb, Key: key, Limits: limits, Clock: clock, Sleep: sl.sleep})
	require.NoError(t, err)
	return b, clock, sl
}

// shortCtx has no deadline: waits happen on the manual clock, which a real
// deadline knows nothing about. Tests of the deadline make their own.
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

func TestBudgetMinuteWindowIsExact(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, clock, sl := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 5, PerHour: 100})
		ctx := shortCtx(t)
		for i := 0; i < 5; i++ {
			require.NoError(t, b.Take(ctx, 1))
			clock.Advance(time.Second)
		}
		require.Zero(t, sl.total(), "a burst up to the limit never waits")
		minute, hour, paused, err := b.Remaining(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, minute)
		require.Equal(t, 95, hour)
		require.True(t, paused.IsZero())

		// The 6th call may go when the 1st leaves the minute: at epoch+60s.
		require.NoError(t, b.Take(ctx, 1))
		require.Equal(t, []time.Duration{55 * time.Second}, sl.waits)
		require.Equal(t, epoch.Add(time.Minute), clock.Now())

		// Past the deadline: fail at once, saying until when.
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err = b.Take(dctx, 1)
		require.ErrorIs(t, err, appplatform.ErrBudget)
		require.ErrorIs(t, err, pool.ErrProviderUnknown)
		var be *appplatform.BudgetError
		require.ErrorAs(t, err, &be)
		require.Equal(t, epoch.Add(time.Minute+time.Second), be.Until)
		require.Len(t, sl.waits, 1, "no sleep when the budget frees only after the deadline")
	})
}

func TestBudgetHourWindowIsExact(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, clock, sl := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 100, PerHour: 10})
		ctx := shortCtx(t)
		for i := 0; i < 10; i++ {
			require.NoError(t, b.Take(ctx, 1))
			clock.Advance(time.Minute)
		}
		_, hour, _, err := b.Remaining(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, hour)
		require.NoError(t, b.Take(ctx, 1))
		require.Equal(t, []time.Duration{50 * time.Minute}, sl.waits)
		// Taking several at once needs that many free slots.
		require.NoError(t, b.Take(ctx, 3))
		require.Equal(t, epoch.Add(time.Hour+3*time.Minute), clock.Now())
	})
}

func TestBudgetPauseHoldsEveryCaller(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, clock, sl := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 100, PerHour: 1000})
		// A second instance (another function) shares the key.
		other, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: rdb, Key: key, Limits: pool.APIBudget{PerMinute: 100, PerHour: 1000}, Clock: clock, Sleep: sl.sleep})
		require.NoError(t, err)
		ctx := shortCtx(t)
		require.NoError(t, b.Pause(ctx, epoch.Add(30*time.Second)))
		require.NoError(t, b.Pause(ctx, epoch.Add(10*time.Second)), "an earlier pause never shortens one")
		_, _, paused, err := other.Remaining(ctx)
		require.NoError(t, err)
		require.Equal(t, epoch.Add(30*time.Second), paused)
		require.NoError(t, other.Take(ctx, 1))
		require.Equal(t, []time.Duration{30 * time.Second}, sl.waits)
		_, _, paused, err = b.Remaining(ctx)
		require.NoError(t, err)
		require.True(t, paused.IsZero())
	})
}

func TestBudgetHonoursRateLimitHeaders(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, _, sl := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 100, PerHour: 1000})
		ctx := shortCtx(t)
		require.NoError(t, b.Observe(ctx, 2, epoch.Add(20*time.Second)))
		_, hour, _, err := b.Remaining(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, hour, "the API's remaining bounds the hour")
		require.NoError(t, b.Take(ctx, 1))
		require.NoError(t, b.Take(ctx, 1))
		require.Empty(t, sl.waits)
		require.NoError(t, b.Take(ctx, 1))
		require.Equal(t, []time.Duration{20 * time.Second}, sl.waits, "none left: wait for the reset")
	})
}

func TestBudgetRejectsWhatCanNeverFit(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, _, _ := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 3, PerHour: 10})
		err := b.Take(shortCtx(t), 4)
		require.ErrorIs(t, err, appplatform.ErrBudget)
		require.ErrorContains(t, err, "never fit")
	})
}

func TestBudgetLimitChangeStartsFresh(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		b, clock, sl := newBudget(t, rdb, key, pool.APIBudget{PerMinute: 2, PerHour: 10})
		ctx := shortCtx(t)
		require.NoError(t, b.Take(ctx, 2))
		bigger, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: rdb, Key: key, Limits: pool.APIBudget{PerMinute: 4, PerHour: 10}, Clock: clock, Sleep: sl.sleep})
		require.NoError(t, err)
		require.NoError(t, bigger.Take(ctx, 4))
		require.Empty(t, sl.waits)
		minute, _, _, err := bigger.Remaining(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, minute)
	})
}

func TestBudgetWithoutRedisIsUnknown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	b, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Key: redisstate.NewKeys("x").Budget(), Limits: pool.APIBudget{PerMinute: 1, PerHour: 1}})
	require.NoError(t, err)
	err = b.Take(shortCtx(t), 1)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.ErrorIs(t, err, pool.ErrUnavailable)
}

func TestNewBudgetValidates(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	_, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Key: "k", Limits: pool.APIBudget{PerMinute: 0, PerHour: 1}})
	require.ErrorContains(t, err, "limits")
	_, err = appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Limits: pool.APIBudget{PerMinute: 1, PerHour: 1}})
	require.ErrorContains(t, err, "key")
	_, err = appplatform.NewBudget(appplatform.BudgetOptions{Key: "k", Limits: pool.APIBudget{PerMinute: 1, PerHour: 1}})
	require.ErrorContains(t, err, "Redis")
}

// newMiniBudget is a Budget on a private miniredis, for tests about something else.
func newMiniBudget(t *testing.T) *appplatform.Budget {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	b, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Key: redisstate.NewKeys("mini").Budget(), Limits: pool.APIBudget{PerMinute: 200, PerHour: 4000}})
	require.NoError(t, err)
	return b
}
