// Package deploy holds the deployment descriptions that are not DigitalOcean
// Functions: app.yaml (App Platform) and aws/ (AWS SAM).
package deploy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/hotpool/hotpool/internal/testenv"
)

// appSpecSchema is DigitalOcean's AppSpec schema, from its OpenAPI excerpt
// beside the repository (required in CI, skipped elsewhere).
func appSpecSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	root := testenv.Shared(t, "reference/do-openapi/resources/apps/models/app_spec.yml")
	root = filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(root))))
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc := `{"openapi": "3.0.0", "info": {"title": "app spec", "version": "1"}, "paths": {},
		"components": {"schemas": {"AppSpec": {"$ref": "resources/apps/models/app_spec.yml"}}}}`
	d, err := loader.LoadFromDataWithPath([]byte(doc), &url.URL{Path: filepath.Join(root, "wrapper.json")})
	require.NoError(t, err)
	return d.Components.Schemas["AppSpec"].Value
}

// known lists the property names a schema allows, through allOf/anyOf/oneOf.
func known(s *openapi3.Schema) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	for k, p := range s.Properties {
		out[k] = p.Value
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			for k, p := range known(sub.Value) {
				out[k] = p
			}
		}
	}
	return out
}

// unknownKeys: the schema sets no additionalProperties: false, so a misspelt
// key would pass VisitJSON; it lists every key that is not a property.
func unknownKeys(s *openapi3.Schema, v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		props := known(s)
		for k, c := range x {
			p, ok := props[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, unknownKeys(p, c, path+"."+k)...)
		}
	case []any:
		if s.Items == nil {
			return append(out, path+" (not a list in the schema)")
		}
		for i, c := range x {
			out = append(out, unknownKeys(s.Items.Value, c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func TestAppSpecMatchesDigitalOceansSchema(t *testing.T) {
	b, err := os.ReadFile("app.yaml")
	require.NoError(t, err)
	j, err := yaml.YAMLToJSON(b)
	require.NoError(t, err)
	var spec map[string]any
	require.NoError(t, json.Unmarshal(j, &spec))
	schema := appSpecSchema(t)
	require.NoError(t, schema.VisitJSON(spec), "app.yaml against the app spec schema")
	require.Empty(t, unknownKeys(schema, spec, "spec"), "keys the app spec schema does not have")

	// What serving hotpool needs.
	svc := spec["services"].([]any)[0].(map[string]any)
	require.Contains(t, svc["run_command"], "serve --addr 0.0.0.0:8080 --provider digitalocean")
	require.Equal(t, float64(8080), svc["http_port"])
	require.Greater(t, svc["instance_count"].(float64), 1.0, "several instances behind the load balancer")
	require.Equal(t, "/healthz", svc["health_check"].(map[string]any)["http_path"], "serve answers /healthz without a token")
	var secrets []string
	for _, e := range svc["envs"].([]any) {
		env := e.(map[string]any)
		if env["type"] == "SECRET" {
			secrets = append(secrets, env["key"].(string))
		}
		require.True(t, strings.HasPrefix(env["value"].(string), "${"), "%s comes from the environment, never the file", env["key"])
	}
	for _, k := range []string{"HOTPOOL_API_TOKEN", "HOTPOOL_SECRET", "REDIS_URL", "DIGITALOCEAN_TOKEN"} {
		require.True(t, slices.Contains(secrets, k), "%s is a SECRET", k)
	}
}

// After envsubst with the README's kind of values, a multi-key JSON config
// included, the spec still parses and carries the config intact.
func TestAppSpecSurvivesSubstitution(t *testing.T) {
	b, err := os.ReadFile("app.yaml")
	require.NoError(t, err)
	config := `{"pools": {"python": {"target_ready": 3, "max_ready": 10}}, "max_total_sandboxes": 50}`
	vals := map[string]string{"HOTPOOL_REPO": "acme/hotpool", "HOTPOOL_API_TOKEN": "tok", "HOTPOOL_SECRET": "sec",
		"REDIS_URL": "rediss://default:p@h:25061", "DIGITALOCEAN_TOKEN": "dop_v1_x", "HOTPOOL_CONFIG": config}
	out := os.Expand(string(b), func(k string) string { return vals[k] })
	j, err := yaml.YAMLToJSON([]byte(out))
	require.NoError(t, err)
	var spec map[string]any
	require.NoError(t, json.Unmarshal(j, &spec))
	require.NoError(t, appSpecSchema(t).VisitJSON(spec))
	for _, e := range spec["services"].([]any)[0].(map[string]any)["envs"].([]any) {
		env := e.(map[string]any)
		require.Equal(t, vals[env["key"].(string)], env["value"], env["key"])
	}
}

// The schema check can fail: a misspelt key and a wrong type are caught.
func TestAppSpecCheckCatchesMistakes(t *testing.T) {
	schema := appSpecSchema(t)
	require.Error(t, schema.VisitJSON(map[string]any{"name": "hotpool", "services": []any{map[string]any{"name": "api", "http_port": "eighty"}}}))
	bad := map[string]any{"name": "hotpool", "services": []any{map[string]any{"name": "api", "instance_cuont": 3.0}}}
	require.NoError(t, schema.VisitJSON(bad), "the schema alone lets unknown keys through")
	require.Equal(t, []string{"spec.services[0].instance_cuont"}, unknownKeys(schema, bad, "spec"))
}
