package pool

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPoolIdleIsTheSeedsIdleState(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	pc := DefaultPool() // idle_timeout 60 s, cooldown_after_acquire 120 s
	off := pc
	off.IdleTimeout = 0
	cases := []struct {
		name string
		st   Record
		pc   PoolConfig
		want bool
	}{
		{"no state yet: active from the start", Record{}, pc, false},
		{"activated just now", Record{ActivatedAt: ago(30 * time.Second)}, pc, false},
		{"never acquired, activated past idle_timeout: idle (no acquire ever needed)", Record{ActivatedAt: ago(61 * time.Second)}, pc, true},
		{"acquired within idle_timeout", Record{ActivatedAt: ago(time.Hour), LastAcquireAt: ago(30 * time.Second)}, pc, false},
		{"past idle_timeout but within the cooldown", Record{ActivatedAt: ago(time.Hour), LastAcquireAt: ago(90 * time.Second)}, pc, false},
		{"past idle_timeout and the cooldown", Record{ActivatedAt: ago(time.Hour), LastAcquireAt: ago(121 * time.Second)}, pc, true},
		{"a start after the last acquire restarts the clock", Record{ActivatedAt: ago(10 * time.Second), LastAcquireAt: ago(time.Hour)}, pc, false},
		{"idle_timeout 0 turns idleness off", Record{ActivatedAt: ago(time.Hour)}, off, false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.st.Idle(tc.pc, now), tc.name)
	}
}
