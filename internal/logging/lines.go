package logging

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// Outcomes of a line that is not an error code.
const (
	OutcomeOK        = "ok"
	OutcomeNotLeader = "not_leader" // a pass that found the lock held and did nothing
	OutcomeError     = "error"
)

// Request is the one line logged per HTTP request (any transport).
type Request struct {
	Op        string // acquire, release, renew, metrics, reconcile
	RequestID string
	Pool      string
	SandboxID string
	Status    int
	// Outcome is "ok" or the error's stable code (pool_exhausted, …).
	Outcome  string
	Source   string // acquire: pool or cold
	Duration time.Duration
	Err      error // the cause behind a 5xx, scrubbed like every value
}

// LogRequest writes r at info, or at error for a 5xx.
func LogRequest(ctx context.Context, l *slog.Logger, r Request) {
	level := slog.LevelInfo
	if r.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("op", r.Op),
		slog.String("outcome", r.Outcome),
		slog.Int("status", r.Status),
		slog.Float64("duration_ms", ms(r.Duration)),
	}
	attrs = appendNonEmpty(attrs, "request_id", r.RequestID)
	attrs = appendNonEmpty(attrs, "pool", r.Pool)
	attrs = appendNonEmpty(attrs, "sandbox_id", r.SandboxID)
	attrs = appendNonEmpty(attrs, "source", r.Source)
	if r.Err != nil {
		attrs = append(attrs, slog.Any("error", r.Err))
	}
	l.LogAttrs(ctx, level, "request", attrs...)
}

// PassOutcome is a pass's outcome word: ok, error or not_leader.
func PassOutcome(rep pool.PassReport, err error) string {
	switch {
	case err != nil:
		return OutcomeError
	case !rep.Leader:
		return OutcomeNotLeader
	}
	return OutcomeOK
}

// PassActed reports whether a pass changed anything: created, marked,
// failed, deleted, forgot, reaped, expired, scaled down or condemned.
func PassActed(rep pool.PassReport) bool {
	for _, p := range rep.Pools {
		if p.Created+p.MarkedReady+p.Failed+p.Deleted+p.Forgotten+p.Reaped+p.Expired+p.ScaledDown+p.Unhealthy+p.Orphans > 0 {
			return true
		}
	}
	return false
}

// LogPass writes the one line of a reconcile pass: its outcome and duration,
// then one group per pool with what the pass did (zeros left out so the line
// stays short), and the pass's item errors. quiet demotes a pass that would
// log at info to debug: the caller's "nothing happened, as before".
func LogPass(ctx context.Context, l *slog.Logger, rep pool.PassReport, err error, quiet bool) {
	outcome, level := PassOutcome(rep, err), slog.LevelInfo
	switch {
	case err != nil:
		level = slog.LevelError
	case rep.Leader && len(rep.Errors) > 0:
		level = slog.LevelWarn
	case quiet:
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("op", "reconcile"),
		slog.String("outcome", outcome),
		slog.Float64("duration_ms", ms(rep.FinishedAt.Sub(rep.StartedAt))),
		slog.Int("api_calls", rep.APICalls),
	}
	if len(rep.Pools) > 0 {
		pools := make([]any, 0, len(rep.Pools))
		for _, name := range slices.Sorted(maps.Keys(rep.Pools)) {
			pools = append(pools, slog.Group(name, poolPassAttrs(rep.Pools[name])...))
		}
		attrs = append(attrs, slog.Group("pools", pools...))
	}
	if len(rep.Errors) > 0 {
		attrs = append(attrs, slog.Int("item_errors", len(rep.Errors)), slog.Any("errors", rep.Errors))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	l.LogAttrs(ctx, level, "pass", attrs...)
}

func poolPassAttrs(p api.PoolPassReport) []any {
	out := []any{slog.Int("ready", p.Ready), slog.Int("target", p.Target)}
	for _, c := range []struct {
		k string
		v int
	}{
		{"creating", p.Creating}, {"in_use", p.InUse}, {"deleting", p.Deleting},
		{"created", p.Created}, {"marked_ready", p.MarkedReady}, {"failed", p.Failed},
		{"deleted", p.Deleted}, {"forgotten", p.Forgotten}, {"reaped", p.Reaped},
		{"expired", p.Expired}, {"scaled_down", p.ScaledDown}, {"unhealthy", p.Unhealthy},
		{"orphans", p.Orphans},
	} {
		if c.v != 0 {
			out = append(out, slog.Int(c.k, c.v))
		}
	}
	if p.Idle {
		out = append(out, slog.Bool("idle", true))
	}
	if p.Circuit != "" && p.Circuit != "closed" {
		out = append(out, slog.String("circuit", p.Circuit))
	}
	return out
}

func appendNonEmpty(attrs []slog.Attr, k, v string) []slog.Attr {
	if v == "" {
		return attrs
	}
	return append(attrs, slog.String(k, v))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
