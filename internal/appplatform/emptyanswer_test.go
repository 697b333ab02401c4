package appplatform_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

// A 200 whose body names no app (a proxy's empty answer, an API change) says
// nothing about the app: Create and Get answer unknown instead of panicking
// on the missing app.
func TestAnAnswerWithoutAnAppIsUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, srv.URL, nil)

	_, err := p.Create(ctxT(t), spec(pool.NewSandboxID()))
	require.ErrorIs(t, err, pool.ErrProviderUnknown, "the create may have happened: the list tells")
	require.NotErrorIs(t, err, pool.ErrProviderNotSent)

	app, err := p.Get(ctxT(t), "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf")
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.NotEqual(t, pool.PhaseGone, app.Phase, "an empty answer is no 404")
}
