package redisstate

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event types the scripts append to Keys.Events (the outbox). pool.EventTypes
// lists them for config validation; TestScriptsEmitOnlyListedTypes keeps the
// scripts, these names and that list equal.
const (
	EventSandboxReady      = "sandbox.ready"    // creating → ready (reason "ready"), or held for its claim ("claimed")
	EventSandboxAcquired   = "sandbox.acquired" // a lease went out (reason "pool" or "cold")
	EventSandboxReleased   = "sandbox.released" // in_use → deleting by its holder
	EventSandboxReaped     = "sandbox.reaped"   // in_use → deleting, lease expired
	EventSandboxFailed     = "sandbox.failed"   // a creation failed (reason: why)
	EventSandboxDeleted    = "sandbox.deleted"  // the platform confirmed the delete; record forgotten
	EventPoolExhausted     = "pool.exhausted"   // acquire answered exhausted (reason empty|capacity|circuit_open)
	EventPoolCircuitOpen   = "pool.circuit_open"
	EventPoolCircuitClosed = "pool.circuit_closed"
	EventPoolDrained       = "pool.drained"  // a shut-down pool has nothing ready or creating left
	EventPoolShutdown      = "pool.shutdown" // pool "" is the whole manager
	EventPoolStarted       = "pool.started"  // pool "" is the whole manager
)

// Event is one outbox entry.
type Event struct {
	ID        string    `json:"id"` // the stream entry id
	Type      string    `json:"type"`
	Pool      string    `json:"pool"`                 // "" for manager-wide events
	SandboxID string    `json:"sandbox_id,omitempty"` // "" for pool events
	At        time.Time `json:"at"`
	Reason    string    `json:"reason,omitempty"`
}

// ParseEvent decodes one stream entry of Keys.Events.
func ParseEvent(m redis.XMessage) (Event, error) {
	get := func(k string) string {
		v, _ := m.Values[k].(string)
		return v
	}
	e := Event{ID: m.ID, Type: get("type"), Pool: get("pool"), SandboxID: get("sandbox_id"), Reason: get("reason")}
	if e.Type == "" {
		return Event{}, fmt.Errorf("redisstate: event %s: no type", m.ID)
	}
	at, err := strconv.ParseInt(get("at"), 10, 64)
	if err != nil || at <= 0 {
		return Event{}, fmt.Errorf("redisstate: event %s: bad at %q", m.ID, get("at"))
	}
	e.At = time.UnixMilli(at).UTC()
	return e, nil
}
