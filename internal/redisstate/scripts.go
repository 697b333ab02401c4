package redisstate

import (
	"embed"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// libMarker is the line of each script where its key locals and lib.lua are
// spliced in, after the script's own contract comment; stateMarker the line
// for lib_state.lua (every script but the warm acquire and the latency
// sample, which build only the closures they need).
const (
	libMarker   = "-- @lib\n"
	stateMarker = "-- @state\n"
)

// script is one transition's Lua, with the keys it takes. Its contract
// comment names them in a line "-- @keys a b c": KEYS[1] is a, KEYS[2] b,
// and so on, each bound to a local K_A, K_B, … before anything else runs. A
// name that ends in "..." takes the rest of the keys as a list. The names in
// sharedKeys are the deployment's own and filled in by the Store; the others
// are the caller's, given in order.
type script struct {
	*redis.Script
	name     string
	keys     []string // names, in KEYS order
	variadic bool     // the last name takes the rest of KEYS
}

var keysLine = regexp.MustCompile(`(?m)^-- @keys ([a-z_ .]+)$`)

// loadScript builds scripts/<name>.lua with its key locals and the shared
// prelude.
func loadScript(name string) *script {
	src, _ := scriptFS.ReadFile("scripts/" + name + ".lua")
	sc := &script{name: name}
	if m := keysLine.FindStringSubmatch(string(src)); m != nil {
		sc.keys = strings.Fields(m[1])
	}
	if n := len(sc.keys); n > 0 && strings.HasSuffix(sc.keys[n-1], "...") {
		sc.keys[n-1], sc.variadic = strings.TrimSuffix(sc.keys[n-1], "..."), true
	}
	sc.Script = redis.NewScript(splice(string(src), sc))
	return sc
}

// keyLocals declares a script's K_ locals, the first thing it runs.
func keyLocals(sc *script) string {
	if len(sc.keys) == 0 {
		return ""
	}
	names := make([]string, len(sc.keys))
	vals := make([]string, len(sc.keys))
	for i, k := range sc.keys {
		names[i] = "K_" + strings.ToUpper(k)
		vals[i] = "KEYS[" + strconv.Itoa(i+1) + "]"
	}
	if sc.variadic {
		vals[len(vals)-1] = "{ unpack(KEYS, " + strconv.Itoa(len(vals)) + ") }"
	}
	return "local " + strings.Join(names, ", ") + " = " + strings.Join(vals, ", ") + "\n"
}

// The shared prelude, read once.
var libSource, stateSource = func() (string, string) {
	lib, _ := scriptFS.ReadFile("scripts/lib.lua")
	state, _ := scriptFS.ReadFile("scripts/lib_state.lua")
	return string(lib), string(state)
}()

// splice puts the key locals and lib.lua at a script's libMarker, and
// lib_state.lua at its stateMarker. The names are fixed below and
// TestScriptsCarryContractAndLib checks every file has its markers and its
// keys line, so a missing one is caught by the tests, never by a caller.
func splice(src string, sc *script) string {
	out := strings.Replace(src, libMarker, keyLocals(sc)+libSource, 1)
	return strings.Replace(out, stateMarker, stateSource, 1)
}

// sharedKeys are the deployment-wide keys a script may name in its keys
// line; the Store fills them in.
var sharedKeys = map[string]func(Keys) string{
	"lock": Keys.Lock, "manager": Keys.Manager, "all": Keys.All, "creating_all": Keys.CreatingAll,
	"deleting_all": Keys.Deleting, "pools": Keys.Pools, "claims": Keys.Claims, "events": Keys.Events,
	"dynamic": Keys.DynamicPools, "dead_events": Keys.DeadEvents,
}

// The scripts, one per transition.
var (
	scriptAcquire         = loadScript("acquire")
	scriptPollClaim       = loadScript("pollclaim")
	scriptRenew           = loadScript("renew")
	scriptRelease         = loadScript("release")
	scriptReserve         = loadScript("reserve")
	scriptCreateCalled    = loadScript("createcalled")
	scriptMarkReady       = loadScript("markready")
	scriptMarkFailed      = loadScript("markfailed")
	scriptMarkDeleting    = loadScript("markdeleting")
	scriptDeleteAttempted = loadScript("deleteattempted")
	scriptForget          = loadScript("forget")
	scriptAdopt           = loadScript("adopt")
	scriptUpdatePool      = loadScript("updatepool")
	scriptCollectPool     = loadScript("collectpool")
	scriptUntracked       = loadScript("untracked")
	scriptFailClaim       = loadScript("failclaim")
	scriptCancelClaim     = loadScript("cancelclaim")
	scriptSetShutdown     = loadScript("setshutdown")
	scriptActivate        = loadScript("activate")
	scriptLock            = loadScript("lock")
	scriptUnlock          = loadScript("unlock")
	scriptMetrics         = loadScript("metrics")
	scriptObserve         = loadScript("observe")
	scriptRecordLatency   = loadScript("recordlatency")
)

var allScripts = []*script{
	scriptAcquire, scriptPollClaim, scriptRenew, scriptRelease, scriptReserve,
	scriptCreateCalled, scriptMarkReady, scriptMarkFailed, scriptMarkDeleting,
	scriptDeleteAttempted, scriptForget, scriptAdopt, scriptUpdatePool, scriptCollectPool, scriptUntracked, scriptFailClaim, scriptCancelClaim,
	scriptSetShutdown, scriptActivate, scriptLock, scriptUnlock, scriptMetrics, scriptObserve,
	scriptRecordLatency,
}

// scriptNames are the files behind the scripts above, for the tests.
var scriptNames = func() []string {
	out := make([]string, len(allScripts))
	for i, sc := range allScripts {
		out[i] = sc.name
	}
	return out
}()
