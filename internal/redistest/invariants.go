package redistest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
)

// Layout is the key layout of one deployment: redisstate.Keys is one. The
// checker reads the layout from it rather than knowing it, so it cannot
// drift from the store's.
type Layout interface {
	All() string
	CreatingAll() string
	Deleting() string
	Pools() string
	Claims() string
	Manager() string
	SandboxPrefix() string
	PoolPrefix() string
	ClaimPrefix() string
	Pool(pool string) string
	Ready(pool string) string
	Creating(pool string) string
	InUse(pool string) string
	PoolDeleting(pool string) string
}

//go:embed dump.lua
var dumpSource string

var dumpScript = redis.NewScript(dumpSource)

var (
	// ErrUnreadable: the state could not be read (Redis down, loading its
	// AOF, a timeout), which says nothing about the invariants.
	ErrUnreadable = errors.New("redistest: check invariants: state unreadable")
	// errReply: the dump answered something this checker does not know.
	errReply = errors.New("redistest: check invariants: unexpected dump reply")
)

// CheckInvariants reads the whole state of prefix in one script and reports
// every broken invariant at once (errors.Join), or nil:
//   - every index entry has a record in that state, and every record is in
//     exactly the indexes of its state (no id in two states);
//   - the ready list holds no duplicates; per-pool and global indexes agree;
//   - caps (when given, keyed by pool) hold: ready + creating that are not
//     cold claims <= MaxReady, all records <= MaxTotal, creating <= MaxConcurrentCreates;
//   - the books balance per pool: created = ready + creating + in_use +
//     deleting + forgotten, and the claims_creating counter is exact;
//   - every pool's manager_shutdown mirrors the manager's flag;
//   - every pending claim is live and points at a creating record of its own
//     or at none (waiting for its retry).
//
// Tests and simulations call it after every step; it is not a production
// path, and production never loads its script.
func CheckInvariants(ctx context.Context, rdb redis.Scripter, k Layout, caps map[string]pool.Caps) error {
	const probe = "\x00"
	suffix := func(key string) string { return strings.TrimPrefix(key, k.PoolPrefix()+probe) }
	keys := []string{k.All(), k.CreatingAll(), k.Deleting(), k.Pools(), k.Claims(), k.Manager()}
	v, err := dumpScript.Run(ctx, rdb, keys, GlobEscape(k.SandboxPrefix())+"*", k.PoolPrefix(), k.ClaimPrefix(),
		suffix(k.Ready(probe)), suffix(k.Creating(probe)), suffix(k.InUse(probe)), suffix(k.PoolDeleting(probe)), suffix(k.Pool(probe))).Result()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	arr, _ := v.([]any)
	if len(arr) < 9 {
		return fmt.Errorf("%w: short reply", errReply)
	}
	d := dumpState{
		all: strSet(arr[1]), creatingAll: strSet(arr[2]), deletingAll: strSet(arr[3]),
		records: map[string]map[string]string{}, pools: map[string]dumpPool{},
	}
	managerShutdown := str(arr, 8)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, row := range list(arr[6]) {
		r := list(row)
		if len(r) < 2 {
			return fmt.Errorf("%w: record row", errReply)
		}
		m, err := fields(r[1])
		if err != nil {
			return err
		}
		id := strings.TrimPrefix(str(r, 0), k.SandboxPrefix())
		d.records[id] = m
	}
	for _, row := range list(arr[5]) {
		r := list(row)
		if len(r) < 6 {
			return fmt.Errorf("%w: pool row", errReply)
		}
		m, err := fields(r[5])
		if err != nil {
			return err
		}
		name := str(r, 0)
		ready := strList(r[1])
		p := dumpPool{ready: map[string]bool{}, creating: strSet(r[2]), inUse: strSet(r[3]), deleting: strSet(r[4]), hash: m}
		for _, id := range ready {
			if p.ready[id] {
				bad("pool %s: %s twice in the ready list", name, id)
			}
			p.ready[id] = true
		}
		d.pools[name] = p
	}

	// Records → indexes.
	for id, rec := range d.records {
		if !d.all[id] {
			bad("sandbox %s: record not in the all index", id)
		}
		p, ok := d.pools[rec["pool"]]
		if !ok {
			bad("sandbox %s: pool %q has no state", id, rec["pool"])
			continue
		}
		st := pool.State(rec["state"])
		in := map[pool.State]bool{
			pool.StateReady: p.ready[id], pool.StateCreating: p.creating[id],
			pool.StateInUse: p.inUse[id], pool.StateDeleting: p.deleting[id],
		}
		if _, known := in[st]; !known {
			bad("sandbox %s: unknown state %q", id, st)
		}
		for s2, member := range in {
			switch {
			case s2 == st && !member:
				bad("sandbox %s: state %s but not in its %s index", id, st, s2)
			case s2 != st && member:
				bad("sandbox %s: state %s but also in the %s index", id, st, s2)
			}
		}
		if d.creatingAll[id] != (st == pool.StateCreating) {
			bad("sandbox %s: state %s, global creating index: %v", id, st, d.creatingAll[id])
		}
		if d.deletingAll[id] != (st == pool.StateDeleting) {
			bad("sandbox %s: state %s, global deleting index: %v", id, st, d.deletingAll[id])
		}
	}
	// Indexes → records.
	for id := range d.all {
		if d.records[id] == nil {
			bad("all index: %s has no record", id)
		}
	}
	for id := range d.creatingAll {
		if d.records[id]["state"] != string(pool.StateCreating) {
			bad("global creating index: %s is %q", id, d.records[id]["state"])
		}
	}
	for id := range d.deletingAll {
		if d.records[id]["state"] != string(pool.StateDeleting) {
			bad("global deleting index: %s is %q", id, d.records[id]["state"])
		}
	}
	for name, p := range d.pools {
		for state, idx := range map[pool.State]map[string]bool{
			pool.StateReady: p.ready, pool.StateCreating: p.creating, pool.StateInUse: p.inUse, pool.StateDeleting: p.deleting,
		} {
			for id := range idx {
				rec := d.records[id]
				if rec == nil || rec["state"] != string(state) || rec["pool"] != name {
					bad("pool %s: %s index holds %s (record %q/%q)", name, state, id, rec["pool"], rec["state"])
				}
			}
		}
	}
	for name, p := range d.pools {
		if p.hash["manager_shutdown"] == "1" != (managerShutdown == "1") {
			bad("pool %s: manager_shutdown %q, manager %q", name, p.hash["manager_shutdown"], managerShutdown)
		}
	}
	errs = append(errs, d.checkBooks(caps)...)
	errs = append(errs, checkClaims(list(arr[7]), d.records)...)
	return errors.Join(errs...)
}

type dumpPool struct {
	ready                     map[string]bool
	creating, inUse, deleting map[string]bool
	hash                      map[string]string
}

type dumpState struct {
	all, creatingAll, deletingAll map[string]bool
	records                       map[string]map[string]string
	pools                         map[string]dumpPool
}

func (d dumpState) checkBooks(caps map[string]pool.Caps) []error {
	var errs []error
	names := slices.Sorted(maps.Keys(d.pools))
	for _, name := range names {
		p := d.pools[name]
		claims := 0
		for id := range p.creating {
			if d.records[id]["claim_hash"] != "" {
				claims++
			}
		}
		if got := int(atoi64(p.hash["claims_creating"])); got != claims {
			errs = append(errs, fmt.Errorf("pool %s: claims_creating %d, counted %d", name, got, claims))
		}
		created := atoi64(p.hash["created"])
		live := int64(len(p.ready) + len(p.creating) + len(p.inUse) + len(p.deleting))
		forgotten := atoi64(p.hash["forgotten"])
		if created != live+forgotten {
			errs = append(errs, fmt.Errorf("pool %s: books: created %d != ready %d + creating %d + in_use %d + deleting %d + forgotten %d",
				name, created, len(p.ready), len(p.creating), len(p.inUse), len(p.deleting), forgotten))
		}
		c, ok := caps[name]
		if !ok {
			continue
		}
		if stock := len(p.ready) + len(p.creating) - claims; stock > c.MaxReady {
			errs = append(errs, fmt.Errorf("pool %s: ready+creating %d > max_ready %d", name, stock, c.MaxReady))
		}
		if c.MaxTotal >= 0 && len(d.all) > c.MaxTotal {
			errs = append(errs, fmt.Errorf("pool %s: %d sandboxes > max_total_sandboxes %d", name, len(d.all), c.MaxTotal))
		}
		if len(d.creatingAll) > c.MaxConcurrentCreates {
			errs = append(errs, fmt.Errorf("pool %s: %d creating > max_concurrent_creates %d", name, len(d.creatingAll), c.MaxConcurrentCreates))
		}
	}
	return errs
}

func checkClaims(rows []any, records map[string]map[string]string) []error {
	var errs []error
	for _, row := range rows {
		r := list(row)
		if len(r) < 2 {
			return append(errs, fmt.Errorf("%w: claim row", errReply))
		}
		hash := str(r, 0)
		m, err := fields(r[1])
		if err != nil {
			return append(errs, err)
		}
		if m["hash"] != hash {
			errs = append(errs, fmt.Errorf("claim %s: pending but its record is gone", hash))
			continue
		}
		if m["failed"] == "1" {
			errs = append(errs, fmt.Errorf("claim %s: failed but still pending", hash))
		}
		if id := m["sandbox_id"]; id != "" {
			rec := records[id]
			if rec["state"] != string(pool.StateCreating) || rec["claim_hash"] != hash {
				errs = append(errs, fmt.Errorf("claim %s: sandbox %s is %q for claim %q", hash, id, rec["state"], rec["claim_hash"]))
			}
		}
	}
	return errs
}

func strList(v any) []string {
	arr := list(v)
	out := make([]string, 0, len(arr))
	for i := range arr {
		out = append(out, str(arr, i))
	}
	return out
}

func strSet(v any) map[string]bool {
	m := map[string]bool{}
	for _, s := range strList(v) {
		m[s] = true
	}
	return m
}

// GlobEscape quotes the glob specials of a key prefix for KEYS/SCAN patterns.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func list(v any) []any {
	arr, _ := v.([]any)
	return arr
}

// str is element i of a reply whose elements are all bulk strings (the
// dump answers nothing else past its leading code); "" when absent.
func str(arr []any, i int) string {
	if i >= len(arr) {
		return ""
	}
	s, _ := arr[i].(string)
	return s
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// fields turns a flat HGETALL reply into a map.
func fields(v any) (map[string]string, error) {
	arr := list(v)
	if len(arr)%2 != 0 {
		return nil, fmt.Errorf("%w: odd field list (%d)", errReply, len(arr))
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		m[str(arr, i)] = str(arr, i+1)
	}
	return m, nil
}
