package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/api"
)

func TestEveryCodeUnwrapsToItsSentinel(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   error
	}{
		{503, "pool_exhausted", ErrPoolExhausted},
		{503, "too_many_pools", ErrTooManyPools},
		{503, "too_many_pools", ErrPoolExhausted}, // it is also exhaustion
		{503, "pool_shutdown", ErrPoolShutdown},
		{504, "warm_up_timeout", ErrWarmUpTimeout},
		{502, "sandbox_creation_failed", ErrSandboxCreation},
		{403, "lease_mismatch", ErrLeaseMismatch},
		{409, "lease_expired", ErrLeaseExpired},
		{409, "state_conflict", ErrStateConflict},
		{404, "sandbox_not_found", ErrSandboxNotFound},
		{404, "claim_not_found", ErrClaimNotFound},
		{404, "unknown_image", ErrUnknownImage},
		{401, "unauthorized", ErrUnauthorized},
		{400, "invalid_request", ErrInvalidRequest},
		{404, "not_found", ErrNotFound},
		{405, "method_not_allowed", ErrInvalidRequest},
		{503, "unavailable", ErrUnavailable},
		{500, "internal", ErrInternal},
		// Codes a newer server might add fall back on the status class.
		{503, "brand_new_code", ErrUnavailable},
		{500, "brand_new_code", ErrInternal},
		{404, "brand_new_code", ErrNotFound},
		{401, "brand_new_code", ErrUnauthorized},
		{422, "brand_new_code", ErrInvalidRequest},
	}
	for _, tc := range cases {
		body := []byte(`{"error":{"code":"` + tc.code + `","message":"m"}}`)
		err := decodeAPIError(tc.status, http.Header{}, body)
		require.ErrorIs(t, err, tc.want, tc.code)
		require.Equal(t, tc.code, err.Code)
	}
}

func TestDecodeAPIErrorReadsHeadersAndDetails(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "7")
	h.Set("X-Request-Id", "r-1")
	body := []byte(`{"error":{"code":"warm_up_timeout","message":"not yet","details":{"pools":{"python":{"ready":1,"target":3}}}}}`)
	err := decodeAPIError(504, h, body)
	require.Equal(t, 7*time.Second, err.RetryAfter)
	require.Equal(t, "r-1", err.RequestID)
	require.JSONEq(t, `{"pools":{"python":{"ready":1,"target":3}}}`, string(err.Details))
	require.Equal(t, "hotpool: warm_up_timeout: not yet (retry after 7s)", err.Error())
}

func TestParseRetryAfter(t *testing.T) {
	require.Equal(t, 5*time.Second, parseRetryAfter("5"))
	require.Equal(t, time.Duration(0), parseRetryAfter(""))
	require.Equal(t, time.Duration(0), parseRetryAfter("-3"))
	require.Equal(t, time.Duration(0), parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"))
	require.Equal(t, time.Hour, parseRetryAfter("999999"), "capped")
}

func TestWarmUpErrorNamesLaggingPools(t *testing.T) {
	err := error(&WarmUpError{Timeout: 2 * time.Minute, Pools: map[string]PoolProgress{
		"python": {Ready: 1, Target: 3}, "node": {Ready: 1, Target: 1}, "go": {Ready: 0, Target: 2},
	}})
	require.True(t, errors.Is(err, ErrWarmUpTimeout))
	require.Equal(t, "warm_up_timeout: pools not at target after 2m0s: go 0/2, python 1/3", err.Error())
}

func TestAgentErrorUnauthorized(t *testing.T) {
	require.ErrorIs(t, &AgentError{Status: 401, Message: "no"}, ErrUnauthorized)
	require.False(t, errors.Is(&AgentError{Status: 500, Message: "no"}, ErrUnauthorized))
}

func TestWarmUpErrorWithNoLaggingPoolNamesThemAll(t *testing.T) {
	err := &WarmUpError{Timeout: time.Second, Pools: map[string]PoolProgress{"python": {Ready: 3, Target: 3}}}
	require.Equal(t, "warm_up_timeout: pools not at target after 1s: python 3/3", err.Error())
	require.Equal(t, "warm_up_timeout: pools not at target after 1s", (&WarmUpError{Timeout: time.Second}).Error())
}

// TestEveryDocumentedCodeHasASentinel: each code of docs/api.md's error
// tables (the contract's and the extensions') maps to a sentinel here.
func TestEveryDocumentedCodeHasASentinel(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	codes := documentedCodes(string(b))
	require.Contains(t, codes, "state_conflict")
	for _, c := range append(codes, contractCodes...) {
		if c == "method_not_allowed" {
			continue // a client bug, read as invalid_request
		}
		_, ok := codeErrors[c]
		require.True(t, ok, "code %q of docs/api.md has no sentinel in the client", c)
	}
}

// contractCodes are the codes of the shared contract (API.md), which
// docs/api.md extends without repeating.
var contractCodes = []string{"invalid_request", "unauthorized", "lease_mismatch", "unknown_image", "sandbox_not_found",
	"method_not_allowed", "pool_exhausted", "pool_shutdown", "unavailable", "internal"}

// documentedCodes reads the first column of rows like "| `code` | 404 | …".
func documentedCodes(md string) []string {
	var codes []string
	for _, line := range strings.Split(md, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 4 {
			continue
		}
		c := strings.TrimSpace(f[1])
		status := strings.TrimSpace(f[2])
		if len(c) > 2 && c[0] == '`' && c[len(c)-1] == '`' && len(status) == 3 && status[0] >= '1' && status[0] <= '5' {
			codes = append(codes, strings.Trim(c, "`"))
		}
	}
	return codes
}

// The messages a new user meets first say what to do.
func TestFirstHourMessages(t *testing.T) {
	_, err := New("https://faas-nyc1-x.doserverless.co/api/v1/web/fn-1/hotpool/acquire", "t")
	require.ErrorContains(t, err, "is the acquire function's URL; use the deployment's base URL, https://faas-nyc1-x.doserverless.co/api/v1/web/fn-1/hotpool")

	wrong := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(wrong.Close)
	c, err := New(wrong.URL+"/not-hotpool", "t")
	require.NoError(t, err)
	_, err = c.Metrics(context.Background())
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, "GET "+wrong.URL+"/not-hotpool/metrics: is the URL the base URL of a hotpool deployment")

	e := &APIError{Status: 503, Code: "pool_shutdown", Message: `pool "node" is shut down`, RetryAfter: 30 * time.Second}
	require.Equal(t, `hotpool: pool_shutdown: pool "node" is shut down`, e.Error(), "no retry-after: time does not start a pool")
}

// TestEveryContractCodeHasItsSentinel: the codes come from package api, the
// one list the server's error table is also checked against, so a code the
// server answers cannot be one the client only guesses from the status.
func TestEveryContractCodeHasItsSentinel(t *testing.T) {
	for _, code := range api.Codes {
		_, ok := codeErrors[code]
		require.True(t, ok, code)
	}
	require.Len(t, codeErrors, len(api.Codes), "no code the contract does not have")
}
