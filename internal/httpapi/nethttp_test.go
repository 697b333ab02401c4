package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tripwire is a request body that records whether anything read it.
type tripwire struct{ read bool }

func (t *tripwire) Read([]byte) (int, error) { t.read = true; return 0, errors.New("read") }

func TestNetHTTPRefusesBeforeReadingTheBody(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer wrong"} {
		body := &tripwire{}
		req := httptest.NewRequest("POST", "/acquire", body)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		require.Equal(t, http.StatusUnauthorized, w.Code)
		require.False(t, body.read, "the body was read before the token was checked")
		require.NotEmpty(t, w.Header().Get("X-Request-Id"))
	}
}

func TestNetHTTPCapsTheBody(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest("POST", "/acquire", strings.NewReader(`{"image":"`+strings.Repeat("p", 1<<20)+`"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "at most 65536 bytes")
}

// TestNetHTTPUnescapesThePathOnce: net/http has already decoded r.URL.Path,
// so a doubly escaped slash must not reach another route.
func TestNetHTTPUnescapesThePathOnce(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest("POST", "/acquire%252Frenew", strings.NewReader(`{"sandbox_id":"nope","lease_token":"x"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"not_found"`)

	req = httptest.NewRequest("GET", "/metrics%2F", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, "a singly escaped path is read as the platforms' are")
}
