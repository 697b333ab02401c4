// Package lambdaevent is hotpool on AWS Lambda: it tells the event sources
// apart (function URLs and API Gateway HTTP APIs, API Gateway REST APIs,
// Application Load Balancers with single- or multi-value headers, and
// EventBridge schedules), reads each into an httpapi.Request and answers in
// that source's own response shape. It is the only package that imports
// aws-lambda-go, so the DigitalOcean functions never download it.
package lambdaevent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hotpool/hotpool/internal/httpapi"
)

// Kind says what invoked the function.
type Kind int

// The event sources served.
const (
	Unknown    Kind = iota
	HTTPv2          // a function URL or an API Gateway v2 HTTP API (payload 2.0)
	RESTv1          // an API Gateway REST API (or an HTTP API with payload 1.0)
	ALB             // an Application Load Balancer target
	Scheduled       // an EventBridge rule or EventBridge Scheduler "Scheduled Event"
	OtherEvent      // an EventBridge event that is not a schedule
)

func (k Kind) String() string {
	return [...]string{"unknown", "http-v2", "rest-v1", "alb", "scheduled", "eventbridge"}[k]
}

// probe reads just enough of an event to tell its kind.
type probe struct {
	RawPath        *string `json:"rawPath"`
	HTTPMethod     string  `json:"httpMethod"`
	RequestContext *struct {
		ELB  json.RawMessage `json:"elb"`
		HTTP json.RawMessage `json:"http"`
	} `json:"requestContext"`
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
}

// Classify tells the event sources apart by the fields each alone has.
func Classify(raw []byte) Kind {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return Unknown
	}
	switch {
	case p.RequestContext != nil && len(p.RequestContext.ELB) > 0 && p.HTTPMethod != "":
		return ALB
	case p.RawPath != nil && p.RequestContext != nil && len(p.RequestContext.HTTP) > 0:
		return HTTPv2
	case p.HTTPMethod != "" && p.RequestContext != nil:
		return RESTv1
	case (p.Source == "aws.events" || p.Source == "aws.scheduler") && p.DetailType == "Scheduled Event":
		return Scheduled
	case p.DetailType != "" && p.Source != "":
		return OtherEvent
	}
	return Unknown
}

// Request reads an HTTP event of kind k for function fn ("" serves every
// route). What cannot be read becomes Request.DecodeErr, answered as
// invalid_request after the token check. multi reports whether the request
// came with multi-value headers, so the answer uses them too (ALB).
func Request(k Kind, fn string, raw []byte) (req httpapi.Request, multi bool) {
	var (
		method, path, query, body string
		headers                   map[string]string
		b64                       bool
		err                       error
	)
	switch k {
	case HTTPv2:
		var e events.LambdaFunctionURLRequest
		if err = json.Unmarshal(raw, &e); err == nil {
			method, path, query, body, b64 = e.RequestContext.HTTP.Method, e.RawPath, e.RawQueryString, e.Body, e.IsBase64Encoded
			headers = e.Headers
			if len(e.Cookies) > 0 {
				headers = withHeader(headers, "cookie", strings.Join(e.Cookies, "; "))
			}
		}
	case RESTv1:
		var e events.APIGatewayProxyRequest
		if err = json.Unmarshal(raw, &e); err == nil {
			method, path, body, b64 = e.HTTPMethod, e.Path, e.Body, e.IsBase64Encoded
			headers = joinHeaders(e.Headers, e.MultiValueHeaders)
			query = encodeQuery(e.QueryStringParameters, e.MultiValueQueryStringParameters, true)
		}
	case ALB:
		var e events.ALBTargetGroupRequest
		if err = json.Unmarshal(raw, &e); err == nil {
			method, path, body, b64 = e.HTTPMethod, e.Path, e.Body, e.IsBase64Encoded
			multi = len(e.MultiValueHeaders) > 0
			headers = joinHeaders(e.Headers, e.MultiValueHeaders)
			// An ALB passes query values as the client sent them (not decoded).
			query = encodeQuery(e.QueryStringParameters, e.MultiValueQueryStringParameters, false)
		}
	default:
		err = fmt.Errorf("a %s event is not an HTTP request", k)
	}
	if err != nil {
		return httpapi.Request{Path: httpapi.RoutePath(fn, ""), DecodeErr: fmt.Errorf("lambda event: %v", err)}, multi
	}
	req = httpapi.Request{Method: strings.ToUpper(method), Path: httpapi.RoutePath(fn, path), Headers: httpapi.LowerHeaders(headers), Query: query, Body: []byte(body)}
	if b64 {
		dec, derr := base64.StdEncoding.DecodeString(body)
		if derr != nil {
			req.DecodeErr = fmt.Errorf("base64 body: %v", derr)
		}
		req.Body = dec
	}
	return req, multi
}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := maps.Clone(h)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// joinHeaders merges single- and multi-value headers; a multi-value header's
// values are joined with ", " as HTTP folds repeated fields. The lower-case
// spelling of a name wins, as everywhere (httpapi.LowerHeaders).
func joinHeaders(single map[string]string, multi map[string][]string) map[string]string {
	out := make(map[string]string, len(single)+len(multi))
	for k, v := range single {
		out[k] = v
	}
	for k, vs := range multi {
		if len(vs) > 0 {
			out[k] = strings.Join(vs, ", ")
		}
	}
	return out
}

// encodeQuery rebuilds a query string in a stable order; decoded values are
// escaped again, raw ones (an ALB's) are kept as sent.
func encodeQuery(single map[string]string, multi map[string][]string, decoded bool) string {
	vals := map[string][]string{}
	for k, v := range single {
		vals[k] = []string{v}
	}
	for k, vs := range multi {
		vals[k] = vs
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		for _, v := range vals[k] {
			if decoded {
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
			} else {
				parts = append(parts, k+"="+v)
			}
		}
	}
	return strings.Join(parts, "&")
}

// body returns the response body as the sources want it: text as is,
// anything else base64.
func body(r httpapi.Response) (string, bool) {
	if utf8.Valid(r.Body) {
		return string(r.Body), false
	}
	return base64.StdEncoding.EncodeToString(r.Body), true
}

// Response answers an HTTP event of kind k in that source's shape.
func Response(k Kind, multi bool, r httpapi.Response) any {
	b, b64 := body(r)
	switch k {
	case RESTv1:
		return events.APIGatewayProxyResponse{StatusCode: r.Status, Headers: r.Headers, Body: b, IsBase64Encoded: b64}
	case ALB:
		out := events.ALBTargetGroupResponse{
			StatusCode: r.Status, StatusDescription: fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status)),
			Body: b, IsBase64Encoded: b64,
		}
		if multi {
			out.MultiValueHeaders = make(map[string][]string, len(r.Headers))
			for k, v := range r.Headers {
				out.MultiValueHeaders[k] = []string{v}
			}
		} else {
			out.Headers = r.Headers
		}
		return out
	}
	return events.LambdaFunctionURLResponse{StatusCode: r.Status, Headers: r.Headers, Body: b, IsBase64Encoded: b64}
}
