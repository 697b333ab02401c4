package sandboxagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Isolation says how a local sandbox's commands are confined.
//
// With Bwrap set, each command runs under bubblewrap: in a mount namespace
// whose /workspace, /home/sandbox and /tmp are the sandbox's own directories
// and whose every other directory is the host's, read-only; in a process
// namespace of its own. The network is the host's (a server a sandbox starts
// on a port is reachable on the host's loopback, which the proxy route needs),
// and so is the user: it is confinement of the file system and processes, not
// a security boundary against a hostile command.
//
// With Bwrap empty, commands run in the host's shell, in the sandbox's
// directory, and can read and write anywhere the server's user can.
type Isolation struct {
	Bwrap string // path of the bwrap binary; "" runs commands in the host's shell
	// Why says why commands are not isolated (Bwrap empty).
	Why string
}

// Isolated reports whether commands run confined.
func (i Isolation) Isolated() bool { return i.Bwrap != "" }

// String describes the isolation in one line, for serve's banner and config
// validate.
func (i Isolation) String() string {
	if i.Isolated() {
		return "local sandboxes are isolated with bubblewrap (" + i.Bwrap + "): own /workspace, /home/sandbox and /tmp, the rest of the host read-only, own process namespace; the network is the host's"
	}
	return "local sandboxes are NOT isolated: " + i.Why + "; commands run in the host's shell and can write anywhere this user can (install bubblewrap: apt-get install -y bubblewrap)"
}

const notInstalled = "bwrap (bubblewrap) is not installed"

var (
	detectOnce sync.Once
	detected   Isolation
)

// DetectIsolation finds bwrap on PATH and checks, once per process, that it
// can build a sandbox here (it needs user or mount namespaces, which some
// containers forbid).
func DetectIsolation() Isolation {
	detectOnce.Do(func() { detected = probe() })
	return detected
}

func probe() Isolation {
	bin, err := exec.LookPath("bwrap")
	if err != nil {
		return Isolation{Why: notInstalled}
	}
	dir, err := os.MkdirTemp("", "hotpool-probe-")
	if err != nil {
		return Isolation{Why: "no temporary directory: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	a := &Agent{Root: dir, Isolation: Isolation{Bwrap: bin}}
	if err := a.MakeRoots(); err != nil {
		return Isolation{Why: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.command(ctx, "/bin/sh", "-c", "echo ok > /tmp/probe", "/workspace", nil).CombinedOutput()
	if err != nil {
		return Isolation{Why: fmt.Sprintf("bwrap cannot build a sandbox here (%v: %s)", err, strings.TrimSpace(string(out)))}
	}
	if b, err := os.ReadFile(a.host("/tmp/probe")); err != nil || string(b) != "ok\n" {
		return Isolation{Why: "bwrap ran, but /tmp was not the sandbox's own"}
	}
	return Isolation{Bwrap: bin}
}

// hidden are the host's top-level directories a confined command does not
// see as the host's: the sandbox's own roots, and the kernel's file systems,
// which bwrap mounts fresh.
var hidden = map[string]bool{"proc": true, "dev": true, "tmp": true, "home": true, "workspace": true}

// hostLayout is the read-only part of a confined command's file system:
// the host's top-level directories (symbolic links as links), but the hidden
// ones. It is read once per process: every command of every sandbox shares
// it.
var hostLayout = sync.OnceValue(func() []string {
	entries, _ := os.ReadDir("/") // sorted by name
	var args []string
	for _, e := range entries {
		n := e.Name()
		if hidden[n] {
			continue
		}
		p := "/" + n
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(p); err == nil {
				args = append(args, "--symlink", target, p)
			}
			continue
		}
		args = append(args, "--ro-bind", p, p)
	}
	return args
})

// bwrapArgs lays out a confined command's file system: a tmpfs root holding
// the host's top-level directories read-only (hostLayout), fresh /proc and
// /dev, and the sandbox's three roots read-write.
func (a *Agent) bwrapArgs(cwd string) []string {
	args := append([]string{"--tmpfs", "/"}, hostLayout()...)
	args = append(args, "--proc", "/proc", "--dev", "/dev")
	for _, r := range Roots {
		args = append(args, "--bind", a.host(r), r)
	}
	return append(args, "--unshare-pid", "--die-with-parent", "--chdir", cwd, "--")
}

// command builds the process for `name flag script`, run in the sandbox at cwd (a sandbox
// path) with the sandbox's environment and env on top. It is its own process
// group leader, so a timeout (ctx) or the app's deletion can end everything
// it started.
func (a *Agent) command(ctx context.Context, name, flag, script, cwd string, env map[string]string) *exec.Cmd {
	var cmd *exec.Cmd
	if a.Isolation.Isolated() {
		cmd = exec.CommandContext(ctx, a.Isolation.Bwrap, append(a.bwrapArgs(cwd), name, flag, script)...)
	} else {
		cmd = exec.CommandContext(ctx, name, flag, script)
		cmd.Dir = a.host(cwd)
	}
	cmd.Env = a.environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// cwdExists reports whether a command's working directory exists in the
// sandbox: under the roots it is the sandbox's own; elsewhere, when confined,
// it is the host's (read-only).
func (a *Agent) cwdExists(cwd string) bool {
	p := a.host(cwd)
	if a.Isolation.Isolated() && !allowed(cwd) {
		p = filepath.Clean("/" + cwd)
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// environ is a command's environment: the host's PATH (and locale) so the
// host's tools run, the sandbox's HOME and TMPDIR, and SANDBOX_MODE; nothing
// else of the host's, so the server's own secrets (HOTPOOL_API_TOKEN,
// DIGITALOCEAN_TOKEN, HOTPOOL_SECRET, …) never reach a sandboxed command.
func (a *Agent) environ() []string {
	home, tmp := a.host("/home/sandbox"), a.host("/tmp")
	if a.Isolation.Isolated() {
		home, tmp = "/home/sandbox", "/tmp"
	}
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "SANDBOX_MODE=service"}
	for _, k := range []string{"PATH", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// killGroup sends sig to the process group that pid leads.
func killGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// signalCommand delivers sig to what a background command runs, not to the
// bwrap processes around it: bwrap dies of a SIGTERM without passing it on
// (its child then dies of SIGKILL), which would rob the command of its chance
// to stop cleanly. Unconfined, the group is the command's own. A command
// killed right after its start may not have been spawned inside the sandbox
// yet: it is waited for briefly, then the whole group gets the signal.
func (a *Agent) signalCommand(pgid int, sig syscall.Signal) error {
	if !a.Isolation.Isolated() {
		return syscall.Kill(-pgid, sig)
	}
	for try := 0; try < 20; try++ {
		if sent, err := signalInside(pgid, sig); sent || err != nil {
			return err
		}
		if syscall.Kill(-pgid, 0) != nil {
			return syscall.ESRCH // the group is gone
		}
		time.Sleep(50 * time.Millisecond)
	}
	return syscall.Kill(-pgid, sig)
}

// signalInside sends sig to every live process of group pgid but bwrap's
// own, and reports whether there was one.
func signalInside(pgid int, sig syscall.Signal) (bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, err
	}
	sent := false
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces, so read after
		// its closing parenthesis.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		comm := s[strings.IndexByte(s, '(')+1 : i]
		var state string
		var ppid, pgrp int
		if _, err := fmt.Sscanf(s[i+1:], " %s %d %d", &state, &ppid, &pgrp); err != nil || pgrp != pgid {
			continue
		}
		if comm == "bwrap" || state == "Z" {
			continue
		}
		if syscall.Kill(pid, sig) == nil {
			sent = true
		}
	}
	return sent, nil
}

// BwrapInstalled reports whether bwrap is on PATH (DetectIsolation may
// still find that it cannot run here).
func BwrapInstalled() bool {
	_, err := exec.LookPath("bwrap")
	return err == nil
}
