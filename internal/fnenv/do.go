package fnenv

import (
	"context"

	"github.com/hotpool/hotpool/internal/httpapi"
)

// DO is a DigitalOcean function's Main: a web request is answered through
// the HTTP contract; the reconcile function's cron event (no "http") runs the
// refill loop. Any other function given a non-web event answers 401: only a
// web request can carry the bearer token.
func (l *Lazy) DO(ctx context.Context, fn string, event map[string]any) map[string]any {
	if _, web := event["http"]; !web && fn == "reconcile" {
		rep, err := l.Cron(ctx)
		if err != nil {
			return map[string]any{"body": map[string]any{"ok": false, "error": err.Error()}}
		}
		return map[string]any{"body": map[string]any{"ok": true, "report": rep}}
	}
	h, app := l.Handler()
	if resp, ok := h.HandleDOEvent(ctx, fn, event); ok {
		app.KicksSent()
		return resp
	}
	return httpapi.DOResponse(h.Handle(ctx, httpapi.Request{Path: "/" + fn}))
}
