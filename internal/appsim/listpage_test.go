package appsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/stretchr/testify/require"
)

// A page number so large that page × per_page overflows is just a page past
// the end: an empty list, never a panic in the handler.
func TestAHugePageIsEmptyNotAPanic(t *testing.T) {
	sim := appsim.New(appsim.Options{Token: token})
	req := httptest.NewRequest(http.MethodGet, "/v2/apps?page=69175290276410819&per_page=200", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var root struct {
		Apps []*godo.App
		Meta godo.Meta
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &root))
	require.Empty(t, root.Apps)
	require.Zero(t, root.Meta.Total)
}
