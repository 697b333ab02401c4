package logging

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzScrub: whatever surrounds a token, the token never survives Scrub.
func FuzzScrub(f *testing.F) {
	f.Add("", "")
	f.Add("lease=", ";")
	f.Add("Bearer ", "")
	f.Add(`{"t":"`, `"}`)
	f.Add("a ", " b\n")
	const tok = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg" // 43 URL-safe base64 chars
	f.Fuzz(func(t *testing.T, before, after string) {
		// Neighbours that extend the token make it a different (longer) word,
		// which is not a token; keep the token standing alone.
		if strings.ContainsAny(before[max(0, len(before)-1):], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ||
			strings.ContainsAny(after[:min(1, len(after))], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") {
			t.Skip()
		}
		require.NotContains(t, Scrub(before+tok+after), tok)
	})
}
