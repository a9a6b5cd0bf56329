package mysql_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestIdempotencyKeys: of concurrent claims of one key, on two instances
// sharing the database, exactly one holds it; the others see it in use,
// then its answer; another request under the key is refused; a key whose
// holder died is taken over once its lease is out; a released key is free
// again; and a key is forgotten after 24 hours.
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	dsn := testenv.MySQL(t)
	one := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	two := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	req := func(key, what string) member.IdempotentRequest {
		fp := mysql.Hash(what)
		return member.IdempotentRequest{OrgID: 1, APIKeyID: 7, Key: key, Fingerprint: fp}
	}

	r := req("k", "bind alice")
	var (
		wg                    sync.WaitGroup
		mu                    sync.Mutex
		holders, inUse, other int
	)
	for i := range 10 {
		st := []*mysql.Store{one, two}[i%2]
		wg.Go(func() {
			kept, err := st.ClaimIdempotent(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && kept == nil:
				holders++
			case errors.Is(err, member.ErrIdempotencyInProgress):
				inUse++
			default:
				other++
				t.Errorf("claim: %v, %v", kept, err)
			}
		})
	}
	wg.Wait()
	if holders != 1 || inUse != 9 {
		t.Fatalf("%d claims held the key, %d saw it in use; want 1 and 9", holders, inUse)
	}
	if _, err := two.ClaimIdempotent(ctx, req("k", "bind bob")); !errors.Is(err, member.ErrIdempotencyKeyReused) {
		t.Errorf("another request under the key: %v", err)
	}
	answer := member.IdempotentResponse{Status: 200, ContentType: "application/json", Body: []byte(`{"data":{}}`)}
	if err := one.FinishIdempotent(ctx, r, answer); err != nil {
		t.Fatal(err)
	}
	kept, err := two.ClaimIdempotent(ctx, r)
	if err != nil || kept == nil || kept.Status != 200 || string(kept.Body) != string(answer.Body) || kept.ContentType != answer.ContentType {
		t.Errorf("claim after the answer: %+v, %v; want %+v", kept, err, answer)
	}
	if n := testenv.Count(t, one.DB(), "idempotency_keys", "1=1"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}

	// A holder that died: its key is in use until its lease is out, then
	// exactly one retry takes it over.
	dead := req("dead", "remove carol")
	if kept, err := one.ClaimIdempotent(ctx, dead); kept != nil || err != nil {
		t.Fatal(kept, err)
	}
	clock.Add(member.IdempotencyLease - time.Microsecond)
	if _, err := two.ClaimIdempotent(ctx, dead); !errors.Is(err, member.ErrIdempotencyInProgress) {
		t.Errorf("within the lease: %v", err)
	}
	clock.Add(time.Microsecond)
	if kept, err := two.ClaimIdempotent(ctx, dead); kept != nil || err != nil {
		t.Errorf("past the lease: %v, %v; want the key", kept, err)
	}
	if _, err := one.ClaimIdempotent(ctx, dead); !errors.Is(err, member.ErrIdempotencyInProgress) {
		t.Errorf("after the takeover: %v", err)
	}

	// Released: free for the next request, whatever it is.
	if err := two.ReleaseIdempotent(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if kept, err := one.ClaimIdempotent(ctx, req("dead", "something else")); kept != nil || err != nil {
		t.Errorf("a released key: %v, %v", kept, err)
	}

	// 24 hours after its first use, a key starts afresh.
	clock.Add(member.IdempotencyTTL)
	if kept, err := two.ClaimIdempotent(ctx, req("k", "bind bob")); kept != nil || err != nil {
		t.Errorf("an expired key: %v, %v; want it held afresh", kept, err)
	}
	// Keys are per API key.
	r.APIKeyID = 8
	if kept, err := one.ClaimIdempotent(ctx, r); kept != nil || err != nil {
		t.Errorf("the key under another API key: %v, %v", kept, err)
	}
}
