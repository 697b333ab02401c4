package redisstate

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// FuzzParseEvent decodes outbox entries with any field values (the stream is
// shared state: a bad entry must be an error, never a panic or a zero event).
func FuzzParseEvent(f *testing.F) {
	f.Add("1700000000000-0", "sandbox.ready", "python", "sb1", "1700000000000", "")
	f.Add("1-1", "sandbox.deleted", "", "", "1", "orphan")
	f.Add("2-0", "", "python", "sb1", "5", "")
	f.Add("3-0", "pool.exhausted", "node", "", "-5", "")
	f.Add("4-0", "sandbox.acquired", "python", "sb2", "9223372036854775807", "")
	f.Add("5-0", "x", "p", "s", "12ab", "r")
	f.Fuzz(func(t *testing.T, id, typ, poolName, sandboxID, at, reason string) {
		m := redis.XMessage{ID: id, Values: map[string]any{"type": typ, "pool": poolName, "sandbox_id": sandboxID, "at": at, "reason": reason}}
		e, err := ParseEvent(m)
		ms, perr := strconv.ParseInt(at, 10, 64)
		wantOK := typ != "" && perr == nil && ms > 0
		if (err == nil) != wantOK {
			t.Fatalf("ParseEvent(type %q, at %q): err %v, want ok=%v", typ, at, err, wantOK)
		}
		if err != nil {
			return
		}
		if e.ID != id || e.Type != typ || e.Pool != poolName || e.SandboxID != sandboxID || e.Reason != reason {
			t.Fatalf("fields changed: %+v", e)
		}
		if e.At.UnixMilli() != ms {
			t.Fatalf("at %d read as %v", ms, e.At)
		}
	})
}
