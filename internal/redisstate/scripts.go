package redisstate

import (
	"embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// libMarker is the line of each script where lib.lua is spliced in, after the
// script's own contract comment; stateMarker the line for lib_state.lua (every
// script but the warm acquire and the latency sample, which build only the
// closures they need).
const (
	libMarker   = "-- @lib\n"
	stateMarker = "-- @state\n"
)

// loadScript builds the source of scripts/<name>.lua with the shared prelude.
func loadScript(name string) *redis.Script {
	return redis.NewScript(scriptSource(name))
}

// scriptSource splices lib.lua into scripts/<name>.lua. The names are fixed
// below and TestScriptsCarryLib checks every file has the marker, so a missing
// file or marker is caught by the tests, never by a caller.
func scriptSource(name string) string {
	src, _ := scriptFS.ReadFile("scripts/" + name + ".lua")
	lib, _ := scriptFS.ReadFile("scripts/lib.lua")
	state, _ := scriptFS.ReadFile("scripts/lib_state.lua")
	out := strings.Replace(string(src), libMarker, string(lib), 1)
	return strings.Replace(out, stateMarker, string(state), 1)
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

// scriptNames are the files behind the scripts above, for the tests.
var scriptNames = []string{
	"acquire", "pollclaim", "renew", "release", "reserve", "createcalled",
	"markready", "markfailed", "markdeleting", "deleteattempted", "forget",
	"adopt", "updatepool", "collectpool", "untracked", "failclaim", "cancelclaim", "setshutdown", "activate", "lock", "unlock", "metrics",
	"observe", "recordlatency",
}

var allScripts = []*redis.Script{
	scriptAcquire, scriptPollClaim, scriptRenew, scriptRelease, scriptReserve,
	scriptCreateCalled, scriptMarkReady, scriptMarkFailed, scriptMarkDeleting,
	scriptDeleteAttempted, scriptForget, scriptAdopt, scriptUpdatePool, scriptCollectPool, scriptUntracked, scriptFailClaim, scriptCancelClaim,
	scriptSetShutdown, scriptActivate, scriptLock, scriptUnlock, scriptMetrics, scriptObserve,
	scriptRecordLatency,
}
