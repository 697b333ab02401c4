package lambdaevent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// SecretSuffix names where a secret variable comes from on Lambda: when
// HOTPOOL_API_TOKEN is unset and HOTPOOL_API_TOKEN_SECRET_ID names a Secrets
// Manager secret, the variable reads that secret's string, so no secret sits
// in the function's configuration (deploy/aws/template.yaml).
const SecretSuffix = "_SECRET_ID"

// secretsTimeout bounds one read from the extension.
const secretsTimeout = 5 * time.Second

// SecretsEnv reads variables from getenv and, for X unset with X_SECRET_ID
// set, from AWS's Parameters and Secrets Lambda Extension: the layer serves
// GET http://localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (default
// 2773)/secretsmanager/get?secretId=… to the function, authenticated by the
// X-Aws-Parameters-Secrets-Token header holding AWS_SESSION_TOKEN, and
// answers GetSecretValue's JSON. Each secret is read once per execution
// environment; a failed read is not kept, so the next build tries again. A
// secret that cannot be read reads as "", which the build reports as unset;
// the error goes to errOut without the secret.
func SecretsEnv(getenv func(string) string, hc *http.Client, errOut io.Writer) func(string) string {
	var mu sync.Mutex
	cache := map[string]string{}
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		id := getenv(name + SecretSuffix)
		if id == "" {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		if v, ok := cache[name]; ok {
			return v
		}
		v, err := readSecret(getenv, hc, id)
		if err != nil {
			fmt.Fprintf(errOut, "lambda: %s%s: %v\n", name, SecretSuffix, err)
			return ""
		}
		cache[name] = v
		return v
	}
}

func readSecret(getenv func(string) string, hc *http.Client, id string) (string, error) {
	port := getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
	if port == "" {
		port = "2773"
	}
	ctx, cancel := context.WithTimeout(context.Background(), secretsTimeout)
	defer cancel()
	u := "http://localhost:" + port + "/secretsmanager/get?secretId=" + url.QueryEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", getenv("AWS_SESSION_TOKEN"))
	res, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("the Parameters and Secrets extension did not answer (is its layer attached?): %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the Parameters and Secrets extension answered %d (does the role allow secretsmanager:GetSecretValue on it?)", res.StatusCode)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.SecretString == nil {
		return "", fmt.Errorf("the secret has no SecretString")
	}
	return *out.SecretString, nil
}
