package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// DigitalOcean Functions hand a web: raw function its request as the event's
// "http" object: method, headers, path (the part after the function's URL),
// body (base64 when isBase64Encoded) and queryString.

// DOEventRequest reads a DigitalOcean Functions event for function fn. ok is
// false when the event has no "http" object: not a web request (the cron
// trigger's event, or a direct invocation under the namespace's own key).
// It never fails: what it cannot read becomes Request.DecodeErr, answered as
// invalid_request after the token check.
func DOEventRequest(fn string, event map[string]any) (req Request, ok bool) {
	raw, present := event["http"]
	if !present {
		return Request{}, false
	}
	h, isMap := raw.(map[string]any)
	if !isMap {
		return Request{Path: RoutePath(fn, ""), DecodeErr: errors.New("event.http must be an object")}, true
	}
	if hs, isMap := h["headers"].(map[string]any); isMap {
		strs := make(map[string]string, len(hs))
		for k, v := range hs {
			if s, isStr := v.(string); isStr {
				strs[k] = s
			}
		}
		req.Headers = LowerHeaders(strs)
	} else {
		req.Headers = map[string]string{}
	}
	req.Method = strings.ToUpper(stringOf(h["method"]))
	path := stringOf(h["path"])
	req.Path = RoutePath(fn, path)
	req.Query = strings.TrimPrefix(stringOf(h["queryString"]), "?")
	switch b := h["body"].(type) {
	case nil:
	case string:
		if isTrue(h["isBase64Encoded"]) {
			dec, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				req.DecodeErr = fmt.Errorf("base64 body: %v", err)
			}
			req.Body = dec
		} else {
			req.Body = []byte(b)
		}
	default:
		// A raw web function's body is a string; anything else did not come
		// from an HTTP client.
		req.DecodeErr = errors.New("event.http.body must be a string")
	}
	return req, true
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func isTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// DOResponse is the map a DigitalOcean web function returns.
func DOResponse(r Response) map[string]any {
	headers := make(map[string]any, len(r.Headers))
	for k, v := range r.Headers {
		headers[k] = v
	}
	return map[string]any{"statusCode": r.Status, "headers": headers, "body": string(r.Body)}
}

// HandleDOEvent answers a DigitalOcean web event through the handler; ok is
// false (and nothing was answered) when the event is not a web request.
func (h *Handler) HandleDOEvent(ctx context.Context, fn string, event map[string]any) (map[string]any, bool) {
	req, ok := DOEventRequest(fn, event)
	if !ok {
		return nil, false
	}
	return DOResponse(h.Handle(ctx, req)), true
}
