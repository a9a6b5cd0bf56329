package mail_test

// End-to-end tests of the worker's pipeline: claiming ahead into a local
// queue, recording accepted mails in batches, and what a stop leaves
// behind. As in delivery_test.go, the store is the real mysql.Store on a
// fresh database and the SMTP server a real Mailpit.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// TestDeliveryClaimsAheadAndMarksInBatches: one worker delivers a few
// hundred mails with a handful of claims and marks, each mail exactly
// once, with every effect of its acceptance recorded as MarkOutboxSent
// records it (R7, R12).
func TestDeliveryClaimsAheadAndMarksInBatches(t *testing.T) {
	t.Parallel()
	const n = 200
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)
	f.bindMany(n, 4, "batch.example.com")

	counting := &countingOutbox{Outbox: f.st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Concurrency: 4})
	run := runWorker(t, w, 10*time.Second)
	f.waitDelivered(60 * time.Second)
	list := waitMailCount(t, mp, n, 10*time.Second)
	// The counts of a mark are taken after its commit, which the rows
	// show first: stop the worker, which waits for its last marks.
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	t.Logf("%d claims with rows for %d rows (%d claims in all), %d marks for %d rows",
		counting.claimsWithRows.Load(), counting.claimed.Load(), counting.claims.Load(), counting.marks.Load(), counting.sent.Load())
	if got := counting.claimsWithRows.Load(); got > n/20 {
		t.Errorf("%d claims brought rows for %d mails, want at most %d: the worker does not claim ahead", got, n, n/20)
	}
	// How many mails one mark gathers depends on how fast sends come
	// back (the recorder lingers only for small batches): the bound says
	// only that marks are batched, by a margin a slow machine or a
	// Galera commit keeps (51 marks were seen there, against 200 mails).
	if got := counting.marks.Load(); got > n/2 {
		t.Errorf("%d MarkOutboxSentBatch calls for %d mails, want at most %d: the worker does not record in batches", got, n, n/2)
	}
	if counting.sent.Load() != n || counting.lost.Load() != 0 {
		t.Errorf("the marks recorded %d rows and lost %d, want %d and none", counting.sent.Load(), counting.lost.Load(), n)
	}
	byRecipient, byMessageID := tally(list)
	if len(byRecipient) != n || len(byMessageID) != n {
		t.Errorf("%d recipients and %d Message-IDs received, want %d each", len(byRecipient), len(byMessageID), n)
	}
	ttl := f.st.Policy().ActivationTTL
	for _, r := range f.outbox() {
		if r.Status != string(member.DeliverySent) || r.Attempts != 1 || r.Token.Valid || r.LeasedBy.Valid || !r.SentAt.Valid {
			t.Errorf("row %d: %s, %d attempts, token kept %v, leased by %q; want SENT once, no token, no lease", r.ID, r.Status, r.Attempts, r.Token.Valid, r.LeasedBy.String)
			continue
		}
		sentAt := r.SentAt.Time.UTC()
		if l := f.link(r.LinkID); !l.SentAt.Time.Equal(sentAt) || !l.ExpiresAt.Time.Equal(sentAt.Add(ttl)) {
			t.Errorf("link %d: sent %v, expires %v; want its row's %v and %s later", l.ID, l.SentAt.Time, l.ExpiresAt.Time, sentAt, ttl)
		}
		if b := f.member(r.MemberID).Binding; b.UnsentLinks != 0 || b.LinkSentAt == nil || !b.LinkSentAt.Equal(sentAt) || !b.LinkExpiresAt.Equal(sentAt.Add(ttl)) {
			t.Errorf("member %d: unsent %d, link sent %v, expires %v; want 0, %v, %s later", r.MemberID, b.UnsentLinks, b.LinkSentAt, b.LinkExpiresAt, sentAt, ttl)
		}
	}
	if got := f.count("member_events", "kind = 'LINK_SENT' AND detail = 'accepted by the mail server'"); got != n {
		t.Errorf("%d LINK_SENT events, want %d", got, n)
	}
}

// TestDeliverySupersededInBatch: four mails are accepted together, one of
// them for a binding modified while it was in flight, while a fifth send
// (the modification's mail) is still in progress, so that the recorder
// waits for all four. The batch that records them marks the three others
// and skips that one, whose row stays CANCELLED and whose link is never
// counted as sent; the modification's own mail then goes out.
func TestDeliverySupersededInBatch(t *testing.T) {
	t.Parallel()
	const n = 4
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)
	ids := f.bindMany(n, 1, "inbatch.example.com")
	old := f.member(ids[1]).Binding.NewestLinkID

	// Each of the first n sends reaches Mailpit, then waits for the test;
	// the next one waits before it starts.
	release, releaseNext := make(chan struct{}), make(chan struct{})
	var sends atomic.Int32
	sender := newSender(t, mp.SMTPURL, n+1)
	transport := transportFunc(func(ctx context.Context, msg *gomail.Msg) error {
		if sends.Add(1) > n {
			<-releaseNext
			return sender.Send(ctx, msg)
		}
		err := sender.Send(ctx, msg)
		<-release
		return err
	})
	counting := &countingOutbox{Outbox: f.st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Sender: transport, Concurrency: n + 1})
	f.st.OnOutbox = w.Notify
	runWorker(t, w, 10*time.Second)

	mp.WaitMessages(t, n, 10*time.Second)
	if _, err := f.st.UpdateSecurityInfo(context.Background(), f.org.ID, testActor, ids[1], securityInfo("member-1-new@inbatch.example.com")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the modification's mail in progress", func() error {
		if got := sends.Load(); got != n+1 {
			return fmt.Errorf("%d sends started, waiting for %d", got, n+1)
		}
		return nil
	})
	close(release)
	testenv.Eventually(t, 10*time.Second, "the first batch recorded", func() error {
		if len(counting.markedBatches()) == 0 {
			return errors.New("no batch recorded yet")
		}
		return nil
	})
	close(releaseNext)
	f.waitDelivered(10 * time.Second)
	list := waitMailCount(t, mp, n+1, 10*time.Second)

	// The first batch holds the n mails accepted together, and loses only
	// the superseded one.
	batches := counting.markedBatches()
	rows := f.outbox()
	if len(batches) == 0 || len(batches[0].rows) != n || len(batches[0].lost) != 1 || !containsAll(batches[0].rows, rows[:n]) {
		t.Fatalf("MarkOutboxSentBatch calls %+v; want the first to hold the %d mails accepted together, one of them lost", batches, n)
	}
	for _, b := range batches[1:] {
		if len(b.lost) > 0 {
			t.Errorf("a later batch lost %v", b.lost)
		}
	}
	for _, r := range rows {
		switch {
		case r.LinkID == old:
			if r.Status != string(member.DeliveryCancelled) || r.Attempts != 0 || r.SentAt.Valid || r.Token.Valid {
				t.Errorf("superseded row %d: %s, %d attempts, sent %v, token kept %v; want CANCELLED, untried, never sent, no token", r.ID, r.Status, r.Attempts, r.SentAt, r.Token.Valid)
			}
			if batches[0].lost[0] != r.ID {
				t.Errorf("the batch lost row %d, want the superseded row %d", batches[0].lost[0], r.ID)
			}
			if l := f.link(old); l.SentAt.Valid || !l.KilledAt.Valid {
				t.Errorf("superseded link %d: sent %v, killed %v; want never sent, killed", l.ID, l.SentAt, l.KilledAt)
			}
		case r.Status != string(member.DeliverySent) || r.Attempts != 1:
			t.Errorf("row %d to %s: %s after %d attempts, want SENT once", r.ID, r.Recipient, r.Status, r.Attempts)
		}
	}
	for i, id := range ids {
		b := f.member(id).Binding
		if b.UnsentLinks != 0 || b.LinkSentAt == nil {
			t.Errorf("member %d: unsent %d, link sent %v; want its newest mail counted as sent", i, b.UnsentLinks, b.LinkSentAt)
		}
		// Member 1's is its modification's mail: the superseded one is
		// not counted.
		if got := f.count("member_events", "member_id = ? AND kind = 'LINK_SENT'", id); got != 1 {
			t.Errorf("member %d: %d LINK_SENT events, want 1", i, got)
		}
	}
	byRecipient, _ := tally(list)
	for _, to := range []string{"member-1@inbatch.example.com", "member-1-new@inbatch.example.com"} {
		if byRecipient[to] != 1 {
			t.Errorf("%s received %d mails, want 1", to, byRecipient[to])
		}
	}
	if !strings.Contains(f.logs.String(), "mail sent, but its outbox row is no longer this worker's") {
		t.Errorf("the worker did not log the superseded mail as lost")
	}
}

// TestDeliveryStopWithFullQueue: a worker that claimed far more rows than
// it has connections is stopped while its sends hang; it records what
// was accepted, gives back everything else (queued rows and cut sends),
// and a second worker delivers those, every mail exactly once.
func TestDeliveryStopWithFullQueue(t *testing.T) {
	t.Parallel()
	const n, pass, concurrency = 60, 5, 2
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)
	f.bindMany(n, 4, "queue.example.com")

	held := &heldTransport{next: newSender(t, mp.SMTPURL, concurrency), pass: pass, release: make(chan struct{})}
	first := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Sender: held, Owner: "first", Concurrency: concurrency, ShutdownGrace: 100 * time.Millisecond})
	run := runWorker(t, first, 10*time.Second)
	testenv.Eventually(t, 10*time.Second, "the first worker's sends hang", func() error {
		if got, h := f.count("outbox", "status = 'SENT'"), held.heldCount(); got != pass || h != concurrency {
			return fmt.Errorf("%d mails recorded sent and %d hanging, waiting for %d and %d", got, h, pass, concurrency)
		}
		return nil
	})
	// Everything not sent is the first worker's: it claimed ahead.
	if got := f.count("outbox", "leased_by = 'first' AND status = 'QUEUED'"); got != n-pass {
		t.Fatalf("the first worker holds %d rows, want all %d unsent", got, n-pass)
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := f.count("outbox", "leased_by IS NOT NULL OR lease_until IS NOT NULL"); got != 0 {
		t.Errorf("%d rows still leased after Run returned, want none", got)
	}
	if got := f.count("outbox", "status = 'QUEUED' AND attempts = 0"); got != n-pass {
		t.Errorf("%d rows given back QUEUED without an attempt, want %d", got, n-pass)
	}
	if !strings.Contains(f.logs.String(), "giving back claimed mails not started") {
		t.Errorf("the worker did not log giving back its queue")
	}

	second := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Owner: "second"})
	runWorker(t, second, 10*time.Second)
	f.waitDelivered(15 * time.Second)
	list := waitMailCount(t, mp, n, 10*time.Second)
	byRecipient, _ := tally(list)
	for i := range n {
		if got := byRecipient[fmt.Sprintf("member-%d@queue.example.com", i)]; got != 1 {
			t.Errorf("member-%d received %d mails, want 1", i, got)
		}
	}
	if got := f.count("outbox", "status = 'SENT' AND attempts = 1"); got != n {
		t.Errorf("%d rows SENT on their first attempt, want %d", got, n)
	}
}

// TestDeliveryStaleQueueGivenBack: rows that wait in the queue for more
// than a quarter of their lease (here behind a send that hangs) are not
// sent on that lease: they are given back, claimed again with a fresh
// one and sent, each once.
func TestDeliveryStaleQueueGivenBack(t *testing.T) {
	t.Parallel()
	const n, lease = 3, 2 * time.Second
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)
	f.bindMany(n, 1, "stale.example.com")

	var sends atomic.Int32
	sender := newSender(t, mp.SMTPURL, 1)
	transport := transportFunc(func(ctx context.Context, msg *gomail.Msg) error {
		if sends.Add(1) == 1 {
			time.Sleep(lease/4 + 200*time.Millisecond) // the first send hangs
		}
		return sender.Send(ctx, msg)
	})
	counting := &countingOutbox{Outbox: f.st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Sender: transport, Concurrency: 1, Lease: lease, PollInterval: time.Hour})
	runWorker(t, w, 10*time.Second)
	f.waitDelivered(10 * time.Second)
	list := waitMailCount(t, mp, n, 10*time.Second)

	if !strings.Contains(f.logs.String(), "gave back mails not started within a quarter of their lease") {
		t.Errorf("the worker did not give back its stale queue")
	}
	if got := counting.claimsWithRows.Load(); got < 2 {
		t.Errorf("%d claims brought rows, want the rows given back claimed again", got)
	}
	_, byMessageID := tally(list)
	if len(byMessageID) != n {
		t.Errorf("%d distinct mails received, want %d", len(byMessageID), n)
	}
	if got := f.count("outbox", "status = 'SENT' AND attempts = 1"); got != n {
		t.Errorf("%d rows SENT on their first attempt, want %d: giving back must not count an attempt", got, n)
	}
	for _, b := range counting.markedBatches() {
		if len(b.lost) > 0 {
			t.Errorf("a mark lost rows %v: a row was sent on a lease the worker had given back", b.lost)
		}
	}
}

// containsAll reports whether ids holds the id of every row.
func containsAll(ids []int64, rows []outboxRow) bool {
	for _, r := range rows {
		if !slices.Contains(ids, r.ID) {
			return false
		}
	}
	return true
}
