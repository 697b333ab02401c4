package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// Every decoder (body → request, event → request) is fuzzed: it never
// panics, every refusal is invalid_request, and nothing answers 500.
// Seeds are in testdata/fuzz/<FuzzName>/ besides the f.Add ones.

// checkRefusal asserts that a decoder's error is an invalid_request naming a field.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	require.True(t, errors.Is(err, pool.ErrInvalidRequest), "not invalid_request: %v", err)
	var fe *pool.FieldError
	require.True(t, errors.As(err, &fe))
	require.NotEmpty(t, fe.Field)
	require.Equal(t, 400, ruleFor(err).status)
}

func FuzzDecodeAcquire(f *testing.F) {
	for _, s := range []string{`{"image":"python"}`, `{"image":"python","lease_seconds":60,"wait_seconds":3,"idempotency_key":"k"}`, `{"claim_id":"abc"}`, `{"image":1}`, `[]`, `{"image":"python"}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeAcquire(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if r.ClaimID != "" {
			require.Equal(t, pool.AcquireRequest{ClaimID: r.ClaimID}, r)
			return
		}
		require.NotEmpty(t, r.Image)
		require.GreaterOrEqual(t, r.LeaseSeconds, 0)
		require.True(t, r.WaitSeconds >= 0 && r.WaitSeconds <= pool.MaxWaitSeconds)
		require.True(t, r.IdempotencyKey == "" || pool.ValidIdempotencyKey(r.IdempotencyKey))
	})
}

func FuzzDecodeRenew(f *testing.F) {
	for _, s := range []string{`{"sandbox_id":"a","lease_token":"t"}`, `{"sandbox_id":"a","lease_token":"t","lease_seconds":9e9}`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRenew(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		require.NotEmpty(t, r.SandboxID)
		require.NotEmpty(t, r.LeaseToken)
		require.GreaterOrEqual(t, r.LeaseSeconds, 0)
	})
}

func FuzzDecodeRelease(f *testing.F) {
	for _, s := range []string{`{"sandbox_id":"a","lease_token":"t"}`, `{"sandbox_id":null}`, `{"sandbox_id":"a","lease_token":"t"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRelease(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		require.NotEmpty(t, r.SandboxID)
		require.NotEmpty(t, r.LeaseToken)
		require.Zero(t, r.LeaseSeconds)
	})
}

func FuzzDecodeReconcile(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"action":"shutdown","pool":"python"}`, `{"action":"warm_up","timeout_seconds":5}`, `{"action":"start"}`, `{"action":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeReconcile(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		require.Contains(t, []string{ActionPass, ActionShutdown, ActionStart, ActionWarmUp}, r.Action)
		require.True(t, r.TimeoutSeconds >= 0 && r.TimeoutSeconds <= pool.MaxWaitSeconds)
		if r.Pool != "" {
			require.Contains(t, []string{ActionShutdown, ActionStart}, r.Action)
		}
	})
}

// checkAnswer asserts a full response: never a 500, a request id, and a body
// in the contract's shape (the error shape for every 4xx/5xx).
func checkAnswer(t *testing.T, status int, headers map[string]string, body string) {
	t.Helper()
	require.NotEqual(t, 500, status, body)
	require.NotEmpty(t, headers["X-Request-Id"])
	if strings.HasPrefix(headers["Content-Type"], "text/plain") {
		return
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	if status >= 400 {
		e, ok := m["error"].(map[string]any)
		require.True(t, ok, body)
		require.NotEmpty(t, e["code"])
	}
}

func FuzzDOEvent(f *testing.F) {
	auth := `"authorization":"Bearer ` + testToken + `"`
	for _, s := range []string{
		`{"http":{"method":"POST","path":"","headers":{` + auth + `},"body":"{\"image\":\"python\"}"}}`,
		`{"http":{"method":"POST","path":"/renew","headers":{` + auth + `},"body":"e30=","isBase64Encoded":true}}`,
		`{"http":{"method":"GET","path":"","headers":{` + auth + `},"queryString":"format=prometheus"}}`,
		`{"http":{"method":"post","headers":{` + auth + `},"body":"!!!","isBase64Encoded":"true"}}`,
		`{"http":"nope"}`, `{"http":{"headers":[1,2],"body":{"a":1}}}`, `{}`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	fns := []string{"acquire", "release", "metrics", "reconcile"}
	e := newEnv(f)
	e.seed.addReady("python", "sb-fuzz", t0)
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		var event map[string]any
		if json.Unmarshal(raw, &event) != nil || event == nil {
			return
		}
		fn := fns[int(which)%len(fns)]
		if fn == "reconcile" {
			fn = "metrics" // a pass on the fake reconciler proves nothing more about decoding
		}
		resp, ok := e.h.HandleDOEvent(context.Background(), fn, event)
		if !ok {
			_, web := event["http"]
			require.False(t, web)
			return
		}
		var out struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		roundTrip(t, resp, &out)
		checkAnswer(t, out.StatusCode, out.Headers, out.Body)
	})
}

func FuzzHandle(f *testing.F) {
	f.Add("POST", "/acquire", "", true, []byte(`{"image":"python","wait_seconds":0}`))
	f.Add("POST", "/acquire/renew", "", true, []byte(`{"sandbox_id":"sb","lease_token":"t"}`))
	f.Add("GET", "/metrics", "format=prometheus", true, []byte(nil))
	f.Add("POST", "/reconcile", "", true, []byte(`{"action":"warm_up"}`))
	f.Add("PUT", "/%zz", "a=%", false, []byte(`{`))
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, method, path, query string, authed bool, body []byte) {
		h := map[string]string{}
		if authed {
			h["authorization"] = "Bearer " + testToken
		}
		r := e.h.Handle(context.Background(), Request{Method: method, Path: path, Query: query, Headers: h, Body: body})
		checkAnswer(t, r.Status, r.Headers, string(r.Body))
		if !authed && cleanPath(path) != "/healthz" {
			require.Equal(t, 401, r.Status)
		}
	})
}
