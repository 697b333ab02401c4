package lambdaevent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/fnenv"
	"github.com/hotpool/hotpool/internal/redistest"
)

const token = "lambda-test-token"

// sample reads one of aws-lambda-go's own sample events (events/testdata).
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func lazy(t *testing.T, extra map[string]string) *fnenv.Lazy {
	t.Helper()
	_, prefix := redistest.Client(t)
	env := map[string]string{
		"HOTPOOL_API_TOKEN": token, "REDIS_URL": redistest.URL(), "HOTPOOL_SECRET": "lambda-test-secret-lambda-test-secret",
		"HOTPOOL_CONFIG":   `{"deployment":"` + prefix[:8] + `","pools":{"python":{"target_ready":0}}}`,
		"HOTPOOL_KICK_URL": "off",
	}
	for k, v := range extra {
		env[k] = v
	}
	return fnenv.NewLazyEnv(func(k string) string { return env[k] }, io.Discard)
}

func serve(t *testing.T, l *fnenv.Lazy, fn string, ev any) (map[string]any, error) {
	t.Helper()
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	out, err := Serve(context.Background(), l, fn, raw)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m, nil
}

// Every HTTP source, from aws-lambda-go's own samples pointed at /metrics
// with the token, answers 200 in its own response shape.
func TestEverySourceAnswersInItsOwnShape(t *testing.T) {
	l := lazy(t, nil)
	cases := []struct {
		sample, kind string
		patch        func(m map[string]any)
		check        func(t *testing.T, m map[string]any)
	}{
		{"lambda-urls-request.json", "http-v2", func(m map[string]any) {
			m["rawPath"], m["rawQueryString"] = "/metrics", ""
			m["headers"].(map[string]any)["authorization"] = "Bearer " + token
			m["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
		}, nil},
		{"apigw-v2-request-no-authorizer.json", "http-v2", func(m map[string]any) {
			m["rawPath"], m["rawQueryString"] = "/metrics", ""
			m["headers"].(map[string]any)["authorization"] = "Bearer " + token
			m["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
		}, nil},
		{"apigw-request.json", "rest-v1", func(m map[string]any) {
			m["path"], m["httpMethod"] = "/metrics", "GET"
			m["queryStringParameters"], m["multiValueQueryStringParameters"] = nil, nil
			m["headers"].(map[string]any)["Authorization"] = "Bearer " + token
			m["multiValueHeaders"].(map[string]any)["Authorization"] = []any{"Bearer " + token}
		}, func(t *testing.T, m map[string]any) {
			require.NotContains(t, m, "cookies", "a REST API answer has no cookies field")
			require.NotContains(t, m, "statusDescription")
		}},
		{"alb-lambda-target-request-headers-only.json", "alb", func(m map[string]any) {
			m["path"] = "/metrics"
			m["queryStringParameters"] = nil
			m["headers"].(map[string]any)["authorization"] = "Bearer " + token
		}, func(t *testing.T, m map[string]any) {
			require.Equal(t, "200 OK", m["statusDescription"])
			require.NotEmpty(t, m["headers"])
		}},
		{"alb-lambda-target-request-multivalue-headers.json", "alb", func(m map[string]any) {
			m["path"] = "/metrics"
			m["multiValueQueryStringParameters"] = nil
			m["multiValueHeaders"].(map[string]any)["authorization"] = []any{"Bearer " + token}
		}, func(t *testing.T, m map[string]any) {
			require.Equal(t, "200 OK", m["statusDescription"])
			require.NotEmpty(t, m["multiValueHeaders"], "a multi-value request is answered with multi-value headers")
			require.Empty(t, m["headers"])
		}},
	}
	for _, c := range cases {
		t.Run(c.sample, func(t *testing.T) {
			ev := sample(t, c.sample)
			raw, _ := json.Marshal(ev)
			require.Equal(t, c.kind, Classify(raw).String())
			c.patch(ev)
			m, err := serve(t, l, "", ev)
			require.NoError(t, err)
			require.EqualValues(t, 200, m["statusCode"], m)
			require.Contains(t, m["body"], `"pools"`)
			if c.check != nil {
				c.check(t, m)
			}
			// Without the token: 401, never a routing 404.
			unauth := sample(t, c.sample)
			c.patch(unauth)
			if h, ok := unauth["headers"].(map[string]any); ok {
				delete(h, "authorization")
				delete(h, "Authorization")
			}
			if mv, ok := unauth["multiValueHeaders"].(map[string]any); ok {
				delete(mv, "authorization")
				delete(mv, "Authorization")
			}
			m, err = serve(t, l, "", unauth)
			require.NoError(t, err)
			require.EqualValues(t, 401, m["statusCode"], m)
		})
	}
}

// A REST API request with a base64 body and a query reaches the route whole;
// a per-function deployment (HOTPOOL_FUNCTION) serves its sub-paths.
func TestRESTv1BodyQueryAndPerFunctionRoutes(t *testing.T) {
	l := lazy(t, nil)
	ev := sample(t, "apigw-request.json")
	ev["path"], ev["httpMethod"] = "/acquire", "POST"
	ev["headers"] = map[string]any{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	ev["multiValueHeaders"] = nil
	ev["body"] = base64.StdEncoding.EncodeToString([]byte(`{"image":"nope"}`))
	ev["isBase64Encoded"] = true
	m, err := serve(t, l, "acquire", ev)
	require.NoError(t, err)
	require.EqualValues(t, 404, m["statusCode"])
	require.Contains(t, m["body"], "unknown_image", "the decoded body reached acquire")

	ev["body"], ev["isBase64Encoded"] = "%%%", true
	m, err = serve(t, l, "acquire", ev)
	require.NoError(t, err)
	require.EqualValues(t, 400, m["statusCode"])

	ev = sample(t, "apigw-request.json")
	ev["path"], ev["httpMethod"] = "/metrics", "GET"
	ev["headers"] = map[string]any{"Authorization": "Bearer " + token}
	ev["multiValueHeaders"] = nil
	ev["queryStringParameters"] = map[string]any{"format": "prometheus"}
	ev["multiValueQueryStringParameters"] = map[string]any{"format": []any{"prometheus"}}
	m, err = serve(t, l, "", ev)
	require.NoError(t, err)
	require.EqualValues(t, 200, m["statusCode"])
	require.Contains(t, m["body"], "hotpool_", "the query reached metrics")
}

func scheduledEvent(source string) map[string]any {
	return map[string]any{"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": source,
		"account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
		"resources": []any{"arn:aws:events:us-east-1:123456789012:rule/hotpool"}, "detail": map[string]any{}}
}

// Only a schedule starts reconcile, only on the reconcile (or all-routes)
// function; anything else is a clear error, never a 404.
func TestOnlySchedulesStartReconcile(t *testing.T) {
	l := lazy(t, nil)
	for _, src := range []string{"aws.events", "aws.scheduler"} {
		_, err := serve(t, l, "", scheduledEvent(src))
		require.ErrorContains(t, err, "DIGITALOCEAN_TOKEN", "a schedule runs reconcile (which needs the token)")
	}
	_, err := serve(t, l, "metrics", scheduledEvent("aws.events"))
	require.ErrorIs(t, err, ErrNotReconcile)
	_, err = serve(t, l, "", map[string]any{"version": "0", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": map[string]any{}})
	require.ErrorIs(t, err, ErrNotScheduled)
	for _, ev := range []any{map[string]any{"hello": "world"}, sample(t, "sqs-event.json"), nil} {
		_, err = serve(t, l, "", ev)
		require.ErrorIs(t, err, ErrUnknownEvent)
	}
}

// The scheduled run takes its budget from the function's deadline: with 8 s
// left it runs one pass and answers, where a fixed 55 s run was killed.
func TestScheduledRunEndsBeforeTheDeadline(t *testing.T) {
	sim := appsim.New(appsim.Options{Token: "do", CreateDelay: time.Minute})
	base, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	l := lazy(t, map[string]string{"DIGITALOCEAN_TOKEN": "do", "HOTPOOL_DO_API_URL": base})
	// A pool below target keeps a run busy: RunFor would pass every 5 s.
	_, prefix := redistest.Client(t)
	l = fnenv.NewLazyEnv(func(k string) string {
		switch k {
		case "HOTPOOL_CONFIG":
			return `{"deployment":"` + prefix[:8] + `","pools":{"python":{"target_ready":2}}}`
		case "DIGITALOCEAN_TOKEN":
			return "do"
		case "HOTPOOL_DO_API_URL":
			return base
		case "HOTPOOL_API_TOKEN":
			return token
		case "REDIS_URL":
			return redistest.URL()
		case "HOTPOOL_SECRET":
			return "lambda-test-secret-lambda-test-secret"
		}
		return ""
	}, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	raw, _ := json.Marshal(scheduledEvent("aws.events"))
	out, err := Serve(ctx, l, "reconcile", raw)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "answered before the deadline")
	b, _ := json.Marshal(out)
	require.Contains(t, string(b), `"created":2`, "the one pass did its work")
}

// A pass in which every platform call failed is an invocation error, so
// Lambda's Errors metric sees it.
func TestAPassWhoseCallsAllFailIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	_, prefix := redistest.Client(t)
	l := fnenv.NewLazyEnv(func(k string) string {
		return map[string]string{
			"HOTPOOL_CONFIG":     `{"deployment":"` + prefix[:8] + `","pools":{"python":{"target_ready":1}}}`,
			"DIGITALOCEAN_TOKEN": "do", "HOTPOOL_DO_API_URL": dead, "HOTPOOL_API_TOKEN": token,
			"REDIS_URL": redistest.URL(), "HOTPOOL_SECRET": "lambda-test-secret-lambda-test-secret",
		}[k]
	}, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	raw, _ := json.Marshal(scheduledEvent("aws.events"))
	_, err = Serve(ctx, l, "reconcile", raw)
	require.ErrorIs(t, err, ErrPassFailed)
}

func FuzzServe(f *testing.F) {
	for _, s := range []string{
		`{"version":"2.0","rawPath":"/acquire","headers":{"authorization":"Bearer ` + token + `"},"requestContext":{"http":{"method":"POST"}},"body":"{\"image\":\"node\"}"}`,
		`{"httpMethod":"GET","path":"/metrics","requestContext":{"elb":{}},"multiValueHeaders":{"authorization":["x","y"]}}`,
		`{"httpMethod":"POST","path":"/release","requestContext":{"stage":"prod"},"body":"%%%","isBase64Encoded":true}`,
		`{"rawPath":7,"requestContext":[]}`, `{"source":"aws.events","detail-type":"Scheduled Event"}`, `null`,
	} {
		f.Add([]byte(s))
	}
	l := fnenv.NewLazyEnv(func(k string) string {
		if k == "HOTPOOL_API_TOKEN" {
			return token
		}
		return ""
	}, io.Discard)
	f.Fuzz(func(t *testing.T, raw []byte) {
		k := Classify(raw)
		if k == Scheduled {
			return // runs reconcile: not a decoder
		}
		out, err := Serve(context.Background(), l, "", raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(out)
		require.NoError(t, err)
		var r struct {
			StatusCode int `json:"statusCode"`
		}
		require.NoError(t, json.Unmarshal(b, &r))
		require.NotEqual(t, 500, r.StatusCode, "no input is a 500")
		require.NotEqual(t, 0, r.StatusCode)
	})
}
