package appplatform_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

var doNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

func TestAppNameFitsEveryValidImage(t *testing.T) {
	id := "abcdefghijk27"
	cases := []struct{ deployment, image, want string }{
		{"hp", "python", "hp-python-abcdefghijk27"},
		{"hp", "node", "hp-node-abcdefghijk27"},
		{"hp", "a-very-long-image-xy", "hp-a-very-long-ima-abcdefghijk27"},
		{"deploy12", "abcdefghijklmnopqrst", "deploy12-abcdefghi-abcdefghijk27"},
		{"deploy12", "abcdefgh-jklmnopqrst", "deploy12-abcdefgh-abcdefghijk27"}, // cut before a dash: no "--"
		{"d", "x", "d-x-abcdefghijk27"},
	}
	for _, c := range cases {
		got, err := appplatform.AppName(c.deployment, c.image, id)
		require.NoError(t, err)
		require.Equal(t, c.want, got)
		require.LessOrEqual(t, len(got), 32)
		require.Regexp(t, doNameRE, got)
		sid, ok := appplatform.SandboxIDFromName(got)
		require.True(t, ok)
		require.Equal(t, id, sid)
		require.True(t, strings.HasPrefix(got, appplatform.NamePrefix(c.deployment)))
	}
	for _, bad := range [][3]string{
		{"", "python", id}, {"toolongdep", "python", id}, {"Hp", "python", id},
		{"hp", "", id}, {"hp", "Python", id}, {"hp", strings.Repeat("a", 21), id},
		{"hp", "python", "short"}, {"hp", "python", "ABCDEFGHIJKLM"}, {"hp", "python", "abcdefghijk01"},
	} {
		_, err := appplatform.AppName(bad[0], bad[1], bad[2])
		require.Error(t, err, "%v", bad)
	}
}

func FuzzAppName(f *testing.F) {
	f.Add("hp", "python", "abcdefghijk27")
	f.Add("deploy12", "abcdefgh-jklmnopqrst", "zzzzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, deployment, image, id string) {
		name, err := appplatform.AppName(deployment, image, id)
		if err != nil {
			return
		}
		if len(name) > 32 || !doNameRE.MatchString(name) || strings.Contains(name, "--") {
			t.Fatalf("AppName(%q, %q, %q) = %q: not a valid app name", deployment, image, id, name)
		}
		if got, ok := appplatform.SandboxIDFromName(name); !ok || got != id {
			t.Fatalf("SandboxIDFromName(%q) = %q, %v; want %q", name, got, ok, id)
		}
	})
}

func ownedApp(name string, env map[string]string) *godo.App {
	svc := &godo.AppServiceSpec{Name: "sandbox"}
	for k, v := range env {
		svc.Envs = append(svc.Envs, &godo.AppVariableDefinition{Key: k, Value: v, Type: godo.AppVariableType_General})
	}
	return &godo.App{ID: "x", Spec: &godo.AppSpec{Name: name, Services: []*godo.AppServiceSpec{svc}}}
}

func TestSandboxIDFromAppProvesOwnership(t *testing.T) {
	id := pool.NewSandboxID()
	env := map[string]string{appplatform.EnvSandboxID: id, appplatform.EnvPool: "python", appplatform.EnvDeployment: "hp"}
	sid, poolName, ok := appplatform.SandboxIDFromApp(ownedApp("hp-python-"+id, env), "hp")
	require.True(t, ok)
	require.Equal(t, id, sid)
	require.Equal(t, "python", poolName)

	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range env {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for name, app := range map[string]*godo.App{
		"other prefix":         ownedApp("hq-python-"+id, env),
		"other deployment env": ownedApp("hp-python-"+id, with(appplatform.EnvDeployment, "hq")),
		"id mismatch":          ownedApp("hp-python-"+id, with(appplatform.EnvSandboxID, pool.NewSandboxID())),
		"no pool":              ownedApp("hp-python-"+id, with(appplatform.EnvPool, "")),
		"no env":               ownedApp("hp-python-"+id, nil),
		"no spec":              {ID: "x"},
	} {
		_, _, ok := appplatform.SandboxIDFromApp(app, "hp")
		require.False(t, ok, name)
	}
	_, _, ok = appplatform.SandboxIDFromApp(nil, "hp")
	require.False(t, ok)
	// A secret env never proves anything (its value is not shown back).
	secret := ownedApp("hp-python-"+id, with(appplatform.EnvSandboxID, ""))
	secret.Spec.Services[0].Envs = append(secret.Spec.Services[0].Envs, &godo.AppVariableDefinition{Key: appplatform.EnvSandboxID, Value: id, Type: godo.AppVariableType_Secret})
	_, _, ok = appplatform.SandboxIDFromApp(secret, "hp")
	require.False(t, ok)
}

func TestPhaseOf(t *testing.T) {
	for ph, want := range map[godo.DeploymentPhase]pool.Phase{
		"ACTIVE": pool.PhaseActive, "ERROR": pool.PhaseFailed, "CANCELED": pool.PhaseFailed,
		"PENDING_BUILD": pool.PhaseInProgress, "BUILDING": pool.PhaseInProgress,
		"PENDING_DEPLOY": pool.PhaseInProgress, "DEPLOYING": pool.PhaseInProgress,
		"SUPERSEDED": pool.PhaseInProgress, "UNKNOWN": pool.PhaseUnknown, "": pool.PhaseUnknown, "NEW_PHASE": pool.PhaseUnknown,
	} {
		require.Equal(t, want, appplatform.PhaseOf(ph), string(ph))
	}
}
