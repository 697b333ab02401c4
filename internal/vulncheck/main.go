// Command vulncheck is scripts/vulncheck's Go half: it builds a govulncheck
// database directory from the OSV reports of Go's vulnerability database
// module (golang.org/x/vulndb, on the module proxy), so the check runs
// offline, and it reads govulncheck's JSON findings and applies the policy:
// a finding in third-party code fails, unless it is accepted below with its
// reason; a standard-library finding is reported with the release that
// fixes it.
//
//	go run ./internal/vulncheck index VULNDB_DIR/data/osv OUT_DIR
//	govulncheck -db file://OUT_DIR -format json ./... | go run ./internal/vulncheck report
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// accepted are the third-party findings CI lets through, each with why and
// when it ends. Nothing else in third-party code may be found.
var accepted = map[string]string{
	// The MCP Go SDK's fixes are in v1.4.1, which needs go 1.25; go.mod stays
	// at go 1.24 so both of DigitalOcean's Go runtimes build the functions.
	// hotpool mcp serves stdio only, to the client that launched it.
	"GO-2026-4773": "MCP SDK: cross-site tool execution in HTTP servers without authorization; hotpool mcp serves no HTTP (stdio only). Ends when go.mod moves to go 1.25 and the SDK to v1.4.1",
	"GO-2026-4770": "MCP SDK: NUL characters in JSON; the only JSON hotpool mcp parses is its launching client's, on stdio. Ends when go.mod moves to go 1.25 and the SDK to v1.4.1",
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "index":
		if len(os.Args) != 4 {
			usage()
		}
		err = index(os.Args[2], os.Args[3])
	case "report":
		var fail bool
		fail, err = report(os.Stdin, os.Stdout)
		if err == nil && fail {
			os.Exit(1)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vulncheck index OSV_DIR OUT_DIR | vulncheck report < govulncheck.json")
	os.Exit(2)
}

// osvEntry is the part of an OSV report the index needs.
type osvEntry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"` // the module's path
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Fixed    string `json:"fixed,omitempty"`
}

// index writes the database layout govulncheck -db file:// reads:
// index/db.json, index/modules.json, index/vulns.json and ID/<id>.json.
func index(osvDir, out string) error {
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no OSV reports in %s (%v)", osvDir, err)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	modules := map[string][]moduleVuln{}
	type vuln struct {
		ID       string   `json:"id"`
		Modified string   `json:"modified"`
		Aliases  []string `json:"aliases,omitempty"`
	}
	var vulns []vuln
	latest := "0001-01-01T00:00:00Z"
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e osvEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if e.Modified == "" {
			e.Modified = "0001-01-01T00:00:00Z"
		}
		if e.Modified > latest {
			latest = e.Modified
		}
		vulns = append(vulns, vuln{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			fixed := ""
			for _, r := range a.Ranges {
				if r.Type != "SEMVER" {
					continue
				}
				for _, ev := range r.Events {
					if ev.Fixed != "" && semverLess(fixed, ev.Fixed) {
						fixed = ev.Fixed
					}
				}
				for _, ev := range r.Events {
					if ev.Introduced != "" && ev.Introduced != "0" && semverLess(fixed, ev.Introduced) {
						fixed = "" // reintroduced after its latest fix
						break
					}
				}
			}
			modules[a.Package.Name] = append(modules[a.Package.Name], moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: fixed})
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), b, 0o644); err != nil {
			return err
		}
	}
	type module struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	var mods []module
	for p, v := range modules {
		mods = append(mods, module{Path: p, Vulns: v})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	for name, v := range map[string]any{"db.json": map[string]string{"modified": latest}, "modules.json": mods, "vulns.json": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "index", name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("vulncheck: indexed %d reports of %d modules into %s\n", len(vulns), len(mods), out)
	return nil
}

// semverLess reports a < b for versions without their "v"; "" is the least.
func semverLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	pa, pre1, _ := strings.Cut(a, "-")
	pb, pre2, _ := strings.Cut(b, "-")
	xa, xb := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < 3; i++ {
		na, nb := part(xa, i), part(xb, i)
		if na != nb {
			return na < nb
		}
	}
	switch {
	case pre1 == pre2:
		return false
	case pre1 == "":
		return false
	case pre2 == "":
		return true
	}
	return pre1 < pre2
}

func part(p []string, i int) int {
	if i >= len(p) {
		return 0
	}
	n, _ := strconv.Atoi(p[i])
	return n
}

// message is the part of govulncheck's JSON messages the report reads.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

// report reads govulncheck's JSON stream and prints each vulnerability
// reachable from hotpool's code (a finding whose trace reaches a function),
// and whether the policy lets it through. It reports fail when a
// third-party one is not accepted.
func report(r io.Reader, w io.Writer) (fail bool, err error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	summaries := map[string]string{}
	type hit struct{ module, version, fixed string }
	reached := map[string]hit{}
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return false, fmt.Errorf("govulncheck's output: %w", err)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			reached[f.OSV] = hit{module: f.Trace[0].Module, version: f.Trace[0].Version, fixed: f.FixedVersion}
		}
	}
	ids := make([]string, 0, len(reached))
	for id := range reached {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	std, third, ok := 0, 0, 0
	for _, id := range ids {
		h := reached[id]
		fixed := h.fixed
		if fixed == "" {
			fixed = "no fix yet"
		}
		if h.module == "stdlib" {
			std++
			fmt.Fprintf(w, "standard library %s %s: %s (fixed in %s)\n", h.version, id, summaries[id], fixed)
			continue
		}
		third++
		if why, found := accepted[id]; found {
			ok++
			fmt.Fprintf(w, "accepted: %s@%s %s: %s (fixed in %s). Why: %s\n", h.module, h.version, id, summaries[id], fixed, why)
			continue
		}
		fail = true
		fmt.Fprintf(w, "FAIL: %s@%s %s: %s (fixed in %s)\n", h.module, h.version, id, summaries[id], fixed)
	}
	fmt.Fprintf(w, "vulncheck: %d reachable in the standard library (upgrade Go to the release named), %d in third-party code (%d accepted)\n",
		std, third, ok)
	return fail, nil
}
