package graph

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// TestBatch: keys added before the first get load together, once, however
// many goroutines ask; a key added later loads in a batch of its own; a
// failed load fails every key it held.
func TestBatch(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var loads [][]int64
	fail := errors.New("database gone")
	b := newBatch(func(_ context.Context, keys []int64) (map[int64]int64, error) {
		slices.Sort(keys)
		mu.Lock()
		loads = append(loads, keys)
		mu.Unlock()
		if slices.Contains(keys, 99) {
			return nil, fail
		}
		out := map[int64]int64{}
		for _, k := range keys {
			out[k] = k * 10
		}
		return out, nil
	})
	ctx := context.Background()
	for k := int64(1); k <= 50; k++ {
		b.add(k)
	}
	var wg sync.WaitGroup
	for k := int64(1); k <= 50; k++ {
		wg.Go(func() {
			if v, err := b.get(ctx, k); err != nil || v != k*10 {
				t.Errorf("get(%d) = %d, %v", k, v, err)
			}
		})
	}
	wg.Wait()
	if len(loads) != 1 || len(loads[0]) != 50 {
		t.Fatalf("loads = %v, want one of the 50 keys", loads)
	}

	b.add(7) // loaded already: no second load of it
	if v, err := b.get(ctx, 51); err != nil || v != 510 {
		t.Errorf("get(51) = %d, %v", v, err)
	}
	if len(loads) != 2 || !slices.Equal(loads[1], []int64{51}) {
		t.Errorf("loads = %v, want a second one of 51 alone", loads)
	}

	b.add(98)
	if _, err := b.get(ctx, 99); !errors.Is(err, fail) {
		t.Errorf("get(99) err = %v", err)
	}
	if _, err := b.get(ctx, 98); !errors.Is(err, fail) {
		t.Errorf("get(98), loaded with 99, err = %v", err)
	}
	if len(loads) != 3 {
		t.Errorf("loads = %v, want three", loads)
	}
}
