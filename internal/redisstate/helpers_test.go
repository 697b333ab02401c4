package redisstate

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// t0 is the tests' epoch; every time is t0 plus something.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const testPool = "python"

var testCaps = pool.Caps{MaxReady: 5, MaxTotal: 8, MaxConcurrentCreates: 4}

var leader = pool.Fence{Token: "fence-1"}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	rdb    redis.UniversalClient
	prefix string
	s      *Store
}

// newFixture is a Store on the real redis-server under a fresh prefix, with
// the leader lock held by leader.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	return startFixture(t, rdb, prefix)
}

// newMiniFixture is the same on miniredis, whose Lua (gopher-lua) the local
// server runs the scripts on.
func newMiniFixture(t *testing.T) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return startFixture(t, rdb, redistest.Prefix(t))
}

func startFixture(t *testing.T, rdb redis.UniversalClient, prefix string) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), rdb: rdb, prefix: prefix, s: New(rdb, prefix)}
	require.NoError(t, f.s.Preload(f.ctx))
	ok, err := f.s.Lock(f.ctx, leader, time.Hour, t0)
	require.NoError(t, err)
	require.True(t, ok)
	return f
}

func (f *fixture) check(caps map[string]pool.Caps) {
	f.t.Helper()
	require.NoError(f.t, redistest.CheckInvariants(f.ctx, f.rdb, f.s.keys, caps))
}

// reserve reserves id in testPool under testCaps.
func (f *fixture) reserve(id string, now time.Time) {
	f.t.Helper()
	require.NoError(f.t, f.s.Reserve(f.ctx, leader, pool.ReserveParams{
		Pool: testPool, SandboxID: id, Caps: testCaps, Attempt: 1, Region: "nyc",
		InstanceSize: "apps-s-1vcpu-1gb", CreateDeadline: now.Add(10 * time.Minute), Now: now,
	}))
}

// ready reserves id and marks it ready with a warm deadline of now+30m.
func (f *fixture) ready(id string, now time.Time) {
	f.t.Helper()
	f.reserve(id, now)
	require.NoError(f.t, f.s.MarkReady(f.ctx, leader, id, "app-"+id, "https://"+id+".example", now.Add(30*time.Minute), now))
}

func acquireParams(now time.Time, leaseHash string) pool.AcquireParams {
	return pool.AcquireParams{
		Pool: testPool, OnEmpty: pool.OnEmptyFail, Caps: testCaps, LeaseTTL: 15 * time.Minute,
		LeaseTokenHash: leaseHash, Now: now,
	}
}

// dumpAll reads every key of the prefix into a comparable value: strings,
// hashes (maps), lists, sets (sorted), zsets ("member=score"), streams
// (field maps without ids). TTLs are recorded as present or not.
func (f *fixture) dumpAll() map[string]any {
	f.t.Helper()
	keys, err := f.rdb.Keys(f.ctx, redistest.GlobEscape("{hotpool:"+f.prefix+"}")+"*").Result()
	require.NoError(f.t, err)
	out := map[string]any{}
	tag := "{hotpool:" + f.prefix + "}"
	for _, k := range keys {
		name := strings.TrimPrefix(k, tag)
		typ, err := f.rdb.Type(f.ctx, k).Result()
		require.NoError(f.t, err)
		switch typ {
		case "string":
			v, err := f.rdb.Get(f.ctx, k).Result()
			require.NoError(f.t, err)
			ttl, err := f.rdb.PTTL(f.ctx, k).Result()
			require.NoError(f.t, err)
			if name == ":lock" {
				out[name] = v
			} else {
				out[name] = map[string]any{"value": v, "ttl": ttl > 0}
			}
		case "hash":
			v, err := f.rdb.HGetAll(f.ctx, k).Result()
			require.NoError(f.t, err)
			for field, val := range v { // key names held as data read relative too
				v[field] = strings.TrimPrefix(val, tag)
			}
			out[name] = v
		case "list":
			v, err := f.rdb.LRange(f.ctx, k, 0, -1).Result()
			require.NoError(f.t, err)
			out[name] = v
		case "set":
			v, err := f.rdb.SMembers(f.ctx, k).Result()
			require.NoError(f.t, err)
			sort.Strings(v)
			out[name] = v
		case "zset":
			v, err := f.rdb.ZRangeWithScores(f.ctx, k, 0, -1).Result()
			require.NoError(f.t, err)
			var zs []string
			for _, z := range v {
				zs = append(zs, z.Member.(string)+"="+strconv.FormatFloat(z.Score, 'f', -1, 64))
			}
			out[name] = zs
		case "stream":
			v, err := f.rdb.XRange(f.ctx, k, "-", "+").Result()
			require.NoError(f.t, err)
			var evs []map[string]any
			for _, m := range v {
				evs = append(evs, m.Values)
			}
			out[name] = evs
		default:
			f.t.Fatalf("dump: %s has type %s", k, typ)
		}
	}
	return out
}
