package pool

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSandboxIDsAreUniqueAndAppNameSafe(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewSandboxID()
		require.Len(t, id, 13)
		require.Regexp(t, `^[a-z2-7]{13}$`, id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestTokensAndHashes(t *testing.T) {
	a, b := NewToken(), NewToken()
	require.NotEqual(t, a, b)
	require.Len(t, HashToken(a), 64)
	// The stored form is plain sha256 hex (FIPS 180-2's "abc" vector), which
	// the Lua scripts compare byte for byte.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", HashToken("abc"))
	require.NotEqual(t, HashToken(a), HashToken(b))
	require.True(t, TokensEqual(a, strings.Clone(a)))
	require.False(t, TokensEqual(a, b))
	require.False(t, TokensEqual(a, ""))
}

func TestSecretsDeriveStableDistinctTokens(t *testing.T) {
	s := NewSecrets("k1")
	require.Equal(t, s.IdempotentLeaseToken("python", "key", "n1"), NewSecrets("k1").IdempotentLeaseToken("python", "key", "n1"))
	require.NotEqual(t, s.IdempotentLeaseToken("python", "key", "n1"), NewSecrets("k2").IdempotentLeaseToken("python", "key", "n1"))
	require.NotEqual(t, s.IdempotentLeaseToken("python", "key", "n1"), s.IdempotentLeaseToken("node", "key", "n1"))
	require.NotEqual(t, s.IdempotentLeaseToken("python", "key", "n1"), s.IdempotentLeaseToken("python", "key", "n2"), "another acquisition, another token")
	require.NotEqual(t, s.IdempotentLeaseToken("python", "key", "n1"), s.IdempotentLeaseToken("python", "key", ""))
	require.NotEqual(t, s.ClaimLeaseToken("c"), s.AgentToken("c"))
	// The separator keeps ("ab","c") and ("a","bc") apart.
	require.NotEqual(t, s.IdempotentLeaseToken("ab", "c", "n"), s.IdempotentLeaseToken("a", "bc", "n"))
	require.NotEqual(t, s.IdempotentLeaseToken("p", "k", "n"), s.IdempotentLeaseToken("p", "k\x00n", ""))
}
