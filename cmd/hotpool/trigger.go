package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
)

func init() {
	register(command{name: "trigger", summary: "create or update reconcile's scheduled trigger on DigitalOcean (trigger ensure)", run: runTrigger})
}

// runTrigger is `hotpool trigger ensure`: DigitalOcean's deployer never
// creates the triggers of remotely built functions (every Go function by
// default), so this creates the scheduled trigger of hotpool/reconcile
// through the Functions API, idempotently.
func runTrigger(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("trigger", "ensure [--namespace ID] [--cron EXPR]", stderr)
	ns := fs.String("namespace", "", "functions namespace id or label (default: the account's only one)")
	cron := fs.String("cron", appplatform.DefaultTriggerCron, "cron expression, 5 fields, UTC")
	name := fs.String("name", appplatform.DefaultTriggerName, "trigger name")
	fn := fs.String("function", appplatform.DefaultTriggerFunction, "function the trigger invokes")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 || pos[0] != "ensure" {
		return usageError(stderr, fs, "the only subcommand is ensure")
	}
	token := os.Getenv("DIGITALOCEAN_TOKEN")
	if token == "" {
		return usageError(stderr, fs, "DIGITALOCEAN_TOKEN must hold an API token with function read/write scope")
	}
	svc, err := appplatform.NewFunctionsService(token, os.Getenv(appplatform.EnvAPIURL))
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := appplatform.EnsureTrigger(ctx, svc, appplatform.TriggerSpec{Namespace: *ns, Name: *name, Function: *fn, Cron: *cron})
	if err != nil {
		return fail(stderr, err)
	}
	cronNow := ""
	if res.Trigger.ScheduledDetails != nil {
		cronNow = res.Trigger.ScheduledDetails.Cron
	}
	fmt.Fprintf(stdout, "trigger %s %s: %s runs %q (enabled: %t) in namespace %s\n",
		res.Trigger.Name, res.Action, res.Trigger.Function, cronNow, res.Trigger.IsEnabled, res.Namespace)
	return exitOK
}
