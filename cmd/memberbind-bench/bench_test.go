package main

import (
	"context"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmark itself runs as a command (see README, "Benchmarks"): these
// tests cover only its arithmetic and bookkeeping, and time nothing.

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		lat  []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.lat, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.lat, tt.p, got, tt.want)
		}
	}
}

func TestRowMet(t *testing.T) {
	tests := []struct {
		name string
		r    row
		want string
	}{
		{"ratio at least, met", row{Ratio: 0.7, Goal: goal{Op: "≥", Bound: 0.7}}, "yes"},
		{"ratio at least, missed", row{Ratio: 0.69, Goal: goal{Op: "≥", Bound: 0.7}}, "**no**"},
		{"ratio at most, met", row{Ratio: 1.1, Goal: goal{Op: "≤", Bound: 1.3}}, "yes"},
		{"value with a unit", row{Ratio: math.NaN(), Goal: goal{Op: "≤", Bound: 40, Unit: "MB", Value: 41}}, "**no**"},
		{"no ratio", row{Ratio: math.NaN(), Goal: goal{Op: "≥", Bound: 0.6}}, "**no**"},
		{"no goal", row{Ratio: 2}, "—"},
		{"text goal", row{Goal: goal{Text: "the same for each", Met: true}}, "yes"},
	}
	for _, tt := range tests {
		if got := tt.r.met(); got != tt.want {
			t.Errorf("%s: met() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	block := beginMarker + "\nnew\n" + endMarker + "\n"
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "\n" + block},
		{"no markers", "# Benchmarks\n\nprose", "# Benchmarks\n\nprose\n\n" + block},
		{"replaces between markers, keeps the rest",
			"# B\n\nbefore\n" + beginMarker + "\nold\n" + endMarker + "\nafter\n",
			"# B\n\nbefore\n" + block + "after\n"},
	}
	for _, tt := range tests {
		if got := replaceSection(tt.doc, block); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestParseFlagsQuick(t *testing.T) {
	c, err := parseFlags([]string{"-quick", "-mails", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Out != "" {
		t.Errorf("-quick writes to %q, want nowhere", c.Out)
	}
	if c.Mails != 50 {
		t.Errorf("-mails given with -quick = %d, want 50", c.Mails)
	}
	if c.DepthMembers != 20000 || c.Duration != 1500*time.Millisecond {
		t.Errorf("-quick sizes: depth %d, duration %s", c.DepthMembers, c.Duration)
	}
	c, err = parseFlags([]string{"-quick", "-o", "B.md", "-only", "read,mail"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Out != "B.md" || !c.runs("mail") || c.runs("depth") {
		t.Errorf("-o with -quick = %q, runs depth %v, mail %v", c.Out, c.runs("depth"), c.runs("mail"))
	}
	if _, err := parseFlags([]string{"-only", "nonsense"}, io.Discard); err == nil {
		t.Error("-only nonsense: no error")
	}
}

func TestRunLoadFinishesWhatItStarted(t *testing.T) {
	pool := newIDPool(1, 100)
	var done atomic.Int64
	r := runLoad(context.Background(), 4, time.Hour, func(ctx context.Context, _ int) error {
		if _, err := pool.take(); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	if r.N != 100 || done.Load() != 100 || !r.Short || r.Errors != 0 {
		t.Errorf("runLoad over a pool of 100: N %d, done %d, short %v, errors %d", r.N, done.Load(), r.Short, r.Errors)
	}
}

func TestMarkdownHasEveryRow(t *testing.T) {
	r := &report{Command: "go run ./cmd/memberbind-bench -quick", Quick: true}
	r.add(row{Figure: "1 read", What: "w", Server: "s", Floor: "f", Ratio: 0.5, Goal: goal{Op: "≥", Bound: 0.7}})
	md := r.markdown()
	for _, want := range []string{"| 1 read | w | s | f | 0.50 | ≥ 0.7 | **no** |", "go run ./cmd/memberbind-bench -quick", "quick run"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
