package lambdaevent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stand-in for the Parameters and Secrets extension, as AWS documents it:
// GET /secretsmanager/get?secretId=…, the session token in a header, the
// GetSecretValue JSON back.
func TestSecretsComeFromTheExtensionOnce(t *testing.T) {
	var calls atomic.Int32
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/secretsmanager/get" || r.Header.Get("X-Aws-Parameters-Secrets-Token") != "session" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch r.URL.Query().Get("secretId") {
		case "arn:aws:secretsmanager:us-east-1:1:secret:api":
			_ = json.NewEncoder(w).Encode(map[string]any{"Name": "api", "SecretString": "the-api-token"})
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(ext.Close)
	u, _ := url.Parse(ext.URL)
	env := map[string]string{
		"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": u.Port(), "AWS_SESSION_TOKEN": "session",
		"HOTPOOL_API_TOKEN_SECRET_ID": "arn:aws:secretsmanager:us-east-1:1:secret:api",
		"HOTPOOL_SECRET_SECRET_ID":    "arn:aws:secretsmanager:us-east-1:1:secret:missing",
		"REDIS_URL":                   "rediss://default@cache:6379",
	}
	var log bytes.Buffer
	getenv := SecretsEnv(func(k string) string { return env[k] }, ext.Client(), &log)

	require.Equal(t, "the-api-token", getenv("HOTPOOL_API_TOKEN"))
	require.Equal(t, "the-api-token", getenv("HOTPOOL_API_TOKEN"))
	require.EqualValues(t, 1, calls.Load(), "read once per execution environment")
	require.Equal(t, "rediss://default@cache:6379", getenv("REDIS_URL"), "a plain variable is read as it is")
	require.Equal(t, "", getenv("HOTPOOL_LOG_LEVEL"), "no variable and no secret id")

	require.Equal(t, "", getenv("HOTPOOL_SECRET"), "an unreadable secret reads as unset")
	require.Contains(t, log.String(), "HOTPOOL_SECRET_SECRET_ID: the Parameters and Secrets extension answered 400")
	require.Equal(t, "", getenv("HOTPOOL_SECRET"))
	require.EqualValues(t, 3, calls.Load(), "a failed read is tried again")
	require.NotContains(t, log.String(), "the-api-token")
}
