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
	for _, kv := range [][2]string{{EnvSandboxID, s.SandboxID}, {EnvPool, s.Pool}, {EnvDeployment, deployment}} {
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
		svc.HealthCheck = &godo.AppServiceSpecHealthCheck{HTTPPath: t.HealthCheckPath}
	}
	return &godo.AppSpec{Name: name, Region: t.Region, Services: []*godo.AppServiceSpec{svc}}, nil
}
