package client

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeAPIError: any answer body and headers give an error with a code
// and never a panic.
func FuzzDecodeAPIError(f *testing.F) {
	f.Add(503, `{"error":{"code":"pool_exhausted","message":"m"}}`, "5")
	f.Add(500, "<html>oops</html>", "")
	f.Add(504, `{"error":{"code":"warm_up_timeout","details":{"pools":{}}}}`, "x")
	f.Add(401, `{"error":"plain"}`, "-1")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := decodeAPIError(status, h, []byte(body))
		if e.Code == "" {
			t.Fatalf("no code for %d %q", status, body)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After from %q", retryAfter)
		}
		_ = e.Error()
		if e.Unwrap() == nil {
			t.Fatal("an API error always matches a sentinel")
		}
	})
}

// FuzzAgentMessage: any agent error body reads as a message without a panic.
func FuzzAgentMessage(f *testing.F) {
	f.Add(`{"error":"bad token"}`)
	f.Add(`{"error":{"message":"m"}}`)
	f.Add(`{"detail":"d"}`)
	f.Add("plain\ntext")
	f.Add(`{"error":"two\nlines"}`)
	f.Fuzz(func(t *testing.T, body string) {
		m := agentMessage([]byte(body))
		if strings.Contains(m, "\n") {
			t.Fatalf("multi-line message %q", m)
		}
	})
}
