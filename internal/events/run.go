package events

import (
	"context"
	"log/slog"
	"time"
)

// Run delivers and writes one log line about it; its signature fits
// pool.ServiceOptions.AfterPass, so wiring is `AfterPass: d.Run`. Nothing is
// logged when there was nothing to do.
func (d *Deliverer) Run(ctx context.Context) {
	start := d.clock.Now()
	rep, err := d.Deliver(ctx)
	if err == nil && rep.idle() {
		return
	}
	level, outcome := slog.LevelInfo, "ok"
	switch {
	case err != nil:
		level, outcome = slog.LevelError, "error"
	case rep.DeadLettered > 0:
		level, outcome = slog.LevelWarn, "dead_lettered"
	case rep.Failures > 0:
		level, outcome = slog.LevelWarn, "retry"
	}
	attrs := []slog.Attr{
		slog.String("op", "webhooks"),
		slog.String("outcome", outcome),
		slog.Float64("duration_ms", float64(d.clock.Now().Sub(start)/time.Microsecond)/1000),
		slog.Int("delivered", rep.Delivered),
		slog.Int("attempts", rep.Attempts),
		slog.Int("failures", rep.Failures),
		slog.Int("dead_lettered", rep.DeadLettered),
		slog.Int("waiting", rep.Waiting),
		slog.Int64("trimmed", rep.Trimmed),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	d.log.LogAttrs(ctx, level, "webhooks", attrs...)
}

// idle reports a Deliver that found nothing to do.
func (r Report) idle() bool {
	return r.Delivered+r.Skipped+r.Malformed+r.Attempts+r.Failures+r.DeadLettered+r.Waiting == 0 &&
		r.Trimmed == 0 && len(r.Errors) == 0
}
