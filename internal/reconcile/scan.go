package reconcile

import (
	"sort"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// AppsPerListCall is how many apps one List call returns (App Platform's
// largest page, appplatform.ListPageSize): a full list of n apps costs
// ceil(n/AppsPerListCall) API calls.
const AppsPerListCall = 200

// MinScanEvery is the shortest pause between two full scans when nothing
// else asks for one; ScanEvery stretches it to half the orphan grace.
const MinScanEvery = 60 * time.Second

// NoRecordsRescan is how long a pass waits after a full list before it
// lists again only because an active pool wants sandboxes and Redis holds
// none. A pool whose creates all fail, or that backs off, has no records for
// a while: a loop that passes every 200 ms listed at every pass and spent
// the whole per-minute API budget, which the creates that change the pool
// need first. At the functions' cadence (a pass every 5 s) it changes
// nothing.
const NoRecordsRescan = 5 * time.Second

// ScanEvery is how long a deployment goes without a full list when nothing
// asks for one sooner: max(orphan_grace/2, MinScanEvery), so an orphan is
// collected at most half a grace after its grace ends.
func ScanEvery(cfg *pool.Config) time.Duration {
	return max(cfg.OrphanGrace.D()/2, MinScanEvery)
}

// Why a pass lists every app instead of fetching only the creating ones.
// The values appear in the pass's log line.
const (
	ScanDue           = "scan_due"            // a pool's last full list is older than its health interval or ScanEvery
	ScanNeverDone     = "scan_never_done"     // a known pool has no full list recorded (new pool, or Redis emptied)
	ScanUnknownCreate = "scan_unknown_create" // a create's answer was lost: only the list finds its app, by sandbox id
	ScanDeletingNoApp = "scan_deleting_no_app"
	ScanNoRecords     = "scan_no_records" // an active pool wants sandboxes and Redis has none (for NoRecordsRescan since a list): was it emptied?
	ScanCheaper       = "scan_cheaper"    // more creating apps to fetch than the list has pages
)

// ListReason says whether a pass needs the provider's full list, and why
// ("" = a partial pass: Provider.Get for each of GetTargets and nothing
// else). Pure, like Plan. The last full list of each pool is recorded as
// its LastHealthCheckAt (every full list is that pool's health check), so
// stateless cron invocations share it through Redis.
func ListReason(st pool.Observed, cfg *pool.Config, now time.Time) string {
	scanEvery := ScanEvery(cfg)
	activeWantsSandboxes := false
	var lastList time.Time // the oldest pool's last full list
	for _, name := range knownPools(st, cfg) {
		pc, _ := cfg.Pool(name)
		ps, ok := st.Pools[name]
		if !ok || ps.LastHealthCheckAt.IsZero() {
			return ScanNeverDone
		}
		every := scanEvery
		shut := st.ManagerShutdown || ps.Shutdown
		if iv := pc.HealthCheckInterval.D(); iv > 0 && iv < every && !shut {
			every = iv
		}
		if now.Sub(ps.LastHealthCheckAt) >= every {
			return ScanDue
		}
		if lastList.IsZero() || ps.LastHealthCheckAt.Before(lastList) {
			lastList = ps.LastHealthCheckAt
		}
		if !shut && (pool.EffectiveTarget(pc, ps) > 0 || pc.Auto) && !ps.Idle(pc, now) {
			activeWantsSandboxes = true
		}
	}
	if len(st.Sandboxes) == 0 && activeWantsSandboxes && now.Sub(lastList) >= NoRecordsRescan {
		return ScanNoRecords
	}
	gets := 0
	for _, sb := range st.Sandboxes {
		switch {
		case sb.State == pool.StateCreating && sb.AppID == "" && !sb.CreateCalledAt.IsZero():
			return ScanUnknownCreate
		case sb.State == pool.StateDeleting && sb.AppID == "":
			return ScanDeletingNoApp
		case sb.State == pool.StateCreating && sb.AppID != "":
			gets++
		}
	}
	if pages := (len(st.Sandboxes) + AppsPerListCall - 1) / AppsPerListCall; gets > pages {
		return ScanCheaper
	}
	return ""
}

// GetTargets are the app ids a partial pass fetches with Provider.Get: the
// creating sandboxes that have an app, the only changes the platform makes
// on its own. Sorted, so a pass repeats exactly.
func GetTargets(st pool.Observed) []string {
	var ids []string
	for _, sb := range st.Sandboxes {
		if sb.State == pool.StateCreating && sb.AppID != "" {
			ids = append(ids, sb.AppID)
		}
	}
	sort.Strings(ids)
	return ids
}

// knownPools are the pools a full list records its time on: the configured
// ones and those served by default_pool_config. A retired pool (state, no
// config) is drained but never asks for a scan.
func knownPools(st pool.Observed, cfg *pool.Config) []string {
	names := cfg.PoolNames()
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	for n := range st.Pools {
		if _, err := cfg.Pool(n); err == nil && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
