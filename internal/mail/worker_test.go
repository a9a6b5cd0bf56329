package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// memRow is one outbox row of memOutbox.
type memRow struct {
	msg        member.OutboxMessage
	status     member.DeliveryStatus
	owner      string
	leaseUntil time.Time
	next       time.Time
	lastError  string
	sentAt     time.Time
	sentMarks  int // times MarkOutboxSentBatch marked it
}

// memOutbox is an in-memory Outbox with the semantics the MySQL one must
// have: leases, owner checks on every mark, release.
type memOutbox struct {
	now func() time.Time

	mu       sync.Mutex
	rows     map[int64]*memRow
	nextID   int64
	claims   int
	releases int
}

var errLeaseLost = errors.New("outbox row is not held by this owner")

func newMemOutbox(now func() time.Time) *memOutbox {
	return &memOutbox{now: now, rows: map[int64]*memRow{}}
}

// add queues a row due now and returns its id.
func (o *memOutbox) add(mutate ...func(*member.OutboxMessage)) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	m := testOutboxMessage()
	m.ID = o.nextID
	m.LinkID = 1000 + o.nextID
	m.Token = fmt.Sprintf("secret-token-%d-AbCdEfGh", o.nextID)
	m.MessageID = fmt.Sprintf("outbox-%d.worker@memberbind", o.nextID)
	m.Recipient = fmt.Sprintf("member%d@example.com", o.nextID)
	m.CreatedAt = o.now()
	for _, f := range mutate {
		f(&m)
	}
	o.rows[m.ID] = &memRow{msg: m, status: member.DeliveryQueued, next: o.now()}
	return m.ID
}

func (o *memOutbox) row(id int64) memRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.rows[id]
}

func (o *memOutbox) count(status member.DeliveryStatus) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.rows {
		if r.status == status {
			n++
		}
	}
	return n
}

func (o *memOutbox) claimCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claims
}

func (o *memOutbox) ClaimOutbox(_ context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims++
	now := o.now()
	ids := make([]int64, 0, len(o.rows))
	for id := range o.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []member.OutboxMessage
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		r := o.rows[id]
		if r.status != member.DeliveryQueued && r.status != member.DeliveryRetrying {
			continue
		}
		free := r.owner == "" && !r.next.After(now)
		expired := r.owner != "" && !r.leaseUntil.After(now)
		if !free && !expired {
			continue
		}
		r.owner, r.leaseUntil = owner, now.Add(lease)
		out = append(out, r.msg)
	}
	return out, nil
}

func (o *memOutbox) held(id int64, owner string) (*memRow, error) {
	r := o.rows[id]
	if r == nil || r.owner != owner {
		return nil, fmt.Errorf("outbox row %d: %w", id, errLeaseLost)
	}
	return r, nil
}

func (o *memOutbox) MarkOutboxSentBatch(_ context.Context, owner string, sent map[int64]member.OutboxSent) ([]int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lost []int64
	for id, sentAt := range sent {
		r, err := o.held(id, owner)
		if err != nil {
			lost = append(lost, id)
			continue
		}
		r.status, r.owner, r.sentAt, r.msg.Token = member.DeliverySent, "", sentAt.At, ""
		r.msg.Attempts++
		r.sentMarks++
	}
	slices.Sort(lost)
	return lost, nil
}

func (o *memOutbox) MarkOutboxRetry(_ context.Context, _, id int64, owner, lastError string, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.held(id, owner)
	if err != nil {
		return err
	}
	r.status, r.owner, r.lastError, r.next = member.DeliveryRetrying, "", lastError, next
	r.msg.Attempts++
	return nil
}

func (o *memOutbox) MarkOutboxFailed(_ context.Context, _, id int64, owner, lastError string, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.held(id, owner)
	if err != nil {
		return err
	}
	r.status, r.owner, r.lastError = member.DeliveryFailed, "", lastError
	r.msg.Attempts++
	return nil
}

func (o *memOutbox) ReleaseOutbox(_ context.Context, owner string, ids ...int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.releases++
	for id, r := range o.rows {
		if r.owner == owner && (len(ids) == 0 || slices.Contains(ids, id)) {
			r.owner, r.next = "", o.now()
		}
	}
	return nil
}

// logBuffer collects a worker's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkNoSecrets fails the test if the log holds a token or a link.
func (b *logBuffer) checkNoSecrets(t *testing.T, o *memOutbox) {
	t.Helper()
	logs := b.String()
	if strings.Contains(logs, "activate?token") || strings.Contains(logs, "secret-token-") {
		t.Errorf("the log holds a token or an activation link:\n%s", logs)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for id := range o.rows {
		if tok := fmt.Sprintf("secret-token-%d-", id); strings.Contains(logs, tok) {
			t.Errorf("the log holds token %s", tok)
		}
	}
}

// startWorker runs w until the test ends and returns a function that
// stops it and returns Run's result.
func startWorker(t *testing.T, w *Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return within 30s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func newTestWorker(t *testing.T, o WorkerOptions) (*Worker, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.From == "" {
		o.From = "Memberbind <noreply@example.com>"
	}
	if o.PublicURL == "" {
		o.PublicURL = "https://bind.example.com"
	}
	w, err := NewWorker(o)
	if err != nil {
		t.Fatal(err)
	}
	return w, logs
}

func newMailpitSender(t *testing.T, mp *testenv.MailpitServer, size int) *Sender {
	t.Helper()
	s, err := NewSender(mailpitConfig(t, mp), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestWorkerTwoWorkersDeliverEachOnce(t *testing.T) {
	mp := testenv.Mailpit(t)
	outbox := newMemOutbox(time.Now)
	const n = 30
	for range n {
		outbox.add()
	}
	var stops []func() error
	var logs []*logBuffer
	for i := range 2 {
		w, l := newTestWorker(t, WorkerOptions{
			Outbox:       outbox,
			Sender:       newMailpitSender(t, mp, 2),
			Concurrency:  2,
			PollInterval: 20 * time.Millisecond,
			Owner:        fmt.Sprintf("worker-%d", i),
		})
		stops = append(stops, startWorker(t, w))
		logs = append(logs, l)
	}
	waitFor(t, 30*time.Second, "every row sent", func() bool { return outbox.count(member.DeliverySent) == n })
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}

	list := mp.WaitMessages(t, n, 10*time.Second)
	if len(list) != n {
		t.Errorf("Mailpit holds %d messages, want %d", len(list), n)
	}
	counts := countByMessageID(list)
	for id := int64(1); id <= n; id++ {
		r := outbox.row(id)
		if counts[r.msg.MessageID] != 1 {
			t.Errorf("row %d arrived %d times, want once", id, counts[r.msg.MessageID])
		}
		if r.sentMarks != 1 || r.msg.Token != "" || r.sentAt.IsZero() {
			t.Errorf("row %d: %d sent marks, token %q, sentAt %v", id, r.sentMarks, r.msg.Token, r.sentAt)
		}
	}
	for _, l := range logs {
		l.checkNoSecrets(t, outbox)
	}
}

func TestWorkerRetriesTemporaryFailure(t *testing.T) {
	mp := testenv.MailpitWith(t, testenv.MailpitOptions{Chaos: true})
	mp.SetChaos(t, testenv.MailpitChaos{Recipient: testenv.MailpitChaosTrigger{ErrorCode: 451, Probability: 100}})
	clock := newTestClock()
	outbox := newMemOutbox(clock.Now)
	id := outbox.add()
	w, logs := newTestWorker(t, WorkerOptions{
		Outbox:       outbox,
		Sender:       newMailpitSender(t, mp, 1),
		Now:          clock.Now,
		PollInterval: time.Hour, // only Notify wakes it
	})
	stop := startWorker(t, w)

	waitFor(t, 10*time.Second, "a retry to be recorded", func() bool { return outbox.row(id).status == member.DeliveryRetrying })
	r := outbox.row(id)
	if !strings.Contains(r.lastError, "RCPT TO: 451 Chaos recipient error") {
		t.Errorf("lastError = %q, want the server's 451 reply", r.lastError)
	}
	if d := r.next.Sub(clock.Now()); d < 4*time.Second || d > 6*time.Second {
		t.Errorf("next attempt in %s, want 5s±20%%", d)
	}
	if r.sentMarks != 0 || r.msg.Token == "" {
		t.Errorf("a failed row was marked sent (%d) or lost its token", r.sentMarks)
	}

	// The server recovers and the retry comes due.
	mp.SetChaos(t, testenv.MailpitChaos{})
	clock.Advance(time.Minute)
	w.Notify()
	waitFor(t, 10*time.Second, "the retry to be delivered", func() bool { return outbox.row(id).status == member.DeliverySent })
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	r = outbox.row(id)
	if r.msg.Attempts != 2 || r.sentMarks != 1 {
		t.Errorf("attempts = %d, sent marks = %d; want 2 and 1", r.msg.Attempts, r.sentMarks)
	}
	if !r.sentAt.Equal(clock.Now()) {
		t.Errorf("sentAt = %v, want the clock's %v", r.sentAt, clock.Now())
	}
	list := mp.WaitMessages(t, 1, 10*time.Second)
	if len(list) != 1 || list[0].MessageID != r.msg.MessageID {
		t.Errorf("Mailpit holds %+v, want the one message %s", list, r.msg.MessageID)
	}
	logs.checkNoSecrets(t, outbox)
}

func TestWorkerPermanentFailure(t *testing.T) {
	mp := testenv.MailpitWith(t, testenv.MailpitOptions{Chaos: true})
	mp.SetChaos(t, testenv.MailpitChaos{Recipient: testenv.MailpitChaosTrigger{ErrorCode: 550, Probability: 100}})
	outbox := newMemOutbox(time.Now)
	id := outbox.add()
	w, logs := newTestWorker(t, WorkerOptions{Outbox: outbox, Sender: newMailpitSender(t, mp, 1), PollInterval: 10 * time.Millisecond})
	stop := startWorker(t, w)

	waitFor(t, 10*time.Second, "the row to fail", func() bool { return outbox.row(id).status == member.DeliveryFailed })
	// Polling goes on; a failed row must stay failed and unsent.
	claims := outbox.claimCount()
	waitFor(t, 10*time.Second, "a few more polls", func() bool { return outbox.claimCount() >= claims+3 })
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	r := outbox.row(id)
	if r.status != member.DeliveryFailed || r.msg.Attempts != 1 || r.sentMarks != 0 {
		t.Errorf("row: status %s, attempts %d, sent marks %d; want FAILED, 1, 0", r.status, r.msg.Attempts, r.sentMarks)
	}
	if !strings.Contains(r.lastError, "RCPT TO: 550 Chaos recipient error") {
		t.Errorf("lastError = %q, want the server's 550 reply", r.lastError)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("Mailpit holds %d messages, want none", n)
	}
	logs.checkNoSecrets(t, outbox)
}

func TestWorkerNotifyWakesAtOnce(t *testing.T) {
	mp := testenv.Mailpit(t)
	outbox := newMemOutbox(time.Now)
	w, logs := newTestWorker(t, WorkerOptions{Outbox: outbox, Sender: newMailpitSender(t, mp, 1), PollInterval: time.Hour})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "the first claim", func() bool { return outbox.claimCount() >= 1 })

	id := outbox.add()
	for range 100 {
		w.Notify() // never blocks, coalesces
	}
	// Without the wake-up the row would wait for the hourly poll.
	waitFor(t, 10*time.Second, "the notified row to be sent", func() bool { return outbox.row(id).status == member.DeliverySent })
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := len(mp.WaitMessages(t, 1, 10*time.Second)); n != 1 {
		t.Errorf("Mailpit holds %d messages, want 1", n)
	}
	if c := outbox.claimCount(); c > 5 {
		t.Errorf("%d claims for 100 coalesced notifications", c)
	}
	logs.checkNoSecrets(t, outbox)
}

// gateTransport holds every send until the test lets it go (nil error)
// or the send's context ends.
type gateTransport struct {
	mu      sync.Mutex
	started []string // Message-IDs
	release map[string]chan struct{}
}

func (g *gateTransport) Send(ctx context.Context, msg *gomail.Msg) error {
	id := msg.GetMessageID()
	g.mu.Lock()
	g.started = append(g.started, id)
	ch := g.gate(id)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cut: %w", ctx.Err())
	}
}

func (g *gateTransport) gate(id string) chan struct{} {
	if g.release == nil {
		g.release = map[string]chan struct{}{}
	}
	if g.release[id] == nil {
		g.release[id] = make(chan struct{})
	}
	return g.release[id]
}

func (g *gateTransport) open(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate(id))
}

func (g *gateTransport) startedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.started)
}

func TestWorkerShutdownReleasesWhatItHolds(t *testing.T) {
	clock := newTestClock()
	outbox := newMemOutbox(clock.Now)
	ids := []int64{outbox.add(), outbox.add(), outbox.add()}
	gate := &gateTransport{}
	w, logs := newTestWorker(t, WorkerOptions{
		Outbox:        outbox,
		Sender:        gate,
		Now:           clock.Now,
		PollInterval:  time.Hour,
		ShutdownGrace: 300 * time.Millisecond,
	})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "three sends in progress", func() bool { return gate.startedCount() == 3 })

	// Stop while all three are in progress; one finishes within the grace
	// period, the other two are cut and must be given back.
	result := make(chan error, 1)
	go func() { result <- stop() }()
	gate.open("<" + outbox.row(ids[0]).msg.MessageID + ">")
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}

	if r := outbox.row(ids[0]); r.status != member.DeliverySent || r.sentMarks != 1 {
		t.Errorf("finished row: status %s, sent marks %d; want SENT once", r.status, r.sentMarks)
	}
	for _, id := range ids[1:] {
		r := outbox.row(id)
		if r.owner != "" || r.status != member.DeliveryQueued || r.next.After(clock.Now()) || r.msg.Attempts != 0 {
			t.Errorf("cut row %d: owner %q, status %s, next %v, attempts %d; want released, QUEUED, due now, no attempt counted",
				id, r.owner, r.status, r.next, r.msg.Attempts)
		}
	}
	outbox.mu.Lock()
	releases := outbox.releases
	outbox.mu.Unlock()
	if releases != 1 {
		t.Errorf("ReleaseOutbox called %d times, want once", releases)
	}
	// Another worker picks the released rows up at once.
	got, _ := outbox.ClaimOutbox(context.Background(), "other", 10, time.Minute)
	if len(got) != 2 {
		t.Errorf("another worker could claim %d rows, want the 2 released", len(got))
	}
	logs.checkNoSecrets(t, outbox)
}

// failTransport fails every send with the given error.
type failTransport struct{ err error }

func (f failTransport) Send(context.Context, *gomail.Msg) error { return f.err }

func TestWorkerRetryBudget(t *testing.T) {
	clock := newTestClock()
	outbox := newMemOutbox(clock.Now)
	// Created almost a day ago: the next retry would fall past the budget.
	old := outbox.add(func(m *member.OutboxMessage) { m.CreatedAt = clock.Now().Add(-24*time.Hour + 2*time.Second) })
	fresh := outbox.add()
	w, logs := newTestWorker(t, WorkerOptions{
		Outbox: outbox,
		Sender: failTransport{err: fmt.Errorf("connect: %w", &textproto.Error{Code: 451, Msg: "4.7.1 Try again later"})},
		Now:    clock.Now,
	})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "both rows decided", func() bool {
		return outbox.row(old).status == member.DeliveryFailed && outbox.row(fresh).status == member.DeliveryRetrying
	})
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if r := outbox.row(old); !strings.Contains(r.lastError, "24h0m0s") || !strings.Contains(r.lastError, "451 4.7.1 Try again later") {
		t.Errorf("lastError = %q, want the budget and the server's reply", r.lastError)
	}
	logs.checkNoSecrets(t, outbox)
}

func TestWorkerUnrenderableRowFails(t *testing.T) {
	outbox := newMemOutbox(time.Now)
	id := outbox.add(func(m *member.OutboxMessage) { m.Recipient = "not an address" })
	gate := &gateTransport{}
	w, logs := newTestWorker(t, WorkerOptions{Outbox: outbox, Sender: gate})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "the row to fail", func() bool { return outbox.row(id).status == member.DeliveryFailed })
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if r := outbox.row(id); !strings.Contains(r.lastError, "recipient") {
		t.Errorf("lastError = %q, want it to name the recipient", r.lastError)
	}
	if gate.startedCount() != 0 {
		t.Errorf("an unrenderable row was sent")
	}
	logs.checkNoSecrets(t, outbox)
}

func TestWorkerBackoff(t *testing.T) {
	w, _ := newTestWorker(t, WorkerOptions{Outbox: newMemOutbox(time.Now), Sender: failTransport{}})
	for earlier, want := range map[int]time.Duration{
		0: 5 * time.Second, 1: 10 * time.Second, 2: 20 * time.Second, 8: 1280 * time.Second,
		9: 30 * time.Minute, 50: 30 * time.Minute, 1000: 30 * time.Minute,
	} {
		for range 50 {
			got := w.backoff(earlier)
			if got < want*4/5 || got > min(want*6/5, 30*time.Minute) {
				t.Fatalf("backoff(%d) = %s, want %s ±20%% and at most 30m", earlier, got, want)
			}
		}
	}
}

func TestNewWorkerChecksOptions(t *testing.T) {
	ok := WorkerOptions{Outbox: newMemOutbox(time.Now), Sender: failTransport{}, From: "noreply@example.com", PublicURL: "https://x.example"}
	if _, err := NewWorker(ok); err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	for name, mutate := range map[string]func(*WorkerOptions){
		"no outbox":  func(o *WorkerOptions) { o.Outbox = nil },
		"no sender":  func(o *WorkerOptions) { o.Sender = nil },
		"bad from":   func(o *WorkerOptions) { o.From = "nobody" },
		"bad URL":    func(o *WorkerOptions) { o.PublicURL = "bind.example.com" },
		"URL query":  func(o *WorkerOptions) { o.PublicURL = "https://x.example/?a=1" },
		"empty from": func(o *WorkerOptions) { o.From = "" },
	} {
		o := ok
		mutate(&o)
		if _, err := NewWorker(o); err == nil {
			t.Errorf("%s: NewWorker succeeded", name)
		}
	}
}
