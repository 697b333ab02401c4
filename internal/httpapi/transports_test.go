package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// row is one request of the cross-transport table.
type row struct {
	name    string
	method  string
	path    string // the full route, "/acquire/renew"
	query   string
	headers map[string]string
	noAuth  bool
	body    string
	bodyOf  func(prev []answer) string // a body built from earlier answers
	base64  bool                       // the platform hands the body base64-encoded
	want    int
}

// answer is what a transport gave back, reduced to what must be identical.
type answer struct {
	Status  int
	Headers map[string]string
	Body    string
}

// compared are the response headers the contract defines.
var compared = []string{"Content-Type", "Retry-After", "Idempotent-Replay", "Allow", "X-Request-Id"}

// idemToken is the lease token of the table's idempotent acquire: its nonce is
// the first token the service mints (env_test.go's NewToken counts them).
func idemToken() string {
	return pool.NewSecrets("test-secret").IdempotentLeaseToken("python", "k1", "tok-001")
}

var transportRows = []row{
	{name: "no token", method: "POST", path: "/acquire", noAuth: true, body: `{"image":"python"}`, want: 401},
	{name: "acquire idempotent", method: "POST", path: "/acquire", body: `{"image":"python","idempotency_key":"k1","lease_seconds":600}`, want: 200},
	{name: "acquire replay", method: "POST", path: "/acquire", body: `{"image":"python","idempotency_key":"k1","lease_seconds":600}`, want: 200},
	{name: "acquire empty fail pool", method: "POST", path: "/acquire", body: `{"image":"node"}`, want: 503},
	{name: "acquire base64 body", method: "POST", path: "/acquire", body: `{"image":"python"}`, base64: true, want: 200},
	{name: "acquire cold claim", method: "POST", path: "/acquire", body: `{"image":"python"}`, want: 202},
	{name: "poll claim", method: "POST", path: "/acquire", want: 202, bodyOf: func(prev []answer) string {
		var m struct{ Claim struct{ ID string } }
		_ = json.Unmarshal([]byte(prev[5].Body), &m)
		return `{"claim_id":"` + m.Claim.ID + `"}`
	}},
	{name: "poll unknown claim", method: "POST", path: "/acquire", body: `{"claim_id":"never"}`, want: 404},
	{name: "renew", method: "POST", path: "/acquire/renew", bodyOf: func([]answer) string {
		return `{"sandbox_id":"sb-a","lease_token":"` + idemToken() + `","lease_seconds":1200}`
	}, want: 200},
	{name: "renew unknown", method: "POST", path: "/acquire/renew", body: `{"sandbox_id":"sb-zz","lease_token":"x"}`, want: 404},
	{name: "release", method: "POST", path: "/release", bodyOf: func([]answer) string {
		return `{"sandbox_id":"sb-a","lease_token":"` + idemToken() + `"}`
	}, want: 200},
	{name: "release again", method: "POST", path: "/release", bodyOf: func([]answer) string {
		return `{"sandbox_id":"sb-a","lease_token":"` + idemToken() + `"}`
	}, want: 200},
	{name: "release wrong token", method: "POST", path: "/release", body: `{"sandbox_id":"sb-b","lease_token":"wrong"}`, want: 403},
	{name: "metrics json", method: "GET", path: "/metrics", want: 200},
	{name: "metrics prometheus query", method: "GET", path: "/metrics", query: "format=prometheus", want: 200},
	{name: "metrics prometheus accept", method: "GET", path: "/metrics", headers: map[string]string{"Accept": "text/plain"}, want: 200},
	{name: "malformed json", method: "POST", path: "/acquire", body: `{"image":`, want: 400},
	{name: "unknown field", method: "POST", path: "/acquire", body: `{"image":"python","x":1}`, want: 400},
	{name: "oversized", method: "POST", path: "/release", body: `{"sandbox_id":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, want: 400},
	{name: "unknown image", method: "POST", path: "/acquire", body: `{"image":"ruby"}`, want: 404},
	{name: "wrong method", method: "GET", path: "/acquire", want: 405},
	{name: "no such route", method: "POST", path: "/acquire/nope", body: `{}`, want: 404},
	{name: "warm-up report", method: "POST", path: "/reconcile", body: `{"action":"warm_up"}`, want: 504},
	{name: "shutdown node", method: "POST", path: "/reconcile", body: `{"action":"shutdown","pool":"node"}`, want: 200},
	{name: "acquire shut down pool", method: "POST", path: "/acquire", body: `{"image":"node"}`, want: 503},
	{name: "start node", method: "POST", path: "/reconcile", body: `{"action":"start","pool":"node"}`, want: 200},
	{name: "pass", method: "POST", path: "/reconcile", want: 200},
}

// transport sends one request through one carrier.
type transport struct {
	name string
	send func(t *testing.T, e *env, method, path, query string, headers map[string]string, body []byte, b64 bool) answer
}

var transports = []transport{
	{"digitalocean", sendDO},
	{"net/http", sendHTTP},
}

// sendDO builds the event the DigitalOcean runtime hands a web: raw function
// (function name from the first path segment, the rest as http.path), passes
// it through JSON as the runtime does, and reads the returned map the same way.
func sendDO(t *testing.T, e *env, method, path, query string, headers map[string]string, body []byte, b64 bool) answer {
	fn, sub, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if sub != "" {
		sub = "/" + sub
	}
	hs := map[string]any{}
	for k, v := range headers {
		hs[strings.ToLower(k)] = v
	}
	httpPart := map[string]any{"method": strings.ToLower(method), "path": sub, "headers": hs, "queryString": query, "isBase64Encoded": b64}
	if b64 {
		httpPart["body"] = base64.StdEncoding.EncodeToString(body)
	} else {
		httpPart["body"] = string(body)
	}
	var event map[string]any
	roundTrip(t, map[string]any{"http": httpPart}, &event)
	resp, ok := e.h.HandleDOEvent(context.Background(), fn, event)
	require.True(t, ok)
	var out struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	roundTrip(t, resp, &out)
	return answer{Status: out.StatusCode, Headers: out.Headers, Body: out.Body}
}

// sendHTTP goes over a real socket to the net/http adapter.
func sendHTTP(t *testing.T, e *env, method, path, query string, headers map[string]string, body []byte, _ bool) answer {
	srv := e.httpServer(t)
	u := srv.URL + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{Status: resp.StatusCode, Headers: map[string]string{}, Body: string(b)}
	for k := range resp.Header {
		a.Headers[k] = resp.Header.Get(k)
	}
	return a
}

func (e *env) httpServer(t *testing.T) *httptest.Server {
	if e.srv == nil {
		e.srv = httptest.NewServer(e.h)
		t.Cleanup(e.srv.Close)
	}
	return e.srv
}

func roundTrip(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out))
}

// run plays the whole table through one transport on a fresh env.
func run(t *testing.T, kind string, tr transport) []answer {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0.Add(-2*time.Minute))
	e.seed.addReady("python", "sb-b", t0.Add(-time.Minute))
	var out []answer
	for i, r := range transportRows {
		h := map[string]string{"X-Request-Id": fmt.Sprintf("row-%02d", i)}
		if !r.noAuth {
			h["Authorization"] = "Bearer " + testToken
		}
		for k, v := range r.headers {
			h[k] = v
		}
		body := r.body
		if r.bodyOf != nil {
			body = r.bodyOf(out)
		}
		// Acquire latency samples are written in the background: let the
		// earlier rows' land first, so every transport reads the same metrics.
		require.NoError(t, e.svc.Flush(context.Background()))
		a := tr.send(t, e, r.method, r.path, r.query, h, []byte(body), r.base64)
		require.Equal(t, r.want, a.Status, "%s %s: %s", tr.name, r.name, a.Body)
		kept := map[string]string{}
		for _, k := range compared {
			if v := a.Headers[k]; v != "" {
				kept[k] = v
			}
		}
		a.Headers = kept
		out = append(out, a)
	}
	return out
}

func TestOneTableThroughAllThreeTransports(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			var first []answer
			for _, tr := range transports {
				got := run(t, kind, tr)
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					require.Equal(t, first[i], got[i], "%s differs from %s on %q", tr.name, transports[0].name, transportRows[i].name)
				}
			}
			// The table is not vacuous: the answers carry what each row is about.
			require.Equal(t, "true", first[2].Headers["Idempotent-Replay"])
			require.Equal(t, "5", first[5].Headers["Retry-After"])
			require.Equal(t, "row-00", first[0].Headers["X-Request-Id"])
			require.Contains(t, first[14].Body, "hotpool_")
			require.Contains(t, first[22].Body, "warm_up_timeout")
		})
	}
}

// TestTwoSpellingsOfAHeaderResolveTheSameWay: an event carrying both
// "authorization" and "Authorization" is read the same way every time (the
// lower-case spelling, the platforms' own), not by the map's random order.
func TestTwoSpellingsOfAHeaderResolveTheSameWay(t *testing.T) {
	for range 50 {
		do, ok := DOEventRequest("metrics", map[string]any{"http": map[string]any{
			"method": "GET", "headers": map[string]any{"authorization": "Bearer right", "Authorization": "Bearer wrong", "AUTHORIZATION": "Bearer wrong"},
		}})
		require.True(t, ok)
		require.Equal(t, "Bearer right", do.Header("Authorization"))
		require.Equal(t, "Bearer right", LowerHeaders(map[string]string{"Authorization": "Bearer wrong", "authorization": "Bearer right", "AuThorization": "Bearer wrong"})["authorization"])
	}
}
