package redisstate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
)

// DefaultReleasedTTL is how long a released (or reaped) lease's tombstone
// lives, so a repeated release after the record is forgotten still answers
// "deleted" to the holder.
const DefaultReleasedTTL = 24 * time.Hour

// Store is the pool.Store on Redis. Safe for concurrent use.
type Store struct {
	rdb         redis.Scripter
	keys        Keys
	releasedTTL time.Duration
	skew        time.Duration // a lease is reaped only this long past its expiry
	// replicas > 0: every state change waits (WAIT) for that many replicas
	// to acknowledge it, within waitTimeout, before its answer counts.
	replicas    int
	waitTimeout time.Duration
	plans       map[*script]keyPlan // each script's KEYS, shared ones filled in
	bounds      string              // the latency histogram bounds for pollclaim.lua
	hotKeys     sync.Map            // pool name -> []string: acquire's KEYS, built once per pool
}

var _ pool.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClockSkewTolerance sets how long after a lease's expiry MarkDeleting
// may reap it (config clock_skew_tolerance; default
// pool.DefaultClockSkewTolerance).
func WithClockSkewTolerance(d time.Duration) Option {
	return func(s *Store) { s.skew = d }
}

// WithDurability makes every state change wait until replicas replicas
// have acknowledged it (Redis WAIT, pipelined on the script's connection),
// for at most timeout: an acquire is answered, and a pass's create or delete
// call follows its reservation or condemnation, only once the change would
// survive a failover to one of them. A change acknowledged by fewer is
// ErrNotDurable (an ErrUnavailable: the caller retries; the change stays on
// the primary, so an idempotent retry is answered from it). replicas 0 (the default) waits for none.
func WithDurability(replicas int, timeout time.Duration) Option {
	return func(s *Store) { s.replicas, s.waitTimeout = replicas, timeout }
}

// ErrDurabilityOnCluster: durability was asked of a Store on a Redis Cluster
// client. WAIT names no key, so the client sends it to any master, where it
// does not count the replicas of the master that ran the script: a change
// would be answered as acknowledged that no replica has. Every state change
// is refused instead, with this error.
var ErrDurabilityOnCluster = fmt.Errorf("redisstate: durability (WAIT) cannot be enforced through a Redis Cluster client: "+
	"use a client of the primary that owns the deployment's hash tag, or durability.replicas 0 (%w)", pool.ErrInternal)

// CheckDurability says whether a Store on client can enforce durability of
// replicas replicas: not on a Redis Cluster client.
func CheckDurability(client redis.Scripter, replicas int) error {
	if _, cluster := client.(*redis.ClusterClient); cluster && replicas > 0 {
		return ErrDurabilityOnCluster
	}
	return nil
}

// ErrNotDurable: a state change was made on the primary but fewer replicas
// than the durability setting acknowledged it in time.
var ErrNotDurable = fmt.Errorf("redisstate: change not acknowledged by enough replicas (%w)", pool.ErrUnavailable)

// WithReleasedTTL sets how long release tombstones live (default 24h).
func WithReleasedTTL(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.releasedTTL = d
		}
	}
}

// New returns the Store of one deployment prefix on client (a *redis.Client,
// *redis.ClusterClient or any redis.UniversalClient). Call Preload once at
// start so the first acquire is already a single EVALSHA; without it the first
// use of each script loads it (NOSCRIPT falls back to EVAL, which caches it).
func New(client redis.Scripter, prefix string, opts ...Option) *Store {
	k := NewKeys(prefix)
	s := &Store{rdb: client, keys: k, releasedTTL: DefaultReleasedTTL, skew: pool.DefaultClockSkewTolerance}
	for _, o := range opts {
		o(s)
	}
	s.plans = make(map[*script]keyPlan, len(allScripts))
	for _, sc := range allScripts {
		s.plans[sc] = planKeys(sc, k)
	}
	b := make([]string, len(pool.LatencyBucketsMs))
	for i, v := range pool.LatencyBucketsMs {
		b[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	s.bounds = strings.Join(b, ",")
	return s
}

// Keys returns the key builder of this Store's prefix.
func (s *Store) Keys() Keys { return s.keys }

// Preload loads every script into the server's script cache.
func (s *Store) Preload(ctx context.Context) error {
	for _, sc := range allScripts {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("redisstate: load scripts: %w", err)
		}
	}
	return nil
}

// poolKeys are the keys of a pool a script names "pool ready creating
// in_use pool_deleting" in its keys line.
func (s *Store) poolKeys(name string) []string {
	return []string{s.keys.Pool(name), s.keys.Ready(name), s.keys.Creating(name), s.keys.InUse(name), s.keys.PoolDeleting(name)}
}

// keyPlan is one script's KEYS for this Store: the shared keys in place,
// and the positions the caller's keys go to, in order.
type keyPlan struct {
	keys     []string
	slots    []int
	variadic bool
}

func planKeys(sc *script, k Keys) keyPlan {
	p := keyPlan{keys: make([]string, len(sc.keys)), variadic: sc.variadic}
	for i, name := range sc.keys {
		if f, ok := sharedKeys[name]; ok && !(sc.variadic && i == len(sc.keys)-1) {
			p.keys[i] = f(k)
		} else {
			p.slots = append(p.slots, i)
		}
	}
	if p.variadic {
		p.keys = p.keys[:len(p.keys)-1] // the rest are appended
	}
	return p
}

// keysFor builds a script's KEYS from the caller's keys, given in the order
// of its keys line (the shared ones left out).
func (s *Store) keysFor(op string, sc *script, given []string) ([]string, error) {
	p := s.plans[sc]
	fixed := len(p.slots)
	if p.variadic {
		fixed--
	}
	if len(given) < fixed || (!p.variadic && len(given) != fixed) {
		return nil, invalid(op, "%s.lua takes %d keys of the caller's, got %d", sc.name, fixed, len(given))
	}
	keys := make([]string, len(p.keys), len(p.keys)+len(given)-fixed)
	copy(keys, p.keys)
	for i, slot := range p.slots[:fixed] {
		keys[slot] = given[i]
	}
	return append(keys, given[fixed:]...), nil
}

// run executes one script: EVALSHA, and on NOSCRIPT EVAL (which reloads it).
// given are the caller's keys (keysFor); args are ARGV. It returns the reply
// array after checking its code.
func (s *Store) run(ctx context.Context, op string, sc *script, given []string, args ...any) ([]any, error) {
	keys, err := s.keysFor(op, sc, given)
	if err != nil {
		return nil, err
	}
	return s.runKeys(ctx, op, sc, keys, args...)
}

// runKeys is run with the whole KEYS list given.
func (s *Store) runKeys(ctx context.Context, op string, sc *script, keys []string, args ...any) ([]any, error) {
	var v any
	var err error
	acked := -1 // not asked
	if s.replicas > 0 && !readOnly[sc] {
		if err := CheckDurability(s.rdb, s.replicas); err != nil {
			return nil, fmt.Errorf("redisstate: %s: %w", op, err)
		}
		v, acked, err = s.runDurable(ctx, sc.Script, keys, args)
	} else {
		v, err = sc.Run(ctx, s.rdb, keys, args...).Result()
	}
	if err != nil {
		// Whatever kept the script from answering (a refused connection, a
		// timeout, a failover's READONLY) is the backend's, not the domain's:
		// the caller retries. The only place that says so.
		return nil, fmt.Errorf("%w: redisstate: %s: %w", pool.ErrUnavailable, op, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("%w: %s: reply %T", ErrInternal, op, v)
	}
	code, ok := arr[0].(int64)
	if !ok {
		return nil, fmt.Errorf("%w: %s: code %T", ErrInternal, op, arr[0])
	}
	if code != codeOK {
		detail := ""
		if len(arr) > 1 {
			detail, _ = arr[1].(string)
		}
		return nil, codeErr(op, code, detail)
	}
	if acked >= 0 && acked < s.replicas {
		return nil, fmt.Errorf("%w: %s: %d of %d replicas within %s", ErrNotDurable, op, acked, s.replicas, s.waitTimeout)
	}
	return arr, nil
}

// readOnly are the scripts that change nothing: no WAIT after them.
var readOnly = map[*script]bool{scriptObserve: true, scriptMetrics: true}

// runDurable runs the script and WAIT in one pipeline, so WAIT counts the
// replicas that have this connection's write. It answers the script's reply
// and how many replicas acknowledged.
func (s *Store) runDurable(ctx context.Context, sc *redis.Script, keys []string, argv []any) (any, int, error) {
	p, ok := s.rdb.(interface{ Pipeline() redis.Pipeliner })
	if !ok {
		return nil, 0, fmt.Errorf("%w: durability needs a client that pipelines", ErrInvalidArgument)
	}
	for attempt := 0; ; attempt++ {
		pipe := p.Pipeline()
		reply := pipe.EvalSha(ctx, sc.Hash(), keys, argv...)
		wait := pipe.Do(ctx, "WAIT", s.replicas, s.waitTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := reply.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := sc.Load(ctx, s.rdb).Err(); err != nil {
					return nil, 0, err
				}
				continue
			}
			return nil, 0, err
		}
		n, err := wait.Int()
		if err != nil {
			return nil, 0, err
		}
		return reply.Val(), n, nil
	}
}

// str reads reply element i as a string.
func str(arr []any, i int) string {
	if i >= len(arr) {
		return ""
	}
	switch v := arr[i].(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

func integer(arr []any, i int) int64 {
	if i >= len(arr) {
		return 0
	}
	switch v := arr[i].(type) {
	case int64:
		return v
	case string:
		return atoi64(v)
	}
	return 0
}

func durMs(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func needID(op, id string) error {
	if id == "" {
		return fmt.Errorf("redisstate: %s: %w: empty sandbox id", op, ErrInvalidArgument)
	}
	return nil
}

func needFence(op string, f pool.Fence) error {
	if f.Token == "" {
		return fmt.Errorf("redisstate: %s: %w: empty fence token", op, ErrInvalidArgument)
	}
	return nil
}

func invalid(op, format string, args ...any) error {
	return fmt.Errorf("redisstate: %s: %w: %s", op, ErrInvalidArgument, fmt.Sprintf(format, args...))
}
