package sandboxagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"syscall"
	"time"
)

// now is the agent's clock (timestamps of events and processes).
var now = time.Now

// unixSeconds is a timestamp as the agent writes it: Python's time.time().
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

type execRequest struct {
	Command *string           `json:"command"`
	Env     map[string]string `json:"env"`
	Cwd     *string           `json:"cwd"`
	Timeout *float64          `json:"timeout"`
}

// parse fills the defaults; a body without a command is 422, and a cwd
// that does not exist the agent's plain-text 500.
func (req *execRequest) parse(a *Agent, w http.ResponseWriter, r *http.Request) (cwd string, timeout time.Duration, ok bool) {
	if !decodeBody(w, r, req) {
		return "", 0, false
	}
	if req.Command == nil {
		unprocessable(w, "body", "command", "Field required", "missing")
		return "", 0, false
	}
	cwd, secs := DefaultCwd, float64(DefaultTimeout)
	if req.Cwd != nil {
		cwd = *req.Cwd
	}
	if req.Timeout != nil {
		secs = *req.Timeout
	}
	if !a.cwdExists(cwd) {
		internalError(w)
		return "", 0, false
	}
	return cwd, time.Duration(secs * float64(time.Second)), true
}

// internalError is the real agent's answer when its subprocess call raises
// (a cwd that does not exist): Starlette's plain-text 500.
func internalError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "Internal Server Error")
}

// exitStatus is the status Python's returncode gives: the exit code, or minus
// the signal that killed the process.
func exitStatus(err error) (int, bool) {
	if err == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal()), true
	}
	return ee.ExitCode(), true
}

// exec runs a command to its end and answers its output at once; past its
// timeout it is killed and the answer is 408 with no output.
func (a *Agent) exec(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	cwd, timeout, ok := req.parse(a, w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	cmd := a.command(ctx, "/bin/sh", "-c", *req.Command, cwd, req.Env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		detail(w, http.StatusRequestTimeout, "Command timed out")
		return
	}
	code, ok := exitStatus(err)
	if !ok {
		code = 127
		stderr.WriteString(err.Error())
	}
	writeJSON(w, map[string]any{"stdout": stdout.String(), "stderr": stderr.String(), "exit_code": code})
}

// maxLine bounds one streamed line: a longer run without a newline is sent
// as several events rather than held in memory whole.
const maxLine = 1 << 20

type streamLine struct {
	stream string // "stdout" or "stderr"
	line   string
}

// readLines sends each line of rd (without its newline) as it is read, then
// closes nothing: done is signalled by the caller's count of finished readers.
func readLines(rd io.Reader, stream string, out chan<- streamLine, done chan<- struct{}) {
	br := bufio.NewReaderSize(rd, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) && len(line) < maxLine {
			var more []byte
			more, err = br.ReadSlice('\n')
			line = append(append([]byte(nil), line...), more...)
		}
		if len(line) > 0 {
			out <- streamLine{stream, string(bytes.TrimRight(line, "\n"))}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			done <- struct{}{}
			return
		}
	}
}

// sse writes one server-sent event (event may be "" for a data-only one) and
// flushes it, so the caller sees each line as it happens.
func sse(w http.ResponseWriter, event string, data any) {
	b, _ := json.Marshal(data)
	if event != "" {
		fmt.Fprintf(w, "event: %s\n", event)
	}
	fmt.Fprintf(w, "data: %s\n\n", b)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func startSSE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// execStream runs a command and streams each line of its stdout and stderr
// as an event as it is read, then its exit. The timeout is one of
// inactivity: when neither stream yields a line for that long, the command is
// killed and the stream ends with an error event. A caller who disconnects
// kills the command.
func (a *Agent) execStream(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	cwd, timeout, ok := req.parse(a, w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cmd := a.command(ctx, "/bin/sh", "-c", *req.Command, cwd, req.Env)
	stdout, err1 := cmd.StdoutPipe()
	stderr, err2 := cmd.StderrPipe()
	if err := errors.Join(err1, err2); err != nil {
		internalError(w)
		return
	}
	start := now()
	if err := cmd.Start(); err != nil {
		internalError(w)
		return
	}
	startSSE(w)
	lines := make(chan streamLine)
	done := make(chan struct{}, 2)
	go readLines(stdout, "stdout", lines, done)
	go readLines(stderr, "stderr", lines, done)
	idle := time.NewTimer(timeout)
	defer idle.Stop()
	for open := 2; open > 0; {
		select {
		case l := <-lines:
			sse(w, l.stream, map[string]any{"line": l.line, "timestamp": unixSeconds(now())})
			idle.Reset(timeout)
		case <-done:
			open--
		case <-idle.C:
			_ = killGroup(cmd.Process.Pid, syscall.SIGKILL)
			go drain(lines, done, open)
			_ = cmd.Wait()
			sse(w, "error", map[string]any{"message": "Command timed out", "code": "TIMEOUT"})
			return
		case <-r.Context().Done():
			cancel()
			go drain(lines, done, open)
			_ = cmd.Wait()
			return
		}
	}
	err := cmd.Wait()
	code, ok := exitStatus(err)
	if !ok {
		code = 127
	}
	sse(w, "exit", map[string]any{"code": code, "duration_ms": now().Sub(start).Milliseconds(), "timestamp": unixSeconds(now())})
}

// drain lets the readers of an abandoned stream finish.
func drain(lines <-chan streamLine, done <-chan struct{}, open int) {
	for open > 0 {
		select {
		case <-lines:
		case <-done:
			open--
		}
	}
}
