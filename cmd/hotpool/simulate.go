package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
	"github.com/hotpool/hotpool/internal/simulate"
)

func init() {
	register(command{name: "simulate", summary: "replay a demand trace (or a built-in curve) in virtual time: hit rate, waits, sandbox-minutes, efficiency", run: runSimulate})
}

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("simulate", "--config FILE (--trace FILE.csv | --curve NAME) [flags]", stderr)
	configPath := fs.String("config", "", "pool config, JSON or YAML")
	tracePath := fs.String("trace", "", "demand trace: CSV with header "+simulate.TraceHeader+", one row per acquire")
	curve := fs.String("curve", "", "a built-in curve instead of a trace: "+strings.Join(simulate.Curves, ", "))
	rate := fs.Float64("rate", 0, "curve: mean acquires a minute (default 2)")
	peak := fs.Float64("peak", 0, "curve spike and bursty: acquires a minute at the peak (default 10 x --rate)")
	image := fs.String("image", "", "curve: the image acquired (required when the config has more than one pool)")
	seed := fs.Uint64("seed", 1, "seed of the curve, the deploy-time jitter and failures")
	jitter := fs.Float64("jitter", 0.2, "deploy time spread: create-delay x [1-j, 1+j]")
	sched := fs.String("schedule", simulate.ScheduleCronKicked, "when passes run: cron-kicked (DigitalOcean Functions), cron, or serve")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	writeTrace := fs.String("write-trace", "", "also write the trace replayed (a curve's draw) to this file")
	chart := fs.String("chart", "", "also write an HTML page charting, by minute, sandboxes ready, creating and in use, acquires, the perfect-foresight line and the misses")
	useRedis := fs.Bool("redis", false, "run the scripts on the real Redis at REDIS_URL instead of an embedded one")
	history := fs.Duration("history", 0, "replay the trace's first `D` as the pool's past, counting only what follows (with a curve, add it to --duration)")
	learned := fs.Bool("learned", false, "start an auto pool as one that has run at the trace's opening rate (its first 10 minutes) for two hours, not one that has seen nothing")
	scenarios := fs.Int("scenarios", 0, "instead of one replay: draw `N` scenarios from broad demand families (new draws each run unless --seed is given), replay each with target_ready auto and with static targets "+fmt.Sprint(simulate.StaticSweep)+", and print how often auto is Pareto-dominated, meets its goals, or fails what a static target serves")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "--scenarios: replays run at once")
	var scenarioDuration time.Duration
	addDuration(fs, &scenarioDuration, "scenario-duration", 30*time.Minute, "--scenarios: length of each scenario's demand")
	var createDelay, duration, holdMin, holdMax time.Duration
	addDuration(fs, &createDelay, "create-delay", 30*time.Second, "how long a deployment takes")
	addDuration(fs, &duration, "duration", 2*time.Hour, "curve: length of the demand")
	addDuration(fs, &holdMin, "hold-min", 5*time.Minute, "curve: shortest hold")
	addDuration(fs, &holdMax, "hold-max", 30*time.Minute, "curve: longest hold")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	if *scenarios != 0 {
		if *scenarios < 0 || *jobs < 1 || scenarioDuration <= 0 {
			return usageError(stderr, fs, "--scenarios and --jobs must be positive, and --scenario-duration too")
		}
		if *configPath != "" || *tracePath != "" || *curve != "" {
			return usageError(stderr, fs, "--scenarios draws its own demand and pools: drop --config, --trace and --curve")
		}
		seedGiven := false
		fs.Visit(func(f *flag.Flag) { seedGiven = seedGiven || f.Name == "seed" })
		if !seedGiven {
			*seed = uint64(time.Now().UnixNano() % 1_000_000_000)
		}
		return runScenarioGrid(ctx, *scenarios, *seed, scenarioDuration, *jobs, *asJSON, stdout, stderr)
	}
	if *configPath == "" {
		return usageError(stderr, fs, "--config FILE is required")
	}
	if (*tracePath == "") == (*curve == "") {
		return usageError(stderr, fs, "give exactly one of --trace FILE.csv and --curve NAME")
	}
	if createDelay <= 0 || duration <= 0 || holdMin <= 0 || holdMax < holdMin {
		return usageError(stderr, fs, "durations must be positive, and --hold-max at least --hold-min")
	}
	cfg, err := pool.LoadConfig(*configPath)
	if err != nil {
		return configProblems(stderr, *configPath, err)
	}
	var trace []simulate.Demand
	if *tracePath != "" {
		f, err := os.Open(*tracePath)
		if err != nil {
			return fail(stderr, err)
		}
		trace, err = simulate.ParseTrace(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "hotpool: %s: %v\n", *tracePath, err)
			return exitError
		}
	} else {
		img := *image
		if names := cfg.PoolNames(); img == "" && len(names) == 1 {
			img = names[0]
		} else if img == "" {
			return usageError(stderr, fs, "--image is required with a curve: the config's pools are %s", strings.Join(names, ", "))
		}
		trace, err = simulate.Curve(*curve, simulate.CurveParams{Rate: *rate, Peak: *peak, HoldMin: holdMin, HoldMax: holdMax,
			Duration: duration, Image: img}, *seed)
		if err != nil {
			return usageError(stderr, fs, "%s", err.Error())
		}
		if len(trace) == 0 {
			return usageError(stderr, fs, "the curve drew no acquire: raise --rate or --duration")
		}
	}
	if *writeTrace != "" {
		f, err := createFile(*writeTrace)
		if err != nil {
			return fail(stderr, err)
		}
		werr := simulate.WriteTrace(f, trace)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fail(stderr, werr)
		}
	}
	o := simulate.Options{Config: cfg, Trace: trace, CreateDelay: createDelay, Jitter: *jitter, Seed: *seed, Schedule: *sched, Learned: *learned, History: *history}
	if *useRedis {
		opt, err := redis.ParseURL(redistest.URL())
		if err != nil {
			return fail(stderr, fmt.Errorf("REDIS_URL: %w", err))
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		o.Redis, o.Prefix = rdb, "sim"+strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
		defer func() { _ = clearSimPrefix(context.WithoutCancel(ctx), rdb, o.Prefix) }()
	}
	// A replay makes mostly short-lived garbage (every pass decodes the app
	// list): collecting a quarter as often cut a 2-hour replay's CPU by a
	// sixth (docs/BENCHMARKS.md §9), for some 30 MB more at the peak.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	res, err := simulate.Run(ctx, o)
	if err != nil {
		return fail(stderr, err)
	}
	if *chart != "" {
		f, err := createFile(*chart)
		if err != nil {
			return fail(stderr, err)
		}
		title := "hotpool simulate: " + *configPath + ", " + *tracePath + *curve
		werr := simulate.WriteChart(f, title, res)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fail(stderr, werr)
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(stdout, "requests %d: %d hits (%.1f%%), %d cold starts, %d failed%s\n",
		res.Requests, res.Hits, 100*res.HitRate, res.ColdStarts, res.Failed, simulate.DescribeFailed(res.FailedBy))
	fmt.Fprintf(stdout, "wait: p50 %.0f ms, p99 %.0f ms\n", res.WaitP50Ms, res.WaitP99Ms)
	fmt.Fprintf(stdout, "sandbox-minutes billed %.1f (idle %.1f), executing %.1f: efficiency %.1f%%\n",
		res.SandboxMinutes, res.IdleMinutes, res.ExecutionMinutes, 100*res.Efficiency)
	fmt.Fprintf(stdout, "perfect foresight (each sandbox one deployment before its acquire, every request served): %.1f sandbox-minutes, efficiency %.1f%%\n",
		res.FloorSandboxMinutes, 100*res.FloorEfficiency)
	if res.Failed > 0 {
		fmt.Fprintf(stdout, "  (it bills for all %d requests; this replay served %d, so its bill is not comparable with the floor)\n",
			res.Requests, res.Requests-res.Failed)
	}
	fmt.Fprintf(stdout, "at most %d sandboxes; %d API calls; %.1f simulated minutes\n", res.MaxSandboxes, res.APICalls, res.SimulatedMinutes)
	return exitOK
}

// createFile creates path, and its directory when missing.
func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}

// clearSimPrefix deletes a simulation's keys from a shared Redis.
func clearSimPrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, "{hotpool:"+prefix+"}*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil || len(keys) == 0 {
		return err
	}
	return rdb.Del(ctx, keys...).Err()
}

// runScenarioGrid judges auto on n drawn scenarios, jobs at a time, printing
// progress to stderr and the distribution to stdout.
func runScenarioGrid(ctx context.Context, n int, seed uint64, d time.Duration, jobs int, asJSON bool, stdout, stderr io.Writer) int {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	drawn := simulate.DrawScenarios(n, seed, d)
	judged := make([]simulate.Judged, len(drawn))
	errs := make([]error, len(drawn))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	start := time.Now()
	for range min(jobs, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				judged[i], errs[i] = simulate.Judge(ctx, drawn[i])
				mu.Lock()
				done++
				fmt.Fprintf(stderr, "simulate: %d/%d scenarios (%s) %s\n", done, n, time.Since(start).Round(time.Second), drawn[i])
				mu.Unlock()
			}
		}()
	}
	for i := range drawn {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fail(stderr, err)
	}
	for _, err := range errs {
		if err != nil {
			return fail(stderr, err)
		}
	}
	g := simulate.Summarize(judged, 5)
	if asJSON {
		b, _ := json.MarshalIndent(struct {
			Seed     uint64               `json:"seed"`
			Summary  simulate.GridSummary `json:"summary"`
			Judged   []simulate.Judged    `json:"scenarios"`
			Duration string               `json:"scenario_duration"`
		}{seed, g, judged, d.String()}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	var b strings.Builder
	simulate.WriteGrid(&b, g, seed)
	fmt.Fprint(stdout, b.String())
	return exitOK
}
