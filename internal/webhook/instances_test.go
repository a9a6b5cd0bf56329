package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
	"memberbind/internal/webhook"
)

// waitDelivered waits until no delivery is QUEUED or RETRYING.
func waitDelivered(t *testing.T, st *mysql.Store, n int) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, "every webhook delivered", func() error {
		if got := testenv.Count(t, st.DB(), "webhook_deliveries", "status = 'DELIVERED'"); got < n {
			return fmt.Errorf("%d of %d delivered", got, n)
		}
		return nil
	})
}

// tallyIDs counts the requests per webhook-id.
func tallyIDs(got []received) map[string]int {
	out := map[string]int{}
	for _, r := range got {
		out[r.ID]++
	}
	return out
}

// TestTwoInstances: two workers, each with its own store, on one database
// deliver a backlog with no delivery sent twice.
func TestTwoInstances(t *testing.T) {
	testenv.RequireRowLocks(t) // two instances share a database only on a server that isolates their claims
	t.Parallel()
	const n = 150
	f := newFixture(t, nil)
	f.organization()
	rc := newReceiver(t, time.Now, nil)
	_, secret := f.endpoint(rc.URL)
	rc.secret = func() string { return secret }
	for i := range n {
		f.removal(fmt.Sprintf("member %d", i))
	}
	other := fixtureAt(t, f.dsn, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, st := range []*mysql.Store{f.st, other.st} {
		w := webhook.NewWorker(webhook.Options{Queue: st, Guard: &webhook.Guard{AllowPrivate: true}, Concurrency: 8, Poll: 20 * time.Millisecond, Owner: fmt.Sprintf("instance-%d", i)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	waitDelivered(t, f.st, n)
	cancel()
	wg.Wait()
	got := rc.requests()
	byID := tallyIDs(got)
	if len(byID) != n || len(got) != n {
		t.Errorf("%d requests for %d distinct ids, want %d of each: 0 duplicates", len(got), len(byID), n)
	}
	for _, r := range got {
		if r.Err != nil {
			t.Fatalf("signature: %v", r.Err)
		}
	}
	var owners []string
	if err := f.st.DB().Select(&owners, `SELECT DISTINCT leased_by FROM webhook_deliveries WHERE leased_by IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if len(owners) != 0 {
		t.Errorf("leases left behind by %v", owners)
	}
}

// The crash worker process's settings.
const (
	envCrashDSN   = "MEMBERBIND_WEBHOOK_CRASH_DSN"
	envCrashOwner = "MEMBERBIND_WEBHOOK_CRASH_OWNER"
)

// crashConcurrency is the crash worker's Concurrency: at most this many
// deliveries are in flight when it is killed.
const crashConcurrency = 4

// TestWebhookWorkerProcess is not a test: it is the worker process that
// TestCrashMidDelivery starts (this test binary, run again) and kills.
func TestWebhookWorkerProcess(t *testing.T) {
	dsn := os.Getenv(envCrashDSN)
	if dsn == "" {
		t.Skip("the worker process of TestCrashMidDelivery")
	}
	ctx := context.Background()
	db, err := mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st := mysql.New(db, mysql.Options{})
	st.Webhooks = mysql.WebhookConfig{Cipher: testCipher(t)}
	w := webhook.NewWorker(webhook.Options{
		Queue: st, Guard: &webhook.Guard{AllowPrivate: true}, Concurrency: crashConcurrency, Poll: 20 * time.Millisecond,
		Owner:  os.Getenv(envCrashOwner),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	t.Fatal(w.Run(ctx)) // until killed
}

// TestCrashMidDelivery: a worker process killed with SIGKILL while its
// deliveries are in flight leaves them leased; once the leases run out
// another worker delivers everything, and only the deliveries that were
// in flight at the kill reach the receiver twice.
func TestCrashMidDelivery(t *testing.T) {
	testenv.RequireRowLocks(t) // the worker process reaches the database over TCP
	t.Parallel()
	const n, before = 60, 20
	f := newFixture(t, nil)
	f.organization()
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	rc := newReceiver(t, time.Now, func(k int, _ *http.Request) int {
		if k > before {
			<-gate // in flight until the worker is dead
		}
		return 200
	})
	f.endpoint(rc.URL)
	for i := range n {
		f.removal(fmt.Sprintf("member %d", i))
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookWorkerProcess$")
	cmd.Env = append(os.Environ(), envCrashDSN+"="+f.dsn, envCrashOwner+"=doomed")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker process:\n%s", stderr.String())
		}
	})
	testenv.Eventually(t, 60*time.Second, "the worker process mid-delivery", func() error {
		if got := len(rc.requests()); got < before+crashConcurrency {
			return fmt.Errorf("%d requests, waiting for %d", got, before+crashConcurrency)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	release()
	inFlight := testenv.Count(t, f.st.DB(), "webhook_deliveries", "leased_by = 'doomed'")
	if inFlight > crashConcurrency {
		t.Errorf("%d deliveries leased by the dead worker, want at most %d", inFlight, crashConcurrency)
	}
	// Stand in for waiting out the dead worker's lease.
	if _, err := f.st.DB().Exec(`UPDATE webhook_deliveries SET lease_until = ? WHERE leased_by = 'doomed'`, time.Now().UTC().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := webhook.NewWorker(webhook.Options{Queue: f.st, Guard: &webhook.Guard{AllowPrivate: true}, Poll: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitDelivered(t, f.st, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	byID := tallyIDs(got)
	if len(byID) != n {
		t.Errorf("%d distinct deliveries received, want %d", len(byID), n)
	}
	dup := len(got) - len(byID)
	for id, k := range byID {
		if k > 2 {
			t.Errorf("%s received %d times", id, k)
		}
	}
	if dup > crashConcurrency || dup > inFlight {
		t.Errorf("%d deliveries repeated after the kill, want at most the %d in flight", dup, inFlight)
	}
	t.Logf("%d deliveries, %d in flight at the kill, %d repeated", n, inFlight, dup)
}

// TestPerEndpointConcurrency: a worker with room for 16 attempts sends at
// most PerEndpoint of them to one endpoint at a time.
func TestPerEndpointConcurrency(t *testing.T) {
	t.Parallel()
	const n, per = 8, 2
	f := newFixture(t, nil)
	f.organization()
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	rc := newReceiver(t, time.Now, func(int, *http.Request) int {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return 200
	})
	f.endpoint(rc.URL)
	for i := range n {
		f.removal(fmt.Sprintf("member %d", i))
	}
	w := webhook.NewWorker(webhook.Options{Queue: f.st, Guard: &webhook.Guard{AllowPrivate: true}, Concurrency: 16, PerEndpoint: per})
	done := make(chan error, 1)
	go func() {
		_, err := w.DeliverDue(context.Background())
		done <- err
	}()
	for left := n; left > 0; left-- {
		testenv.Eventually(t, 30*time.Second, "requests in flight", func() error {
			mu.Lock()
			defer mu.Unlock()
			if inFlight < min(per, left) {
				return fmt.Errorf("%d in flight", inFlight)
			}
			return nil
		})
		release <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if most != per {
		t.Errorf("at most %d requests in flight to the endpoint, want %d", most, per)
	}
	if got := testenv.Count(t, f.st.DB(), "webhook_deliveries", "status = 'DELIVERED'"); got != n {
		t.Errorf("%d delivered, want %d", got, n)
	}
}
