package graph_test

// Activation mail delivery seen through the GraphQL API: the real handler
// and store on MariaDB, the real mail.Worker, and a real Mailpit as the
// SMTP server.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// deliveryLog collects the worker's log, shown when the test fails.
type deliveryLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *deliveryLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// startDeliveryWorker runs a mail worker on the API's store, on its clock,
// sending to mp, until the test ends; the store wakes it on every change
// with mail.
func startDeliveryWorker(t *testing.T, a *api, mp *testenv.MailpitServer) {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(mp.SMTPURL)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	logs := &deliveryLog{}
	w, err := mail.NewWorker(mail.WorkerOptions{
		Outbox:        a.store,
		Sender:        sender,
		From:          "Memberbind <noreply@example.com>",
		PublicURL:     "https://bind.example.com",
		ActivationTTL: a.store.Policy().ActivationTTL,
		Concurrency:   4,
		Lease:         30 * time.Second,
		RetryBase:     20 * time.Millisecond,
		RetryMax:      200 * time.Millisecond,
		PollInterval:  25 * time.Millisecond,
		Now:           a.clock.Now,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.store.OnOutbox = w.Notify
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mail worker: %v", err)
		}
		_ = sender.Close()
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("mail worker log:\n%s", logs.buf.String())
			logs.mu.Unlock()
		}
	})
}

// deliveryOf is the securityInfo.delivery of a member as GraphQL shows it.
func deliveryOf(a *api, id string) map[string]any {
	a.t.Helper()
	m := a.member(id)
	info, ok := m["securityInfo"].(map[string]any)
	if !ok {
		a.t.Fatalf("member %s has no securityInfo: %v", id, m)
	}
	return info["delivery"].(map[string]any)
}

// waitDelivery waits until the member's delivery has the status, and
// returns the member as read after that.
//
// It reads the member once more because one response is not one
// snapshot: the member's fields and its delivery are read by separate
// queries, so the response that first shows the new delivery status may
// show the binding from just before the worker recorded it.
func waitDelivery(t *testing.T, a *api, id, status string) map[string]any {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "delivery "+status, func() error {
		if d := deliveryOf(a, id); d["status"] != status {
			return fmt.Errorf("member %s delivery %v, waiting for %s", id, d, status)
		}
		return nil
	})
	return a.member(id)
}

// eventsOf returns a member's events, newest first, as kind -> details.
func eventsOf(a *api, id string) map[string][]string {
	a.t.Helper()
	data := a.do(`query($id: ID!) { member(id: $id) { events(first: 50) { edges { node { kind actor email detail } } } } }`, map[string]any{"id": id})
	out := map[string][]string{}
	for _, e := range data["member"].(map[string]any)["events"].(map[string]any)["edges"].([]any) {
		n := e.(map[string]any)["node"].(map[string]any)
		detail, _ := n["detail"].(string)
		out[n["kind"].(string)] = append(out[n["kind"].(string)], detail)
	}
	return out
}

// quiescent waits until no mail is left to deliver.
func quiescent(t *testing.T, a *api) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, "every mail delivered", func() error {
		if n := a.count("outbox", "status IN ('QUEUED', 'RETRYING')"); n > 0 {
			return fmt.Errorf("%d mails not delivered yet", n)
		}
		return nil
	})
}

// mailsByRecipient counts Mailpit's messages by recipient.
func mailsByRecipient(list []testenv.MailpitSummary) map[string]int {
	by := map[string]int{}
	for _, m := range list {
		for _, to := range m.To {
			by[strings.ToLower(to.Address)]++
		}
	}
	return by
}

// TestDeliveryPermanentFailureVisibleAndRecoverable: the SMTP server
// refuses the recipient for good (550). The delivery shows FAILED with
// the server's reply, the member has a DELIVERY_FAILED event, and the
// binding stays PENDING without link days. Once the server accepts again,
// resending the link (one member) or modifying the security information
// (another) sends a new mail that arrives and shows SENT (R6, R7, §4).
func TestDeliveryPermanentFailureVisibleAndRecoverable(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	mp := testenv.MailpitWith(t, testenv.MailpitOptions{Chaos: true})
	mp.SetChaos(t, testenv.MailpitChaos{Recipient: testenv.MailpitChaosTrigger{ErrorCode: 550, Probability: 100}})
	startDeliveryWorker(t, a, mp)

	resent, modified := a.create("Resent"), a.create("Modified")
	wantCode(t, a.bind(resent, "resent@example.com"), "")
	wantCode(t, a.bind(modified, "modified@example.com"), "")

	for _, id := range []string{resent, modified} {
		m := waitDelivery(t, a, id, "FAILED")
		info := m["securityInfo"].(map[string]any)
		d := info["delivery"].(map[string]any)
		lastError, _ := d["lastError"].(string)
		if d["attempts"] != float64(1) || !strings.Contains(lastError, "550") || d["sentAt"] != nil {
			t.Errorf("member %s delivery = %v, want FAILED after 1 attempt with the server's 550 reply, never sent", id, d)
		}
		if m["bindStatus"] != "PENDING" || info["linkSentAt"] != nil || info["linkExpiresAt"] != nil {
			t.Errorf("member %s after a failed delivery: %s, linkSentAt %v, linkExpiresAt %v; want PENDING without link days",
				id, m["bindStatus"], info["linkSentAt"], info["linkExpiresAt"])
		}
		events := eventsOf(a, id)
		if failed := events["DELIVERY_FAILED"]; len(failed) != 1 || !strings.Contains(failed[0], "550") {
			t.Errorf("member %s DELIVERY_FAILED events = %q, want one with the server's 550 reply", id, failed)
		}
		if n := len(events["LINK_SENT"]); n != 0 {
			t.Errorf("member %s has %d LINK_SENT events for a mail never accepted", id, n)
		}
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("Mailpit holds %d messages while it refuses every recipient", n)
	}

	mp.SetChaos(t, testenv.MailpitChaos{})
	wantCode(t, a.resend(resent), "")
	wantCode(t, a.update(modified, "modified-again@example.com"), "")
	for _, id := range []string{resent, modified} {
		m := waitDelivery(t, a, id, "SENT")
		info := m["securityInfo"].(map[string]any)
		d := info["delivery"].(map[string]any)
		if d["attempts"] != float64(1) || d["lastError"] != nil || d["sentAt"] == nil {
			t.Errorf("member %s delivery after recovery = %v, want SENT on its first attempt without an error", id, d)
		}
		now := a.clock.Now()
		if want := now.Format(time.RFC3339); info["linkSentAt"] != want || d["sentAt"] != want {
			t.Errorf("member %s: linkSentAt %v, delivery.sentAt %v, want %s", id, info["linkSentAt"], d["sentAt"], want)
		}
		if want := now.Add(a.store.Policy().ActivationTTL).Format(time.RFC3339); info["linkExpiresAt"] != want {
			t.Errorf("member %s: linkExpiresAt %v, want %s", id, info["linkExpiresAt"], want)
		}
		if n := len(eventsOf(a, id)["LINK_SENT"]); n != 1 {
			t.Errorf("member %s has %d LINK_SENT events, want 1", id, n)
		}
	}
	quiescent(t, a)
	list := mp.WaitMessages(t, 2, 10*time.Second)
	by := mailsByRecipient(list)
	if len(list) != 2 || by["resent@example.com"] != 1 || by["modified-again@example.com"] != 1 {
		t.Errorf("Mailpit holds %v, want one mail each to resent@ and modified-again@", by)
	}
}

// TestDeliveryNothingSentForRefusedChanges: with a worker delivering, only
// accepted changes send mail. Refused binds and modifications, and the
// losers of a race for one email, queue nothing and nothing arrives for
// them (§4: no mail is sent for a change that rolled back).
func TestDeliveryNothingSentForRefusedChanges(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	mp := testenv.Mailpit(t)
	startDeliveryWorker(t, a, mp)
	want := map[string]int{} // mails expected, by recipient

	// accepted makes an accepted change and waits for its mail to go, so
	// that a later modification cannot cancel it before it is sent.
	accepted := func(p payload, email string) {
		t.Helper()
		wantCode(t, p, "")
		want[email]++
		quiescent(t, a)
	}
	refused := func(p payload, code string) {
		t.Helper()
		before := a.count("outbox", "1=1")
		wantCode(t, p, code)
		if after := a.count("outbox", "1=1"); after != before {
			t.Errorf("refused %s change queued %d mails", code, after-before)
		}
	}

	alice, bob, dave := a.create("Alice"), a.create("Bob"), a.create("Dave")
	carol := a.invite("Carol")
	accepted(a.bind(alice, "alice@example.com"), "alice@example.com")
	refused(a.bind(bob, "ALICE@example.com"), "EMAIL_ALREADY_USED")
	refused(a.bind(bob, "not-an-email"), "INVALID_EMAIL")
	refused(a.bind(carol, "carol@example.com"), "INVITED_MEMBER")
	refused(a.bind(alice, "alice2@example.com"), "ALREADY_BOUND")
	accepted(a.bind(dave, "dave0@example.com"), "dave0@example.com")
	for i := 1; i <= a.store.Policy().MaxModifications; i++ {
		email := fmt.Sprintf("dave%d@example.com", i)
		accepted(a.update(dave, email), email)
	}
	refused(a.update(dave, "dave-over@example.com"), "MODIFICATION_LIMIT_REACHED")
	refused(a.update(bob, "bob@example.com"), "NOT_PENDING")

	// Ten members race for one email: one wins, one mail.
	const racers = 10
	ids := make([]string, racers)
	for i := range ids {
		ids[i] = a.create(fmt.Sprintf("Racer %d", i))
	}
	before := a.count("outbox", "1=1")
	codes := make([]string, racers)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(racers)
	done.Add(racers)
	for i := range ids {
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			codes[i] = a.bind(ids[i], "race@example.com").code()
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	outcomes := map[string]int{}
	for _, c := range codes {
		outcomes[c]++
	}
	if outcomes[""] != 1 || outcomes["EMAIL_ALREADY_USED"] != racers-1 {
		t.Fatalf("race outcomes = %v, want 1 success and %d EMAIL_ALREADY_USED", outcomes, racers-1)
	}
	if got := a.count("outbox", "1=1") - before; got != 1 {
		t.Errorf("the race queued %d mails, want 1", got)
	}
	want["race@example.com"]++

	quiescent(t, a)
	total := 0
	for _, n := range want {
		total += n
	}
	list := mp.WaitMessages(t, total, 10*time.Second)
	got := mailsByRecipient(list)
	if len(list) != total {
		t.Errorf("Mailpit holds %d messages, want %d", len(list), total)
	}
	for email, n := range want {
		if got[email] != n {
			t.Errorf("%s received %d mails, want %d", email, got[email], n)
		}
	}
	for email, n := range got {
		if want[email] == 0 {
			t.Errorf("%s received %d mails for a refused change", email, n)
		}
	}
	if n := a.count("outbox", "status <> 'SENT'"); n != 0 {
		t.Errorf("%d outbox rows not SENT, want every queued mail sent", n)
	}
}
