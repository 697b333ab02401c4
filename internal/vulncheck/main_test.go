package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func finding(id, module, fn string) string {
	return `{"osv": {"id": "` + id + `", "summary": "s ` + id + `"}}
{"finding": {"osv": "` + id + `", "fixed_version": "v9", "trace": [{"module": "` + module + `", "version": "v1", "function": "` + fn + `"}]}}
`
}

// The policy: an unaccepted third-party finding fails; an accepted one and
// a standard-library one are reported; a finding no function reaches (only
// an imported package or a required module) is not counted.
func TestReportFailsOnAThirdPartyFindingOnly(t *testing.T) {
	var out strings.Builder
	fail, err := report(strings.NewReader(finding("GO-2099-0001", "stdlib", "Serve")+finding("GO-2026-4770", "github.com/modelcontextprotocol/go-sdk", "Run")), &out)
	require.NoError(t, err)
	require.False(t, fail, out.String())
	require.Contains(t, out.String(), "standard library v1 GO-2099-0001: s GO-2099-0001 (fixed in v9)")
	require.Contains(t, out.String(), "accepted: github.com/modelcontextprotocol/go-sdk@v1 GO-2026-4770")

	out.Reset()
	fail, err = report(strings.NewReader(finding("GO-2099-0002", "example.com/lib", "Parse")), &out)
	require.NoError(t, err)
	require.True(t, fail)
	require.Contains(t, out.String(), "FAIL: example.com/lib@v1 GO-2099-0002")

	out.Reset()
	fail, err = report(strings.NewReader(finding("GO-2099-0003", "example.com/lib", "")), &out)
	require.NoError(t, err)
	require.False(t, fail, "imported but not called: not a finding to fail on")
}

// The index has govulncheck's layout, with a module's latest fix per range.
func TestIndexWritesTheDatabaseLayout(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	osv := `{"id": "GO-2099-0001", "modified": "2099-01-02T00:00:00Z", "aliases": ["CVE-1"], "affected": [
	  {"package": {"name": "example.com/lib", "ecosystem": "Go"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}, {"introduced": "1.3.0"}, {"fixed": "1.3.4"}]}]}]}`
	require.NoError(t, os.WriteFile(filepath.Join(in, "GO-2099-0001.json"), []byte(osv), 0o644))
	require.NoError(t, index(in, out))
	var mods []struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	b, err := os.ReadFile(filepath.Join(out, "index", "modules.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &mods))
	require.Equal(t, "example.com/lib", mods[0].Path)
	require.Equal(t, "1.3.4", mods[0].Vulns[0].Fixed)
	db, err := os.ReadFile(filepath.Join(out, "index", "db.json"))
	require.NoError(t, err)
	require.JSONEq(t, `{"modified": "2099-01-02T00:00:00Z"}`, string(db))
	require.FileExists(t, filepath.Join(out, "ID", "GO-2099-0001.json"))
	require.True(t, semverLess("1.2.0", "1.10.0"))
	require.True(t, semverLess("1.2.0-rc1", "1.2.0"))
	require.False(t, semverLess("1.2.0", "1.2.0"))
}
