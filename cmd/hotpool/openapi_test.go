package main

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

const openapiPath = "../../docs/openapi.yaml"

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openapiPath)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// TestOpenAPISpecIsValid: docs/openapi.yaml is a valid OpenAPI 3 document
// and covers every route of the contract.
func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, p := range []string{"/healthz", "/acquire", "/acquire/renew", "/release", "/metrics", "/reconcile"} {
		require.NotNil(t, doc.Paths.Find(p), p)
	}
	codes := doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum
	for _, c := range []string{"invalid_request", "unauthorized", "lease_mismatch", "unknown_image", "sandbox_not_found",
		"method_not_allowed", "pool_exhausted", "pool_shutdown", "unavailable", "internal", "not_found",
		"claim_not_found", "sandbox_creation_failed", "lease_expired", "warm_up_timeout"} {
		require.Contains(t, codes, c)
	}
}
