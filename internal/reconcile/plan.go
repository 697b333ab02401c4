package reconcile

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Plan returns the actions of one reconcile pass, in the order they must be
// carried out. It is a pure function: the same observation, config and now
// always give the same actions. README.md states every rule it applies.
func Plan(obs Observation, cfg *pool.Config, now time.Time) []Action {
	p := &planner{obs: obs, cfg: cfg, now: now, pools: map[string]*poolPlan{}}
	p.index()
	for _, name := range p.poolNames() {
		p.planPool(p.pools[name])
	}
	p.planOrphans()
	p.planUncalled()
	p.planCreates()
	p.planCollect()
	p.planUpdates()
	return p.out
}

// poolPlan is one pool's projected state while the pass is planned.
type poolPlan struct {
	name     string
	pc       pool.PoolConfig
	known    bool // configured, or served by default_pool_config
	state    pool.Record
	shutdown bool
	reason   string // delete reason for ready/creating when shut (shutdown, or over_capacity for a retired pool)
	idle     bool

	records      []pool.Sandbox
	alive        []pool.Sandbox // ready sandboxes that survive this pass, oldest first
	creating     int            // creating after this pass's transitions, claims included
	creatingFill int            // the same without cold-claim sandboxes
	failures     int            // consecutive failures, counting this pass's (a success resets it)
	failedNow    bool           // a creation failed in this pass: the pool backs off
	healthDue    bool
	update       pool.PoolUpdate
	changed      bool
	want         int
	collect      bool            // forgotten in this pass (planCollect)
	deploys      []time.Duration // auto: create-to-ready of the sandboxes marked ready in this pass
}

type planner struct {
	obs Observation
	cfg *pool.Config
	now time.Time

	bySandbox map[string]pool.App // apps by the sandbox id in their env
	byApp     map[string]pool.App
	matched   map[string]bool       // app ids that belong to a record
	records   map[string]pool.State // every record's state, by sandbox id
	pools     map[string]*poolPlan

	total          int // records after this pass (deletes not yet confirmed still count)
	creatingAll    int // creating after this pass, all pools
	youngOrphans   int // apps no record claims, inside their grace: the next pass lists again
	youngDeploying int // of them, still deploying: they count toward max_concurrent_creates
	// uncalled are creating records with no create call yet (a cold claim's
	// sandbox, or a call a killed pass never made): sent by planUncalled
	// once the orphans are counted.
	uncalled []Action
	out      []Action
}

func (p *planner) emit(a Action) { p.out = append(p.out, a) }

func (p *planner) index() {
	nApps, nRecs := len(p.obs.Apps), len(p.obs.State.Sandboxes)
	p.bySandbox = make(map[string]pool.App, nApps)
	p.byApp = make(map[string]pool.App, nApps)
	p.matched = make(map[string]bool, nApps)
	p.records = make(map[string]pool.State, nRecs)
	p.out = make([]Action, 0, nRecs/2+8)
	if p.obs.ListOK || p.obs.Partial {
		for _, a := range p.obs.Apps {
			p.byApp[a.ID] = a
			// Only a full list may match by sandbox id: a partial
			// observation fetched its apps by app id.
			if a.SandboxID != "" && p.obs.ListOK {
				p.bySandbox[a.SandboxID] = a
			}
		}
	}
	for name, st := range p.obs.State.Pools {
		p.pool(name).state = st
	}
	for _, c := range p.obs.State.Claims {
		if c.Pool != "" {
			p.pool(c.Pool)
		}
	}
	for _, name := range p.cfg.PoolNames() {
		p.pool(name)
	}
	for _, sb := range p.obs.State.Sandboxes {
		if sb.ID == "" {
			continue
		}
		p.records[sb.ID] = sb.State
		p.total++
		if sb.State == pool.StateCreating {
			p.creatingAll++
		}
		if a, ok := p.match(sb); ok {
			p.matched[a.ID] = true
		}
		pp := p.pool(sb.Pool)
		pp.records = append(pp.records, sb)
	}
}

// pool returns the plan of a pool, creating it with its config on first use.
func (p *planner) pool(name string) *poolPlan {
	if pp, ok := p.pools[name]; ok {
		return pp
	}
	pp := &poolPlan{name: name}
	if pc, err := p.cfg.Pool(name); err == nil {
		pp.pc, pp.known = pc, true
	} else {
		// A pool with state but no config (removed from the config): its
		// sandboxes are drained like a shut-down pool's.
		pp.pc = pool.DefaultPool()
		pp.pc.MaxReady = 0
	}
	p.pools[name] = pp
	return pp
}

func (p *planner) poolNames() []string {
	names := slices.Sorted(maps.Keys(p.pools))
	return names
}

// match finds a record's app: by app id, else by the sandbox id in the app's
// env (which repairs a crash between Provider.Create and CreateCalled). An
// app a Get answered gone is no match.
func (p *planner) match(sb pool.Sandbox) (pool.App, bool) {
	if !p.obs.ListOK && !p.obs.Partial {
		return pool.App{}, false
	}
	if sb.AppID != "" {
		if a, ok := p.byApp[sb.AppID]; ok && a.Phase != pool.PhaseGone {
			return a, true
		}
	}
	a, ok := p.bySandbox[sb.ID]
	return a, ok
}

// absent reports whether the observation proves that a record has no app:
// a successful full list without it, or (partial) a Get of its app id that
// answered gone. An app merely not fetched proves nothing.
func (p *planner) absent(sb pool.Sandbox) bool {
	if p.obs.ListOK {
		_, found := p.match(sb)
		return !found && !p.obs.Unconfirmed[sb.ID]
	}
	if !p.obs.Partial || sb.AppID == "" {
		return false
	}
	a, ok := p.byApp[sb.AppID]
	return ok && a.Phase == pool.PhaseGone
}

// classify decides whether a pool is shut (shut down, or retired from the
// config) and whether its health check is due.
func (p *planner) classify(pp *poolPlan) {
	st := pp.state
	switch {
	case !pp.known:
		pp.shutdown, pp.reason = true, pool.ReasonOverCapacity
	case p.obs.State.ManagerShutdown || st.Shutdown:
		pp.shutdown, pp.reason = true, pool.ReasonShutdown
	}
	// A health check is due every health_check_interval, but at least every
	// ScanEvery: its date is also the date of the pool's last full list,
	// which ListReason reads, so a longer interval would leave the orphan
	// scan due (and the list made) on every pass.
	every := pp.pc.HealthCheckInterval.D()
	if every > 0 {
		every = min(every, ScanEvery(p.cfg))
	}
	pp.healthDue = p.obs.ListOK && every > 0 && !pp.shutdown &&
		(st.LastHealthCheckAt.IsZero() || p.now.Sub(st.LastHealthCheckAt) >= every)
}

func (p *planner) planPool(pp *poolPlan) {
	pp.failures = pp.state.ConsecutiveFailures
	if pp.pc.Auto {
		// Sized from what the pool has seen (pool/auto.go); the chosen
		// target is written only when it changes.
		target, why := pool.AutoTarget(pp.pc, pp.state, p.now)
		pp.pc.TargetReady = target
		if target != pp.state.AutoTarget || pp.state.AutoWhy == "" {
			pp.update.AutoTarget, pp.update.AutoWhy = &target, why
			pp.changed = true
		}
	}
	p.classify(pp)
	recs := pp.records // owned by this plan: sorted in place
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if !a.ReadyAt.Equal(b.ReadyAt) {
			return a.ReadyAt.Before(b.ReadyAt)
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	for _, sb := range recs {
		switch sb.State {
		case pool.StateCreating:
			pp.creating++
			if sb.ClaimHash == "" {
				pp.creatingFill++
			}
		}
	}
	for _, sb := range recs {
		switch sb.State {
		case pool.StateCreating:
			p.planCreating(pp, sb)
		case pool.StateReady:
			p.planReady(pp, sb)
		case pool.StateInUse:
			p.planInUse(sb)
		case pool.StateDeleting:
			app, found := p.match(sb)
			p.destroy(sb, app, found, sb.DeleteReason)
		}
	}
	sortOldestFirst(pp.alive)
	p.planShrink(pp)
	p.planWant(pp)
	if len(pp.deploys) > 0 {
		p90 := pool.NextDeployP90(pp.state.DeployP90, pp.deploys)
		pp.update.DeployP90 = &p90
		pp.changed = true
	}
}

func sortOldestFirst(s []pool.Sandbox) {
	sort.SliceStable(s, func(i, j int) bool {
		if !s[i].ReadyAt.Equal(s[j].ReadyAt) {
			return s[i].ReadyAt.Before(s[j].ReadyAt)
		}
		return s[i].ID < s[j].ID
	})
}

// destroy deletes a deleting (or just condemned) record's app and forgets
// it. With no app known it is forgotten only when the list proves none
// exists; an app that shows up later is collected as an orphan.
func (p *planner) destroy(sb pool.Sandbox, app pool.App, found bool, reason string) {
	switch {
	case found:
		p.emit(Action{Kind: KindDestroy, Pool: sb.Pool, SandboxID: sb.ID, AppID: app.ID, Reason: reason})
	case p.absent(sb):
		p.emit(Action{Kind: KindForget, Pool: sb.Pool, SandboxID: sb.ID, AppID: sb.AppID, Reason: reason})
		p.total--
	case sb.AppID != "":
		// The list failed or was not made, but Delete is safe: a 404 confirms.
		p.emit(Action{Kind: KindDestroy, Pool: sb.Pool, SandboxID: sb.ID, AppID: sb.AppID, Reason: reason})
	}
}

func (p *planner) planCreating(pp *poolPlan, sb pool.Sandbox) {
	app, found := p.match(sb)
	if found && sb.AppID != app.ID {
		p.emit(Action{Kind: KindAttachApp, Pool: sb.Pool, SandboxID: sb.ID, AppID: app.ID})
	}
	claim := sb.ClaimHash != ""
	leave := func() {
		pp.creating--
		p.creatingAll--
		if !claim {
			pp.creatingFill--
		}
	}
	switch {
	case pp.shutdown:
		// Not a failed attempt: no backoff, no circuit; a claim it served fails.
		p.condemn(sb, app, found, pp.reason)
		leave()
	case found && app.Phase == pool.PhaseActive && p.servesHealth(sb.ID):
		wd := WarmDeadline(pp.pc, sb.ID, p.now)
		p.emit(Action{Kind: KindMarkReady, Pool: sb.Pool, SandboxID: sb.ID, AppID: app.ID, URL: app.URL, WarmDeadline: wd})
		leave()
		if pp.pc.Auto && !sb.CreatedAt.IsZero() {
			pp.deploys = append(pp.deploys, p.now.Sub(sb.CreatedAt))
		}
		// A success ends the streak (as markready.lua does): failures on
		// either side of it are not consecutive. Records are walked in
		// creation order, which is the order their outcomes arrive.
		pp.failures = 0
		if !claim {
			r := sb
			r.State, r.AppID, r.URL, r.ReadyAt, r.WarmDeadline = pool.StateReady, app.ID, app.URL, p.now, wd
			pp.alive = append(pp.alive, r)
		}
	case found && app.Phase == pool.PhaseFailed:
		p.fail(pp, sb, app, true, "deployment failed")
		leave()
	case !sb.CreateDeadline.IsZero() && !p.now.Before(sb.CreateDeadline):
		p.fail(pp, sb, app, found, "create deadline passed")
		leave()
	case found:
		// Deploying, or ACTIVE but not yet answering /health: look again next pass.
	case sb.CreateCalledAt.IsZero() && (p.obs.ListOK || p.obs.Partial):
		// No create call recorded. A full list proves no app carries its
		// sandbox id; a partial pass cannot, and relies on the app name
		// (which carries the sandbox id) being unique: a second create of a
		// sent one answers 409, an unknown outcome that makes the next
		// pass list and attach the app.
		p.uncalled = append(p.uncalled, Action{Kind: KindCallCreate, Pool: sb.Pool, SandboxID: sb.ID, Failures: pp.failures,
			Spec: pool.CreateSpec{SandboxID: sb.ID, Pool: sb.Pool, Template: p.cfg.Template(sb.Pool, pp.pc)}})
	case !p.absent(sb):
		// The list failed, or this pass fetched no definite answer: wait.
	case !p.now.Before(sb.CreateCalledAt.Add(p.cfg.OrphanGrace.D())):
		p.fail(pp, sb, app, false, "app never appeared in the platform's list")
		leave()
	}
}

// servesHealth: with health_check_url on, only an app whose /health
// answered enters the ready list.
func (p *planner) servesHealth(id string) bool {
	return !p.cfg.HealthCheckURL || p.obs.Health[id] == HealthOK
}

func (p *planner) fail(pp *poolPlan, sb pool.Sandbox, app pool.App, found bool, detail string) {
	pp.failures++
	pp.failedNow = true
	fp := FailureParams(p.cfg, pp.pc, pp.failures, sb.ID, pool.ReasonCreateFailed, detail, p.now)
	p.emit(Action{Kind: KindMarkFailed, Pool: sb.Pool, SandboxID: sb.ID, Reason: pool.ReasonCreateFailed, Fail: fp})
	p.destroy(sb, app, found, pool.ReasonCreateFailed)
}

func (p *planner) condemn(sb pool.Sandbox, app pool.App, found bool, reason string) {
	p.emit(Action{Kind: KindMarkDeleting, Pool: sb.Pool, SandboxID: sb.ID, Reason: reason})
	p.destroy(sb, app, found, reason)
}

func (p *planner) planReady(pp *poolPlan, sb pool.Sandbox) {
	app, found := p.match(sb)
	health := HealthUnknown
	if pp.healthDue && found {
		switch {
		case app.Phase == pool.PhaseFailed:
			health = HealthFailed
		case app.Phase == pool.PhaseActive && p.cfg.HealthCheckURL:
			health = p.obs.Health[sb.ID]
		case app.Phase == pool.PhaseActive:
			health = HealthOK
		}
		if health != HealthUnknown {
			if pp.update.HealthResult == nil {
				pp.update.HealthResult = map[string]bool{}
			}
			pp.update.HealthResult[sb.ID] = health == HealthOK
		}
	}
	switch {
	case p.absent(sb):
		// The platform's list proves the app gone: nothing to delete.
		p.emit(Action{Kind: KindMarkDeleting, Pool: sb.Pool, SandboxID: sb.ID, Reason: pool.ReasonUnhealthy})
		p.destroy(sb, app, false, pool.ReasonUnhealthy)
	case pp.shutdown:
		p.condemn(sb, app, found, pp.reason)
	case found && app.Phase == pool.PhaseFailed && pp.healthDue:
		p.condemn(sb, app, found, pool.ReasonUnhealthy)
	case health == HealthFailed && sb.HealthFailures+1 >= HealthFailThreshold:
		p.condemn(sb, app, found, pool.ReasonUnhealthy)
	case !sb.WarmDeadline.IsZero() && !p.now.Before(sb.WarmDeadline):
		p.condemn(sb, app, found, pool.ReasonExpired)
	default:
		pp.alive = append(pp.alive, sb)
	}
}

func (p *planner) planInUse(sb pool.Sandbox) {
	// A leased sandbox is never touched before its lease expires, and then
	// not before clock_skew_tolerance more: acquire's clock may be behind ours.
	if sb.LeaseExpiresAt.IsZero() || p.now.Before(sb.LeaseExpiresAt.Add(p.cfg.ClockSkewTolerance.D())) {
		return
	}
	app, found := p.match(sb)
	p.emit(Action{Kind: KindMarkDeleting, Pool: sb.Pool, SandboxID: sb.ID, Reason: pool.ReasonLeaseExpired})
	p.destroy(sb, app, found, pool.ReasonLeaseExpired)
}

// planShrink destroys ready sandboxes above max_ready, and every
// scale_down_delay, oldest first, one while the pool is idle or, for an auto
// pool that holds more than the target it chose, the surplus (so it shrinks
// when demand falls, at the pace of the cooldown).
func (p *planner) planShrink(pp *poolPlan) {
	if pp.shutdown {
		return
	}
	// max_ready bounds the pool's stock: ready plus creating, without the
	// sandboxes being created for cold claims (they belong to their callers).
	for len(pp.alive) > 0 && len(pp.alive)+pp.creatingFill > pp.pc.MaxReady {
		sb := pp.alive[0]
		pp.alive = pp.alive[1:]
		app, found := p.match(sb)
		p.condemn(sb, app, found, pool.ReasonOverCapacity)
	}
	// A cancelled claim's sandbox joins the ready list (it still carries its
	// claim hash) to serve if the pool needs it; beyond target_ready it is
	// surplus, and goes first.
	for i := 0; i < len(pp.alive) && len(pp.alive)+pp.creatingFill > pp.pc.TargetReady; {
		sb := pp.alive[i]
		if sb.ClaimHash == "" {
			i++
			continue
		}
		pp.alive = append(pp.alive[:i], pp.alive[i+1:]...)
		app, found := p.match(sb)
		p.condemn(sb, app, found, pool.ReasonOverCapacity)
	}
	pp.idle = pp.state.Idle(pp.pc, p.now)
	// An auto pool's surplus is its ready sandboxes above target: what is
	// still deploying is not counted, or a target that dips while refills
	// deploy would destroy ready stock to make room for stock not yet ready.
	surplus := pp.pc.Auto && len(pp.alive) > pp.pc.TargetReady
	if (!pp.idle && !surplus) || len(pp.alive) == 0 {
		return
	}
	last := pp.state.LastScaleDownAt
	if !last.IsZero() && p.now.Sub(last) < pp.pc.ScaleDownDelay.D() {
		return
	}
	// An idle pool sheds one; an auto pool its whole surplus, so the stock
	// a burst left waits no longer than one scale_down_delay. (Half of it
	// each time was tried: on the bursty curve it cost 1.5 points of
	// efficiency for no hit, docs/BENCHMARKS.md §9.)
	n := 1
	if surplus && !pp.idle {
		n = len(pp.alive) - pp.pc.TargetReady
	}
	for range min(n, len(pp.alive)) {
		sb := pp.alive[0]
		pp.alive = pp.alive[1:]
		app, found := p.match(sb)
		p.condemn(sb, app, found, pool.ReasonScaleDown)
	}
	t := p.now
	pp.update.LastScaleDownAt = &t
	pp.changed = true
}

// planWant computes how many sandboxes the pool asks for in this pass.
func (p *planner) planWant(pp *poolPlan) {
	if pp.shutdown || pp.idle {
		return
	}
	st := pp.state
	have := len(pp.alive)
	below := have < pp.pc.TargetReady
	switch {
	case below && st.BelowTargetSince.IsZero():
		t := p.now
		pp.update.BelowTargetSince = &t
		pp.changed = true
	case !below && !st.BelowTargetSince.IsZero():
		var zero time.Time
		pp.update.BelowTargetSince = &zero
		pp.changed = true
	}
	if st.CircuitOpen(p.now) {
		return
	}
	if pp.failedNow && pp.pc.CreateRetries > 0 && pp.failures >= pp.pc.CreateRetries {
		return // this pass's failure opens the circuit
	}
	// Rolling refresh: a sandbox within RefreshLead of its warm deadline
	// still serves, but no longer counts toward target, so its replacement
	// deploys before it expires (room permitting under max_ready).
	lead := RefreshLead(pp.pc)
	fresh := 0
	for _, sb := range pp.alive {
		if sb.WarmDeadline.IsZero() || p.now.Before(sb.WarmDeadline.Add(-lead)) {
			fresh++
		}
	}
	missing := pp.pc.TargetReady - (fresh + pp.creatingFill)
	// Only the slots that failed in a row wait out their backoff; the others
	// go on, so intermittent failures cost about their share of throughput.
	// A success resets the streak and the backoff (markready.lua). A streak
	// never holds the last missing slot: a pool below target whose circuit
	// is closed has a create in flight or starting at the next pass, and
	// only the circuit (create_retries failures in a row) stops it. Held
	// against the target instead of what is missing, a streak of two left a
	// pool one short of target idle for the whole backoff, which doubles
	// with each failure. A pool whose creates nearly all fail does not spend
	// the API budget on them for long: create_retries failures in a row
	// open its circuit.
	held := 0
	if pp.failedNow || p.now.Before(st.NextCreateAt) {
		held = min(pp.failures, max(missing-1, 0))
	}
	want := missing - held
	if room := pp.pc.MaxReady - (have + pp.creatingFill); room < want {
		want = room
	}
	if pp.pc.CreateRetries > 0 && st.ConsecutiveFailures >= pp.pc.CreateRetries {
		// Half-open: the circuit's window has passed but no create has
		// succeeded since; one probe at a time until one does.
		if probe := 1 - pp.creating; probe < want {
			want = probe
		}
	}
	if want > 0 {
		pp.want = want
	}
}

// planOrphans collects apps that no record claims once they are older than
// orphan_grace. An app with a sandbox id is adopted into deleting first, so
// its delete is retried like any other; one without is deleted directly.
func (p *planner) planOrphans() {
	if !p.obs.ListOK {
		return
	}
	apps := append([]pool.App(nil), p.obs.Apps...)
	sort.Slice(apps, func(i, j int) bool {
		if !apps[i].CreatedAt.Equal(apps[j].CreatedAt) {
			return apps[i].CreatedAt.Before(apps[j].CreatedAt)
		}
		return apps[i].ID < apps[j].ID
	})
	for _, a := range apps {
		if p.matched[a.ID] || a.Phase == pool.PhaseGone {
			continue
		}
		if _, ok := p.records[a.SandboxID]; ok && a.SandboxID != "" {
			// A second app for a known sandbox: not this record's app.
			p.emit(Action{Kind: KindDeleteOrphanApp, Pool: a.Pool, AppID: a.ID, Reason: pool.ReasonOrphan})
			continue
		}
		if !a.CreatedAt.IsZero() && p.now.Sub(a.CreatedAt) < p.cfg.OrphanGrace.D() {
			// Not collected yet, but it exists and costs: it counts toward
			// max_total_sandboxes, so an emptied Redis cannot double the fleet.
			// Only a full list sees it, so the next pass lists again.
			p.total++
			p.youngOrphans++
			if a.Phase == pool.PhaseInProgress {
				p.youngDeploying++
				p.creatingAll++
			}
			continue
		}
		if a.SandboxID == "" || a.Pool == "" {
			p.emit(Action{Kind: KindDeleteOrphanApp, Pool: a.Pool, AppID: a.ID, Reason: pool.ReasonOrphan})
			continue
		}
		sb := pool.Sandbox{
			ID: a.SandboxID, Pool: a.Pool, State: pool.StateDeleting, AppID: a.ID, URL: a.URL,
			CreatedAt: a.CreatedAt, DeletingSince: p.now, DeleteReason: pool.ReasonOrphan,
		}
		if sb.CreatedAt.IsZero() {
			sb.CreatedAt = p.now
		}
		p.emit(Action{Kind: KindAdopt, Pool: a.Pool, SandboxID: a.SandboxID, AppID: a.ID, Reason: pool.ReasonOrphan, Sandbox: sb})
		p.emit(Action{Kind: KindDestroy, Pool: a.Pool, SandboxID: a.SandboxID, AppID: a.ID, Reason: pool.ReasonOrphan})
		p.total++
	}
	// Before any create: acquire's cold claims and Reserve count them too.
	if p.youngOrphans != p.obs.State.Untracked || p.youngDeploying != p.obs.State.UntrackedCreating {
		p.emit(Action{Kind: KindNoteUntracked, Untracked: p.youngOrphans, UntrackedCreating: p.youngDeploying})
	}
}

// planUncalled sends the create calls of records that have none, as many
// as the caps allow once the apps no record claims are counted. Redis
// emptied, an acquire finds no sandbox and no untracked app and takes a
// cold claim; the apps still live, so sending every such call would hold
// more apps than max_total_sandboxes (or deploy more than
// max_concurrent_creates) until the orphans go. Those planned last wait;
// their records still count, so nothing else is created meanwhile, and they are
// sent as room frees, or fail at their deadline like any create.
func (p *planner) planUncalled() {
	hold := 0
	if c := p.cfg.TotalCap(); c >= 0 {
		hold = p.total - c
	}
	hold = max(hold, p.creatingAll-p.cfg.MaxConcurrentCreates, 0)
	send := max(len(p.uncalled)-hold, 0)
	p.out = append(p.out, p.uncalled[:send]...)
}

// planCreates spends the global headroom: cold claims waiting for a retry
// first (a caller is waiting), then the pools' deficits round-robin, so one
// pool cannot starve the others.
func (p *planner) planCreates() {
	room := func() bool {
		if p.creatingAll >= p.cfg.MaxConcurrentCreates {
			return false
		}
		return p.cfg.TotalCap() < 0 || p.total < p.cfg.TotalCap()
	}
	create := func(pp *poolPlan, attempt int, claimHash string) {
		if claimHash == "" {
			pp.creatingFill++
		}
		p.emit(Action{Kind: KindCreate, Pool: pp.name, Attempt: attempt, ClaimHash: claimHash, Failures: pp.failures,
			Deadline: p.now.Add(p.cfg.CreateTimeout.D()),
			Spec:     pool.CreateSpec{Pool: pp.name, Template: p.cfg.Template(pp.name, pp.pc)}})
		p.total++
		p.creatingAll++
		pp.creating++
	}
	claims := append([]pool.Claim(nil), p.obs.State.Claims...)
	sort.Slice(claims, func(i, j int) bool {
		if !claims[i].CreatedAt.Equal(claims[j].CreatedAt) {
			return claims[i].CreatedAt.Before(claims[j].CreatedAt)
		}
		return claims[i].Hash < claims[j].Hash
	})
	for _, c := range claims {
		pp := p.pools[c.Pool]
		if c.Failed || pp == nil {
			continue
		}
		if st, ok := p.records[c.SandboxID]; ok && st != pool.StateDeleting {
			continue // its sandbox is still on its way, or already serves it
		}
		if why := p.claimStuck(c, pp); why != "" {
			// Between attempts with none to come: fail it, so its caller's
			// poll ends instead of answering "creating" forever.
			p.emit(Action{Kind: KindFailClaim, Pool: c.Pool, ClaimHash: c.Hash, Reason: why})
			continue
		}
		if pp.shutdown || p.now.Before(c.NextTryAt) {
			continue
		}
		if !room() {
			continue
		}
		// A claim is not pool stock: max_ready does not apply (as in Reserve).
		create(pp, c.Attempts+1, c.Hash)
	}
	names := p.poolNames()
	for more := true; more; {
		more = false
		for _, name := range names {
			pp := p.pools[name]
			if pp.want <= 0 {
				continue
			}
			if !room() {
				return
			}
			create(pp, pp.state.ConsecutiveFailures+1, "")
			pp.want--
			more = more || pp.want > 0
		}
	}
}

// planCollect forgets the pools no config names (default_pool_config's, or
// ones removed from the config) that Redis knows but that hold nothing: no
// record in any state, no claim waiting for a retry, nothing created in this
// pass, not shut down, and either idle or wanting nothing (no target, or no
// config at all). Without it every distinct image name ever asked for would
// keep a record, its metrics and its share of every pass. The script checks
// emptiness again, atomically.
func (p *planner) planCollect() {
	waiting := map[string]bool{}
	for _, c := range p.obs.State.Claims {
		if !c.Failed {
			waiting[c.Pool] = true
		}
	}
	for _, name := range p.poolNames() {
		pp := p.pools[name]
		if !p.cfg.Dynamic(name) || len(pp.records) > 0 || pp.creating > 0 || pp.want > 0 || waiting[name] || pp.state.Shutdown {
			continue
		}
		if _, persisted := p.obs.State.Pools[name]; !persisted {
			continue
		}
		if pp.known && pp.pc.TargetReady > 0 && !pp.idle {
			continue
		}
		pp.collect = true
		p.emit(Action{Kind: KindCollectPool, Pool: name})
	}
}

// claimStuck says why a claim between attempts can make no further one:
// its pool left the config, create_retries fell to its attempts (a
// redeploy), or it is past ClaimDeadline; "" when it can.
func (p *planner) claimStuck(c pool.Claim, pp *poolPlan) string {
	switch {
	case !pp.known:
		return pool.ReasonPoolRetired
	case c.Attempts >= pp.pc.CreateRetries:
		return pool.ReasonRetriesSpent
	case !c.CreatedAt.IsZero() && p.now.Sub(c.CreatedAt) > pool.ClaimDeadline(p.cfg, pp.pc):
		return pool.ReasonClaimDeadline
	}
	return ""
}

// planUpdates writes each pool's bookkeeping. LastHealthCheckAt dates the
// pool's last full list, which ListReason reads to let the next passes go
// without one: a pool whose health was checked records it, and so does,
// after any full list, a known pool that checks nothing (checks off, shut,
// or no ready sandbox). Not while apps no record claims are inside their grace: they count
// toward max_total_sandboxes and only a full list sees them, so the next
// pass must list again.
func (p *planner) planUpdates() {
	scanned := p.obs.ListOK && p.youngOrphans == 0
	for _, name := range p.poolNames() {
		pp := p.pools[name]
		// A pool with no ready sandbox has nothing to check: the list is its
		// whole check. Without this, a pool whose creates all fail listed
		// at every pass (scan_no_records reads this date).
		checksNothing := pp.pc.HealthCheckInterval.D() <= 0 || pp.shutdown || !holdsReady(pp.records)
		if scanned && pp.known && (pp.healthDue || checksNothing) {
			t := p.now
			pp.update.LastHealthCheckAt = &t
			pp.changed = true
		}
		// A pool Redis holds records its max_ready for the scripts that
		// return a claim's sandbox to it (cancelclaim, markready).
		_, held := p.obs.State.Pools[name]
		if held && pp.known && pp.state.MaxReady != pp.pc.MaxReady {
			m := pp.pc.MaxReady
			pp.update.MaxReady = &m
			pp.changed = true
		}
		// max_dynamic_pools counts the pools default_pool_config serves: a
		// pool a config now lists leaves the count, and one it no longer
		// lists, while default_pool_config serves it, joins it (collectpool
		// takes it out once it holds nothing).
		if _, listed := p.cfg.Pools[name]; held && !pp.collect {
			if want := pp.known && !listed; want != pp.state.Dynamic {
				pp.update.Dynamic = &want
				pp.changed = true
			}
		}
		if pp.changed && !pp.collect {
			p.emit(Action{Kind: KindUpdatePool, Pool: name, Update: pp.update})
		}
	}
}

// holdsReady reports whether any of a pool's records is ready.
func holdsReady(records []pool.Sandbox) bool {
	for _, sb := range records {
		if sb.State == pool.StateReady {
			return true
		}
	}
	return false
}
