package appplatform

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/redis/go-redis/v9"
)

//go:embed scripts/budget.lua
var budgetLua string

var budgetScript = redis.NewScript(budgetLua)

// BudgetOptions configure a Budget.
type BudgetOptions struct {
	Redis redis.Scripter
	// Key is the budget hash: redisstate.NewKeys(deployment).Budget(). It is
	// passed in so this package needs only a client, not the store.
	Key    string
	Limits pool.APIBudget // pool.Config.APIBudget
	Clock  pool.Clock
	// Sleep waits d or until ctx is done; default a timer. A simulated-time
	// harness replaces it to move its clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Budget is the DigitalOcean API rate limiter shared by every function
// instance of a deployment: one Redis hash, one Lua script. It keeps calls
// within per-minute and per-hour limits over sliding windows, honours the
// API's RateLimit-Remaining/Reset, and holds every caller while a 429's
// Retry-After lasts.
type Budget struct {
	rdb    redis.Scripter
	key    string
	limits pool.APIBudget
	clock  pool.Clock
	sleep  func(ctx context.Context, d time.Duration) error
}

// NewBudget checks the options and returns the deployment's budget.
func NewBudget(o BudgetOptions) (*Budget, error) {
	if o.Redis == nil {
		return nil, errors.New("appplatform: budget needs a Redis client")
	}
	if o.Key == "" {
		return nil, errors.New("appplatform: budget needs its key (redisstate.Keys.Budget)")
	}
	if o.Limits.PerMinute < 1 || o.Limits.PerHour < 1 {
		return nil, fmt.Errorf("appplatform: budget limits must be >= 1 (per_minute %d, per_hour %d)", o.Limits.PerMinute, o.Limits.PerHour)
	}
	if o.Clock == nil {
		o.Clock = pool.SystemClock{}
	}
	if o.Sleep == nil {
		o.Sleep = pool.Sleep
	}
	return &Budget{rdb: o.Redis, key: o.Key, limits: o.Limits, clock: o.Clock, sleep: o.Sleep}, nil
}

// BudgetError says when the budget would have room again; it matches
// ErrBudget and pool.ErrProviderUnknown.
type BudgetError struct {
	Until time.Time // zero when unknown (Redis unreachable)
	Cause error
}

func (e *BudgetError) Error() string {
	if e.Until.IsZero() {
		return fmt.Sprintf("appplatform: api budget: %v", e.Cause)
	}
	return fmt.Sprintf("appplatform: api budget exhausted until %s", e.Until.UTC().Format(time.RFC3339Nano))
}

// Unwrap matches ErrBudget, pool.ErrProviderUnknown, pool.ErrProviderNotSent
// (a refused budget means the call never left) and the cause.
func (e *BudgetError) Unwrap() []error {
	errs := []error{ErrBudget, pool.ErrProviderUnknown, pool.ErrProviderNotSent}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Take blocks until n calls fit the budget and takes them. It never waits
// past ctx: when the budget frees only after ctx's deadline it returns a
// *BudgetError at once.
func (b *Budget) Take(ctx context.Context, n int) error {
	for {
		now := b.clock.Now()
		res, err := b.run(ctx, "take", now, int64(n), 0)
		if err != nil {
			return &BudgetError{Cause: fmt.Errorf("%w: %w", pool.ErrUnavailable, err)}
		}
		switch res[0] {
		case 1:
			return nil
		case -1:
			return &BudgetError{Cause: fmt.Errorf("%d calls never fit per_minute %d / per_hour %d", n, b.limits.PerMinute, b.limits.PerHour)}
		}
		until := time.UnixMilli(res[1]).UTC()
		wait := until.Sub(now)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return &BudgetError{Until: until}
		}
		if err := b.sleep(ctx, wait); err != nil {
			return &BudgetError{Until: until, Cause: err}
		}
	}
}

// Observe records the API's RateLimit-Remaining and RateLimit-Reset.
func (b *Budget) Observe(ctx context.Context, remaining int, reset time.Time) error {
	_, err := b.run(ctx, "observe", b.clock.Now(), int64(remaining), reset.UnixMilli())
	return err
}

// Pause holds every caller of the deployment until the given time (a 429's Retry-After).
func (b *Budget) Pause(ctx context.Context, until time.Time) error {
	_, err := b.run(ctx, "pause", b.clock.Now(), until.UnixMilli(), 0)
	return err
}

// Remaining reports the calls left in the current minute and hour windows
// (the hour also bounded by the API's last RateLimit-Remaining while its reset
// lies ahead) and the pause, if any; for metrics.
func (b *Budget) Remaining(ctx context.Context) (minute, hour int, pausedUntil time.Time, err error) {
	now := b.clock.Now()
	res, err := b.run(ctx, "peek", now, 0, 0)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	minute, hour = int(res[0]), int(res[1])
	if rl, reset := res[3], res[4]; rl >= 0 && reset > now.UnixMilli() {
		hour = min(hour, int(rl))
	}
	if res[2] > now.UnixMilli() {
		pausedUntil = time.UnixMilli(res[2]).UTC()
	}
	return minute, hour, pausedUntil, nil
}

func (b *Budget) run(ctx context.Context, op string, now time.Time, a, c int64) ([]int64, error) {
	v, err := budgetScript.Run(ctx, b.rdb, []string{b.key}, op, now.UnixMilli(), b.limits.PerMinute, b.limits.PerHour, a, c).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("appplatform: budget.lua %s: %w", op, err)
	}
	if len(v) < 2 || (op == "peek" && len(v) < 5) {
		return nil, fmt.Errorf("appplatform: budget.lua %s: short answer %v", op, v)
	}
	return v, nil
}
