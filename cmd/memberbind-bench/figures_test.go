package main

import (
	"slices"
	"testing"
)

// Tests of the depth, mail and memory figures' bookkeeping; like the
// others, they time nothing.

func TestSplitRounds(t *testing.T) {
	tests := []struct {
		n, rounds int
		want      []int
	}{
		{10000, 4, []int{2500, 2500, 2500, 2500}},
		{301, 4, []int{76, 75, 75, 75}},
		{3, 4, []int{1, 1, 1}},
		{1, 4, []int{1}},
	}
	for _, tt := range tests {
		if got := splitRounds(tt.n, tt.rounds); !slices.Equal(got, tt.want) {
			t.Errorf("splitRounds(%d, %d) = %v, want %v", tt.n, tt.rounds, got, tt.want)
		}
	}
}

func TestUnboundPoolSkipsTheSeedsBoundMembers(t *testing.T) {
	p := newUnboundPool(100, 112, 5) // 100, 105 and 110 are bound
	var got []int64
	for {
		id, err := p.take()
		if err == errExhausted {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	want := []int64{101, 102, 103, 104, 106, 107, 108, 109, 111, 112}
	if !slices.Equal(got, want) {
		t.Errorf("took %v, want %v", got, want)
	}
	all := newUnboundPool(1, 3, 0)
	for _, want := range []int64{1, 2, 3} {
		if id, err := all.take(); id != want || err != nil {
			t.Errorf("take() = %d, %v, want %d", id, err, want)
		}
	}
}

func TestPlan(t *testing.T) {
	counters := plan{{Table: "member_counts", Type: "ref", Key: "PRIMARY", Rows: "96"}}
	if got, want := counters.String(), "member_counts: ref on PRIMARY, ~96 rows"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !slices.Equal(counters.tables(), []string{"member_counts"}) {
		t.Errorf("tables() = %v, want [member_counts]", counters.tables())
	}
	search := plan{
		{Table: "m", Type: "ALL", Rows: "984353", Extra: "Using where"},
		{Table: "b", Type: "eq_ref", Key: "PRIMARY", Rows: "1", Extra: "Using where"},
	}
	if got, want := search.String(), "m: ALL, ~984353 rows (Using where); b: eq_ref on PRIMARY, ~1 rows (Using where)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !slices.Equal(search.tables(), []string{"m", "b"}) {
		t.Errorf("tables() = %v, want [m b]", search.tables())
	}
}
