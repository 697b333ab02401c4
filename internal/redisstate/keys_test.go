package redisstate

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeyLayoutMatchesLua: the keys lib.lua builds from the hash tag of
// KEYS[1] and names read from Redis are exactly the keys keys.go builds.
func TestKeyLayoutMatchesLua(t *testing.T) {
	f := newFixture(t)
	lib := mustLib(t)
	src := lib + `
local pk = pool_keys(ARGV[1])
return { pk.hash, pk.ready, pk.creating, pk.in_use, pk.deleting,
  SB_PREFIX .. 'sb1', CLAIM_PREFIX .. 'h1', RELEASED_PREFIX .. 'sb1' }`
	k := f.s.Keys()
	v, err := f.rdb.Eval(f.ctx, src, []string{k.Manager()}, testPool).StringSlice()
	require.NoError(t, err)
	require.Equal(t, []string{k.Pool(testPool), k.Ready(testPool), k.Creating(testPool), k.InUse(testPool),
		k.PoolDeleting(testPool), k.Sandbox("sb1"), k.Claim("h1"), k.Released("sb1")}, v)
	for _, key := range v {
		require.Contains(t, key, k.Tag(), "every key carries the hash tag")
	}
	for name, f := range sharedKeys {
		require.True(t, strings.HasPrefix(f(k), k.Tag()), name)
	}
}

// TestScriptsNameTheKeysTheyUse: every K_ local a script reaches, in its
// own body or through the prelude's functions it calls (transitively), is
// one its keys line declares; and it declares none it does not use. A
// script that named too few would fail only on the path that needs the
// missing key; this finds it on every path.
func TestScriptsNameTheKeysTheyUse(t *testing.T) {
	lib := mustLib(t)
	fn := regexp.MustCompile(`(?s)local function (\w+)\(.*?\n(.*?)\nend\n`)
	bodies := map[string]string{}
	for _, m := range fn.FindAllStringSubmatch(lib, -1) {
		bodies[m[1]] = m[2]
	}
	kref := regexp.MustCompile(`\bK_[A-Z_]+\b`)
	var uses func(body string, seen map[string]bool) map[string]bool
	uses = func(body string, seen map[string]bool) map[string]bool {
		out := map[string]bool{}
		for _, k := range kref.FindAllString(body, -1) {
			out[k] = true
		}
		for name, b := range bodies {
			if !seen[name] && regexp.MustCompile(`\b`+name+`\(`).MatchString(body) {
				seen[name] = true
				maps.Copy(out, uses(b, seen))
			}
		}
		return out
	}
	for _, sc := range allScripts {
		raw, err := scriptFS.ReadFile("scripts/" + sc.name + ".lua")
		require.NoError(t, err)
		body := string(raw)
		if i := strings.Index(body, libMarker); i >= 0 {
			body = body[i:]
		}
		declared := map[string]bool{}
		for _, k := range sc.keys {
			declared["K_"+strings.ToUpper(k)] = true
		}
		if !strings.Contains(body, stateMarker) {
			state, err := scriptFS.ReadFile("scripts/lib_state.lua")
			require.NoError(t, err)
			for _, m := range fn.FindAllStringSubmatch(string(state), -1) {
				require.NotRegexp(t, `\b`+m[1]+`\(`, body, "%s.lua calls %s but does not splice lib_state.lua", sc.name, m[1])
			}
		}
		used := uses(body, map[string]bool{})
		require.Equal(t, slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(used)), "%s.lua: declared keys against the keys it uses", sc.name)
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

// TestKeysForFillsSharedKeysAndCountsTheCallers: the Store puts the
// deployment's keys where a script's keys line names them, the caller's in
// order, and refuses a call with the wrong number of the caller's keys.
func TestKeysForFillsSharedKeysAndCountsTheCallers(t *testing.T) {
	s := New(nil, "kf")
	k := s.Keys()
	require.Equal(t, []string{"sandbox", "tomb", "manager", "deleting_all", "events"}, scriptRelease.keys)
	got, err := s.keysFor("release", scriptRelease, []string{k.Sandbox("a"), k.Released("a")})
	require.NoError(t, err)
	require.Equal(t, []string{k.Sandbox("a"), k.Released("a"), k.Manager(), k.Deleting(), k.Events()}, got)
	_, err = s.keysFor("release", scriptRelease, []string{k.Sandbox("a")})
	require.ErrorIs(t, err, ErrInvalidArgument)

	require.True(t, scriptActivate.variadic)
	got, err = s.keysFor("activate", scriptActivate, []string{k.Pool("a"), k.Pool("b")})
	require.NoError(t, err)
	require.Equal(t, []string{k.Manager(), k.Pools(), k.Pool("a"), k.Pool("b")}, got, "the rest follow the fixed keys")
}
