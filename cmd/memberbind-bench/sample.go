package main

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// runtimePeaks samples this process's goroutines and memory while a load
// runs in it: where the in-process server's memory goes.
type runtimePeaks struct {
	Goroutines int
	Stacks     uint64 // bytes of goroutine stacks
	Objects    uint64 // bytes of live and not yet swept heap objects
}

// samplePeaks samples every 5 ms until stop is closed, then returns the
// peaks.
func samplePeaks(stop <-chan struct{}) <-chan runtimePeaks {
	out := make(chan runtimePeaks, 1)
	go func() {
		samples := []metrics.Sample{
			{Name: "/memory/classes/heap/stacks:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"},
		}
		var p runtimePeaks
		var once sync.Once
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			p.Goroutines = max(p.Goroutines, runtime.NumGoroutine())
			if samples[0].Value.Kind() == metrics.KindUint64 {
				p.Stacks = max(p.Stacks, samples[0].Value.Uint64())
			}
			if samples[1].Value.Kind() == metrics.KindUint64 {
				p.Objects = max(p.Objects, samples[1].Value.Uint64())
			}
			select {
			case <-stop:
				once.Do(func() { out <- p })
				return
			case <-tick.C:
			}
		}
	}()
	return out
}
