package appplatform

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
)

// Env keys hotpool sets on every sandbox app: ownership is proven from the
// spec, not guessed from the name alone.
const (
	EnvSandboxID  = "HOTPOOL_SANDBOX_ID"
	EnvPool       = "HOTPOOL_POOL"
	EnvDeployment = "HOTPOOL_DEPLOYMENT"
	// EnvAgentToken is the key the agent token should use in CreateSpec.Env;
	// every CreateSpec.Env entry is set as a SECRET.
	EnvAgentToken = "SANDBOX_API_TOKEN"
)

// MaxAppNameLength is App Platform's limit on app names.
const MaxAppNameLength = 32

var (
	appNameRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)
	sandboxIDRE = regexp.MustCompile(`^[a-z2-7]{13}$`)
)

// AppName is the app name of a sandbox: "<deployment>-<image>-<sandbox id>",
// the image cut to what fits in 32 characters (at least 9 remain, since a
// deployment has at most 8 and an id 13). It is unique per sandbox and valid
// for every valid deployment, image and sandbox id.
func AppName(deployment, image, sandboxID string) (string, error) {
	if len(deployment) == 0 || len(deployment) > pool.MaxDeploymentNameLength || pool.ValidateImageName(deployment) != nil {
		return "", fmt.Errorf("appplatform: deployment %q must be 1-%d lowercase letters, digits and single dashes, starting with a letter", deployment, pool.MaxDeploymentNameLength)
	}
	if err := pool.ValidateImageName(image); err != nil {
		return "", fmt.Errorf("appplatform: %w", err)
	}
	if !sandboxIDRE.MatchString(sandboxID) {
		return "", fmt.Errorf("appplatform: sandbox id %q must be 13 characters of a-z and 2-7", sandboxID)
	}
	room := MaxAppNameLength - len(deployment) - len(sandboxID) - 2
	img := image
	if len(img) > room {
		img = strings.TrimRight(img[:room], "-")
	}
	name := deployment + "-" + img + "-" + sandboxID
	if !appNameRE.MatchString(name) {
		return "", fmt.Errorf("appplatform: derived app name %q is not valid", name)
	}
	return name, nil
}

// NamePrefix is what every app name of a deployment starts with.
func NamePrefix(deployment string) string { return deployment + "-" }

// SandboxIDFromName is the sandbox id at the end of an app name.
func SandboxIDFromName(name string) (string, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || !sandboxIDRE.MatchString(name[i+1:]) {
		return "", false
	}
	return name[i+1:], true
}

// SandboxIDFromApp proves that app belongs to deployment and returns its
// sandbox id and pool: the name carries the deployment prefix, the service
// env names the same deployment, and the env's sandbox id ends the name.
func SandboxIDFromApp(app *godo.App, deployment string) (sandboxID, poolName string, ok bool) {
	if app == nil || app.Spec == nil || !strings.HasPrefix(app.Spec.Name, NamePrefix(deployment)) {
		return "", "", false
	}
	env := map[string]string{}
	for _, svc := range app.Spec.Services {
		if svc == nil {
			continue
		}
		for _, e := range svc.Envs {
			if e != nil && e.Type != godo.AppVariableType_Secret {
				env[e.Key] = e.Value
			}
		}
	}
	id := env[EnvSandboxID]
	fromName, okName := SandboxIDFromName(app.Spec.Name)
	if env[EnvDeployment] != deployment || !okName || id != fromName || env[EnvPool] == "" {
		return "", "", false
	}
	return id, env[EnvPool], true
}
