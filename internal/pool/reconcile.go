package pool

import (
	"context"

	"github.com/hotpool/hotpool/api"
)

// Reconciler runs one reconcile pass: the cron trigger, POST /reconcile and
// the local server's ticker all call it.
type Reconciler interface {
	Reconcile(ctx context.Context) (PassReport, error)
}

// PassReport summarises one reconcile pass: the wire type itself, so the
// report a pass writes is the one POST /reconcile answers.
type PassReport = api.PassReport
