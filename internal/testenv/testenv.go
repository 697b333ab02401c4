// Package testenv is what the tests need from the machine beyond Go and
// redis-server: DigitalOcean's tools and spec in ../shared beside the
// repository, and bubblewrap for confined sandboxes. Each helper says in one
// line what is missing and how to get it; outside CI a test that cannot have
// it skips, and every skip is recorded for make test's closing count.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/hotpool/hotpool/internal/sandboxagent"
)

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Name() string
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// SkipLogEnv names the file scripts/test asks skips to be recorded in.
const SkipLogEnv = "HOTPOOL_SKIP_LOG"

// InCI reports whether this is CI (.ci/run sets CI=true), where nothing the
// tests need may be missing.
func InCI() bool { return os.Getenv("CI") == "true" }

// skip records why t is skipped, then skips it.
func skip(t TB, why string) {
	t.Helper()
	if f := os.Getenv(SkipLogEnv); f != "" {
		if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(fh, "%s: %s\n", t.Name(), why)
			fh.Close()
		}
	}
	t.Skipf("skipped: %s", why)
}

// Shared returns the absolute path of rel under the shared/ folder that CI
// lays beside the repository (rel like "reference/do-openapi"). Without it
// the test fails in CI and skips elsewhere: a user's clone has no ../shared.
func Shared(t TB, rel string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p := filepath.Join(filepath.Dir(root), "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if InCI() {
			t.Fatalf("testenv: CI needs %s beside the repository: %v", p, err)
		}
		skip(t, fmt.Sprintf("needs ../shared/%s beside the repository (DigitalOcean's tools and spec; CI has them)", rel))
	}
	return p
}

// Isolation is for tests that need confined sandboxes. Without bwrap the
// test fails with the command that installs it; where bwrap is installed but
// the kernel or container forbids the namespaces it needs, or on another OS,
// it skips with one line saying so, except in CI, where it fails.
func Isolation(t TB) sandboxagent.Isolation {
	t.Helper()
	iso := sandboxagent.DetectIsolation()
	switch {
	case iso.Isolated():
		return iso
	case InCI():
		t.Fatalf("testenv: CI needs confined sandboxes: %s (scripts/test installs bubblewrap)", iso.Why)
	case runtime.GOOS != "linux":
		skip(t, "confined sandboxes need Linux's namespaces (bubblewrap); this is "+runtime.GOOS)
	case !sandboxagent.BwrapInstalled():
		t.Fatalf("testenv: this test needs bubblewrap: run `make test` (it installs it as root) or `sudo apt-get install -y bubblewrap`")
	default:
		skip(t, "confined sandboxes are not possible here: "+iso.Why)
	}
	return iso
}

// repoRoot is the directory of the module's go.mod, found upwards from the
// test's working directory (its package's directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Chromium is the headless browser for tests that look at a page as a
// person would: Debian's chromium. Required in CI (.ci/run installs it);
// elsewhere the test skips with one line when it is missing.
func Chromium(t TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if InCI() {
		t.Fatalf("testenv: CI needs chromium (apt-get install -y chromium; .ci/run installs it)")
	}
	skip(t, "needs a headless chromium (sudo apt-get install -y chromium)")
	return ""
}

// Screenshot renders the page at file in headless chromium and returns the
// PNG, with the flags a closed network needs (nothing in the background).
func Screenshot(t TB, chromium, file string, width, height int) []byte {
	t.Helper()
	dir, err := os.MkdirTemp("", "hotpool-chromium-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer os.RemoveAll(dir)
	shot := filepath.Join(dir, "shot.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), fmt.Sprintf("--window-size=%d,%d", width, height),
		"--screenshot="+shot, "file://"+file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: chromium: %v\n%s", err, out)
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("testenv: chromium wrote no screenshot: %v", err)
	}
	return png
}
