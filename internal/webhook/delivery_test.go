package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
	"memberbind/internal/webhook"
)

func deliverDue(t *testing.T, w *webhook.Worker) int {
	t.Helper()
	n, err := w.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSignedDelivery: an event reaches a real receiver signed as Standard
// Webhooks says (checked by a verifier written from the spec), with the
// payload DESIGN.md §10 promises, and is DELIVERED.
func TestSignedDelivery(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Now())
	f := newFixture(t, clock)
	f.organization()
	rc := newReceiver(t, clock.Now, nil)
	e, secret := f.endpoint(rc.URL + "/hooks")
	rc.secret = func() string { return secret }
	m := f.removal("Ann")

	if n := deliverDue(t, f.worker(webhook.Options{})); n != 1 {
		t.Fatalf("attempted %d deliveries, want 1", n)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	if got[0].Err != nil {
		t.Errorf("signature: %v", got[0].Err)
	}
	if !strings.HasPrefix(got[0].ID, "msg_") {
		t.Errorf("webhook-id %q", got[0].ID)
	}
	var body struct {
		Type      string
		Timestamp time.Time
		Data      struct{ Member struct{ ID string } }
	}
	if err := json.Unmarshal([]byte(got[0].Body), &body); err != nil || body.Type != "member.removed" || body.Data.Member.ID != member.PublicMemberID(m.ID) {
		t.Errorf("body %s: %v", got[0].Body, err)
	}
	d := f.deliveries(e)[0]
	if d.Status != member.WebhookDelivered || d.Attempts != 1 || d.ResponseCode != http.StatusNoContent || d.MessageID != got[0].ID {
		t.Errorf("delivery %+v", d)
	}
	// Another secret does not verify: the verifier can fail.
	if verify("whsec_"+strings.Repeat("A", 44), http.Header{"Webhook-Id": {"x"}, "Webhook-Timestamp": {"1"}, "Webhook-Signature": {"v1,AAAA"}}, nil, time.Unix(1, 0)) == nil {
		t.Error("the verifier accepted a wrong signature")
	}
}

// TestRetriesKeepTheirID: 503, 500, 429 and 408 are retried with one
// webhook-id, about 5 seconds after the first failure and longer after
// each next; a member's later event waits while its earlier one is
// retried, and then follows it.
func TestRetriesKeepTheirID(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := testenv.NewClock(start)
	f := newFixture(t, clock)
	f.organization()
	codes := []int{503, 500, 429, 408}
	rc := newReceiver(t, clock.Now, func(n int, r *http.Request) int {
		if n <= len(codes) {
			return codes[n-1]
		}
		return 200
	})
	e, secret := f.endpoint(rc.URL)
	rc.secret = func() string { return secret }
	ctx := context.Background()
	// Two events of one member: its removal, and a copy of that delivery
	// under a later id (a removed member cannot be removed again).
	m, err := f.st.CreateMember(ctx, f.org.ID, "test", member.TypeInvited, "Ann", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.RemoveMember(ctx, f.org.ID, "test", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DB().Exec(`
		INSERT INTO webhook_deliveries (org_id, endpoint_id, member_id, message_id, type, payload, status, created_at, next_attempt_at)
		SELECT org_id, endpoint_id, member_id, 'msg_second', type, payload, 'QUEUED', created_at, next_attempt_at FROM webhook_deliveries`); err != nil {
		t.Fatal(err)
	}
	w := f.worker(webhook.Options{})
	var waits []time.Duration
	for i := range codes {
		if n := deliverDue(t, w); n != 1 {
			t.Fatalf("round %d attempted %d, want 1 (the later event waits)", i, n)
		}
		if n := deliverDue(t, w); n != 0 {
			t.Fatalf("round %d: %d attempted before the retry is due", i, n)
		}
		d := f.deliveries(e)[1] // the older
		if d.Status != member.WebhookRetrying || d.ResponseCode != codes[i] || d.LastError == "" {
			t.Fatalf("after %d: %+v", codes[i], d)
		}
		waits = append(waits, d.NextAttemptAt.Sub(clock.Now()))
		clock.Set(d.NextAttemptAt)
	}
	if waits[0] != 5*time.Second {
		t.Errorf("first retry %s after the first failure, want 5s", waits[0])
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Errorf("retry waits %v do not grow", waits)
		}
	}
	deliverDue(t, w) // the first succeeds
	deliverDue(t, w) // then the second goes
	got := rc.requests()
	if len(got) != len(codes)+2 {
		t.Fatalf("%d requests, want %d", len(got), len(codes)+2)
	}
	for i, r := range got[:len(codes)+1] {
		if r.ID != got[0].ID || r.Err != nil {
			t.Errorf("attempt %d: id %s (first %s), signature %v", i+1, r.ID, got[0].ID, r.Err)
		}
	}
	if got[len(got)-1].ID != "msg_second" {
		t.Errorf("last request %s, want the later event after the earlier", got[len(got)-1].ID)
	}
}

// TestPermanentFailure: a 4xx other than 408 and 429 ends the delivery at
// once, keeping the status and the start of the body.
func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Now())
	f := newFixture(t, clock)
	f.organization()
	rc := newReceiver(t, clock.Now, func(int, *http.Request) int { return http.StatusGone })
	e, _ := f.endpoint(rc.URL)
	f.removal("Ann")
	w := f.worker(webhook.Options{})
	deliverDue(t, w)
	clock.Add(time.Hour)
	if n := deliverDue(t, w); n != 0 {
		t.Errorf("%d attempted after a 410", n)
	}
	d := f.deliveries(e)[0]
	if d.Status != member.WebhookFailed || d.Attempts != 1 || d.ResponseCode != http.StatusGone || !strings.Contains(d.LastError, "410") {
		t.Errorf("delivery %+v", d)
	}
}

// TestAutoDisable: an endpoint that fails every attempt for 24 hours is
// disabled and its waiting deliveries fail; an update enables it again.
func TestAutoDisable(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := testenv.NewClock(start)
	f := newFixture(t, clock)
	f.organization()
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, clock.Now, func(int, *http.Request) int {
		if down.Load() {
			return http.StatusBadGateway
		}
		return 200
	})
	e, _ := f.endpoint(rc.URL)
	ctx := context.Background()
	w := f.worker(webhook.Options{})
	f.removal("Ann")
	deliverDue(t, w)
	for range 20 {
		ds := f.deliveries(e)
		if ds[0].Status != member.WebhookRetrying {
			break
		}
		clock.Set(ds[0].NextAttemptAt)
		deliverDue(t, w)
	}
	if d := f.deliveries(e)[0]; d.Status != member.WebhookFailed || d.Attempts != 8 {
		t.Errorf("after 24 hours: %+v, want FAILED after 8 attempts (at 0, 5s, 5m, 30m, 2h, 5h, 10h later, and at 24h)", d)
	}
	list, err := f.st.WebhookEndpoints(ctx, f.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if list[0].Enabled() || !list[0].DisabledAt.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("after 24 hours of failures: %+v", list[0])
	}
	if n := testenv.Count(t, f.st.DB(), "webhook_deliveries", "status IN ('QUEUED', 'RETRYING')"); n != 0 {
		t.Errorf("%d deliveries still wait for a disabled endpoint", n)
	}
	before := testenv.Count(t, f.st.DB(), "webhook_deliveries", "1=1")
	f.removal("Cy")
	if after := testenv.Count(t, f.st.DB(), "webhook_deliveries", "1=1"); after != before {
		t.Errorf("a disabled endpoint got %d new deliveries", after-before)
	}
	down.Store(false)
	if e, err = f.st.UpdateWebhookEndpoint(ctx, f.org.ID, e.ID, nil, nil); err != nil || !e.Enabled() {
		t.Fatalf("update: %+v %v", e, err)
	}
	f.removal("Di")
	deliverDue(t, w)
	if d := f.deliveries(e)[0]; d.Status != member.WebhookDelivered {
		t.Errorf("after re-enabling: %+v", d)
	}
}

// TestSSRF: at connect time the guard refuses loopback, also through a
// name that resolves to 127.0.0.1 (as after a DNS rebinding), and a
// redirect is not followed.
func TestSSRF(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Now())
	rc := newReceiver(t, clock.Now, func(n int, r *http.Request) int {
		if r.URL.Path == "/redirect" {
			return http.StatusFound
		}
		return 200
	})
	port := strconv.Itoa(rc.Listener.Addr().(*net.TCPAddr).Port)
	var rebound atomic.Bool
	guard := &webhook.Guard{LookupNetIP: func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host == "hooks.example" && !rebound.Load() {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}}
	ctx := context.Background()
	secret := "whsec_" + strings.Repeat("A", 44)
	// Registration accepts the name while it resolves to a public address.
	if err := guard.CheckURL(ctx, "https://hooks.example/x"); err != nil {
		t.Fatal(err)
	}
	rebound.Store(true)
	w := webhook.NewWorker(webhook.Options{Guard: guard, Now: clock.Now})
	for _, url := range []string{
		"http://hooks.example:" + port + "/rebound",
		"http://localtest.example:" + port + "/name",
		"http://127.0.0.1:" + port + "/literal",
		"http://[::ffff:127.0.0.1]:" + port + "/mapped",
	} {
		a := w.Attempt(ctx, member.WebhookMessage{WebhookDelivery: member.WebhookDelivery{MessageID: "msg_x", Payload: "{}"}, URL: url, Secret: secret})
		if !strings.Contains(a.Error, "refused") || a.ResponseCode != 0 {
			t.Errorf("%s: %+v, want refused", url, a)
		}
	}
	if got := rc.requests(); len(got) != 0 {
		t.Errorf("the receiver got %d requests through the guard", len(got))
	}

	// A URL the request cannot be made of: the error, which is logged,
	// leaves out the URL and the credentials its query may hold.
	a := w.Attempt(ctx, member.WebhookMessage{WebhookDelivery: member.WebhookDelivery{MessageID: "msg_z", Payload: "{}"}, URL: "https://bad host/?key=s3cret", Secret: secret})
	if a.Error == "" || strings.Contains(a.Error, "s3cret") {
		t.Errorf("unusable URL: error %q, want one without the URL", a.Error)
	}

	open := webhook.NewWorker(webhook.Options{Guard: &webhook.Guard{AllowPrivate: true}, Now: clock.Now})
	a = open.Attempt(ctx, member.WebhookMessage{WebhookDelivery: member.WebhookDelivery{MessageID: "msg_y", Payload: "{}"}, URL: rc.URL + "/redirect", Secret: secret})
	if a.ResponseCode != http.StatusFound || a.Error == "" || webhook.Permanent(a.ResponseCode) {
		t.Errorf("redirect: %+v, want a failed attempt with 302, retried", a)
	}
	for _, r := range rc.requests() {
		if r.Path == "/elsewhere" {
			t.Error("the redirect was followed")
		}
	}
}

// TestBindingFailedSoon: a running worker sends binding.failed once the
// binding's link has expired (a two-minute link, on an injected clock),
// within one sweep interval, and only once.
func TestBindingFailedSoon(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := testenv.NewClock(start)
	f := newFixture(t, clock)
	policy := member.DefaultPolicy()
	policy.ActivationTTL = 2 * time.Minute
	f.st = testenv.StoreAt(t, f.dsn, mysql.Options{Now: clock.Now, Policy: policy})
	f.st.Webhooks = mysql.WebhookConfig{Cipher: testCipher(t), CheckURL: (&webhook.Guard{AllowPrivate: true}).CheckURL}
	f.organization()
	rc := newReceiver(t, clock.Now, nil)
	_, secret := f.endpoint(rc.URL, member.WebhookBindingFailed)
	rc.secret = func() string { return secret }
	clock.Add(time.Second)
	m := testenv.Bind(t, f.st, f.org.ID, "Ann", "ann@example.com")
	testenv.Deliver(t, f.st, clock.Now())
	clock.Add(2*time.Minute - time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sweeps := &countingSweeps{Store: f.st}
	w := f.worker(webhook.Options{Queue: sweeps, Poll: 10 * time.Millisecond, Sweep: time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// (SweepBindingFailures emits nothing a millisecond early: see
	// internal/mysql's TestWebhookEvents.)
	clock.Add(time.Millisecond)
	testenv.Eventually(t, 10*time.Second, "binding.failed delivered", func() error {
		if got := len(rc.requests()); got != 1 {
			return fmt.Errorf("%d requests", got)
		}
		return nil
	})
	// Once: sweeps after the event was queued queue nothing more. (The
	// worker sweeps by the injected clock, so the clock moves for each.)
	after := sweeps.n.Load()
	testenv.Eventually(t, 10*time.Second, "two more sweeps", func() error {
		if got := sweeps.n.Load(); got < after+2 {
			clock.Add(time.Millisecond)
			return fmt.Errorf("%d sweeps since the delivery", got-after)
		}
		return nil
	})
	cancel()
	<-done
	if n := testenv.Count(t, f.st.DB(), "webhook_deliveries", "type = ?", string(member.WebhookBindingFailed)); n != 1 {
		t.Errorf("%d binding.failed deliveries queued, want 1", n)
	}
	got := rc.requests()
	if len(got) != 1 || got[0].Err != nil || !strings.Contains(got[0].Body, `"type":"binding.failed"`) || !strings.Contains(got[0].Body, member.PublicMemberID(m.ID)) {
		t.Errorf("requests %+v", got)
	}
}

// countingSweeps counts the sweeps for failed bindings that end.
type countingSweeps struct {
	*mysql.Store
	n atomic.Int32
}

func (c *countingSweeps) SweepBindingFailures(ctx context.Context, limit int) (int, error) {
	n, err := c.Store.SweepBindingFailures(ctx, limit)
	c.n.Add(1)
	return n, err
}
