package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/testenv"
)

const readmePath = "../../README.md"

// readmeFirstBlock is the lead's first code block, which CI greps: it must
// stay exactly as it is.
const readmeFirstBlock = "```sh\nHOTPOOL_API_TOKEN=dev-token go run ./cmd/hotpool serve --config examples/config.json\nmake test\n```\n"

// readmeNeedsAnAccount are the README's commands that need a DigitalOcean
// account (or deploy to one), so no test runs them. A new command in the
// README must be runnable or be added here on purpose.
var readmeNeedsAnAccount = []string{
	"doctl databases create hotpool-valkey --engine valkey --region nyc1 --size db-s-1vcpu-1gb --num-nodes 1",
	"doctl databases connection hotpool-valkey --format URI",
	"doctl serverless install",
	"doctl serverless namespaces create --label hotpool --region nyc1",
	"doctl serverless connect hotpool",
	"set -a; . build/hotpool.env; set +a",
	"make deploy",
	"doctl serverless functions get hotpool/acquire --url",
	"export HOTPOOL_URL=https://faas-nyc1-2ef2e6cc.doserverless.co/api/v1/web/fn-xxxx/hotpool",
}

// readmeRunByCI are run by .ci/run (go test) or compiled by every go test/vet
// of this package (go build of the CLI under test).
var readmeRunByCI = []string{
	"make test",
	"go build -o bin/hotpool ./cmd/hotpool",
	"pip install ./clients/python", // scripts/test-python installs it offline, into a temporary target
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	return string(b)
}

// codeBlocks returns the lines of every fenced block of the given language,
// in order (fences may be indented inside list items).
func codeBlocks(readme, lang string) [][]string {
	var blocks [][]string
	var cur []string
	in, indent := false, ""
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case !in && line == "```"+lang:
			in, cur = true, nil
			indent = raw[:len(raw)-len(strings.TrimLeft(raw, " "))]
		case in && line == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			// Keep the block's own indentation (YAML needs it), without the fence's.
			cur = append(cur, strings.TrimRight(strings.TrimPrefix(raw, indent), " "))
		}
	}
	return blocks
}

func TestREADMEKeepsTheFirstBlock(t *testing.T) {
	readme := readREADME(t)
	require.True(t, strings.HasPrefix(readme, "# hotpool\n\n"+readmeFirstBlock), "the first code block must stay exactly as the lead wrote it")
	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	require.Contains(t, string(ci), "\nmake test\n", "CI runs the README's test command")
}

// TestREADMEConfigReferenceCoversEveryField: every JSON field of the config
// types is documented in the README's config reference.
func TestREADMEConfigReferenceCoversEveryField(t *testing.T) {
	readme := readREADME(t)
	i := strings.Index(readme, "## Config reference")
	require.Positive(t, i)
	ref := readme[i:]
	ref = ref[:strings.Index(ref, "\n## Pool sizing")]
	n := 0
	for _, v := range []any{pool.Config{}, pool.PoolConfig{}, pool.Template{}, pool.SandboxDefaults{}, pool.APIBudget{}, pool.Webhook{}} {
		rt := reflect.TypeOf(v)
		for f := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(f).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			n++
			require.Truef(t, strings.Contains(ref, "`"+name+"`") || strings.Contains(ref, name+"` (") || strings.Contains(ref, "{"+name) ||
				strings.Contains(ref, ", "+name) || strings.Contains(ref, "`"+name+":"),
				"%s.%s (%q) is missing from the README's config reference", rt.Name(), rt.Field(f).Name, name)
		}
	}
	require.GreaterOrEqual(t, n, 40)
}

// TestREADMEConfigExamplesParse: every yaml/json block of the README is a
// valid config.
func TestREADMEConfigExamplesParse(t *testing.T) {
	readme := readREADME(t)
	blocks := append(codeBlocks(readme, "yaml"), codeBlocks(readme, "json")...)
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		_, err := pool.ParseConfig([]byte(strings.Join(b, "\n")))
		require.NoError(t, err, strings.Join(b, "\n"))
	}
}

var (
	listeningRE = regexp.MustCompile(`hotpool listening on (http://\S+)`)
	evalRE      = regexp.MustCompile(`^eval "\$\((hotpool .*)\)"$`)
	exportRE    = regexp.MustCompile(`^export ([A-Z_]+)='(.*)'$`)
)

// splitWords splits a command line as a POSIX shell would for the forms the
// README uses: single and double quotes, $VAR expansion outside single quotes.
func splitWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			require.GreaterOrEqual(t, j, 0, "unterminated ' in %q", line)
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			require.GreaterOrEqual(t, j, 0, "unterminated \" in %q", line)
			cur.WriteString(os.ExpandEnv(line[i+1 : i+1+j]))
			i += j + 1
			inWord = true
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= 'a' && line[j] <= 'z' || line[j] >= '0' && line[j] <= '9') {
				j++
			}
			cur.WriteString(os.Getenv(line[i+1 : j]))
			i = j - 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestREADMECommands runs every command of the README's sh blocks, in order:
// the serve command starts an in-process server (on a free port, with a fast
// simulator), the CLI tour runs in-process against it, curl and the examples
// run as processes against it. Commands that need a DigitalOcean account and
// the ones CI runs are checked against their explicit lists.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole README tour")
	}
	readme := readREADME(t)
	t.Chdir("../..") // the README's commands run from the repository root
	// REDIS_URL too: the README's serve command runs on a fresh machine, with the embedded Redis.
	for _, k := range []string{"REDIS_URL", "HOTPOOL_URL", "HOTPOOL_API_TOKEN", "HOTPOOL_SANDBOX_ID", "HOTPOOL_LEASE_TOKEN", "HOTPOOL_SANDBOX_URL", "HOTPOOL_AGENT_TOKEN"} {
		t.Setenv(k, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var ran, ci, account []string
	baseURL, prev, afterRelease := "", "", ""
	for _, block := range codeBlocks(readme, "sh") {
		for _, line := range block {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			switch {
			case contains(readmeNeedsAnAccount, line):
				account = append(account, line)
			case contains(readmeRunByCI, line):
				ci = append(ci, line)
			case strings.Contains(line, "go run ./cmd/hotpool serve "):
				// VAR=value words before the command are its environment.
				words := splitWords(t, line)
				for len(words) > 0 && strings.Contains(words[0], "=") {
					k, v, _ := strings.Cut(words[0], "=")
					t.Setenv(k, v)
					words = words[1:]
				}
				require.Equal(t, []string{"go", "run", "./cmd/hotpool", "serve"}, words[:4], line)
				baseURL = startREADMEServer(t, ctx, words[3:])
				ran = append(ran, line)
			case strings.HasPrefix(line, "export "):
				for _, w := range splitWords(t, line)[1:] {
					k, v, ok := strings.Cut(w, "=")
					require.True(t, ok, line)
					switch k {
					case "PATH": // the CLI runs in-process
					case "HOTPOOL_URL":
						require.NotEmpty(t, baseURL, "the tour needs the server first")
						t.Setenv(k, baseURL) // the README's :8080, here a free port
					default:
						t.Setenv(k, v)
					}
				}
				ran = append(ran, line)
			case evalRE.MatchString(line):
				args := splitWords(t, evalRE.FindStringSubmatch(line)[1])[1:]
				out := runCLI(t, ctx, line, args)
				for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
					m := exportRE.FindStringSubmatch(l)
					require.NotNil(t, m, "eval output line %q", l)
					t.Setenv(m[1], m[2])
				}
				ran = append(ran, line)
			case strings.HasPrefix(line, "hotpool "):
				out := runCLI(t, ctx, line, splitWords(t, line)[1:])
				if line == "hotpool metrics" && prev == "hotpool release" {
					afterRelease = out
				}
				ran = append(ran, line)
			case strings.HasPrefix(line, "curl "), strings.HasPrefix(line, "go run ./examples/"):
				cmd := exec.CommandContext(ctx, "bash", "-c", line)
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s:\n%s", line, out)
				require.NotContains(t, string(out), `"error"`, line)
				if strings.Contains(line, "print(6*7)") {
					require.Contains(t, string(out), "42", "%s: the local sandbox ran the code", line)
				}
				ran = append(ran, line)
			default:
				t.Fatalf("README command %q is neither run here nor listed as needing an account or CI", line)
			}
			prev = line
		}
	}
	// The tour's sample table is what its metrics printed after the release,
	// but for the latency and the budget left, which differ run to run.
	require.NotEmpty(t, afterRelease, "the tour runs hotpool metrics right after hotpool release")
	var sample string
	for _, b := range codeBlocks(readme, "") {
		if len(b) > 0 && strings.HasPrefix(b[0], "POOL ") {
			sample = strings.Join(b, "\n") + "\n"
		}
	}
	require.Equal(t, maskMetrics(sample), maskMetrics(afterRelease), "the README's sample table:\n%s\nwhat the tour printed:\n%s", sample, afterRelease)
	require.ElementsMatch(t, readmeNeedsAnAccount, account, "every listed account command is still in the README")
	require.ElementsMatch(t, readmeRunByCI, ci)
	require.GreaterOrEqual(t, len(ran), 15)
	t.Logf("README: %d commands run, %d run by CI, %d need a DigitalOcean account", len(ran), len(ci), len(account))
}

// maskMetrics blanks what differs between two runs of the metrics table:
// the warm latency, the API budget left, and whether the pass the release
// kicked has deleted the released app yet (DELETING, and the total with it).
func maskMetrics(table string) []string {
	budget := regexp.MustCompile(`left: \d+ this minute, \d+ this hour`)
	total := regexp.MustCompile(`^total sandboxes: \d+`)
	var out []string
	for i, l := range strings.Split(strings.TrimSpace(table), "\n") {
		f := strings.Fields(l)
		if i > 0 && len(f) == 11 {
			f[5], f[8] = "D", "MS"
		}
		l = total.ReplaceAllString(strings.Join(f, " "), "total sandboxes: N")
		out = append(out, budget.ReplaceAllString(l, "left: N this minute, N this hour"))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startREADMEServer runs the README's serve command in-process on a free port
// with a fast simulator, and returns its URL.
func startREADMEServer(t *testing.T, ctx context.Context, args []string) string {
	t.Helper()
	sctx, stop := context.WithCancel(ctx)
	out := &testenv.Buffer{}
	errOut := &testenv.Buffer{}
	done := make(chan int, 1)
	args = append(args, "--addr", "127.0.0.1:0", "--sim-create-delay", "100ms", "--reconcile-every", "200ms", "--log-level", "error")
	go func() { done <- run(sctx, args, out, errOut) }()
	t.Cleanup(func() {
		stop()
		require.Equal(t, exitOK, <-done)
	})
	var url string
	require.Eventually(t, func() bool {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "serve did not start: %s", errOut)
	return url
}

// runCLI runs one hotpool command in-process and requires success.
func runCLI(t *testing.T, ctx context.Context, line string, args []string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	require.Equal(t, exitOK, code, "%s\nstdout: %s\nstderr: %s", line, out.String(), errb.String())
	return out.String()
}

// TestREADMEHasTheReconcileStateMachineExactly: the README shows the pool
// state machine of internal/reconcile/README.md character for character.
func TestREADMEHasTheReconcileStateMachineExactly(t *testing.T) {
	b, err := os.ReadFile("../../internal/reconcile/README.md")
	require.NoError(t, err)
	rr := string(b)
	i := strings.Index(rr, "(the state machine of a pool)")
	require.Positive(t, i, "internal/reconcile/README.md names its state machine section")
	j := strings.Index(rr[i:], "```\n")
	require.Positive(t, j)
	start := i + j
	k := strings.Index(rr[start+4:], "```\n")
	require.Positive(t, k)
	block := rr[start : start+4+k+4]
	require.Contains(t, block, "ACTIVE")
	require.Contains(t, readREADME(t), block)
}

// TestREADMEGoSnippetCompiles builds the README's Go client snippet, wrapped
// in a function, as a package of this module (through a build overlay, so no
// file is written into the repository).
func TestREADMEGoSnippetCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	blocks := codeBlocks(readREADME(t), "go")
	require.Len(t, blocks, 1)
	src := "package main\n\nimport (\n\t\"context\"\n\t\"errors\"\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n\n\t\"github.com/hotpool/hotpool/client\"\n)\n\n" +
		"var _, _, _, _ = errors.Is, fmt.Print, os.Getenv, time.Second\n\n" +
		"func snippet(ctx context.Context) error {\n" + strings.Join(blocks[0], "\n") + "\n\treturn err\n}\n\n" +
		"func main() { _ = snippet(context.Background()) }\n"
	dir := t.TempDir()
	file := dir + "/main.go"
	require.NoError(t, os.WriteFile(file, []byte(src), 0o600))
	root, err := os.Getwd()
	require.NoError(t, err)
	root = root[:len(root)-len("/cmd/hotpool")]
	overlay := dir + "/overlay.json"
	ov := `{"Replace": {"` + root + `/cmd/hotpool/readmesnippet/main.go": "` + file + `"}}`
	require.NoError(t, os.WriteFile(overlay, []byte(ov), 0o600))
	cmd := exec.Command("go", "build", "-overlay", overlay, "-o", os.DevNull, "./cmd/hotpool/readmesnippet")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, src)
}

// TestREADMEMCPConfigLaunchesTheServer: the README's mcpServers snippet is
// JSON a desktop client can read, and it launches `hotpool mcp` with the two
// variables the command reads.
func TestREADMEMCPConfigLaunchesTheServer(t *testing.T) {
	blocks := codeBlocks(readREADME(t), "jsonc")
	require.Len(t, blocks, 1)
	var doc struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Join(blocks[0], "\n")), &doc))
	hp := doc.MCPServers["hotpool"]
	require.Equal(t, "hotpool", hp.Command)
	require.Equal(t, "mcp", hp.Args[0])
	require.Contains(t, hp.Env, "HOTPOOL_URL")
	require.Contains(t, hp.Env, "HOTPOOL_API_TOKEN")
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), append(hp.Args, "-h"), &out, &errb), "its flags parse: %s", errb.String())
	for _, a := range hp.Args[1:] {
		if strings.HasPrefix(a, "--") {
			require.Contains(t, errb.String(), "-"+strings.TrimPrefix(a, "--"), "flag %s exists", a)
		}
	}
}
