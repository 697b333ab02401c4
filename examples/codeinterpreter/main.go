// Command codeinterpreter is the seed's AI code-interpreter workflow on
// hotpool: for each piece of code, acquire a pre-warmed sandbox, write the
// code into it, run it, and always release the sandbox (single use).
//
//	go run ./examples/codeinterpreter -code 'print(6*7)'
//
// It reads HOTPOOL_URL (default http://127.0.0.1:8080) and HOTPOOL_API_TOKEN
// (default dev-token, the README's `hotpool serve --token`).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/hotpool/hotpool/client"
)

// CodeInterpreter runs untrusted code, each run in a fresh sandbox.
type CodeInterpreter struct {
	Client  *client.Client
	Image   string
	Timeout time.Duration // per run, inside the sandbox
}

// Result is one run's outcome, as the seed's example returns it.
type Result struct {
	Success bool   `json:"success"`
	Output  string `json:"output"`
	Error   string `json:"error,omitempty"`
}

// The code is written in the agent's default working directory, /workspace,
// and run by a relative name, so the same command works on a real sandbox and
// on a local one (whose /workspace is a directory of the host).
const (
	codeDir  = "/workspace"
	codeFile = "user_code.py"
)

// Execute acquires a sandbox, writes code to it, runs it and releases the
// sandbox whatever happens (WithSandbox).
func (ci *CodeInterpreter) Execute(ctx context.Context, code string) (Result, error) {
	var res Result
	err := ci.Client.WithSandbox(ctx, ci.Image, func(sb *client.Sandbox) error {
		cmd := "python3 " + codeFile
		if err := sb.WriteFile(ctx, codeDir+"/"+codeFile, []byte(code)); err != nil {
			var ae *client.AgentError
			if !errors.As(err, &ae) || ae.Status != 404 {
				return fmt.Errorf("write code: %w", err)
			}
			// An agent without the file API (an older service-mode image):
			// carry the code inside the command instead, base64 so no quoting
			// can break it.
			b64 := base64.StdEncoding.EncodeToString([]byte(code))
			cmd = fmt.Sprintf("echo %s | base64 -d > %s && python3 %s", b64, codeFile, codeFile)
		}
		out, err := sb.Exec(ctx, cmd, client.ExecOptions{Timeout: ci.Timeout})
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		res = Result{Success: out.ExitCode == 0, Output: out.Stdout}
		if out.ExitCode != 0 {
			res.Error = out.Stderr
		}
		return nil
	})
	return res, err
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("codeinterpreter", flag.ContinueOnError)
	url := fs.String("url", envOr("HOTPOOL_URL", "http://127.0.0.1:8080"), "hotpool endpoint")
	token := fs.String("token", envOr("HOTPOOL_API_TOKEN", "dev-token"), "API token")
	image := fs.String("image", "python", "pool to run the code in")
	code := fs.String("code", "print('Hello from sandbox!')", "Python code to run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := client.New(*url, *token)
	if err != nil {
		return err
	}
	ci := &CodeInterpreter{Client: c, Image: *image, Timeout: 30 * time.Second}
	res, err := ci.Execute(ctx, *code)
	if err != nil {
		switch {
		case errors.Is(err, client.ErrPoolExhausted):
			return fmt.Errorf("no sandbox available (pool empty and on_empty is fail): %w", err)
		case errors.Is(err, client.ErrPoolShutdown):
			return fmt.Errorf("the pool is shut down: %w", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "success: %v\noutput: %s", res.Success, res.Output)
	if res.Error != "" {
		fmt.Fprintf(stdout, "error: %s", res.Error)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h printed the flags: asked for, so not a failure.
	case err != nil:
		fmt.Fprintln(os.Stderr, "codeinterpreter:", err)
		os.Exit(1)
	}
}
