package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
	if c.DepthMembers != 20000 || c.Duration != 2*time.Second {
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

func TestAlternateRotatesAndKeepsTurns(t *testing.T) {
	var order []string
	fake := func(name string, rates ...float64) side {
		turn := 0
		return func(ctx context.Context, warmup, d time.Duration) (result, error) {
			order = append(order, name)
			r := result{N: 1, Turns: []float64{rates[turn]}}
			turn++
			return r, nil
		}
	}
	res, err := alternate(context.Background(), time.Second, 0, 3,
		fake("a", 60, 70, 80), fake("b", 100, 100, 100), fake("c", 50, 50, 50))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "b", "c", "a", "c", "a", "b"}; !slices.Equal(order, want) {
		t.Errorf("turns ran in the order %v, want %v", order, want)
	}
	if res[0].N != 3 || len(res[0].Turns) != 3 {
		t.Errorf("side a merged N %d, turns %v; want 3 and 3", res[0].N, res[0].Turns)
	}
	if got, want := spread(turnRatios(res[0], res[1])), "0.60–0.80 over 3 rounds"; got != want {
		t.Errorf("spread of a over b = %q, want %q", got, want)
	}
	if got := spread(turnRatios(res[0], result{})); got != "" {
		t.Errorf("spread against a side of no turns = %q, want none", got)
	}
}

func TestPoolsReserveAndPutBack(t *testing.T) {
	p := newIDPool(1, 10)
	first, k := p.reserve(4)
	if first != 1 || k != 4 {
		t.Fatalf("reserve(4) = %d, %d; want 1, 4", first, k)
	}
	p.putBack(first+1, first+int64(k)) // one used
	if id, _ := p.take(); id != 2 {
		t.Errorf("after putting back 3 of 4, take() = %d, want 2", id)
	}
	if first, k = p.reserve(100); first != 3 || k != 8 {
		t.Errorf("reserve(100) = %d, %d; want 3, 8", first, k)
	}
	if _, k = p.reserve(1); k != 0 {
		t.Errorf("reserve of an empty pool gave %d", k)
	}

	tp := &tokenPool{tokens: []string{"a", "b", "c"}}
	i, k := tp.reserve(2)
	tp.putBack(i, i+k) // none used
	if tok, _ := tp.take(); tok != "a" {
		t.Errorf("after putting back all of a reservation, take() = %q, want a", tok)
	}
	i, _ = tp.reserve(1)
	if _, err := tp.take(); err != nil {
		t.Fatal(err)
	}
	tp.putBack(i, i+1) // something was taken since: too late
	if _, err := tp.take(); err == nil {
		t.Error("putBack after a take gave the taken token back")
	}
}

// TestGenerateLoadProtocol speaks the load generator's protocol to it in
// this process (the bench runs it as a child process): every body is
// sent once, and a load that runs out of them stops, Short.
func TestGenerateLoadProtocol(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"data":{"userErrors":[]}}`)
	}))
	defer srv.Close()

	spec := loadSpec{URL: srv.URL, Header: map[string]string{"Authorization": "Bearer k"}, Need: `"userErrors":[]`,
		Clients: 3, Warmup: time.Hour, Duration: time.Hour}
	for i := range 20 {
		spec.Bodies = append(spec.Bodies, fmt.Sprintf("body %d", i))
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- generateLoad(context.Background(), inR, outW)
		outW.Close()
	}()
	enc, dec := json.NewEncoder(inW), json.NewDecoder(outR)
	if err := enc.Encode(spec); err != nil {
		t.Fatal(err)
	}
	// An hour of warm-up that runs out of bodies ends at once.
	var ready loadReady
	if err := dec.Decode(&ready); err != nil || !ready.Ready {
		t.Fatalf("ready: %+v, %v", ready, err)
	}
	if err := enc.Encode(loadGo{Go: true}); err != nil {
		t.Fatal(err)
	}
	var rep loadReport
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ready.Warm != 20 || rep.N != 0 || !rep.Short || rep.Used != 20 || rep.Errors != 0 {
		t.Errorf("warm %d, then N %d, short %v, used %d, errors %d; want 20, 0, true, 20, 0", ready.Warm, rep.N, rep.Short, rep.Used, rep.Errors)
	}
	for _, b := range spec.Bodies {
		if seen[b] != 1 {
			t.Errorf("%q sent %d times, want once", b, seen[b])
		}
	}
}

func TestPostOnceChecksTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errors":[{"message":"no"}]}`)
	}))
	defer srv.Close()
	c := srv.Client()
	if err := postOnce(context.Background(), c, &loadSpec{URL: srv.URL, Refuse: `"errors":`}, "{}"); err == nil {
		t.Error("an answer with errors passed Refuse")
	}
	if err := postOnce(context.Background(), c, &loadSpec{URL: srv.URL, Need: `"userErrors":[]`}, "{}"); err == nil {
		t.Error("an answer without userErrors passed Need")
	}
	if err := postOnce(context.Background(), c, &loadSpec{URL: srv.URL}, "{}"); err != nil {
		t.Errorf("a 200 with nothing to check: %v", err)
	}
}

func TestSameJSON(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{`{"a":1,"b":[{"c":null}]}`, `{"b":[{"c":null}],"a":1}`, ""},
		{`{"a":1}`, `{"a":1,"b":2}`, "$.b: <nil> against 2"},
		{`{"a":[1,2]}`, `{"a":[1]}`, "$.a"},
		{`{"a":{"t":"2026-01-01T00:00:00Z"}}`, `{"a":{"t":"2026-01-01T00:00:00.5Z"}}`, "$.a.t: 2026-01-01T00:00:00Z against 2026-01-01T00:00:00.5Z"},
	}
	for _, tt := range tests {
		got, err := sameJSON([]byte(tt.a), []byte(tt.b))
		if err != nil || got != tt.want {
			t.Errorf("sameJSON(%s, %s) = %q, %v; want %q", tt.a, tt.b, got, err, tt.want)
		}
	}
}
