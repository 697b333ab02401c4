package benchsuite

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// coldDeployment is the config the cold-started functions read: its name is
// the Redis key prefix, deleted when the benchmarks end.
const coldDeployment = "hpcold"

// coldEvents are DigitalOcean web events, one per function, each answered
// through Redis (a script runs) but without the App Platform: a reconcile
// pass would need a real DigitalOcean token, so the reconcile function is
// measured on its warm_up report.
var coldEvents = []struct {
	fn     string
	body   string
	method string
	status int
}{
	{"acquire", `{"image":"python"}`, "POST", 503}, // the pool is empty and fails fast: one acquire.lua
	{"release", `{"sandbox_id":"nosuch","lease_token":"t"}`, "POST", 404},
	{"metrics", ``, "GET", 200},
	{"reconcile", `{"action":"warm_up"}`, "POST", 200},
}

// BenchmarkColdStart measures a function's cold start as a process: exec of
// the function built as DigitalOcean's launcher would run it (functions/<fn>
// with its stdin invoker), env read, config parsed, Redis dialed, the event
// answered and printed, the process gone. ns/op is that whole span; it
// excludes the platform's own container start, which we cannot measure
// here. maxrss-MB is the process's peak resident memory (getrusage) and
// bin-MB the binary's size. The build is outside the timer.
func BenchmarkColdStart(b *testing.B) {
	redistest.Client(b) // skip or fail without a redis-server
	if runtime.GOOS != "linux" {
		b.Skip("peak RSS is read from Linux's getrusage")
	}
	cfg, err := json.Marshal(map[string]any{
		"deployment": coldDeployment,
		"pools":      map[string]any{"python": map[string]any{"target_ready": 0, "max_ready": 10, "on_empty": "fail"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.ParseConfig(cfg); err != nil {
		b.Fatal(err)
	}
	sharedPrefixes = append(sharedPrefixes, coldDeployment)
	if shared == nil {
		sharedClient(b)
	}
	dir := b.TempDir()
	for _, ev := range coldEvents {
		b.Run(ev.fn, func(b *testing.B) {
			bin := filepath.Join(dir, ev.fn)
			if _, err := os.Stat(bin); err != nil {
				build := exec.Command("go", "build", "-trimpath", "-o", bin, "../../functions/"+ev.fn)
				if out, err := build.CombinedOutput(); err != nil {
					b.Fatalf("build %s: %v\n%s", ev.fn, err, out)
				}
			}
			st, err := os.Stat(bin)
			if err != nil {
				b.Fatal(err)
			}
			event, _ := json.Marshal(map[string]any{"http": map[string]any{
				"method": ev.method, "path": "", "body": ev.body,
				"headers": map[string]any{"authorization": "Bearer " + benchToken, "content-type": "application/json"},
			}})
			env := append(os.Environ(), "HOTPOOL_API_TOKEN="+benchToken, "REDIS_URL="+redistest.URL(),
				"HOTPOOL_CONFIG="+string(cfg), "HOTPOOL_LOG_LEVEL=error", "HOTPOOL_SECRET=bench-secret-bench-secret-0123456789")
			var maxRSS int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(bin)
				cmd.Env = env
				cmd.Stdin = bytes.NewReader(event)
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Run(); err != nil {
					b.Fatalf("%s: %v", ev.fn, err)
				}
				b.StopTimer()
				var resp struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
				if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.StatusCode != ev.status {
					b.Fatalf("%s answered %q (want status %d)", ev.fn, out.String(), ev.status)
				}
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(maxRSS)/1024, "maxrss-MB")
			b.ReportMetric(float64(st.Size())/(1<<20), "bin-MB")
		})
	}
}
