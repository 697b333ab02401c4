package simulate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The same seed draws the same scenarios and traces; another seed draws
// others. Every family is drawn, within the ranges.
func TestScenariosAreSeededAndInRange(t *testing.T) {
	a, b := DrawScenarios(60, 7, time.Hour), DrawScenarios(60, 7, time.Hour)
	require.Equal(t, a, b)
	require.NotEqual(t, a, DrawScenarios(60, 8, time.Hour))
	families := map[string]bool{}
	for _, s := range a {
		families[s.Family] = true
		require.GreaterOrEqual(t, s.Rate, 0.5, s.String())
		require.LessOrEqual(t, s.Rate, 60.0, s.String())
		require.GreaterOrEqual(t, s.Deploy, 20*time.Second, s.String())
		require.LessOrEqual(t, s.Deploy, 90*time.Second, s.String())
		require.GreaterOrEqual(t, s.HoldMin, 20*time.Second, s.String())
		require.LessOrEqual(t, s.HoldMax, 2*time.Hour, s.String())
		require.LessOrEqual(t, s.HoldMin, s.HoldMax, s.String())
		if s.Family == FamilyBursts {
			require.GreaterOrEqual(t, s.Shape, 30.0, s.String())
			require.LessOrEqual(t, s.Shape, 3600.0, s.String())
		}
	}
	require.Len(t, families, len(Families))
	require.Equal(t, a[3].Trace(), b[3].Trace())
}

// countDispersion is the variance over the mean of the acquires counted in
// windows of w: 1 for Poisson arrivals, below 1 for regular ones, above
// for clumped ones.
func countDispersion(trace []Demand, d, w time.Duration) float64 {
	counts := make([]float64, int(d/w))
	for _, x := range trace {
		if i := int(x.At / w); i < len(counts) {
			counts[i]++
		}
	}
	var mean, sq float64
	for _, c := range counts {
		mean += c
	}
	mean /= float64(len(counts))
	for _, c := range counts {
		sq += (c - mean) * (c - mean)
	}
	return sq / float64(len(counts)) / mean
}

// The families have the shapes they claim: a steady trace of gamma shape 6
// is more regular than Poisson and one of shape 0.3 more clumped, both at
// their rate; periodic bursts are far more clumped still, at their rate.
func TestScenarioTracesHaveTheirShape(t *testing.T) {
	const d = 3 * time.Hour
	base := Scenario{Rate: 12, Deploy: 30 * time.Second, HoldMin: time.Minute, HoldMax: 2 * time.Minute, Duration: d, Seed: 5}
	regular, clumped, bursts := base, base, base
	regular.Family, regular.Shape = FamilySteady, 6
	clumped.Family, clumped.Shape = FamilySteady, 0.3
	bursts.Family, bursts.Shape = FamilyBursts, 90
	for _, s := range []Scenario{regular, clumped, bursts} {
		n := float64(len(s.Trace()))
		require.InDelta(t, s.Rate*d.Minutes(), n, 0.1*s.Rate*d.Minutes(), "%s: %v acquires", s, n)
	}
	r, c, b := countDispersion(regular.Trace(), d, 30*time.Second), countDispersion(clumped.Trace(), d, 30*time.Second), countDispersion(bursts.Trace(), d, 30*time.Second)
	t.Logf("dispersion in 30 s windows: regular %.2f, clumped %.2f, bursts %.2f", r, c, b)
	require.Less(t, r, 0.5)
	require.Greater(t, c, 1.5)
	require.Greater(t, b, 5.0)
	for _, x := range bursts.Trace() {
		require.GreaterOrEqual(t, x.Hold, base.HoldMin)
		require.LessOrEqual(t, x.Hold, base.HoldMax)
	}
}

// Judge replays auto and every static target of the sweep on one small
// scenario, and the summary counts what the judgements say.
func TestJudgeComparesAutoWithTheStaticSweep(t *testing.T) {
	s := Scenario{N: 1, Family: FamilySteady, Shape: 1, Rate: 2, Deploy: 30 * time.Second,
		HoldMin: time.Minute, HoldMax: 3 * time.Minute, Duration: 10 * time.Minute, Seed: 3}
	j, err := Judge(context.Background(), s)
	require.NoError(t, err)
	require.Equal(t, len(s.Trace()), j.Requests)
	require.Len(t, j.Static, len(StaticSweep))
	for i, o := range j.Static {
		require.Equal(t, strconv.Itoa(StaticSweep[i]), o.Target)
		require.Positive(t, o.SandboxMinutes)
	}
	require.Positive(t, j.Auto.SandboxMinutes)
	require.Positive(t, j.FloorEfficiency)
	// The verdict follows from the figures.
	dominated := ""
	for _, o := range j.Static {
		if dominated == "" && o.HitRate >= j.Auto.HitRate && o.Failed <= j.Auto.Failed && o.SandboxMinutes < j.Auto.SandboxMinutes {
			dominated = o.Target
		}
	}
	require.Equal(t, dominated, j.DominatedBy)
	g := Summarize([]Judged{j, {Scenario: Scenario{Family: FamilyBursts}, DominatedBy: "4", FailedWhereStaticServed: true}}, 1)
	require.Equal(t, 2, g.Scenarios)
	require.Equal(t, map[string]int{FamilySteady: 1, FamilyBursts: 1}, g.ByFamily)
	require.Equal(t, 1, g.FailedWhereStaticServed)
	require.Len(t, g.Worst, 1)
	require.Equal(t, FamilyBursts, g.Worst[0].Scenario.Family, "the one furthest below its goal (hit 0)")
}

// Every scenario drawn has acquires to judge, even a burst period longer
// than the scenario (seed 20261208 drew one of 2,232 s for 20 minutes, whose
// only burst fell past the end).
func TestEveryScenarioDrawnHasAcquires(t *testing.T) {
	for _, seed := range []uint64{20261208, 1, 2, 3} {
		for _, s := range DrawScenarios(60, seed, 20*time.Minute) {
			require.NotEmpty(t, s.Trace(), s.String())
		}
	}
}
