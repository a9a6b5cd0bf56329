package mysql_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"memberbind/internal/contact"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// sentRow is what a test reads back of an outbox row, its link and its
// binding.
type sentRow struct {
	Status        string         `db:"status"`
	Attempts      int            `db:"attempts"`
	Token         sql.NullString `db:"token"`
	LeasedBy      sql.NullString `db:"leased_by"`
	SentAt        sql.NullTime   `db:"sent_at"`
	LinkSentAt    sql.NullTime   `db:"link_sent_at"`
	LinkExpiresAt sql.NullTime   `db:"link_expires_at"`
	LinkKilledAt  sql.NullTime   `db:"link_killed_at"`
}

func (f *signInFixture) sentRow(id int64) sentRow {
	f.t.Helper()
	var r sentRow
	err := f.db.GetContext(f.ctx, &r, `
		SELECT o.status, o.attempts, o.token, o.leased_by, o.sent_at,
			l.sent_at AS link_sent_at, l.expires_at AS link_expires_at, l.killed_at AS link_killed_at
		FROM outbox o LEFT JOIN activation_links l ON l.id = o.link_id WHERE o.id = ?`, id)
	if err != nil {
		f.t.Fatalf("outbox row %d: %v", id, err)
	}
	return r
}

// claimAs claims every due row for owner and returns them by member id
// and kind.
func (f *signInFixture) claimAs(owner string, lease time.Duration) map[int64][]member.OutboxMessage {
	f.t.Helper()
	msgs, err := f.st.ClaimOutbox(f.ctx, owner, 1000, lease)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[int64][]member.OutboxMessage{}
	for _, m := range msgs {
		out[m.MemberID] = append(out[m.MemberID], m)
	}
	return out
}

func (f *signInFixture) binding(memberID int64) *member.Binding {
	f.t.Helper()
	m, err := f.st.Member(f.ctx, f.org.ID, memberID)
	if err != nil {
		f.t.Fatal(err)
	}
	return m.Binding
}

// TestMarkOutboxSentBatch: one batch holding a sign-in row, two links of
// one binding (a resend), a row superseded while in flight and a row
// another worker took over records each row as MarkOutboxSent would have
// alone: the held ones sent with their own acceptance times, the others
// skipped as lost and left as they are.
func TestMarkOutboxSentBatch(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	ttl := f.st.Policy().ActivationTTL
	alice := f.activate("Alice", "alice@example.com")

	// Dave's row is another worker's.
	dave := f.bind("Dave", "dave@example.com")
	daveRow := f.claimAs("other", time.Hour)[dave.ID][0]

	f.request("alice@example.com")
	bob := f.bind("Bob", "bob@example.com")
	f.clock.Add(time.Minute)
	if _, err := f.st.ResendActivationLink(f.ctx, f.org.ID, "test", bob.ID); err != nil {
		t.Fatal(err)
	}
	carol := f.bind("Carol", "carol@example.com")
	claimed := f.claimAs("w", time.Minute)
	if len(claimed[alice.ID]) != 1 || len(claimed[bob.ID]) != 2 || len(claimed[carol.ID]) != 1 || len(claimed[dave.ID]) != 0 {
		t.Fatalf("claimed %v", claimed)
	}
	signInRow, carolRow := claimed[alice.ID][0], claimed[carol.ID][0]
	bobRows := claimed[bob.ID]

	// Carol's binding is modified while her mail is in flight.
	if _, err := f.st.UpdateSecurityInfo(f.ctx, f.org.ID, "test", carol.ID, testenv.SecurityInfo(t, "carol2@example.com")); err != nil {
		t.Fatal(err)
	}
	aliceBinding := *f.binding(alice.ID)
	aliceEvents := f.count("member_events", "member_id = ?", alice.ID)

	base := f.clock.Now().Add(time.Second)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	org := f.org.ID
	sent := map[int64]member.OutboxSent{
		signInRow.ID: {OrgID: org, At: at(1)}, bobRows[0].ID: {OrgID: org, At: at(3)}, bobRows[1].ID: {OrgID: org, At: at(2)},
		carolRow.ID: {OrgID: org, At: at(4)}, daveRow.ID: {OrgID: org, At: at(5)},
	}
	lost, err := f.st.MarkOutboxSentBatch(f.ctx, "w", sent)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values([]int64{carolRow.ID, daveRow.ID})); !slices.Equal(lost, want) {
		t.Errorf("lost = %v, want %v (carol's superseded row, dave's taken over)", lost, want)
	}

	for _, id := range []int64{signInRow.ID, bobRows[0].ID, bobRows[1].ID} {
		r := f.sentRow(id)
		if r.Status != "SENT" || r.Attempts != 1 || r.Token.Valid || r.LeasedBy.Valid || !r.SentAt.Valid || !r.SentAt.Time.Equal(sent[id].At) {
			t.Errorf("row %d: %+v; want SENT at %v, one attempt, no token, no lease", id, r, sent[id].At)
		}
	}
	// The sign-in row is only marked.
	if got := *f.binding(alice.ID); !reflect.DeepEqual(got, aliceBinding) {
		t.Errorf("the sign-in row changed alice's binding:\n%+v\n%+v", aliceBinding, got)
	}
	if n := f.count("member_events", "member_id = ?", alice.ID); n != aliceEvents {
		t.Errorf("the sign-in row recorded %d events", n-aliceEvents)
	}
	// Bob's two links start their days at their own acceptance; his
	// binding counts both as sent and keeps the later.
	for _, m := range bobRows {
		r := f.sentRow(m.ID)
		if !r.LinkSentAt.Valid || !r.LinkSentAt.Time.Equal(sent[m.ID].At) || !r.LinkExpiresAt.Time.Equal(sent[m.ID].At.Add(ttl)) {
			t.Errorf("bob's link of row %d: sent %v, expires %v; want %v and +%s", m.ID, r.LinkSentAt, r.LinkExpiresAt, sent[m.ID].At, ttl)
		}
	}
	if b := f.binding(bob.ID); b.UnsentLinks != 0 || b.LinkSentAt == nil || !b.LinkSentAt.Equal(at(3)) || !b.LinkExpiresAt.Equal(at(3).Add(ttl)) {
		t.Errorf("bob's binding: unsent %d, sent %v, expires %v; want 0, %v, +%s", b.UnsentLinks, b.LinkSentAt, b.LinkExpiresAt, at(3), ttl)
	}
	var events []struct {
		Email  string    `db:"email"`
		Detail string    `db:"detail"`
		At     time.Time `db:"occurred_at"`
		Actor  string    `db:"actor"`
	}
	if err := f.db.SelectContext(f.ctx, &events, `SELECT email, detail, occurred_at, actor FROM member_events WHERE member_id = ? AND kind = 'LINK_SENT' ORDER BY occurred_at`, bob.ID); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !events[0].At.Equal(at(2)) || !events[1].At.Equal(at(3)) ||
		events[0].Email != "bob@example.com" || events[0].Detail != "accepted by the mail server" || events[0].Actor != string(member.ActorSystem) {
		t.Errorf("bob's LINK_SENT events %+v, want two, at %v and %v", events, at(2), at(3))
	}

	// Carol's superseded row and link stay as the modification left them.
	if r := f.sentRow(carolRow.ID); r.Status != "CANCELLED" || r.Attempts != 0 || r.SentAt.Valid || r.LinkSentAt.Valid || !r.LinkKilledAt.Valid {
		t.Errorf("carol's superseded row: %+v; want CANCELLED, untried, its link killed and never sent", r)
	}
	if b := f.binding(carol.ID); b.UnsentLinks != 1 || b.LinkSentAt != nil {
		t.Errorf("carol's binding: unsent %d, sent %v; want her new link unsent", b.UnsentLinks, b.LinkSentAt)
	}
	if n := f.count("member_events", "member_id = ? AND kind = 'LINK_SENT'", carol.ID); n != 0 {
		t.Errorf("%d LINK_SENT events for carol", n)
	}
	// Dave's row is still the other worker's, which can record it.
	if r := f.sentRow(daveRow.ID); r.Status != "QUEUED" || r.LeasedBy.String != "other" || r.Attempts != 0 || !r.Token.Valid {
		t.Errorf("dave's row: %+v; want QUEUED, the other worker's, untouched", r)
	}
	if err := f.st.MarkOutboxSent(f.ctx, daveRow.OrgID, daveRow.ID, "w", at(6)); !errors.Is(err, mysql.ErrLeaseLost) {
		t.Errorf("MarkOutboxSent of dave's row by w = %v, want ErrLeaseLost", err)
	}
	if err := f.st.MarkOutboxSent(f.ctx, daveRow.OrgID, daveRow.ID, "other", at(6)); err != nil {
		t.Errorf("MarkOutboxSent of dave's row by its owner: %v", err)
	}
	if lost, err := f.st.MarkOutboxSentBatch(f.ctx, "w", nil); err != nil || len(lost) != 0 {
		t.Errorf("an empty batch: %v, %v", lost, err)
	}
}

// TestMarkOutboxSentBatchUnderModifications: batches of scattered rows
// are marked while the same bindings are modified from several
// goroutines. The batch locks bindings before outbox rows, in ascending
// order, as modifications do, so nothing deadlocks for good, and every
// binding ends consistent: each row either sent with its link, or
// cancelled with its link never sent, and the binding's count of unsent
// links and its LINK_SENT events matching its links.
func TestMarkOutboxSentBatchUnderModifications(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	f := newSignInFixture(t)
	const n = 120
	members := make([]*member.Member, n)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := g; i < n; i += 6 {
				members[i] = f.bind(fmt.Sprintf("M%d", i), fmt.Sprintf("m%d@example.com", i))
			}
		})
	}
	wg.Wait()
	var rows []member.OutboxMessage
	for _, ms := range f.claimAs("w", time.Hour) {
		rows = append(rows, ms...)
	}
	if len(rows) != n {
		t.Fatalf("claimed %d rows, want %d", len(rows), n)
	}
	rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

	errs := make(chan error, n)
	var lost sync.Map
	wg.Go(func() {
		for i := 0; i < len(rows); i += 6 {
			sent := map[int64]member.OutboxSent{}
			for _, m := range rows[i:min(i+6, len(rows))] {
				sent[m.ID] = member.OutboxSent{OrgID: m.OrgID, At: f.clock.Now()}
			}
			l, err := f.st.MarkOutboxSentBatch(f.ctx, "w", sent)
			if err != nil {
				errs <- fmt.Errorf("mark batch: %w", err)
				return
			}
			for _, id := range l {
				lost.Store(id, true)
			}
		}
	})
	// The modifications go one at a time, against the batches: what is
	// under test is a mark racing a modification, not modifications
	// racing each other (TestChangesToDifferentBindingsDoNotBlock).
	wg.Go(func() {
		for i := 0; i < n; i += 2 {
			info, err := contact.Parse(fmt.Sprintf("m%d-new@example.com", i), "86", "13800138000")
			if err == nil {
				_, err = f.st.UpdateSecurityInfo(f.ctx, f.org.ID, "test", members[i].ID, info)
			}
			if err != nil {
				errs <- fmt.Errorf("modify member %d: %w", i, err)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	var nLost int
	for _, m := range rows {
		r := f.sentRow(m.ID)
		_, wasLost := lost.Load(m.ID)
		if wasLost {
			nLost++
		}
		switch {
		case r.Status == "SENT" && !wasLost:
			if !r.LinkSentAt.Valid || !r.LinkSentAt.Time.Equal(r.SentAt.Time) {
				t.Errorf("row %d SENT but its link's sent_at is %v", m.ID, r.LinkSentAt)
			}
		case r.Status == "CANCELLED" && wasLost:
			if r.LinkSentAt.Valid || !r.LinkKilledAt.Valid || r.Attempts != 0 {
				t.Errorf("row %d CANCELLED but its link: %+v", m.ID, r)
			}
		default:
			t.Errorf("row %d: %s, reported lost %v", m.ID, r.Status, wasLost)
		}
	}
	t.Logf("%d rows marked sent, %d found superseded", n-nLost, nLost)
	var bad []struct {
		ID     int64 `db:"id"`
		Unsent int   `db:"unsent_links"`
		Want   int   `db:"want"`
	}
	err := f.db.SelectContext(f.ctx, &bad, `
		SELECT b.id, b.unsent_links,
			(SELECT COUNT(*) FROM activation_links l WHERE l.binding_id = b.id AND l.sent_at IS NULL AND l.killed_at IS NULL) AS want
		FROM bindings b
		HAVING unsent_links <> want`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("binding %d counts %d unsent links, has %d", b.ID, b.Unsent, b.Want)
	}
	if sent, events := f.count("activation_links", "sent_at IS NOT NULL"), f.count("member_events", "kind = 'LINK_SENT'"); sent != events {
		t.Errorf("%d links sent, %d LINK_SENT events", sent, events)
	}
}

// TestChangesToDifferentBindingsDoNotBlock holds one binding's queued mail
// locked, as a modification or an activation does until it commits, and
// cancels another binding's mail meanwhile with the very statement those
// run: it must not wait. Without an index on outbox.binding_id the
// statement reads and locks every outbox row, and concurrent changes to
// different members block and deadlock each other.
func TestChangesToDifferentBindingsDoNotBlock(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	f := newSignInFixture(t)
	alice := f.bind("Alice", "alice@example.com").Binding.ID
	bob := f.bind("Bob", "bob@example.com").Binding.ID
	const cancel = `UPDATE outbox SET status = 'CANCELLED', token = NULL, leased_by = NULL, lease_until = NULL
		WHERE binding_id = ? AND status IN ('QUEUED', 'RETRYING')`

	holder, err := f.db.BeginTxx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(f.ctx, cancel, alice); err != nil {
		t.Fatal(err)
	}

	conn, err := f.db.Connx(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(f.ctx, `SET SESSION innodb_lock_wait_timeout = 1`); err != nil {
		t.Fatal(err)
	}
	other, err := conn.BeginTxx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	res, err := other.ExecContext(f.ctx, cancel, bob)
	if err != nil {
		t.Fatalf("cancelling Bob's mail while Alice's is locked: %v (want no wait)", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Errorf("cancelled %d of Bob's mails, want 1", n)
	}
}
