package mysql_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// t0 is where every test's clock starts.
var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// signInFixture is a fresh database with the real store on a clock the
// test holds, and one organization.
type signInFixture struct {
	t     *testing.T
	ctx   context.Context
	db    *sqlx.DB
	st    *mysql.Store
	clock *testenv.Clock
	org   *member.Organization
	p     member.SignInPolicy
}

func newSignInFixture(t *testing.T) *signInFixture {
	t.Helper()
	f := &signInFixture{t: t, ctx: context.Background(), clock: testenv.NewClock(t0), p: member.DefaultSignInPolicy()}
	f.st = testenv.Store(t, mysql.Options{Now: f.clock.Now})
	f.db = f.st.DB()
	var err error
	if f.org, _, err = f.st.CreateOrganization(f.ctx, "Acme", "zh-CN"); err != nil {
		t.Fatal(err)
	}
	return f
}

// bind creates a member and binds email to it; its mail is not sent yet.
func (f *signInFixture) bind(name, email string) *member.Member {
	f.t.Helper()
	return testenv.Bind(f.t, f.st, f.org.ID, name, email)
}

// deliver sends every due mail now and returns the raw tokens by kind and
// member id.
func (f *signInFixture) deliver() map[member.OutboxKind]map[int64][]string {
	f.t.Helper()
	return testenv.Deliver(f.t, f.st, f.clock.Now())
}

// activate binds email to a new member and confirms its link.
func (f *signInFixture) activate(name, email string) *member.Member {
	f.t.Helper()
	m := f.bind(name, email)
	tok := f.deliver()[member.OutboxActivation][m.ID]
	if len(tok) != 1 {
		f.t.Fatalf("%d activation mails for %s", len(tok), name)
	}
	v, err := f.st.Activate(f.ctx, tok[0])
	if err != nil || v.State != member.LinkValid {
		f.t.Fatalf("activate %s: %v %v", name, v, err)
	}
	return m
}

// request asks for a sign-in link for email.
func (f *signInFixture) request(email string) {
	f.t.Helper()
	if err := f.st.RequestSignIn(f.ctx, email, f.p); err != nil {
		f.t.Fatalf("RequestSignIn(%q): %v", email, err)
	}
}

// signInToken asks for a sign-in link for email and returns its token,
// read from the outbox as the worker would.
func (f *signInFixture) signInToken(email string) string {
	f.t.Helper()
	f.request(email)
	var tokens []string
	for _, byMember := range f.deliver()[member.OutboxSignIn] {
		tokens = append(tokens, byMember...)
	}
	if len(tokens) != 1 {
		f.t.Fatalf("%d sign-in mails for %s, want 1", len(tokens), email)
	}
	return tokens[0]
}

func (f *signInFixture) count(table, cond string, args ...any) int {
	f.t.Helper()
	return testenv.Count(f.t, f.db, table, cond, args...)
}

// allTables are the tables snapshot dumps by default.
var allTables = []string{"members", "bindings", "email_claims", "activation_links", "outbox", "member_events", "signin_links", "member_sessions"}

// snapshot dumps tables (by default every one), to compare before and
// after a request that must not write them.
func (f *signInFixture) snapshot(tables ...string) string {
	f.t.Helper()
	if len(tables) == 0 {
		tables = allTables
	}
	return testenv.Snapshot(f.t, f.db, tables...)
}

// TestRequestSignInOnlyForActivatedEmails: an unknown, pending, failed or
// modified-away email gets nothing written and nothing mailed; an
// activated login email (in any case, of a removed member too) gets one
// sign-in link and one outbox row, in one transaction.
func TestRequestSignInOnlyForActivatedEmails(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	ttl := f.st.Policy().ActivationTTL

	// Failed: its only link expired unused.
	f.bind("Dave", "dave@example.com")
	f.deliver()
	f.clock.Add(ttl + time.Hour)
	// Pending, its mail sent.
	f.bind("Bob", "bob@example.com")
	// Modified away before activation: the old email is free, the new one
	// activated.
	carol := f.bind("Carol", "carol.old@example.com")
	if _, err := f.st.UpdateSecurityInfo(f.ctx, f.org.ID, "test", carol.ID, testenv.SecurityInfo(t, "carol@example.com")); err != nil {
		t.Fatal(err)
	}
	tok := f.deliver()[member.OutboxActivation][carol.ID]
	if v, err := f.st.Activate(f.ctx, tok[len(tok)-1]); err != nil || v.State != member.LinkValid {
		t.Fatalf("activate carol: %v %v", v, err)
	}
	alice := f.activate("Alice", "Alice@Example.com")
	erin := f.activate("Erin", "erin@example.com")
	if _, err := f.st.RemoveMember(f.ctx, f.org.ID, "test", erin.ID); err != nil {
		t.Fatal(err)
	}

	for _, email := range []string{"nobody@example.com", "bob@example.com", "dave@example.com", "carol.old@example.com", "", "not an email"} {
		before := f.snapshot()
		f.request(email)
		if after := f.snapshot(); after != before {
			t.Errorf("request for %q wrote:\nbefore:\n%s\nafter:\n%s", email, before, after)
		}
	}

	for _, c := range []struct {
		typed, recipient string
		m                *member.Member
	}{
		{" alice@EXAMPLE.com ", "Alice@example.com", alice},
		{"carol@example.com", "carol@example.com", carol},
		{"erin@example.com", "erin@example.com", erin}, // removed: still its account
	} {
		events := f.count("member_events", "member_id = ?", c.m.ID)
		f.request(c.typed)
		if n := f.count("signin_links", "member_id = ?", c.m.ID); n != 1 {
			t.Errorf("%s: %d sign-in links, want 1", c.typed, n)
		}
		var rows []struct {
			Kind         string         `db:"kind"`
			Recipient    string         `db:"recipient"`
			Token        sql.NullString `db:"token"`
			LinkID       sql.NullInt64  `db:"link_id"`
			SignInLinkID sql.NullInt64  `db:"signin_link_id"`
			MessageID    string         `db:"message_id"`
			Status       string         `db:"status"`
		}
		if err := f.db.SelectContext(f.ctx, &rows, `SELECT kind, recipient, token, link_id, signin_link_id, message_id, status
			FROM outbox WHERE member_id = ? AND kind = 'signin'`, c.m.ID); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%s: %d sign-in outbox rows, want 1", c.typed, len(rows))
		}
		r := rows[0]
		if r.Recipient != c.recipient || !member.WellFormedToken(r.Token.String) || r.LinkID.Valid || !r.SignInLinkID.Valid ||
			!strings.HasPrefix(r.MessageID, "signin.") || r.Status != "QUEUED" {
			t.Errorf("%s: outbox row %+v", c.typed, r)
		}
		// Only the hash is stored with the link.
		if n := f.count("signin_links", "token_hash = ?", mysql.Hash(r.Token.String)); n != 1 {
			t.Errorf("%s: the link is not stored by the token's hash", c.typed)
		}
		if n := f.count("signin_links", "member_id = ? AND expires_at = ?", c.m.ID, f.clock.Now().Add(f.p.LinkTTL)); n != 1 {
			t.Errorf("%s: the link does not expire %s after the request", c.typed, f.p.LinkTTL)
		}
		if n := f.count("member_events", "member_id = ?", c.m.ID); n != events {
			t.Errorf("%s: asking for a link recorded %d events", c.typed, n-events)
		}
	}
}

// TestRequestSignInBounded: a member gets at most MaxLiveLinks live
// links; once one expires, another may be asked for.
func TestRequestSignInBounded(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	f.p.MaxLiveLinks = 2
	alice := f.activate("Alice", "alice@example.com")
	for range 4 {
		f.request("alice@example.com")
	}
	if n := f.count("signin_links", "member_id = ?", alice.ID); n != 2 {
		t.Errorf("%d links after 4 requests, want the bound of 2", n)
	}
	f.clock.Add(f.p.LinkTTL)
	f.request("alice@example.com")
	if n := f.count("signin_links", "member_id = ?", alice.ID); n != 3 {
		t.Errorf("%d links once the first expired, want 3", n)
	}
}

// TestSignInMailsPerHourConcurrent: a flood of concurrent requests for one
// login email mails it at most MailsPerHour links in any hour, however
// many live links are allowed; an hour after the first, one more.
func TestSignInMailsPerHourConcurrent(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	f := newSignInFixture(t)
	f.p.MaxLiveLinks, f.p.MailsPerHour = 100, 4
	alice := f.activate("Alice", "alice@example.com")
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if err := f.st.RequestSignIn(f.ctx, "Alice@example.com", f.p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.count("signin_links", "member_id = ?", alice.ID); n != 4 {
		t.Errorf("%d links after 30 requests at once, want the hourly cap of 4", n)
	}
	f.clock.Add(59 * time.Minute)
	f.request("alice@example.com")
	if n := f.count("signin_links", "member_id = ?", alice.ID); n != 4 {
		t.Errorf("%d links 59 minutes later, want still 4", n)
	}
	f.clock.Add(time.Minute)
	f.request("alice@example.com")
	if n := f.count("signin_links", "member_id = ?", alice.ID); n != 5 {
		t.Errorf("%d links an hour after the first, want 5", n)
	}
}

// TestSignInLinks: a link signs in once, within its minutes; opening it
// changes nothing; used, expired and unknown links are refused.
func TestSignInLinks(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	alice := f.activate("Alice", "alice@example.com")
	tok := f.signInToken("alice@example.com")

	before := f.snapshot()
	v, err := f.st.InspectSignIn(f.ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != member.SignInValid || v.Email != "alice@example.com" || v.MemberName != "Alice" || v.OrgName != "Acme" ||
		v.OrgLang != "zh-CN" || !v.ExpiresAt.Equal(t0.Add(f.p.LinkTTL)) {
		t.Errorf("InspectSignIn = %+v", v)
	}
	if f.snapshot() != before {
		t.Error("InspectSignIn changed the database")
	}

	f.clock.Add(f.p.LinkTTL - time.Microsecond)
	v, session, err := f.st.SignIn(f.ctx, tok, f.p)
	if err != nil || v.State != member.SignInValid || !member.WellFormedToken(session) {
		t.Fatalf("SignIn a microsecond before expiry = %+v, %q, %v", v, session, err)
	}
	if n := f.count("member_sessions", "member_id = ? AND token_hash = ? AND expires_at = ?", alice.ID, mysql.Hash(session),
		f.clock.Now().Add(f.p.AbsoluteTimeout)); n != 1 {
		t.Error("the session is not stored by its id's hash with its absolute end")
	}
	if n := f.count("member_events", "member_id = ? AND kind = 'SIGNED_IN' AND actor = 'member' AND email = 'alice@example.com'", alice.ID); n != 1 {
		t.Errorf("%d SIGNED_IN events, want 1", n)
	}

	// Used: it signs nobody in again.
	before = f.snapshot()
	for _, inspect := range []bool{true, false} {
		if inspect {
			v, err = f.st.InspectSignIn(f.ctx, tok)
		} else {
			v, session, err = f.st.SignIn(f.ctx, tok, f.p)
		}
		if err != nil || v.State != member.SignInUsed || session != "" && !inspect {
			t.Errorf("used link (inspect %v): %+v, %v", inspect, v, err)
		}
	}
	if f.snapshot() != before {
		t.Error("a used link changed the database")
	}

	// Expired: exactly at its expiry.
	tok2 := f.signInToken("alice@example.com")
	f.clock.Add(f.p.LinkTTL)
	before = f.snapshot()
	v, session, err = f.st.SignIn(f.ctx, tok2, f.p)
	if err != nil || v.State != member.SignInExpired || session != "" {
		t.Errorf("expired link: %+v, %q, %v", v, session, err)
	}
	if f.snapshot() != before {
		t.Error("an expired link changed the database")
	}

	for _, bad := range []string{"", "short", strings.Repeat("A", member.TokenLength), tok2[:42] + "!"} {
		v, session, err := f.st.SignIn(f.ctx, bad, f.p)
		if err != nil || v.State != member.SignInUnknown || session != "" {
			t.Errorf("SignIn(%q) = %+v, %q, %v", bad, v, session, err)
		}
	}
	// An activation token is not a sign-in token.
	m := f.bind("Bob", "bob@example.com")
	act := f.deliver()[member.OutboxActivation][m.ID][0]
	if v, _, _ := f.st.SignIn(f.ctx, act, f.p); v.State != member.SignInUnknown {
		t.Errorf("an activation token signed in: %+v", v)
	}
}

// TestConcurrentSignIn: many confirmations of one link at once start one
// session.
func TestConcurrentSignIn(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	f := newSignInFixture(t)
	alice := f.activate("Alice", "alice@example.com")
	tok := f.signInToken("alice@example.com")

	const n = 12
	var wg sync.WaitGroup
	states := make([]member.SignInState, n)
	sessions := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var v *member.SignInView
			v, sessions[i], errs[i] = f.st.SignIn(f.ctx, tok, f.p)
			if v != nil {
				states[i] = v.State
			}
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("confirmation %d: %v", i, errs[i])
		case states[i] == member.SignInValid && sessions[i] != "":
			won++
		case states[i] != member.SignInUsed || sessions[i] != "":
			t.Errorf("confirmation %d: %s, session %q", i, states[i], sessions[i])
		}
	}
	if won != 1 {
		t.Errorf("%d confirmations signed in, want exactly 1", won)
	}
	if c := f.count("member_sessions", "member_id = ?", alice.ID); c != 1 {
		t.Errorf("%d sessions, want 1", c)
	}
	if c := f.count("member_events", "member_id = ? AND kind = 'SIGNED_IN'", alice.ID); c != 1 {
		t.Errorf("%d SIGNED_IN events, want 1", c)
	}
}

// TestSessionLifetimes: a session lives while used within the idle
// timeout, never past its absolute end, and not after signing out.
func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	f.activate("Alice", "alice@example.com")
	signIn := func() string {
		t.Helper()
		v, s, err := f.st.SignIn(f.ctx, f.signInToken("alice@example.com"), f.p)
		if err != nil || v.State != member.SignInValid {
			t.Fatalf("sign in: %+v %v", v, err)
		}
		return s
	}
	live := func(s string) bool {
		t.Helper()
		sess, err := f.st.Session(f.ctx, s, f.p)
		if err != nil {
			t.Fatal(err)
		}
		return sess != nil
	}

	// Idle: each use keeps it alive for another IdleTimeout.
	s := signIn()
	f.clock.Add(f.p.IdleTimeout - time.Second)
	if !live(s) {
		t.Fatal("session idle for less than the timeout ended")
	}
	f.clock.Add(f.p.IdleTimeout - time.Second)
	if !live(s) {
		t.Fatal("session used within the idle timeout ended")
	}
	f.clock.Add(f.p.IdleTimeout)
	if live(s) {
		t.Fatal("session idle for the whole timeout still lives")
	}
	f.clock.Add(time.Second)
	if live(s) {
		t.Fatal("an idle session came back")
	}

	// Absolute: used every 20 minutes, it still ends AbsoluteTimeout after it began.
	s = signIn()
	began := f.clock.Now()
	for f.clock.Now().Add(20 * time.Minute).Before(began.Add(f.p.AbsoluteTimeout)) {
		f.clock.Add(20 * time.Minute)
		if !live(s) {
			t.Fatalf("session in use ended %s after it began", f.clock.Now().Sub(began))
		}
	}
	f.clock.Set(began.Add(f.p.AbsoluteTimeout))
	if live(s) {
		t.Fatal("session lives at its absolute end")
	}

	// Sign-out ends it for good, and only it.
	s, other := signIn(), signIn()
	if err := f.st.SignOut(f.ctx, s); err != nil {
		t.Fatal(err)
	}
	if live(s) {
		t.Error("session lives after sign-out")
	}
	if !live(other) {
		t.Error("signing out one session ended another")
	}
	if err := f.st.SignOut(f.ctx, s); err != nil {
		t.Errorf("signing out twice: %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", member.TokenLength)} {
		if live(bad) {
			t.Errorf("session %q lives", bad)
		}
	}
}

// TestSignInOutbox: a sign-in row is claimed with its kind and its link's
// expiry; marking it sent, retried or failed marks only the row, with no
// binding change and no event.
func TestSignInOutbox(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	alice := f.activate("Alice", "alice@example.com")
	binding := f.snapshot("bindings")
	events := f.count("member_events", "member_id = ?", alice.ID)

	for _, mark := range []string{"sent", "retry", "failed"} {
		f.request("alice@example.com")
		msgs, err := f.st.ClaimOutbox(f.ctx, "test", 10, time.Minute)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("claim: %v %v", msgs, err)
		}
		m := msgs[0]
		if m.Kind != member.OutboxSignIn || !m.ExpiresAt.Equal(f.clock.Now().Add(f.p.LinkTTL)) || m.LinkID == 0 ||
			m.MemberID != alice.ID || m.BindingID != alice.Binding.ID || m.OrgLang != "zh-CN" || m.MemberName != "Alice" {
			t.Errorf("claimed %+v", m)
		}
		switch mark {
		case "sent":
			err = f.st.MarkOutboxSent(f.ctx, m.OrgID, m.ID, "test", f.clock.Now())
		case "retry":
			err = f.st.MarkOutboxRetry(f.ctx, m.OrgID, m.ID, "test", "451 try later", f.clock.Now().Add(time.Hour))
		case "failed":
			err = f.st.MarkOutboxFailed(f.ctx, m.OrgID, m.ID, "test", "550 no such user", f.clock.Now())
		}
		if err != nil {
			t.Fatalf("mark %s: %v", mark, err)
		}
		if got := f.snapshot("bindings"); got != binding {
			t.Errorf("marking a sign-in row %s changed the binding:\n%s\n%s", mark, binding, got)
		}
		if n := f.count("member_events", "member_id = ?", alice.ID); n != events {
			t.Errorf("marking a sign-in row %s recorded %d events", mark, n-events)
		}
	}
	if n := f.count("outbox", "kind = 'signin' AND token IS NOT NULL AND status <> 'RETRYING'"); n != 0 {
		t.Errorf("%d sent or failed sign-in rows still hold their token", n)
	}
	if n := f.count("outbox", "kind = 'activation'"); n != 1 {
		t.Errorf("%d activation rows, want 1", n)
	}
}

// TestAccount: what a signed-in member sees, a removed one included.
func TestAccount(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	alice := f.activate("Alice", "alice@example.com")
	activatedAt := f.clock.Now()
	var sessions []*member.Session
	for range 3 {
		f.clock.Add(time.Minute)
		_, s, err := f.st.SignIn(f.ctx, f.signInToken("alice@example.com"), f.p)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := f.st.Session(f.ctx, s, f.p)
		if err != nil || sess == nil {
			t.Fatalf("session: %v %v", sess, err)
		}
		sessions = append(sessions, sess)
	}
	a, err := f.st.Account(f.ctx, sessions[1], 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Alice" || a.OrgName != "Acme" || a.OrgLang != "zh-CN" || a.LoginEmail != "alice@example.com" ||
		a.ActivatedAt == nil || !a.ActivatedAt.Equal(activatedAt) || a.RemovedAt != nil {
		t.Errorf("account %+v", a)
	}
	if len(a.SignIns) != 2 || !a.SignIns[0].At.Equal(sessions[2].CreatedAt) || a.SignIns[0].Current || !a.SignIns[1].Current {
		t.Errorf("recent sign-ins %+v", a.SignIns)
	}

	f.clock.Add(time.Hour)
	if _, err := f.st.RemoveMember(f.ctx, f.org.ID, "test", alice.ID); err != nil {
		t.Fatal(err)
	}
	if a, err = f.st.Account(f.ctx, sessions[2], 5); err != nil || a.RemovedAt == nil || !a.RemovedAt.Equal(f.clock.Now()) {
		t.Errorf("removed member's account %+v, %v", a, err)
	}
}
