package pool

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUnsetTimesAreLeftOutOfJSON(t *testing.T) {
	b, err := json.Marshal(Sandbox{ID: "sb1", State: StateCreating, CreatedAt: time.Unix(1, 0).UTC()})
	require.NoError(t, err)
	require.NotContains(t, string(b), "ready_at")
	require.NotContains(t, string(b), "0001-01-01")
	b, err = json.Marshal(Record{Name: "python"})
	require.NoError(t, err)
	require.NotContains(t, string(b), "0001-01-01")
}
