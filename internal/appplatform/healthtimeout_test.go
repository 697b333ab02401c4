package appplatform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

// An app whose health path accepts the connection and never answers must
// not hold the reconcile pass until its lock runs out: the request ends at
// HealthTimeout, as unknown (it says nothing definite about the app).
func TestAHungHealthPathEndsAtTheHealthTimeout(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hung.Close)
	p := newProvider(t, "http://127.0.0.1:1", func(o *appplatform.Options) { o.HealthTimeout = 20 * time.Millisecond })

	pass, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.Health(pass, pool.App{ID: "a1", URL: hung.URL}, "/health")
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, errors.Is(err, appplatform.ErrUnhealthy), "a timeout condemns nothing")
	require.NoError(t, pass.Err(), "the pass's own deadline is untouched")
}
