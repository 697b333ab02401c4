package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hotpool/hotpool/internal/appsim"
)

func init() {
	register(command{name: "sim-api", summary: "serve the simulated DigitalOcean API alone (for HOTPOOL_DO_API_URL in tests)", run: runSimAPI})
}

// runSimAPI serves the simulated App Platform and Functions API on loopback
// until interrupted, so the functions, the Lambda binary or
// `trigger ensure` can be pointed at it with HOTPOOL_DO_API_URL.
func runSimAPI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim-api", "[--token T] [--create-delay D] [--namespace LABEL]", stderr)
	token := fs.String("token", "", "the only bearer token accepted (default: any)")
	ns := fs.String("namespace", "", "a functions namespace to create, by label")
	var delay time.Duration
	addDuration(fs, &delay, "create-delay", 3*time.Second, "how long a deployment takes")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	sim := appsim.New(appsim.Options{Token: *token, CreateDelay: delay})
	if *ns != "" {
		sim.AddNamespace(*ns, "nyc1")
	}
	base, err := sim.Start()
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "simulated DigitalOcean API on %s\n", base)
	<-ctx.Done()
	_ = sim.Close()
	return exitOK
}
