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
	// system): the server, the floor and the load generator, whichever
	// ran; the database and anything else on the machine are not in it.
	CPU time.Duration
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
	return r
}

// cpuPerOp is the process's CPU time per successful op.
func (r result) cpuPerOp() time.Duration {
	if r.N == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.N)
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
	return out
}

// pair measures a load on memberbind against its floor: rounds times, each
// side runs for d/rounds, taking turns (and alternating which goes first),
// so that a slow spell of the machine falls on both. Each turn starts with
// warmup of unmeasured load.
func pair(ctx context.Context, clients int, d, warmup time.Duration, rounds int, server, floor op) (srv, flr result) {
	rounds = max(rounds, 1)
	turn := d / time.Duration(rounds)
	for i := range rounds {
		sides := []struct {
			fn  op
			out *result
		}{{server, &srv}, {floor, &flr}}
		if i%2 == 1 {
			slices.Reverse(sides)
		}
		for _, s := range sides {
			if ctx.Err() != nil {
				return srv, flr
			}
			if warmup > 0 {
				runLoad(ctx, clients, warmup, s.fn)
			}
			*s.out = s.out.merge(runLoad(ctx, clients, turn, s.fn))
		}
	}
	return srv, flr
}

// failed describes the failures of a load, or "" when there were none.
func (r result) failed() string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed, first: %v", r.Errors, r.Err)
}
