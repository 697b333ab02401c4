package lambdaevent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hotpool/hotpool/internal/fnenv"
	"github.com/hotpool/hotpool/internal/pool"
)

// Errors a Lambda invocation returns instead of an HTTP answer: Lambda
// counts them in its Errors metric, so alarms see them.
var (
	// ErrUnknownEvent: no source this function serves sent the event.
	ErrUnknownEvent = errors.New("lambdaevent: the event is none of those hotpool serves (a function URL or API Gateway HTTP API, an API Gateway REST API, an ALB target, an EventBridge schedule)")
	// ErrNotScheduled: an EventBridge event that is not a schedule.
	ErrNotScheduled = errors.New(`lambdaevent: an EventBridge event other than a "Scheduled Event" from aws.events or aws.scheduler`)
	// ErrNotReconcile: a schedule sent to a function that does not reconcile.
	ErrNotReconcile = errors.New("lambdaevent: a scheduled event reached a function other than reconcile")
	// ErrPassFailed: every platform call of the run's last pass failed.
	ErrPassFailed = errors.New("lambdaevent: reconcile: every platform call of the pass failed")
)

// Handler serves function fn ("" serves every route and the schedule) with
// the lazily built App.
func Handler(l *fnenv.Lazy, fn string) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		return Serve(ctx, l, fn, raw)
	}
}

// Serve answers one invocation.
func Serve(ctx context.Context, l *fnenv.Lazy, fn string, raw json.RawMessage) (any, error) {
	switch k := Classify(raw); k {
	case HTTPv2, RESTv1, ALB:
		h, app := l.Handler()
		req, multi := Request(k, fn, raw)
		resp := Response(k, multi, h.Handle(ctx, req))
		app.KicksSent()
		return resp, nil
	case Scheduled:
		if fn != "" && fn != "reconcile" {
			return nil, fmt.Errorf("%w (HOTPOOL_FUNCTION=%s): point the schedule at the reconcile function", ErrNotReconcile, fn)
		}
		rep, err := l.Cron(ctx)
		if err != nil {
			return nil, err
		}
		if allFailed(rep) {
			return rep, fmt.Errorf("%w: %s", ErrPassFailed, rep.Errors[0])
		}
		return rep, nil
	case OtherEvent:
		return nil, ErrNotScheduled
	}
	return nil, ErrUnknownEvent
}

// allFailed: the pass met errors and achieved nothing.
func allFailed(rep pool.PassReport) bool {
	if len(rep.Errors) == 0 {
		return false
	}
	for _, p := range rep.Pools {
		if p.Created+p.MarkedReady+p.Deleted+p.Forgotten+p.Failed+p.ScaledDown > 0 {
			return false
		}
	}
	return true
}
