package events

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

func TestRunLogsOneLineWithoutSecrets(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clock := pool.NewManualClock(t0)
		rcv := newReceiver(t, clock, always(reject))
		var buf bytes.Buffer
		hook := pool.Webhook{URL: rcv.srv.URL + "/in?token=url-credential", SecretEnv: "HOOK_SECRET"}
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{hook}, secrets, nil, clock, logging.New(&buf, slog.LevelDebug),
			WithMaxAttempts(1), WithBackoff(time.Second, time.Second))

		d.Run(context.Background())
		require.Empty(t, buf.String(), "nothing to do, nothing logged")

		b.emit(t, redisstate.EventSandboxReady, "python", "sb1", "ready")
		d.Run(context.Background())
		out := buf.String()
		require.NotContains(t, out, testSecret)
		require.NotContains(t, out, "url-credential")
		var last map[string]any
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
		require.Equal(t, "webhooks", last["op"])
		require.Equal(t, "dead_lettered", last["outcome"])
		require.EqualValues(t, 1, last["dead_lettered"])
		require.EqualValues(t, 1, last["trimmed"])
		require.Contains(t, out, `"webhook":"`+rcv.srv.URL+`/in"`, "the per-failure line names the receiver without its query")
	})
}
