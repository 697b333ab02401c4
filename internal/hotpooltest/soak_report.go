package hotpooltest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// SoakReport is every figure of one soak.
type SoakReport struct {
	Clients  int
	Seed     uint64
	Duration time.Duration
	Redis    string // which Redis ran, and whether it was restarted
	// Durability is the config's durability setting ("off", or replicas and timeout).
	Durability string

	FaultPhase, ConvergeTime time.Duration

	AcquireOK  map[string]int // by source: pool (warm), cold
	AcquireErr map[string]int // by error code
	ReleaseOK  int
	ReleaseErr map[string]int
	Abandoned  int // never released: reaped when their lease expired
	HandedOut  int // distinct sandbox ids handed out

	Storms        int            // platform fault storms
	Injected      map[string]int // faults the simulator injected into API requests, by kind
	RedisRestarts int
	Failovers     int // the replica promoted after the primary was killed
	ConfigChanges int // redeploys with another config (Reload)
	Flushes       int // times the deployment's Redis keys were emptied mid-run
	KilledStarted int // passes started to be killed
	PassesKilled  int // of those, cancelled mid-way
	APICalls      int // App Platform API requests, retries included

	// The Store's books, summed over pools: creates started, creates failed
	// (ERROR deployments, refused or timed-out creates), apps deleted,
	// leases reaped, orphan apps deleted.
	Creates, CreatesFailed, Deletes, LeasesReaped, OrphansDeleted int64

	ConvergePasses int
	Checks         int // invariant checks during the faults
	CheckSkips     int // checks skipped while Redis was down
	MaxTotal       int // most sandboxes seen at once in Redis
	MaxApps        int // most apps the platform held at once

	Leaks      int
	Doubles    int
	Pools      []SoakPool
	Violations []string
}

// SoakPool is one pool after convergence.
type SoakPool struct {
	Name          string
	Ready, Target int
}

// Print writes the figures, one line each.
func (r *SoakReport) Print(w io.Writer) {
	fmt.Fprintf(w, "soak:        %s of faults, %d clients, seed %d, %s; durability %s\n", r.FaultPhase.Round(time.Millisecond), r.Clients, r.Seed, r.Redis, r.Durability)
	fmt.Fprintf(w, "acquires:    ok %d (warm %d, cold %d); failed %d%s\n", sum(r.AcquireOK), r.AcquireOK["pool"], r.AcquireOK["cold"], sum(r.AcquireErr), kv(r.AcquireErr))
	fmt.Fprintf(w, "releases:    ok %d; failed %d%s; abandoned %d (reaped on lease expiry)\n", r.ReleaseOK, sum(r.ReleaseErr), kv(r.ReleaseErr), r.Abandoned)
	fmt.Fprintf(w, "faults:      %d platform storms, injected %d%s; %d redis restarts; %d failovers; %d redis flushes; %d config changes; %d passes killed mid-way (of %d started to be killed)\n",
		r.Storms, sum(r.Injected), kv(r.Injected), r.RedisRestarts, r.Failovers, r.Flushes, r.ConfigChanges, r.PassesKilled, r.KilledStarted)
	fmt.Fprintf(w, "platform:    %d API calls; at most %d sandboxes at once in redis, %d apps on the platform\n", r.APICalls, r.MaxTotal, r.MaxApps)
	fmt.Fprintf(w, "books:       %d creates (%d failed), %d deletes, %d leases reaped, %d orphans deleted\n",
		r.Creates, r.CreatesFailed, r.Deletes, r.LeasesReaped, r.OrphansDeleted)
	fmt.Fprintf(w, "checks:      %d invariant checks during the faults (%d skipped while redis was down)\n", r.Checks, r.CheckSkips)
	fmt.Fprintf(w, "convergence: %d passes, %s\n", r.ConvergePasses, r.ConvergeTime.Round(time.Millisecond))
	for _, p := range r.Pools {
		fmt.Fprintf(w, "pool %-7s %d ready, target %d\n", p.Name+":", p.Ready, p.Target)
	}
	fmt.Fprintf(w, "leaks=%d double=%d handed_out=%d violations=%d\n", r.Leaks, r.Doubles, r.HandedOut, len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "VIOLATION: %s\n", v)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// kv renders a count map as " (a 1, b 2)" in key order, or "" when empty.
func kv(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
