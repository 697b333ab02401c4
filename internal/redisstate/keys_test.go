package redisstate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyLayoutMatchesLua: the keys lib.lua builds from prefixes and names
// read from Redis are exactly the keys keys.go builds.
func TestKeyLayoutMatchesLua(t *testing.T) {
	f := newFixture(t)
	lib := mustLib(t)
	src := lib + `
local pk = pool_keys(ARGV[5])
return { pk.hash, pk.ready, pk.creating, pk.in_use, pk.deleting,
  SB_PREFIX .. 'sb1', CLAIM_PREFIX .. 'h1', RELEASED_PREFIX .. 'sb1' }`
	argv := append(append([]any(nil), f.s.prefixes...), testPool)
	v, err := f.rdb.Eval(f.ctx, src, f.s.global, argv...).StringSlice()
	require.NoError(t, err)
	k := f.s.Keys()
	require.Equal(t, []string{k.Pool(testPool), k.Ready(testPool), k.Creating(testPool), k.InUse(testPool),
		k.PoolDeleting(testPool), k.Sandbox("sb1"), k.Claim("h1"), k.Released("sb1")}, v)
	for _, key := range append(v, f.s.global...) {
		require.Contains(t, key, k.Tag(), "every key carries the hash tag")
	}
}

func mustLib(t *testing.T) string {
	t.Helper()
	lib, err := scriptFS.ReadFile("scripts/lib.lua")
	require.NoError(t, err)
	state, err := scriptFS.ReadFile("scripts/lib_state.lua")
	require.NoError(t, err)
	return string(lib) + string(state)
}
