package appplatform

import (
	"maps"
	"slices"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
)

// serviceName is the one service of a sandbox app.
const serviceName = "sandbox"

// appSpec builds the App Platform spec of one sandbox: one image-sourced
// service, one instance, the template's size, region, port and health check;
// the template's env as GENERAL, hotpool's ownership env, and spec.Env (the
// agent token) as SECRET so it is never shown back.
func appSpec(deployment string, s pool.CreateSpec) (*godo.AppSpec, error) {
	name, err := AppName(deployment, s.Pool, s.SandboxID)
	if err != nil {
		return nil, err
	}
	t := s.Template
	envs := make([]*godo.AppVariableDefinition, 0, len(t.Env)+len(s.Env)+3)
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		envs = append(envs, &godo.AppVariableDefinition{Key: k, Value: t.Env[k], Type: godo.AppVariableType_General, Scope: godo.AppVariableScope_RunTime})
	}
	// SANDBOX_MODE=service starts the do-app-sandbox image's HTTP agent.
	for _, kv := range [][2]string{{"SANDBOX_MODE", "service"}, {EnvSandboxID, s.SandboxID}, {EnvPool, s.Pool}, {EnvDeployment, deployment}} {
		envs = append(envs, &godo.AppVariableDefinition{Key: kv[0], Value: kv[1], Type: godo.AppVariableType_General, Scope: godo.AppVariableScope_RunTime})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		envs = append(envs, &godo.AppVariableDefinition{Key: k, Value: s.Env[k], Type: godo.AppVariableType_Secret, Scope: godo.AppVariableScope_RunTime})
	}
	svc := &godo.AppServiceSpec{
		Name: serviceName,
		Image: &godo.ImageSourceSpec{
			RegistryType: godo.ImageSourceSpecRegistryType(t.RegistryType),
			Registry:     t.Registry,
			Repository:   t.Repository,
			Tag:          t.Tag,
			Digest:       t.Digest,
		},
		InstanceSizeSlug: t.InstanceSize,
		InstanceCount:    1,
		HTTPPort:         int64(t.HTTPPort),
		Envs:             envs,
	}
	if t.HealthCheckPath != "" {
		// The SDK's service-mode timings: App Platform holds the deployment's
		// ACTIVE phase back until /health passes.
		svc.HealthCheck = &godo.AppServiceSpecHealthCheck{
			HTTPPath: t.HealthCheckPath, InitialDelaySeconds: 5, PeriodSeconds: 10, TimeoutSeconds: 5,
			SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	ingress := &godo.AppIngressSpec{Rules: []*godo.AppIngressSpecRule{{
		Match:     &godo.AppIngressSpecRuleMatch{Path: &godo.AppIngressSpecRuleStringMatch{Prefix: godo.PtrTo("/")}},
		Component: &godo.AppIngressSpecRuleRoutingComponent{Name: serviceName},
	}}}
	return &godo.AppSpec{Name: name, Region: t.Region, Services: []*godo.AppServiceSpec{svc}, Ingress: ingress}, nil
}
