package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The memory and scale figures run the real binary, as memberbind is
// deployed: -bin, or cmd/memberbind built with -tags noembed.

// realBinary returns the binary of the memory and scale figures and a
// temporary directory for their logs (which holds the binary when it
// built one); done removes the directory.
func (b *bench) realBinary(ctx context.Context) (bin, dir string, done func(), err error) {
	dir, err = os.MkdirTemp("", "memberbind-bench-")
	if err != nil {
		return "", "", nil, err
	}
	done = func() { os.RemoveAll(dir) }
	bin = b.cfg.Bin
	if bin == "" {
		if bin, err = buildNoembed(ctx, dir); err != nil {
			done()
			return "", "", nil, err
		}
	}
	return bin, dir, done, nil
}

// binaryEnv is the environment of the real binary on dsn, mailing to
// Mailpit, with extra after it (a later value of a variable wins). The
// links are never opened: its public URL is a placeholder. The bench's
// own MEMBERBIND_ variables are left out.
func (b *bench) binaryEnv(dsn string, extra ...string) []string {
	env := []string{
		"MEMBERBIND_DATABASE_DSN=" + dsn,
		"MEMBERBIND_SMTP_URL=" + b.mailpit.SMTPURL,
		"MEMBERBIND_PUBLIC_URL=http://bench.invalid",
		// The bind loads send more than an organization's default
		// hourly mail budget.
		"MEMBERBIND_MAILS_PER_ORG_HOUR=1000000",
		// Stop at once: no load balancer waits on its /readyz.
		"MEMBERBIND_SHUTDOWN_DELAY=0s",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMBERBIND_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// createOrg runs `bin org create name`, which migrates the database too,
// and returns the organization's API key, the last line it prints.
func createOrg(ctx context.Context, bin string, env []string, name string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "org", "create", name)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s org create: %w", bin, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

var (
	// listeningOn finds the address `memberbind serve` prints.
	listeningOn = regexp.MustCompile(`listening on (http://\S+)`)
	// adminOn finds the address of its admin listener, which it prints
	// before.
	adminOn = regexp.MustCompile(`metrics and health:\s+(http://\S+)/metrics`)
)

// instance is a `memberbind serve` process started by startServe.
type instance struct {
	base   string // where its public listener answers
	admin  string // where its admin listener answers, "" when off
	cmd    *exec.Cmd
	exited chan struct{}
	log    string // the file of its stderr
}

// startServe starts `bin serve` with env, its stderr to the file
// logPath, and waits until it is ready. It listens on port 0 of the
// loopback, as its admin listener should (MEMBERBIND_ADMIN_LISTEN
// 127.0.0.1:0 or off): a port found free a moment earlier can be taken by
// then on a machine this busy. Stop it with stop.
func startServe(ctx context.Context, bin string, env []string, logPath string) (*instance, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the process has its own descriptor
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(slices.Clip(env), "MEMBERBIND_LISTEN=127.0.0.1:0")
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in := &instance{cmd: cmd, exited: make(chan struct{}), log: logPath}
	found := make(chan [2]string, 1)
	go func() {
		var admin string
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if m := adminOn.FindStringSubmatch(lines.Text()); m != nil {
				admin = m[1]
			}
			if m := listeningOn.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case found <- [2]string{m[1], admin}:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(in.exited)
	}()
	fail := func(err error) (*instance, error) {
		in.stop()
		return nil, fmt.Errorf("%w (log: %s)", err, tail(logPath))
	}
	select {
	case addrs := <-found:
		in.base, in.admin = addrs[0], addrs[1]
	case <-in.exited:
		return fail(errors.New("exited"))
	case <-time.After(30 * time.Second):
		return fail(errors.New("did not say where it listens"))
	}
	// serve prints where it listens only once migrated; /readyz says
	// the database answers. Without an admin listener, a page of the
	// public listener will do.
	ready := in.base + "/playground"
	if in.admin != "" {
		ready = in.admin + "/readyz"
	}
	if err := waitHTTP(ctx, ready, 30*time.Second, in.exited); err != nil {
		return fail(err)
	}
	return in, nil
}

func (in *instance) pid() int { return in.cmd.Process.Pid }

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and reports
// how it exited.
func (in *instance) stop() error {
	stopProcess(in.cmd, in.exited)
	if s := in.cmd.ProcessState; s != nil && !s.Success() {
		return fmt.Errorf("memberbind exited with %s (log: %s)", s, tail(in.log))
	}
	return nil
}
