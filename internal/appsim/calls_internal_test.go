package appsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The call log keeps its newest half once full, but APICalls counts every
// /v2 request since start, as it says.
func TestAPICallsOutlivesTheLogsTruncation(t *testing.T) {
	s := New(Options{})
	for range maxLog + 1 {
		s.record("GET /v2/apps", nil)
	}
	s.record("GET /live/{id}/health", nil)
	require.Less(t, len(s.CallLog()), maxLog+2, "the log was cut")
	require.Equal(t, maxLog+1, s.APICalls())
	s.ResetCalls()
	require.Zero(t, s.APICalls())
}
