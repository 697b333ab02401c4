package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaEventKind says what invoked a Lambda function.
type LambdaEventKind int

// The events cmd/lambda serves.
const (
	LambdaUnknown   LambdaEventKind = iota
	LambdaHTTP                      // a function URL or an API Gateway v2 HTTP request
	LambdaScheduled                 // an EventBridge scheduled event: run a pass
)

// lambdaProbe reads just enough of an event to tell its kind.
type lambdaProbe struct {
	Version        string          `json:"version"`
	RawPath        *string         `json:"rawPath"`
	RequestContext json.RawMessage `json:"requestContext"`
	Source         string          `json:"source"`
	DetailType     string          `json:"detail-type"`
}

// ClassifyLambdaEvent tells an HTTP request from a scheduled event.
func ClassifyLambdaEvent(raw []byte) LambdaEventKind {
	var p lambdaProbe
	if err := json.Unmarshal(raw, &p); err != nil {
		return LambdaUnknown
	}
	switch {
	case p.RawPath != nil || len(p.RequestContext) > 0:
		return LambdaHTTP
	case p.DetailType != "" || p.Source == "aws.events" || p.Source == "aws.scheduler":
		return LambdaScheduled
	}
	return LambdaUnknown
}

// LambdaRequest reads a function URL (or API Gateway v2 HTTP) event, the two
// share one JSON shape. fn is the function's route when it serves one
// ("acquire"), "" when it serves them all. Unreadable parts become DecodeErr.
func LambdaRequest(fn string, raw []byte) Request {
	var e events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		return Request{Path: routePath(fn, ""), DecodeErr: fmt.Errorf("lambda event: %v", err)}
	}
	req := Request{
		Method:  e.RequestContext.HTTP.Method,
		Path:    routePath(fn, e.RawPath),
		Headers: lowerHeaders(e.Headers),
		Query:   e.RawQueryString,
		Body:    []byte(e.Body),
	}
	if e.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			req.DecodeErr = fmt.Errorf("base64 body: %v", err)
		}
		req.Body = b
	}
	return req
}

// LambdaResponse is the function URL response (API Gateway v2 reads the same JSON).
func LambdaResponse(r Response) events.LambdaFunctionURLResponse {
	out := events.LambdaFunctionURLResponse{StatusCode: r.Status, Headers: r.Headers}
	if utf8.Valid(r.Body) {
		out.Body = string(r.Body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(r.Body)
		out.IsBase64Encoded = true
	}
	return out
}

// ErrNotHTTP is HandleLambdaEvent's answer to an event that is not an HTTP request.
var ErrNotHTTP = errors.New("httpapi: not an HTTP event")

// HandleLambdaEvent answers an HTTP Lambda event through the handler.
func (h *Handler) HandleLambdaEvent(ctx context.Context, fn string, raw []byte) (events.LambdaFunctionURLResponse, error) {
	if ClassifyLambdaEvent(bytes.TrimSpace(raw)) != LambdaHTTP {
		return events.LambdaFunctionURLResponse{}, ErrNotHTTP
	}
	return LambdaResponse(h.Handle(ctx, LambdaRequest(fn, raw))), nil
}
