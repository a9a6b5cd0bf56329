package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// op is one unit of work of a load: one request, or one transaction. It is
// called from client goroutine `client` (0..clients-1).
type op func(ctx context.Context, client int) error

// errExhausted is returned by an op that has nothing left to work on (its
// pool of members or links is used up): the load stops early.
var errExhausted = errors.New("nothing left to work on")

// result is what a load measured.
type result struct {
	N       int             // ops that succeeded
	Errors  int             // ops that failed
	Elapsed time.Duration   // wall time the clients ran
	Lat     []time.Duration // latency of every successful op
	Err     error           // the first failure, if any
	Short   bool            // stopped early: errExhausted
	// CPU is the CPU time this process spent meanwhile (user and
	// system): the in-process server or the floor, whichever ran, and
	// the load generator when it ran in this process too (see local and
	// remote); the database and anything else on the machine are not in
	// it.
	CPU time.Duration
	// ClientCPU is the CPU time of the load generator when it ran in a
	// process of its own (remote), 0 otherwise.
	ClientCPU time.Duration
	// Warm counts the ops of the unmeasured warm-up that succeeded: they
	// did their work (an activation is done) without counting in N.
	Warm int
	// Turns holds the rate of each measured turn, in the order merged:
	// the ratio of two sides turn by turn is their spread (turnRatios).
	Turns []float64
}

// rate is successful ops per second.
func (r result) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// pct is the p-th percentile latency (nearest rank), or 0 with no samples.
func (r result) pct(p float64) time.Duration { return percentile(r.Lat, p) }

// merge adds another run of the same load.
func (r result) merge(o result) result {
	r.N += o.N
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Lat = append(r.Lat, o.Lat...)
	if r.Err == nil {
		r.Err = o.Err
	}
	r.Short = r.Short || o.Short
	r.CPU += o.CPU
	r.ClientCPU += o.ClientCPU
	r.Warm += o.Warm
	r.Turns = append(r.Turns, o.Turns...)
	return r
}

// cpuPerOp is the process's CPU time per successful op.
func (r result) cpuPerOp() time.Duration {
	if r.N == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.N)
}

// clientCPUPerOp is the load generator's CPU time per successful op, when
// it ran in a process of its own.
func (r result) clientCPUPerOp() time.Duration {
	if r.N == 0 {
		return 0
	}
	return r.ClientCPU / time.Duration(r.N)
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the p-th percentile (0 < p <= 100) of lat by nearest
// rank. It sorts lat.
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	rank := int(math.Ceil(p / 100 * float64(len(lat))))
	rank = min(max(rank, 1), len(lat))
	return lat[rank-1]
}

// maxErrors stops a load that fails this often: something is broken, and
// measuring it further only hides the first error under the rest.
const maxErrors = 50

// runLoad runs fn from `clients` goroutines, each calling it back to back,
// until d has passed (or an op reports errExhausted, or too many fail).
// An op started before the end runs to its end and counts: cutting it
// would leave the server finishing work nobody measures (the landing page
// even finishes an activation whose client went away).
func runLoad(ctx context.Context, clients int, d time.Duration, fn op) result {
	var (
		mu   sync.Mutex
		out  result
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var last time.Time // when the last client stopped
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r result
			lat := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && !stop.Load() && time.Now().Before(deadline) {
				t0 := time.Now()
				err := fn(ctx, c)
				dt := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break // the run was interrupted
					}
					if errors.Is(err, errExhausted) {
						// The other clients stop when they find it so too.
						r.Short = true
						break
					}
					r.Errors++
					if r.Err == nil {
						r.Err = err
					}
					if r.Errors >= maxErrors {
						stop.Store(true)
					}
					continue
				}
				r.N++
				lat = append(lat, dt)
			}
			r.Lat = lat
			mu.Lock()
			defer mu.Unlock()
			out = out.merge(r)
			if now := time.Now(); now.After(last) {
				last = now
			}
		}()
	}
	wg.Wait()
	out.Elapsed = last.Sub(start)
	out.CPU = processCPU() - cpu0
	out.Turns = []float64{out.rate()}
	return out
}

// side is one side of a throughput figure, memberbind or a floor. It
// runs one turn: warmup of unmeasured load, then d of measured load, and
// returns what the measured part did.
type side func(ctx context.Context, warmup, d time.Duration) (result, error)

// local is a side whose load runs in this process: `clients` goroutines
// calling fn. Its CPU is this process's, so fn must be the work itself
// (a floor's SQL), not a client of a server in this process: such a load
// is remote's.
func local(clients int, fn op) side {
	return func(ctx context.Context, warmup, d time.Duration) (result, error) {
		var warm result
		if warmup > 0 {
			warm = runLoad(ctx, clients, warmup, fn)
		}
		r := runLoad(ctx, clients, d, fn)
		r.Warm = warm.N
		return r, nil
	}
}

// alternate measures the sides of a figure against one another: rounds
// times, each side runs one turn of d/rounds after warmup, taking turns in
// an order that rotates from round to round, so that a slow spell of the
// machine falls on all of them. It returns each side's turns merged, in
// the order of sides; their Turns hold the rate of each round.
func alternate(ctx context.Context, d, warmup time.Duration, rounds int, sides ...side) ([]result, error) {
	rounds = max(rounds, 1)
	turn := d / time.Duration(rounds)
	out := make([]result, len(sides))
	for i := range rounds {
		for k := range sides {
			s := (i + k) % len(sides)
			if err := ctx.Err(); err != nil {
				return out, err
			}
			r, err := sides[s](ctx, warmup, turn)
			if err != nil {
				return out, err
			}
			out[s] = out[s].merge(r)
		}
	}
	return out, nil
}

// turnRatios is a's rate over b's, round by round, for two sides measured
// by alternate.
func turnRatios(a, b result) []float64 {
	var out []float64
	for i := range min(len(a.Turns), len(b.Turns)) {
		out = append(out, ratio(a.Turns[i], b.Turns[i]))
	}
	return out
}

// failed describes the failures of a load, or "" when there were none.
func (r result) failed() string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed, first: %v", r.Errors, r.Err)
}
