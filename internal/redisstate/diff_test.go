package redisstate

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A change edits an expected state dump (keys relative to the hash tag).
type change func(t *testing.T, d map[string]any)

func msStr(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// hset sets hash fields: key, then field/value pairs.
func hset(key string, kv ...string) change {
	return func(t *testing.T, d map[string]any) {
		h, _ := d[key].(map[string]string)
		h = maps.Clone(h)
		if h == nil {
			h = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		d[key] = h
	}
}

// hdel drops hash fields.
func hdel(key string, fields ...string) change {
	return func(t *testing.T, d map[string]any) {
		h, ok := d[key].(map[string]string)
		require.True(t, ok, "hdel: %s is not a hash in the dump", key)
		h = maps.Clone(h)
		for _, f := range fields {
			delete(h, f)
		}
		d[key] = h
	}
}

// set replaces a key's whole value; nil deletes it.
func set(key string, v any) change {
	return func(t *testing.T, d map[string]any) {
		if v == nil {
			delete(d, key)
			return
		}
		d[key] = v
	}
}

// event appends one outbox entry.
func event(typ, pool, id string, when time.Time, reason string) change {
	return func(t *testing.T, d map[string]any) {
		evs, _ := d[":events"].([]map[string]any)
		evs = append(append([]map[string]any(nil), evs...), map[string]any{
			"type": typ, "pool": pool, "sandbox_id": id, "at": msStr(when), "reason": reason,
		})
		d[":events"] = evs
	}
}

// transitionCase seeds a state, runs one Store call and compares the whole
// state after with the state before plus the expected changes.
type transitionCase struct {
	name    string
	seed    func(f *fixture)
	run     func(f *fixture) error
	wantErr error
	changes []change
}

// runTransitionCases runs every case on the real redis-server and again on
// miniredis, so each script is shown to behave the same on both Luas.
func runTransitionCases(t *testing.T, cases []transitionCase) {
	t.Helper()
	for _, backend := range []struct {
		name string
		open func(*testing.T) *fixture
	}{{"redis", newFixture}, {"miniredis", newMiniFixture}} {
		t.Run(backend.name, func(t *testing.T) { runCasesOn(t, backend.open, cases) })
	}
}

func runCasesOn(t *testing.T, open func(*testing.T) *fixture, cases []transitionCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := open(t)
			if tc.seed != nil {
				tc.seed(f)
			}
			before := f.dumpAll()
			err := tc.run(f)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			want := maps.Clone(before)
			for _, c := range tc.changes {
				c(t, want)
			}
			require.Equal(t, want, f.dumpAll())
			f.check(nil)
		})
	}
}
