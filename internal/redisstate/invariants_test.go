package redisstate

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

func TestCheckInvariantsCatchesCorruption(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(f *fixture)
		caps    map[string]pool.Caps
		want    string
	}{
		{"a ready id listed twice", func(f *fixture) { f.rdb.RPush(f.ctx, f.s.keys.Ready(testPool), "r1") }, nil, "twice in the ready list"},
		{"a ready record missing from its list", func(f *fixture) { f.rdb.LRem(f.ctx, f.s.keys.Ready(testPool), 0, "r2") }, nil, "sandbox r2: state ready but not in its ready index"},
		{"an index entry without a record", func(f *fixture) { f.rdb.ZAdd(f.ctx, f.s.keys.All(), redisZ("ghost")) }, nil, "ghost has no record"},
		{"a record without an index entry", func(f *fixture) { f.rdb.ZRem(f.ctx, f.s.keys.All(), "r1") }, nil, "record not in the all index"},
		{"an id in two states", func(f *fixture) { f.rdb.ZAdd(f.ctx, f.s.keys.InUse(testPool), redisZ("r1")) }, nil, "also in the in_use index"},
		{"unbalanced books", func(f *fixture) { f.rdb.HIncrBy(f.ctx, f.s.keys.Pool(testPool), "created", 1) }, nil, "books"},
		{"a wrong claim counter", func(f *fixture) { f.rdb.HIncrBy(f.ctx, f.s.keys.Pool(testPool), "claims_creating", 1) }, nil, "claims_creating"},
		{"a failed claim still pending", func(f *fixture) { f.rdb.HSet(f.ctx, f.s.keys.Claim("c1"), "failed", "1") }, nil, "failed but still pending"},
		{"max_ready exceeded", func(f *fixture) {}, map[string]pool.Caps{testPool: {MaxReady: 2, MaxTotal: -1, MaxConcurrentCreates: 10}}, "max_ready"},
		{"max_total exceeded", func(f *fixture) {}, map[string]pool.Caps{testPool: {MaxReady: 10, MaxTotal: 4, MaxConcurrentCreates: 10}}, "max_total_sandboxes"},
		{"max_concurrent_creates exceeded", func(f *fixture) {}, map[string]pool.Caps{testPool: {MaxReady: 10, MaxTotal: -1, MaxConcurrentCreates: 1}}, "max_concurrent_creates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.leased()
			f.claim(at(time.Minute))
			f.ready("r1", at(0))
			f.ready("r2", at(0))
			f.reserve("c1", at(0))
			f.check(map[string]pool.Caps{testPool: {MaxReady: 3, MaxTotal: 5, MaxConcurrentCreates: 2}})
			tc.corrupt(f)
			err := redistest.CheckInvariants(f.ctx, f.rdb, f.s.keys, tc.caps)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func redisZ(member string) redis.Z { return redis.Z{Score: 1, Member: member} }
