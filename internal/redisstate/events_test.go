package redisstate

import (
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestEventsParseFromTheOutbox(t *testing.T) {
	f := newFixture(t)
	f.leased()
	_, err := f.s.Release(f.ctx, "a", "h1", at(2*time.Minute))
	require.NoError(t, err)
	msgs, err := f.rdb.XRange(f.ctx, f.s.Keys().Events(), "-", "+").Result()
	require.NoError(t, err)
	var got []Event
	for _, m := range msgs {
		e, err := ParseEvent(m)
		require.NoError(t, err)
		require.NotEmpty(t, e.ID)
		e.ID = ""
		got = append(got, e)
	}
	require.Equal(t, []Event{
		{Type: EventSandboxReady, Pool: testPool, SandboxID: "a", At: at(0), Reason: "ready"},
		{Type: EventSandboxAcquired, Pool: testPool, SandboxID: "a", At: at(time.Minute), Reason: "pool"},
		{Type: EventSandboxReleased, Pool: testPool, SandboxID: "a", At: at(2 * time.Minute), Reason: pool.ReasonReleased},
	}, got)
}

func TestParseEventRejectsBadEntries(t *testing.T) {
	for _, m := range []redis.XMessage{
		{ID: "1-0", Values: map[string]any{"pool": "p", "at": "1"}},
		{ID: "1-0", Values: map[string]any{"type": "sandbox.ready", "at": "soon"}},
		{ID: "1-0", Values: map[string]any{"type": "sandbox.ready"}},
	} {
		_, err := ParseEvent(m)
		require.Error(t, err)
	}
}

// Webhook filters are validated against pool.EventTypes, so a type a script
// emits outside that list could never be filtered for, and a listed type no
// script emits would be a filter that never matches.
func TestScriptsEmitOnlyListedTypes(t *testing.T) {
	emitted := map[string]bool{}
	re := regexp.MustCompile(`emit\('([a-z_.]+)'`)
	for _, name := range append([]string{"lib", "lib_state"}, scriptNames...) {
		src, err := scriptFS.ReadFile("scripts/" + name + ".lua")
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			emitted[m[1]] = true
		}
	}
	consts := []string{EventSandboxReady, EventSandboxAcquired, EventSandboxReleased, EventSandboxReaped,
		EventSandboxFailed, EventSandboxDeleted, EventPoolExhausted, EventPoolCircuitOpen, EventPoolCircuitClosed,
		EventPoolDrained, EventPoolShutdown, EventPoolStarted}
	require.ElementsMatch(t, pool.EventTypes, slices.Sorted(maps.Keys(emitted)))
	require.ElementsMatch(t, pool.EventTypes, consts)
}
