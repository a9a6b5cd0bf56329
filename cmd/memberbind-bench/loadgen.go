package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// The HTTP load of the read, bind and activate figures runs in a process
// of its own: the bench binary again, started with loadgenEnv set. Its
// HTTP client then spends no CPU in the bench's process, whose own CPU
// time over a turn is the in-process server's alone, as a floor's is the
// floor's alone. The load generator reports its own CPU time, which the
// figures give in a note.
//
// The protocol, one JSON value a line: the bench writes a loadSpec on the
// child's stdin; the child runs the warm-up and writes a loadReady; the
// bench notes its CPU time and writes a loadGo; the child runs the
// measured load and writes a loadReport, and exits. The bench's CPU time
// between loadGo and the report is the server's: every request measured
// was sent after the one and answered before the other.

// loadgenEnv, set in its environment, makes the bench binary a load
// generator (generateLoad) instead of the bench.
const loadgenEnv = "MEMBERBIND_BENCH_LOADGEN"

// loadSpec is a load for the child to run: POSTs to URL from Clients
// goroutines, back to back.
type loadSpec struct {
	URL    string
	Header map[string]string
	// Body is the body of every request, when Bodies is empty.
	Body string
	// Bodies are the bodies of one request each, sent once each in
	// order (warm-up first): a load that runs out of them stops early
	// (Short), as a local op does on errExhausted.
	Bodies []string
	// An answer succeeds when its status is 200, it contains Need (when
	// set) and it does not contain Refuse (when set).
	Need, Refuse string

	Clients  int
	Warmup   time.Duration
	Duration time.Duration
}

// loadReady tells the bench that the warm-up is over.
type loadReady struct {
	Ready bool
	// Warm counts the requests of the warm-up that succeeded.
	Warm int
}

// loadGo tells the child to start the measured load; Go false stops it.
type loadGo struct{ Go bool }

// loadReport is what the child measured: a result as JSON.
type loadReport struct {
	N       int
	Errors  int
	Elapsed time.Duration
	Lat     []time.Duration
	Err     string // the first failure, if any
	Short   bool
	CPU     time.Duration // the child's own CPU time over the measured load
	Used    int           // Bodies sent, warm-up and measured
}

// generateLoad is the child: it reads a loadSpec from in and runs it,
// writing to out as the protocol says.
func generateLoad(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	var spec loadSpec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("read the load: %w", err)
	}
	if spec.Clients < 1 {
		return errors.New("the load has no clients")
	}
	tr := &http.Transport{
		MaxIdleConns:        2 * spec.Clients,
		MaxIdleConnsPerHost: 2 * spec.Clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	defer c.CloseIdleConnections()
	var next atomic.Int64 // the next of spec.Bodies
	fn := func(ctx context.Context, _ int) error {
		body := spec.Body
		if len(spec.Bodies) > 0 {
			i := next.Add(1) - 1
			if i >= int64(len(spec.Bodies)) {
				return errExhausted
			}
			body = spec.Bodies[i]
		}
		return postOnce(ctx, c, &spec, body)
	}
	var warm result
	if spec.Warmup > 0 {
		warm = runLoad(ctx, spec.Clients, spec.Warmup, fn)
	}
	if err := enc.Encode(loadReady{Ready: true, Warm: warm.N}); err != nil {
		return err
	}
	var g loadGo
	if err := dec.Decode(&g); err != nil || !g.Go {
		return fmt.Errorf("no go from the bench: %v", err)
	}
	r := runLoad(ctx, spec.Clients, spec.Duration, fn)
	rep := loadReport{N: r.N, Errors: r.Errors, Elapsed: r.Elapsed, Lat: r.Lat, Short: r.Short, CPU: r.CPU,
		Used: int(min(next.Load(), int64(len(spec.Bodies))))}
	if r.Err != nil {
		rep.Err = r.Err.Error()
	}
	return enc.Encode(rep)
}

// postOnce sends one request of spec and checks its answer.
func postOnce(ctx context.Context, c *http.Client, spec *loadSpec, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, spec.URL, strings.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range spec.Header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	switch {
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("POST %s: %s: %.300s", req.URL.Path, res.Status, b)
	case spec.Refuse != "" && bytes.Contains(b, []byte(spec.Refuse)):
		return fmt.Errorf("POST %s: answer has %s: %.300s", req.URL.Path, spec.Refuse, b)
	case spec.Need != "" && !bytes.Contains(b, []byte(spec.Need)):
		return fmt.Errorf("POST %s: answer lacks %s: %.300s", req.URL.Path, spec.Need, b)
	}
	return nil
}

// bodySource hands out the bodies of at most n requests, each to be sent
// once, and takes back those of them a turn did not use.
type bodySource func(n int) (bodies []string, unused func(used int))

// remote is a side whose load runs in a child process (see loadgenEnv):
// spec at -clients, with the bodies of each turn from src when it is not
// nil, at most perSecond a second for the turn and its warm-up. Its CPU is
// this process's over the measured load, the server's, and its ClientCPU
// the child's.
func remote(spec loadSpec, src bodySource, perSecond float64) side {
	return func(ctx context.Context, warmup, d time.Duration) (result, error) {
		spec := spec
		spec.Warmup, spec.Duration = warmup, d
		var unused func(int)
		if src != nil {
			n := int(perSecond*(warmup+d).Seconds()) + spec.Clients
			spec.Bodies, unused = src(n)
		}
		r, used, err := runChild(ctx, &spec)
		if unused != nil {
			unused(used)
		}
		return r, err
	}
}

// runChild runs spec in a child process and returns what it measured,
// with this process's CPU time meanwhile, and how many bodies it used.
// It drops spec.Bodies once the child has them.
func runChild(ctx context.Context, spec *loadSpec) (result, int, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, 0, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), loadgenEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return result{}, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, 0, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, 0, fmt.Errorf("start the load generator: %w", err)
	}
	fail := func(err error) (result, int, error) {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w: %s", err, s)
		}
		return result{}, 0, fmt.Errorf("load generator: %w", err)
	}
	enc := json.NewEncoder(stdin)
	dec := json.NewDecoder(stdout)
	if err := enc.Encode(spec); err != nil {
		return fail(err)
	}
	// The bodies were this process's garbage: collect it while the
	// child warms up, not during the measured load.
	spec.Bodies = nil
	runtime.GC()
	var ready loadReady
	if err := dec.Decode(&ready); err != nil || !ready.Ready {
		return fail(fmt.Errorf("no ready: %v", err))
	}
	cpu0 := processCPU()
	if err := enc.Encode(loadGo{Go: true}); err != nil {
		return fail(err)
	}
	var rep loadReport
	if err := dec.Decode(&rep); err != nil {
		return fail(fmt.Errorf("no report: %w", err))
	}
	cpu := processCPU() - cpu0
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return result{}, 0, fmt.Errorf("load generator: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	r := result{N: rep.N, Errors: rep.Errors, Elapsed: rep.Elapsed, Lat: rep.Lat, Short: rep.Short,
		CPU: cpu, ClientCPU: rep.CPU, Warm: ready.Warm}
	if rep.Err != "" {
		r.Err = errors.New(rep.Err)
	}
	r.Turns = []float64{r.rate()}
	return r, rep.Used, nil
}
