package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const agentStreamPath = "/api/exec/stream"

// ExecEvent is one event of a streamed command.
type ExecEvent struct {
	// Kind is "stdout" or "stderr" for a line, "exit" for the end.
	Kind string
	// Line is the line the command wrote, without its newline.
	Line string
	// Time is when the agent read the line (or saw the exit).
	Time time.Time
	// ExitCode and Duration are set on the exit event. A command killed by a
	// signal has minus the signal's number, as Python reports it.
	ExitCode int
	Duration time.Duration
}

// ExecStream is a command whose output arrives as it is written. Read it
// with Next until io.EOF (after the exit event), and Close it when done;
// closing early ends the request and the agent kills the command.
type ExecStream struct {
	st   *stream
	exit *ExecEvent
	err  error
}

// ExecStream runs cmd through the sandbox's shell and streams each line of
// its stdout and stderr as the agent reads it, then its exit status. The
// timeout (opts.Timeout, 120 s by default) is the agent's inactivity limit:
// when the command writes nothing for that long it is killed and Next
// returns ErrExecTimeout. Cancelling ctx ends the stream and the request. A
// stream that breaks before the exit is ErrStreamIncomplete. Like Exec, it is
// never retried.
func (s *Sandbox) ExecStream(ctx context.Context, cmd string, opts ExecOptions) (*ExecStream, error) {
	req, limit, err := execArgs(cmd, opts)
	if err != nil {
		return nil, err
	}
	st, err := s.openStream(ctx, http.MethodPost, agentStreamPath, req, limit)
	if err != nil {
		return nil, err
	}
	return &ExecStream{st: st}, nil
}

// errIdle is the cause a stream is cancelled with when nothing arrived for
// longer than the agent's own inactivity limit and a grace.
var errIdle = errors.New("no event within the command's timeout and a grace")

// stream is an open server-sent-event answer of the agent.
type stream struct {
	sse    *sseReader
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *time.Timer // nil: no watchdog
	limit  time.Duration
}

// openStream starts a streaming request. Its body is read until the caller
// cancels; a watchdog cancels it (with errIdle) when no event arrives for
// idleLimit (0: no watchdog), so a silent broken connection does not hang
// the caller.
func (s *Sandbox) openStream(ctx context.Context, method, path string, in any, idleLimit time.Duration) (*stream, error) {
	sctx, cancel := context.WithCancelCause(ctx)
	st := &stream{ctx: sctx, cancel: cancel, limit: idleLimit}
	if idleLimit > 0 {
		st.idle = time.AfterFunc(idleLimit, func() { cancel(errIdle) })
	}
	res, err := s.agentDo(sctx, method, path, in, "text/event-stream")
	if err != nil {
		st.stop()
		return nil, err
	}
	st.sse = newSSEReader(res.Body)
	return st, nil
}

// event reads the next event, restarting the watchdog; an early end is
// explained by streamErr.
func (st *stream) event() (string, []byte, error) {
	name, data, err := st.sse.next()
	if err != nil {
		return "", nil, streamErr(err, context.Cause(st.ctx))
	}
	if st.idle != nil {
		st.idle.Reset(st.limit)
	}
	return name, data, nil
}

func (st *stream) stop() {
	if st.idle != nil {
		st.idle.Stop()
	}
	st.cancel(nil)
}

func (st *stream) close() error {
	st.stop()
	if st.sse == nil {
		return nil
	}
	return st.sse.body.Close()
}

// Next returns the next event. After the exit event it returns io.EOF; a
// timeout is ErrExecTimeout; a cut stream is ErrStreamIncomplete.
func (st *ExecStream) Next() (ExecEvent, error) {
	if st.err != nil {
		return ExecEvent{}, st.err
	}
	ev, err := st.next()
	if err != nil {
		st.err = err
		st.Close()
	}
	return ev, err
}

func (st *ExecStream) next() (ExecEvent, error) {
	if st.exit != nil {
		return ExecEvent{}, io.EOF
	}
	name, data, err := st.st.event()
	if err == io.EOF {
		return ExecEvent{}, fmt.Errorf("%w: the connection closed before the command's exit", ErrStreamIncomplete)
	}
	if err != nil {
		return ExecEvent{}, err
	}
	var d struct {
		Line       string  `json:"line"`
		Timestamp  float64 `json:"timestamp"`
		Code       any     `json:"code"` // the exit status, or the error event's "TIMEOUT"
		DurationMS int64   `json:"duration_ms"`
		Message    string  `json:"message"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return ExecEvent{}, fmt.Errorf("%w: exec stream: undecodable %s event (%v)", ErrStreamIncomplete, name, err)
	}
	ev := ExecEvent{Kind: name, Line: d.Line, Time: fromUnixSeconds(d.Timestamp)}
	switch name {
	case "stdout", "stderr":
		return ev, nil
	case "exit":
		if code, ok := d.Code.(float64); ok {
			ev.ExitCode = int(code)
		}
		ev.Duration = time.Duration(d.DurationMS) * time.Millisecond
		st.exit = &ev
		return ev, nil
	case "error":
		if d.Code == "TIMEOUT" {
			return ExecEvent{}, fmt.Errorf("%w: %s (the lines before it were the whole output)", ErrExecTimeout, d.Message)
		}
		return ExecEvent{}, &AgentError{Status: http.StatusOK, Message: d.Message, FromAgent: true}
	}
	// An event of a newer agent: skip it.
	return st.next()
}

// Close ends the stream; the agent kills a command still running.
func (st *ExecStream) Close() error { return st.st.close() }

// Copy writes each stdout line to stdout and each stderr line to stderr,
// with its newline, as it arrives, and returns the exit code. The stream is
// closed when Copy returns.
func (st *ExecStream) Copy(stdout, stderr io.Writer) (int, error) {
	defer st.Close()
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return st.exit.ExitCode, nil
		}
		if err != nil {
			return 0, err
		}
		switch ev.Kind {
		case "stdout":
			_, err = io.WriteString(stdout, ev.Line+"\n")
		case "stderr":
			_, err = io.WriteString(stderr, ev.Line+"\n")
		}
		if err != nil {
			return 0, err
		}
	}
}

// streamErr explains why a stream ended: the caller's cancel, the watchdog,
// the agent's end of it (io.EOF), or a broken connection.
func streamErr(err, cause error) error {
	switch {
	case errors.Is(cause, errIdle):
		return fmt.Errorf("%w: %v", ErrStreamIncomplete, cause)
	case cause != nil:
		return cause
	case err == io.EOF:
		return io.EOF // the agent ended the stream
	}
	return fmt.Errorf("%w: %v", ErrStreamIncomplete, err)
}

func fromUnixSeconds(f float64) time.Time {
	if f == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9))
}

// sseReader reads server-sent events: "event:" names one (it may be
// absent), "data:" lines carry it, a blank line ends it.
type sseReader struct {
	body io.ReadCloser
	br   *bufio.Reader
}

func newSSEReader(body io.ReadCloser) *sseReader {
	return &sseReader{body: body, br: bufio.NewReaderSize(body, 64<<10)}
}

// next returns the next event's name and data.
func (r *sseReader) next() (string, []byte, error) {
	var name string
	var data []byte
	seen := false
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if seen {
				return name, data, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			name, seen = strings.TrimSpace(strings.TrimPrefix(line, "event:")), true
		case strings.HasPrefix(line, "data:"):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
			seen = true
		}
	}
}
