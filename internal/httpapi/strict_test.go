package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// Field names are exact-case and said once: encoding/json alone took
// {"IMAGE": …} and the last of two "image"s.
func TestBodiesAreExactCaseWithoutDuplicates(t *testing.T) {
	for body, field := range map[string]string{
		`{"IMAGE": "python"}`:                     "IMAGE",
		`{"image": "python", "image": "node"}`:    "image",
		`{"image": "python", "Lease_Seconds": 9}`: "Lease_Seconds",
		`{"": 1}`: "body",
	} {
		_, err := DecodeAcquire([]byte(body))
		require.ErrorIs(t, err, pool.ErrInvalidRequest, body)
		var fe *pool.FieldError
		require.ErrorAs(t, err, &fe, body)
		require.Equal(t, field, fe.Field, body)
	}
	_, err := DecodeAcquire([]byte(`{"IMAGE": "python"}`))
	require.ErrorContains(t, err, "names are exact-case: image")
	_, err = DecodeRelease([]byte(`{"sandbox_id": "a", "lease_token": "t", "lease_token": "u"}`))
	require.ErrorContains(t, err, "lease_token: is given twice")
	_, err = DecodeReconcile([]byte(`{"Action": "pass"}`))
	require.ErrorIs(t, err, pool.ErrInvalidRequest)
}

// HEAD on a GET route answers like GET, without the body; the 405 of a
// wrong method names both.
func TestHeadIsGetWithoutTheBody(t *testing.T) {
	e := newEnv(t)
	get := e.call(http.MethodGet, "/metrics", testToken, "")
	head := e.call(http.MethodHead, "/metrics", testToken, "")
	require.Equal(t, http.StatusOK, get.Status)
	require.NotEmpty(t, get.Body)
	require.Equal(t, http.StatusOK, head.Status)
	require.Empty(t, head.Body)
	require.Equal(t, get.Headers["Content-Type"], head.Headers["Content-Type"])
	bad := e.call(http.MethodPost, "/metrics", testToken, "")
	require.Equal(t, http.StatusMethodNotAllowed, bad.Status)
	require.Equal(t, "GET, HEAD", bad.Headers["Allow"])
	require.Equal(t, http.StatusUnauthorized, e.call(http.MethodHead, "/metrics", "", "").Status)
}
