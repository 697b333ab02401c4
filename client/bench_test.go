package client

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkAcquireRelease measures the client's own cost of one acquire and
// one release (encode, HTTP round trip to an in-process server, decode).
func BenchmarkAcquireRelease(b *testing.B) {
	f := newFakeAPI(b)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, okAcquire("sb1", "https://sb1.example"))
	})
	f.on("/release", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, map[string]any{"sandbox_id": "sb1", "state": "deleting"})
	})
	c, err := New(f.srv.URL, testToken)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb, err := c.Acquire(ctx, "python", AcquireOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
