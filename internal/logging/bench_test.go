package logging

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

var benchRequest = Request{Op: "acquire", RequestID: "0123456789abcdef", Pool: "python", SandboxID: "abcdefghijklm",
	Status: 200, Outcome: OutcomeOK, Source: "pool", Duration: 1500 * time.Microsecond}

// BenchmarkRequestLine is the cost of one redacted request line;
// BenchmarkRequestLinePlain the same line without redaction, for the ratio.
func BenchmarkRequestLine(b *testing.B) {
	l := New(io.Discard, slog.LevelInfo)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		LogRequest(context.Background(), l, benchRequest)
	}
}

func BenchmarkRequestLinePlain(b *testing.B) {
	l := slog.New(slog.NewJSONHandler(io.Discard, nil))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		LogRequest(context.Background(), l, benchRequest)
	}
}
