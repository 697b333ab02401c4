package fnenv

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hotpool/hotpool/internal/httpapi"
)

// errUnknownEvent: neither an HTTP request nor a scheduled event.
var errUnknownEvent = errors.New("fnenv: a Lambda event that is neither an HTTP request nor a scheduled event")

// Lambda is the AWS Lambda handler: HTTP requests (function URL or API
// Gateway v2) through the contract, EventBridge scheduled events run the
// refill loop. fn restricts it to one function's routes ("" serves all).
func (l *Lazy) Lambda(ctx context.Context, fn string, raw json.RawMessage) (any, error) {
	switch httpapi.ClassifyLambdaEvent(raw) {
	case httpapi.LambdaHTTP:
		h, _ := l.handler()
		return h.HandleLambdaEvent(ctx, fn, raw)
	case httpapi.LambdaScheduled:
		return l.Cron(ctx)
	}
	return nil, errUnknownEvent
}
