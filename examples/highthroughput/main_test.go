package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
)

func TestRunAgainstTheLocalServer(t *testing.T) {
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 6, "max_ready": 8}}, "max_total_sandboxes": 12}`))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localserver.Start(ctx, localserver.Options{Addr: "127.0.0.1:0", Config: cfg, Token: "tok",
		SimCreateDelay: 50 * time.Millisecond, ReconcileEvery: 100 * time.Millisecond})
	require.NoError(t, err)
	defer func() { cancel(); <-s.Done() }()

	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-url", s.BaseURL, "-token", "tok", "-tasks", "6", "-workers", "2", "-warm-up", "30s"}, &out))
	require.Contains(t, out.String(), "6 tasks: 6 ok")
	require.Contains(t, out.String(), "acquire latency: p50 ")
	require.Contains(t, out.String(), "pool hit rate over the run: ")
	t.Log(out.String())
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, time.Duration(5), pct(d, 50))
	require.Equal(t, time.Duration(10), pct(d, 95))
	require.Equal(t, time.Duration(1), pct(d[:1], 50))
}

// -h is asked for: main exits 0 on flag.ErrHelp.
func TestHelpIsNotAFailure(t *testing.T) {
	require.ErrorIs(t, run(context.Background(), []string{"-h"}, io.Discard), flag.ErrHelp)
}
