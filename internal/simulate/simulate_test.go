package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestParseTraceSaysWhereItIsWrong(t *testing.T) {
	ds, err := ParseTrace(strings.NewReader("at_seconds,image,hold_seconds\n20,python,60\n10.5,python,1.5\n"))
	require.NoError(t, err)
	require.Equal(t, []Demand{{At: 10500 * time.Millisecond, Image: "python", Hold: 1500 * time.Millisecond},
		{At: 20 * time.Second, Image: "python", Hold: time.Minute}}, ds, "sorted by time")

	for in, want := range map[string]string{
		"":                                "empty",
		"at,image,hold\n1,python,1\n":     "line 1: header",
		"at_seconds,image,hold_seconds\n": "no rows",
		"at_seconds,image,hold_seconds\n-1,python,1\nx,python,1\n1,Python,1\n1,python,0\n1,python\n": "line 2: at_seconds \"-1\"",
	} {
		_, err := ParseTrace(strings.NewReader(in))
		require.ErrorContains(t, err, want, "%q", in)
	}
	_, err = ParseTrace(strings.NewReader("at_seconds,image,hold_seconds\n-1,python,1\nx,python,1\n1,Python,1\n1,python,0\n1,python\n"))
	for _, line := range []string{"line 2", "line 3", "line 4: image", "line 5: hold_seconds", "line 6: 2 fields"} {
		require.ErrorContains(t, err, line)
	}
}

func TestCurvesAreSeededAndShaped(t *testing.T) {
	p := CurveParams{Rate: 4, Duration: time.Hour, Image: "python"}
	for _, name := range Curves {
		a, err := Curve(name, p, 7)
		require.NoError(t, err, name)
		b, _ := Curve(name, p, 7)
		require.Equal(t, a, b, "%s: the same seed draws the same trace", name)
		require.NotEmpty(t, a, name)
		for _, d := range a {
			require.Less(t, d.At, time.Hour)
			require.GreaterOrEqual(t, d.Hold, 5*time.Minute)
			require.LessOrEqual(t, d.Hold, 30*time.Minute)
		}
	}
	steady, _ := Curve("steady", p, 7)
	require.InDelta(t, 240, len(steady), 60, "about 4 a minute for an hour")
	spike, _ := Curve("spike", p, 7)
	inSpike := 0
	for _, d := range spike {
		if d.At >= 30*time.Minute && d.At < 36*time.Minute {
			inSpike++
		}
	}
	require.Greater(t, inSpike, 120, "the spike's six minutes at 40 a minute")
	workday, _ := Curve("workday", CurveParams{Rate: 2, Duration: 48 * time.Hour, Image: "python"}, 7)
	byHour := map[bool]int{}
	for _, d := range workday {
		h := int(d.At.Hours()) % 24
		byHour[h >= 9 && h < 17]++
	}
	// 8 hours a day at 4 a minute against 16 at 0.4: 3,840 and 768.
	require.InDelta(t, 3840, byHour[true], 250)
	require.InDelta(t, 768, byHour[false], 120)
	_, err := Curve("sawtooth", p, 7)
	require.ErrorContains(t, err, "steady, spike")
}

func smallConfig(t *testing.T) *pool.Config {
	t.Helper()
	c, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1, "max_ready": 3, "idle_timeout": 0}}}`))
	require.NoError(t, err)
	return c
}

// A trace small enough to follow by hand: the pool holds 1 ready sandbox.
// At 10 s an acquire takes it (a hit) and its refill starts; at 20 s the
// pool is empty and on_empty "create" makes a cold claim, served once its
// 30 s deployment is ready. Both hold 60 s. So: 2 requests, 1 hit, 1 cold
// start, exactly 2 minutes executing, at most 3 sandboxes (the leased one,
// the refill and the claim's), and the cold wait one deployment plus the
// passes' cadence.
func TestSmallTraceAccounting(t *testing.T) {
	trace, err := ParseTrace(strings.NewReader("at_seconds,image,hold_seconds\n10,python,60\n20,python,60\n"))
	require.NoError(t, err)
	r, err := Run(context.Background(), Options{Config: smallConfig(t), Trace: trace, CreateDelay: 30 * time.Second, Seed: 1})
	require.NoError(t, err)
	t.Logf("%+v", r)
	require.Equal(t, 2, r.Requests)
	require.Equal(t, 1, r.Hits)
	require.Equal(t, 1, r.ColdStarts)
	require.Zero(t, r.Failed)
	require.Equal(t, 0.5, r.HitRate)
	require.Equal(t, 2.0, r.ExecutionMinutes)
	// Perfect foresight: the two holds and one 30 s deployment each.
	require.Equal(t, 3.0, r.FloorSandboxMinutes)
	require.Equal(t, 0.667, r.FloorEfficiency)
	require.Equal(t, 3, r.MaxSandboxes)
	require.Zero(t, r.WaitP50Ms, "the hit waits nothing")
	require.GreaterOrEqual(t, r.WaitP99Ms, 30000.0, "the cold start waits a deployment")
	require.LessOrEqual(t, r.WaitP99Ms, 37000.0, "and at most one 5 s pass interval and a 1 s step more")
	// Billed: the hit's sandbox (10 s ready, 60 s in use), the refill (30 s
	// deploying, then ready to the end), the claim's (30 s, then 60 s in use).
	require.Greater(t, r.SandboxMinutes, r.ExecutionMinutes+r.IdleMinutes-0.001)
	require.InDelta(t, r.ExecutionMinutes/r.SandboxMinutes, r.Efficiency, 0.001)
	require.InDelta(t, 4.3, r.SandboxMinutes, 0.4)
}

// The same inputs give byte-identical output.
func TestRunIsDeterministic(t *testing.T) {
	trace, err := Curve("bursty", CurveParams{Rate: 3, Duration: 20 * time.Minute, HoldMin: time.Minute, HoldMax: 3 * time.Minute, Image: "python"}, 3)
	require.NoError(t, err)
	run := func() []byte {
		r, err := Run(context.Background(), Options{Config: smallConfig(t), Trace: trace, CreateDelay: 30 * time.Second, Jitter: 0.2, Seed: 3})
		require.NoError(t, err)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		return b
	}
	a, b := run(), run()
	require.True(t, bytes.Equal(a, b), "%s\n%s", a, b)
	var r Result
	require.NoError(t, json.Unmarshal(a, &r))
	require.Equal(t, len(trace), r.Requests)
	require.Equal(t, r.Requests, r.Hits+r.ColdStarts+r.Failed)
}

// Every failed request has its reason, and the reasons add up to the
// failures: here a cap of 2 sandboxes against 6 simultaneous holds.
func TestFailuresAreExplainedByReason(t *testing.T) {
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1, "max_ready": 2, "on_empty": "fail"}}, "max_total_sandboxes": 2}`))
	require.NoError(t, err)
	var trace []Demand
	for i := range 6 {
		trace = append(trace, Demand{At: time.Duration(i) * time.Second, Image: "python", Hold: 10 * time.Minute})
	}
	r, err := Run(context.Background(), Options{Config: cfg, Trace: trace, CreateDelay: 30 * time.Second})
	require.NoError(t, err)
	require.Positive(t, r.Failed)
	sum := 0
	for why, n := range r.FailedBy {
		require.Contains(t, []string{"empty", "capacity"}, why)
		sum += n
	}
	require.Equal(t, r.Failed, sum, "%v", r.FailedBy)
	require.NotEmpty(t, r.Series)
	require.Equal(t, 6, r.Series[0].Floor, "perfect foresight holds all six at the first minute's end")
}

// A burst larger than max_concurrent_creates fails nobody while
// max_total_sandboxes has room: the claims beyond the create cap wait for a
// slot. Before, they were refused as "capacity", and more of them for an
// auto pool, whose own refills held the slots (issue 32: auto failed 23 %
// of a trace of random bursts that a static target of 5 served).
func TestABurstPastTheCreateCapFailsNobody(t *testing.T) {
	var trace []Demand
	for burst := range 3 {
		for i := range 30 {
			trace = append(trace, Demand{At: time.Duration(burst)*4*time.Minute + time.Minute + time.Duration(i%10)*time.Second,
				Image: "python", Hold: time.Minute + time.Duration(i)*time.Second})
		}
	}
	for _, target := range []string{`"auto", "min_ready": 1`, `2`, `10`} {
		cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": ` + target +
			`, "max_ready": 40, "idle_timeout": 0}}, "max_total_sandboxes": 200, "max_concurrent_creates": 5}`))
		require.NoError(t, err)
		r, err := Run(context.Background(), Options{Config: cfg, Trace: trace, Learned: true, CreateDelay: 30 * time.Second})
		require.NoError(t, err)
		require.Equal(t, 90, r.Requests)
		require.Zero(t, r.Failed, "target %s: %v", target, r.FailedBy)
		require.Equal(t, r.Requests, r.Hits+r.ColdStarts)
	}
}

// The chart is one self-contained page: the figures, and a line per series
// with a point per minute.
func TestChartDrawsEverySeries(t *testing.T) {
	r := Result{Requests: 3, Hits: 2, Failed: 1, FailedBy: map[string]int{"capacity": 1},
		Series: []Sample{{Minute: 1, Ready: 2, Acquires: 1, Floor: 1}, {Minute: 2, Ready: 1, InUse: 1, Acquires: 2, Misses: 1, Floor: 2}}}
	var b bytes.Buffer
	require.NoError(t, WriteChart(&b, "t <&>", r))
	page := b.String()
	require.Contains(t, page, "<title>t &lt;&amp;&gt;</title>")
	require.Equal(t, 5, strings.Count(page, "<polyline"), "ready, creating, in use, demand, perfect foresight")
	require.Equal(t, 2, strings.Count(page, "<circle"), "one mark for the minute with a miss, one in the legend")
	require.Contains(t, page, "minute 2: 1 missed")
	require.Contains(t, page, "minutes since the replay started", "the x axis says its unit")
	require.Contains(t, page, "sandboxes · acquires per minute", "and the y axis")
	require.Contains(t, page, "3: 2 hits")
	require.Contains(t, page, "1 failed: 1 capacity (max_total_sandboxes reached)", "every failure has its reason")
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, "http://www.w3.org/2000/svg\" width=\"0\"")
}

// A learned auto pool starts as one that has run at the trace's opening
// rate: its first minutes hit where a pool that has seen nothing misses,
// and a static pool is not touched by it. The series counts each minute's
// misses.
func TestLearnedStartsAnAutoPoolWithTheOpeningRate(t *testing.T) {
	// 4 a minute, one every 15 s from the first second, each held 2 min.
	var trace []Demand
	for at := time.Second; at < 10*time.Minute; at += 15 * time.Second {
		trace = append(trace, Demand{At: at, Image: "python", Hold: 2 * time.Minute})
	}
	auto, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": "auto", "min_ready": 1, "max_ready": 20, "idle_timeout": 0}}}`))
	require.NoError(t, err)
	run := func(cfg *pool.Config, learned bool) Result {
		r, err := Run(context.Background(), Options{Config: cfg, Trace: trace, Seed: 5, Learned: learned})
		require.NoError(t, err)
		misses := 0
		for _, s := range r.Series {
			misses += s.Misses
		}
		require.Equal(t, r.Requests-r.Hits, misses, "the minutes' misses add up")
		return r
	}
	firstMinutes := func(r Result) int {
		n := 0
		for _, s := range r.Series[:3] {
			n += s.Misses
		}
		return n
	}
	cold, learned := run(auto, false), run(auto, true)
	t.Logf("cold %+v\nlearned %+v", cold, learned)
	require.Positive(t, firstMinutes(cold), "a pool that has seen nothing starts at min_ready and misses")
	require.Zero(t, firstMinutes(learned), "one that knows the rate is sized for it")
	require.Greater(t, learned.HitRate, cold.HitRate)

	static := smallConfig(t)
	a, b := run(static, false), run(static, true)
	a.Series, b.Series = nil, nil
	require.Equal(t, a, b, "a static pool has nothing to learn")
}

// History replays a trace's opening as the pool's past and counts only what
// follows: the small trace above, 200 s later, after one acquire at 10 s
// held 150 s. Counted from 100 s: the same 2 requests, 1 hit and 1 cold
// start, and of the past acquire only its last minute held (100 s to 160 s).
func TestHistoryIsReplayedButNotCounted(t *testing.T) {
	trace, err := ParseTrace(strings.NewReader("at_seconds,image,hold_seconds\n10,python,150\n210,python,60\n220,python,60\n"))
	require.NoError(t, err)
	r, err := Run(context.Background(), Options{Config: smallConfig(t), Trace: trace, CreateDelay: 30 * time.Second, Seed: 1, History: 100 * time.Second})
	require.NoError(t, err)
	t.Logf("%+v", r)
	require.Equal(t, 2, r.Requests)
	require.Equal(t, 1, r.Hits)
	require.Equal(t, 1, r.ColdStarts)
	require.Equal(t, 3.0, r.ExecutionMinutes, "the past lease's last minute and the two holds")
	require.Equal(t, 4.0, r.FloorSandboxMinutes, "the counted acquires, and the past lease's last minute")
	require.Equal(t, len(r.Series), int(r.SimulatedMinutes), "the chart starts where counting does")

	for _, h := range []time.Duration{-time.Second, 220 * time.Second} {
		_, err = Run(context.Background(), Options{Config: smallConfig(t), Trace: trace, History: h})
		require.ErrorContains(t, err, "history", "%s", h)
	}
}
