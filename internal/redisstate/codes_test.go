package redisstate

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestCodeErrMapsEveryCode(t *testing.T) {
	for code, want := range map[int64]error{
		codeNotFound: pool.ErrSandboxNotFound, codeExhausted: pool.ErrPoolExhausted, codeShutdown: pool.ErrPoolShutdown,
		codeLeaseMismatch: pool.ErrLeaseMismatch, codeLeaseExpired: pool.ErrLeaseExpired, codeNotLeader: pool.ErrNotLeader,
		codeCreationFailed: pool.ErrSandboxCreation, codeWrongState: pool.ErrStateConflict, codeBadArgument: ErrInvalidArgument,
		codeLeaseReleased: pool.ErrLeaseReleased, codeTooManyPools: pool.ErrTooManyPools,
	} {
		err := codeErr("op", code, "why")
		require.ErrorIs(t, err, want)
		require.Contains(t, err.Error(), "why")
	}
	require.NoError(t, codeErr("op", codeOK, ""))
	require.ErrorIs(t, codeErr("op", 42, ""), ErrInternal)
}

// TestLuaCodesMatchGo keeps lib.lua's code table and codes.go in step.
func TestLuaCodesMatchGo(t *testing.T) {
	lib, err := os.ReadFile("scripts/lib.lua")
	require.NoError(t, err)
	src := string(lib)
	names := regexp.MustCompile(`local (OK, NOT_FOUND[^=]*)= ([0-9, ]+)\n`).FindStringSubmatch(src)
	rest := regexp.MustCompile(`local (LEASE_EXPIRED[^=]*)= ([0-9, ]+)\n`).FindStringSubmatch(src)
	require.Len(t, names, 3)
	require.Len(t, rest, 3)
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(p))
		}
		return out
	}
	keys := append(split(names[1]), split(rest[1])...)
	vals := append(split(names[2]), split(rest[2])...)
	got := map[string]string{}
	for i := range keys {
		got[keys[i]] = vals[i]
	}
	require.Equal(t, map[string]string{"OK": "0", "NOT_FOUND": "1", "EXHAUSTED": "2", "SHUTDOWN": "3", "LEASE_MISMATCH": "4",
		"LEASE_EXPIRED": "5", "NOT_LEADER": "6", "CREATION_FAILED": "7", "WRONG_STATE": "8", "BAD_ARG": "9", "LEASE_RELEASED": "10",
		"TOO_MANY_POOLS": "11"}, got)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []int{codeOK, codeNotFound, codeExhausted, codeShutdown,
		codeLeaseMismatch, codeLeaseExpired, codeNotLeader, codeCreationFailed, codeWrongState, codeBadArgument, codeLeaseReleased,
		codeTooManyPools})
}

func TestScriptsCarryContractAndLib(t *testing.T) {
	require.Len(t, allScripts, len(scriptNames))
	for _, name := range scriptNames {
		raw, err := os.ReadFile("scripts/" + name + ".lua")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(raw), "-- "+name+".lua"), "%s starts with its contract", name)
		require.Contains(t, string(raw), "Returns", "%s documents its return", name)
		require.Equal(t, 1, strings.Count(string(raw), libMarker), "%s splices lib.lua once", name)
		if name != "acquire" && name != "recordlatency" {
			require.Equal(t, 1, strings.Count(string(raw), stateMarker), "%s splices lib_state.lua once", name)
		}
		require.Equal(t, 1, len(keysLine.FindAllString(string(raw), -1)), "%s names its keys in one @keys line", name)
		full := splice(string(raw), allScripts[slices.Index(scriptNames, name)])
		require.NotContains(t, full, libMarker, "%s: marker replaced", name)
		require.NotContains(t, full, stateMarker, "%s: marker replaced", name)
		require.Contains(t, full, "local function emit", name)
	}
}

func TestBadArgumentsNeverReachRedis(t *testing.T) {
	s := New(nil, "unused") // a nil client: any Redis call would panic
	ctx := t.Context()
	_, err := s.Renew(ctx, "", "h", 0, t0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.Release(ctx, "a", "", t0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.PollClaim(ctx, pool.PollClaimParams{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	for _, e := range []error{
		s.Reserve(ctx, pool.Fence{}, pool.ReserveParams{}),
		s.Reserve(ctx, leader, pool.ReserveParams{SandboxID: "x"}),
		s.MarkReady(ctx, leader, "x", "", "", time.Time{}, t0),
		s.MarkDeleting(ctx, leader, "x", "nope", t0),
		s.Forget(ctx, leader, "", t0),
		s.Adopt(ctx, leader, pool.Sandbox{ID: "x"}, t0),
		s.UpdatePool(ctx, leader, "", pool.PoolUpdate{}, t0),
		s.Unlock(ctx, pool.Fence{}),
	} {
		require.ErrorIs(t, e, ErrInvalidArgument)
	}
}
