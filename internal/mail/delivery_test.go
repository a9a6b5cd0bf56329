package mail_test

// End-to-end tests of activation mail delivery: the real mysql.Store on a
// fresh MariaDB database, the real mail.Worker and mail.Sender, and a real
// Mailpit as the SMTP server. Nothing is mocked; the few Outbox and
// Transport wrappers below only count or hold calls on their way to the
// real store and the real sender.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

const (
	testFrom      = "Memberbind <noreply@example.com>"
	testPublicURL = "https://bind.example.com/mb"
	testActor     = member.Actor("delivery test")
)

// linkRE finds an activation link in a mail and captures its token.
var linkRE = regexp.MustCompile(regexp.QuoteMeta(testPublicURL+mail.ActivationPath+"?token=") + `([A-Za-z0-9_%\-]+)`)

// expiryRE finds the printed expiry (mail.ExpiryLayout) in a mail.
var expiryRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`)

// fixture is one test's store on its own fresh database, with one
// organization.
type fixture struct {
	t     testing.TB
	dsn   string
	db    *sqlx.DB
	st    *mysql.Store
	org   *member.Organization
	clock *testenv.Clock // nil: the store runs on time.Now
	logs  *syncBuffer
}

// fixtureOptions change newFixture's defaults.
type fixtureOptions struct {
	Policy member.Policy
	Clock  *testenv.Clock
	Lang   string
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, dsn: testenv.MySQL(t), clock: o.Clock, logs: &syncBuffer{}}
	if o.Policy == (member.Policy{}) {
		o.Policy = member.DefaultPolicy()
	}
	opts := mysql.Options{Policy: o.Policy}
	if o.Clock != nil {
		opts.Now = o.Clock.Now
	}
	f.st = testenv.StoreAt(t, f.dsn, opts)
	f.db = f.st.DB()
	org, _, err := f.st.CreateOrganization(context.Background(), "Acme Ltd", o.Lang)
	if err != nil {
		t.Fatal(err)
	}
	f.org = org
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", f.logs.String())
		}
	})
	return f
}

func securityInfo(email string) member.SecurityInfo {
	return member.SecurityInfo{Email: email, CountryCode: "86", Phone: "+8613800138000"}
}

// createMember creates a member of the fixture's organization.
func (f *fixture) createMember(name string) int64 {
	f.t.Helper()
	m, err := f.st.CreateMember(context.Background(), f.org.ID, testActor, member.TypeCreated, name, "")
	if err != nil {
		f.t.Fatalf("create member %s: %v", name, err)
	}
	return m.ID
}

// bind creates a member and binds email to it, which queues one mail.
func (f *fixture) bind(name, email string) int64 {
	f.t.Helper()
	id := f.createMember(name)
	if _, err := f.st.BindSecurityInfo(context.Background(), f.org.ID, testActor, id, securityInfo(email)); err != nil {
		f.t.Fatalf("bind %s to %s: %v", email, name, err)
	}
	return id
}

// bindMany creates n members and binds member-<i>@<domain> to each, from
// `parallel` goroutines at once, and returns the member ids by index.
func (f *fixture) bindMany(n, parallel int, domain string) []int64 {
	f.t.Helper()
	ctx := context.Background()
	ids := make([]int64, n)
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for g := 0; g < parallel; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += parallel {
				m, err := f.st.CreateMember(ctx, f.org.ID, testActor, member.TypeCreated, fmt.Sprintf("Member %d", i), "")
				if err == nil {
					_, err = f.st.BindSecurityInfo(ctx, f.org.ID, testActor, m.ID, securityInfo(fmt.Sprintf("member-%d@%s", i, domain)))
				}
				if err != nil {
					errs[g] = fmt.Errorf("member %d: %w", i, err)
					return
				}
				ids[i] = m.ID
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// count counts the rows of table that match cond.
func (f *fixture) count(table, cond string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.Get(&n, "SELECT COUNT(*) FROM "+table+" WHERE "+cond, args...); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// pending is the number of outbox rows still to be delivered.
func (f *fixture) pending() int {
	f.t.Helper()
	return f.count("outbox", "status IN ('QUEUED', 'RETRYING')")
}

// waitDelivered waits until no mail is left to deliver: every mail the
// SMTP server accepted is then recorded as such.
func (f *fixture) waitDelivered(within time.Duration) {
	f.t.Helper()
	testenv.Eventually(f.t, within, "every mail delivered", func() error {
		if p := f.pending(); p > 0 {
			return fmt.Errorf("%d mails not delivered yet", p)
		}
		return nil
	})
}

// outboxRow is an outbox row as the tests inspect it.
type outboxRow struct {
	ID        int64          `db:"id"`
	MemberID  int64          `db:"member_id"`
	BindingID int64          `db:"binding_id"`
	LinkID    int64          `db:"link_id"`
	Recipient string         `db:"recipient"`
	Token     sql.NullString `db:"token"`
	MessageID string         `db:"message_id"`
	Status    string         `db:"status"`
	Attempts  int            `db:"attempts"`
	LastError sql.NullString `db:"last_error"`
	LeasedBy  sql.NullString `db:"leased_by"`
	SentAt    sql.NullTime   `db:"sent_at"`
}

func (f *fixture) outbox() []outboxRow {
	f.t.Helper()
	var rows []outboxRow
	err := f.db.Select(&rows, `
		SELECT id, member_id, binding_id, link_id, recipient, token, message_id, status, attempts, last_error, leased_by, sent_at
		FROM outbox ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	return rows
}

// linkRow is an activation_links row.
type linkRow struct {
	ID        int64        `db:"id"`
	BindingID int64        `db:"binding_id"`
	TokenHash []byte       `db:"token_hash"`
	SentAt    sql.NullTime `db:"sent_at"`
	ExpiresAt sql.NullTime `db:"expires_at"`
	KilledAt  sql.NullTime `db:"killed_at"`
}

func (f *fixture) link(id int64) linkRow {
	f.t.Helper()
	var l linkRow
	if err := f.db.Get(&l, `SELECT id, binding_id, token_hash, sent_at, expires_at, killed_at FROM activation_links WHERE id = ?`, id); err != nil {
		f.t.Fatalf("link %d: %v", id, err)
	}
	return l
}

// member reads a member through the store.
func (f *fixture) member(id int64) *member.Member {
	f.t.Helper()
	m, err := f.st.Member(context.Background(), f.org.ID, id)
	if err != nil {
		f.t.Fatalf("member %d: %v", id, err)
	}
	return m
}

// newSender returns a Sender of size connections to smtpURL.
func newSender(t testing.TB, smtpURL string, size int) *mail.Sender {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSender(cfg, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newWorker returns a worker on the fixture's store with small delays;
// o's non-zero fields win. Without a Sender it sends to smtpURL.
func (f *fixture) newWorker(smtpURL string, o mail.WorkerOptions) *mail.Worker {
	f.t.Helper()
	if o.Outbox == nil {
		o.Outbox = f.st
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.Sender == nil {
		o.Sender = newSender(f.t, smtpURL, o.Concurrency)
	}
	o.From, o.PublicURL = testFrom, testPublicURL
	if o.ActivationTTL == 0 {
		o.ActivationTTL = f.st.Policy().ActivationTTL
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.RetryBase == 0 {
		o.RetryBase = 20 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 200 * time.Millisecond
	}
	if o.PollInterval == 0 {
		o.PollInterval = 25 * time.Millisecond
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	if o.Now == nil && f.clock != nil {
		o.Now = f.clock.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w, err := mail.NewWorker(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// running is a worker's Run in progress.
type running struct {
	cancel context.CancelFunc
	wait   func() error
}

// stop ends Run's context and returns Run's result.
func (r *running) stop() error {
	r.cancel()
	return r.wait()
}

// runWorker runs w until the test ends. Waiting for it fails the test if
// Run does not return within returnWithin of the wait's start.
func runWorker(t testing.TB, w *mail.Worker, returnWithin time.Duration) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := &running{cancel: cancel}
	r.wait = sync.OnceValue(func() error {
		timer := time.NewTimer(returnWithin)
		defer timer.Stop()
		select {
		case err := <-done:
			return err
		case <-timer.C:
			began := time.Now()
			err := <-done
			t.Errorf("worker %s: Run returned %s after its context ended, want within %s",
				w.Owner(), (returnWithin + time.Since(began)).Round(time.Millisecond), returnWithin)
			return err
		}
	})
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// countingOutbox passes every call to the real store and counts them.
type countingOutbox struct {
	mail.Outbox
	claims         atomic.Int64
	claimsWithRows atomic.Int64 // claims that returned rows
	claimed        atomic.Int64 // rows the claims returned
	marks          atomic.Int64 // MarkOutboxSentBatch calls
	sent           atomic.Int64 // rows they marked
	lost           atomic.Int64 // rows they skipped as no longer held

	mu      sync.Mutex
	batches []markedBatch // the MarkOutboxSentBatch calls that succeeded
}

// markedBatch is one MarkOutboxSentBatch call: its rows, and those lost.
type markedBatch struct{ rows, lost []int64 }

func (c *countingOutbox) ClaimOutbox(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error) {
	msgs, err := c.Outbox.ClaimOutbox(ctx, owner, limit, lease)
	c.claimed.Add(int64(len(msgs)))
	if len(msgs) > 0 {
		c.claimsWithRows.Add(1)
	}
	c.claims.Add(1)
	return msgs, err
}

func (c *countingOutbox) MarkOutboxSentBatch(ctx context.Context, owner string, sent map[int64]member.OutboxSent) ([]int64, error) {
	lost, err := c.Outbox.MarkOutboxSentBatch(ctx, owner, sent)
	c.marks.Add(1)
	if err == nil {
		c.sent.Add(int64(len(sent) - len(lost)))
		c.lost.Add(int64(len(lost)))
		rows := slices.Sorted(maps.Keys(sent))
		c.mu.Lock()
		c.batches = append(c.batches, markedBatch{rows: rows, lost: lost})
		c.mu.Unlock()
	}
	return lost, err
}

// markedBatches returns the MarkOutboxSentBatch calls that succeeded.
func (c *countingOutbox) markedBatches() []markedBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.batches)
}

// waitClaims waits until the worker has claimed n more times: it has
// looked at the outbox and acted on what it found.
func waitClaims(t testing.TB, c *countingOutbox, n int64) {
	t.Helper()
	target := c.claims.Load() + n
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%d more claims", n), func() error {
		if got := c.claims.Load(); got < target {
			return fmt.Errorf("%d claims, waiting for %d", got, target)
		}
		return nil
	})
}

// heldTransport sends through the real sender, except that sends after
// the first `pass` ones are held before they start until release is
// closed, or their context ends.
type heldTransport struct {
	next    mail.Transport
	pass    int
	release chan struct{}

	mu   sync.Mutex
	n    int
	held int
}

func (h *heldTransport) Send(ctx context.Context, msg *gomail.Msg) error {
	h.mu.Lock()
	h.n++
	hold := h.n > h.pass
	if hold {
		h.held++
	}
	h.mu.Unlock()
	if hold {
		select {
		case <-h.release:
		case <-ctx.Done():
			return fmt.Errorf("held send: %w", ctx.Err())
		}
	}
	return h.next.Send(ctx, msg)
}

func (h *heldTransport) heldCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tally counts Mailpit's messages by recipient and by Message-ID.
func tally(list []testenv.MailpitSummary) (byRecipient, byMessageID map[string]int) {
	byRecipient, byMessageID = map[string]int{}, map[string]int{}
	for _, m := range list {
		for _, to := range m.To {
			byRecipient[strings.ToLower(to.Address)]++
		}
		byMessageID[m.MessageID]++
	}
	return byRecipient, byMessageID
}

// waitMailCount waits until Mailpit holds exactly n messages: at least n
// within the deadline, and not more once it does.
func waitMailCount(t testing.TB, mp *testenv.MailpitServer, n int, within time.Duration) []testenv.MailpitSummary {
	t.Helper()
	list := mp.WaitMessages(t, n, within)
	if len(list) != n {
		by, _ := tally(list)
		t.Fatalf("Mailpit holds %d messages, want %d: %v", len(list), n, by)
	}
	return list
}

// tokensOf returns the activation tokens of a message's text and HTML
// parts, failing the test unless each part holds the same one link.
func tokensOf(t testing.TB, msg *testenv.MailpitMessage) string {
	t.Helper()
	var tokens []string
	for part, body := range map[string]string{"text": msg.Text, "HTML": msg.HTML} {
		found := linkRE.FindAllStringSubmatch(body, -1)
		if len(found) == 0 {
			t.Fatalf("message %s: no activation link %s… in the %s part:\n%s", msg.MessageID, testPublicURL, part, body)
		}
		for _, f := range found {
			tok, err := url.QueryUnescape(f[1])
			if err != nil {
				t.Fatalf("message %s: link token %q: %v", msg.MessageID, f[1], err)
			}
			tokens = append(tokens, tok)
		}
	}
	slices.Sort(tokens)
	if tokens = slices.Compact(tokens); len(tokens) != 1 {
		t.Fatalf("message %s: the parts hold %d different links, want one", msg.MessageID, len(tokens))
	}
	if !member.WellFormedToken(tokens[0]) {
		t.Fatalf("message %s: token %q is not a well-formed token", msg.MessageID, tokens[0])
	}
	return tokens[0]
}

// checkNoSecretInDB fails the test if any text or binary column of any
// table holds one of the secrets.
func (f *fixture) checkNoSecretInDB(secrets []string) {
	f.t.Helper()
	var cols []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	err := f.db.Select(&cols, `
		SELECT table_name AS table_name, column_name AS column_name FROM information_schema.columns
		WHERE table_schema = DATABASE()
		AND data_type IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob')`)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(cols) == 0 {
		f.t.Fatal("no text columns found to scan")
	}
	for _, c := range cols {
		var values [][]byte
		if err := f.db.Select(&values, fmt.Sprintf("SELECT `%s` FROM `%s` WHERE `%s` IS NOT NULL", c.Column, c.Table, c.Column)); err != nil {
			f.t.Fatal(err)
		}
		for _, v := range values {
			for _, s := range secrets {
				if bytes.Contains(v, []byte(s)) {
					f.t.Errorf("%s.%s holds a raw activation token", c.Table, c.Column)
				}
			}
		}
	}
}

// smtpProxy forwards TCP connections from a port the test chose to a
// real SMTP server, so that the server can "come up" on that port.
type smtpProxy struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// reservePort returns a loopback address nothing listens on.
func reservePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startSMTPProxy listens on addr and forwards to target until the test ends.
func startSMTPProxy(t testing.TB, addr, target string) *smtpProxy {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("bring the SMTP server up on %s: %v", addr, err)
	}
	p := &smtpProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *smtpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *smtpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	// One side ended: end the other, as a server closing would.
	dst.Close()
	src.Close()
}

func (p *smtpProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestDeliverySMTPDownThenUp: binds are made while the SMTP server is down;
// their mails wait as RETRYING with attempts and the network error, then
// every one goes out exactly once when the server comes up, starting each
// link's days at its acceptance, and no raw token is left in the database
// (R4, R7, DESIGN.md §4).
func TestDeliverySMTPDownThenUp(t *testing.T) {
	t.Parallel()
	const n = 20
	ttl := 48 * time.Hour
	f := newFixture(t, fixtureOptions{Policy: member.Policy{ActivationTTL: ttl, MaxModifications: 3, ResendsPerHour: 5, ResendsTotal: 20}})
	mp := testenv.Mailpit(t)
	addr := reservePort(t) // nothing listens here yet: connection refused
	w := f.newWorker("smtp://"+addr+"?tls=none&connect_timeout=2s", mail.WorkerOptions{})
	f.st.OnOutbox = w.Notify
	runWorker(t, w, 10*time.Second)

	ids := f.bindMany(n, 4, "down.example.com")

	// Every mail is retried, more than once, and says why.
	testenv.Eventually(t, 20*time.Second, "every mail retried", func() error {
		var n1 int
		if err := f.db.Get(&n1, `SELECT COUNT(*) FROM outbox WHERE status = 'RETRYING' AND attempts >= 2 AND last_error LIKE '%connection refused%'`); err != nil {
			return err
		}
		if n1 != n {
			return fmt.Errorf("%d of %d mails RETRYING after 2+ refused attempts; outbox: %+v", n1, n, f.outbox())
		}
		return nil
	})
	for _, id := range ids {
		m := f.member(id)
		if s := m.Status(); s != member.StatusPending {
			t.Errorf("member %d is %s while its mail waits, want PENDING", id, s)
		}
		if b := m.Binding; b.LinkSentAt != nil || b.LinkExpiresAt != nil {
			t.Errorf("member %d: linkSentAt %v, linkExpiresAt %v before any mail went out, want none", id, b.LinkSentAt, b.LinkExpiresAt)
		}
		d, err := f.st.Deliveries(context.Background(), m.OrgID, []int64{m.Binding.NewestLinkID})
		if err != nil {
			t.Fatal(err)
		}
		got := d[m.Binding.NewestLinkID]
		if got == nil || got.Status != member.DeliveryRetrying || got.Attempts < 1 || !strings.Contains(got.LastError, "connection refused") {
			t.Errorf("member %d delivery = %+v, want RETRYING with attempts and a connection refused error", id, got)
		}
	}

	// The server comes up on the port the worker was configured with.
	startSMTPProxy(t, addr, mp.SMTPAddr)
	f.waitDelivered(20 * time.Second)
	list := waitMailCount(t, mp, n, 10*time.Second)
	byRecipient, byMessageID := tally(list)
	rows := f.outbox()
	if len(rows) != n {
		t.Fatalf("outbox has %d rows, want %d", len(rows), n)
	}
	for i := 0; i < n; i++ {
		if got := byRecipient[fmt.Sprintf("member-%d@down.example.com", i)]; got != 1 {
			t.Errorf("member-%d received %d mails, want 1", i, got)
		}
	}
	for _, r := range rows {
		if r.Status != string(member.DeliverySent) || !r.SentAt.Valid || r.LeasedBy.Valid {
			t.Errorf("outbox row %d: status %s, sent_at %v, leased_by %v; want SENT, set, none", r.ID, r.Status, r.SentAt, r.LeasedBy)
		}
		if r.Attempts < 3 || r.LastError.Valid {
			t.Errorf("outbox row %d: attempts %d, last_error %q; want the refused ones and the successful one counted, no error left", r.ID, r.Attempts, r.LastError.String)
		}
		if byMessageID[r.MessageID] != 1 {
			t.Errorf("outbox row %d: Message-ID %s received %d times, want once", r.ID, r.MessageID, byMessageID[r.MessageID])
		}
		// The link's days start at the acceptance (R7).
		m := f.member(r.MemberID)
		sentAt := r.SentAt.Time.UTC()
		if b := m.Binding; b.LinkSentAt == nil || !b.LinkSentAt.Equal(sentAt) || b.LinkExpiresAt == nil || !b.LinkExpiresAt.Equal(sentAt.Add(ttl)) {
			t.Errorf("member %d: linkSentAt %v, linkExpiresAt %v; want %v and %v", r.MemberID, b.LinkSentAt, b.LinkExpiresAt, sentAt, sentAt.Add(ttl))
		}
		if l := f.link(r.LinkID); !l.SentAt.Valid || !l.SentAt.Time.Equal(sentAt) || !l.ExpiresAt.Valid || !l.ExpiresAt.Time.Equal(sentAt.Add(ttl)) {
			t.Errorf("link %d: sent_at %v, expires_at %v; want %v and %v", r.LinkID, l.SentAt, l.ExpiresAt, sentAt, sentAt.Add(ttl))
		}
	}
	if len(byMessageID) != n {
		t.Errorf("%d distinct Message-IDs received, want %d", len(byMessageID), n)
	}
	// One DELIVERY_DELAYED per mail, however many attempts; one LINK_SENT.
	if got := f.count("member_events", "kind = 'DELIVERY_DELAYED'"); got != n {
		t.Errorf("%d DELIVERY_DELAYED events, want one per mail (%d)", got, n)
	}
	if got := f.count("member_events", "kind = 'LINK_SENT'"); got != n {
		t.Errorf("%d LINK_SENT events, want %d", got, n)
	}

	// No usable link can be read from the database (DESIGN.md §4).
	if got := f.count("outbox", "token IS NOT NULL"); got != 0 {
		t.Errorf("%d outbox rows still hold their raw token after delivery", got)
	}
	var tokens []string
	for _, s := range list {
		tok := tokensOf(t, mp.Message(t, s.ID))
		var hashes int
		if err := f.db.Get(&hashes, `SELECT COUNT(*) FROM activation_links WHERE token_hash = ?`, mysql.Hash(tok)); err != nil {
			t.Fatal(err)
		}
		if hashes != 1 {
			t.Errorf("the token mailed in %s matches %d stored link hashes, want 1", s.MessageID, hashes)
		}
		tokens = append(tokens, tok)
	}
	f.checkNoSecretInDB(tokens)
}

// TestDeliveryTwoWorkersThousandMails: two workers with their own store
// handles and SMTP connections share one outbox of 1,000 queued mails;
// each mail goes out exactly once, on its first attempt (DESIGN.md §4).
func TestDeliveryTwoWorkersThousandMails(t *testing.T) {
	t.Parallel()
	// Two workers sharing rows is what SKIP LOCKED is for.
	testenv.RequireRowLocks(t)
	const n = 1000
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)

	began := time.Now()
	f.bindMany(n, 8, "many.example.com")
	t.Logf("bound %d members in %s", n, time.Since(began).Round(time.Millisecond))
	if got := f.pending(); got != n {
		t.Fatalf("%d mails queued, want %d", got, n)
	}

	// A second store on the same database, as another instance would have.
	other := testenv.StoreAt(t, f.dsn, mysql.Options{Policy: f.st.Policy()})
	outboxes := []*countingOutbox{{Outbox: f.st}, {Outbox: other}}
	var workers []*mail.Worker
	for i, o := range outboxes {
		workers = append(workers, f.newWorker(mp.SMTPURL, mail.WorkerOptions{
			Outbox: o, Owner: fmt.Sprintf("instance-%d", i+1), Concurrency: 6, PollInterval: 20 * time.Millisecond,
		}))
	}
	began = time.Now()
	var runs []*running
	for _, w := range workers {
		runs = append(runs, runWorker(t, w, 10*time.Second))
	}
	testenv.Eventually(t, 60*time.Second, "every mail sent", func() error {
		if got := f.count("outbox", "status = 'SENT'"); got != n {
			return fmt.Errorf("%d of %d mails sent", got, n)
		}
		return nil
	})
	elapsed := time.Since(began)
	t.Logf("2 workers delivered %d mails in %s: %.0f mails/s (instance-1 %d, instance-2 %d)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), outboxes[0].sent.Load(), outboxes[1].sent.Load())

	list := waitMailCount(t, mp, n, 20*time.Second)
	// A mark is counted after its commit, which the rows show first:
	// stop the workers, which wait for their last marks, before counting.
	for _, r := range runs {
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	}
	byRecipient, byMessageID := tally(list)
	if len(byMessageID) != n || len(byRecipient) != n {
		t.Errorf("%d distinct Message-IDs and %d distinct recipients received, want %d each", len(byMessageID), len(byRecipient), n)
	}
	for id, c := range byMessageID {
		if c != 1 {
			t.Errorf("Message-ID %s received %d times", id, c)
		}
	}
	if got := f.count("outbox", "status = 'SENT' AND attempts = 1 AND leased_by IS NULL AND token IS NULL"); got != n {
		t.Errorf("%d outbox rows SENT on their first attempt, released and without token, want %d", got, n)
	}
	if got := f.count("member_events", "kind = 'LINK_SENT'"); got != n {
		t.Errorf("%d LINK_SENT events, want %d", got, n)
	}
	for i, o := range outboxes {
		if o.sent.Load() == 0 {
			t.Errorf("instance-%d sent nothing: the two workers did not share the outbox", i+1)
		}
		// Each claims ahead and records in batches.
		t.Logf("instance-%d: %d claims with rows for %d rows, %d marks for %d rows", i+1,
			o.claimsWithRows.Load(), o.claimed.Load(), o.marks.Load(), o.sent.Load())
		if o.claimsWithRows.Load()*2 > o.claimed.Load() || o.marks.Load()*2 > o.sent.Load() {
			t.Errorf("instance-%d: %d claims with rows for %d rows, %d marks for %d rows; want at least 2 rows a call",
				i+1, o.claimsWithRows.Load(), o.claimed.Load(), o.marks.Load(), o.sent.Load())
		}
	}
	if total := outboxes[0].sent.Load() + outboxes[1].sent.Load(); total != n {
		t.Errorf("the workers recorded %d sends, want %d", total, n)
	}
}

// TestDeliveryAfterWorkerCrash: a worker that claimed rows and died holds
// them until its lease ends, not a moment longer; then a live worker
// delivers each exactly once, and the dead one can no longer record
// anything on them.
func TestDeliveryAfterWorkerCrash(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	f := newFixture(t, fixtureOptions{Clock: clock})
	mp := testenv.Mailpit(t)
	ctx := context.Background()
	const n, dead = 15, 10
	f.bindMany(n, 3, "crash.example.com")

	const lease = 2 * time.Second
	claimedAt := clock.Now()
	claimed, err := f.st.ClaimOutbox(ctx, "dead-owner", dead, lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != dead {
		t.Fatalf("the doomed worker claimed %d rows, want %d", len(claimed), dead)
	}
	// It dies here, before sending or marking anything.

	counting := &countingOutbox{Outbox: f.st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Owner: "live-owner", PollInterval: 10 * time.Millisecond})
	f.st.OnOutbox = w.Notify
	runWorker(t, w, 10*time.Second)

	// The rows nobody held go out at once.
	testenv.Eventually(t, 10*time.Second, "the unclaimed mails sent", func() error {
		if got := f.count("outbox", "status = 'SENT'"); got != n-dead {
			return fmt.Errorf("%d mails sent, want the %d unclaimed ones", got, n-dead)
		}
		return nil
	})
	for _, at := range []time.Time{claimedAt, claimedAt.Add(lease - time.Microsecond)} {
		clock.Set(at)
		waitClaims(t, counting, 3)
		if got := f.count("outbox", "status = 'QUEUED' AND attempts = 0 AND leased_by = 'dead-owner'"); got != dead {
			t.Fatalf("at lease end - %s: %d rows still held by the dead worker, want %d", claimedAt.Add(lease).Sub(at), got, dead)
		}
		if got := len(mp.Messages(t)); got != n-dead {
			t.Fatalf("at lease end - %s: Mailpit holds %d messages, want %d", claimedAt.Add(lease).Sub(at), got, n-dead)
		}
	}

	// The lease ends: the live worker takes the rows over.
	clock.Set(claimedAt.Add(lease))
	f.waitDelivered(10 * time.Second)
	list := waitMailCount(t, mp, n, 10*time.Second)
	byRecipient, byMessageID := tally(list)
	for i := 0; i < n; i++ {
		if got := byRecipient[fmt.Sprintf("member-%d@crash.example.com", i)]; got != 1 {
			t.Errorf("member-%d received %d mails, want 1", i, got)
		}
	}
	for _, m := range claimed {
		if byMessageID[m.MessageID] != 1 {
			t.Errorf("the dead worker's row %d: Message-ID received %d times, want 1", m.ID, byMessageID[m.MessageID])
		}
	}
	if got := f.count("outbox", "status = 'SENT' AND attempts = 1 AND leased_by IS NULL"); got != n {
		t.Errorf("%d rows SENT on their first attempt and released, want %d", got, n)
	}

	// The dead worker comes back: nothing it says about the rows counts.
	for _, m := range claimed[:2] {
		if err := f.st.MarkOutboxSent(ctx, m.OrgID, m.ID, "dead-owner", clock.Now()); !errors.Is(err, mysql.ErrLeaseLost) {
			t.Errorf("MarkOutboxSent by the dead owner of row %d = %v, want ErrLeaseLost", m.ID, err)
		}
		if err := f.st.MarkOutboxRetry(ctx, m.OrgID, m.ID, "dead-owner", "late", clock.Now()); !errors.Is(err, mysql.ErrLeaseLost) {
			t.Errorf("MarkOutboxRetry by the dead owner of row %d = %v, want ErrLeaseLost", m.ID, err)
		}
	}
	if got := f.count("member_events", "kind = 'LINK_SENT'"); got != n {
		t.Errorf("%d LINK_SENT events, want %d", got, n)
	}
}

// TestDeliveryWorkerStopsMidBatch: a worker whose context ends while mails
// are in progress lets them finish within the grace, or cuts them after
// it; either way it holds nothing once Run returns, and a second worker
// delivers the rest, every mail exactly once.
func TestDeliveryWorkerStopsMidBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		finish bool // the held sends are let go within the grace
	}{
		{"finished within grace", true},
		{"cut after grace", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n, pass, concurrency = 30, 8, 4
			f := newFixture(t, fixtureOptions{})
			mp := testenv.Mailpit(t)
			f.bindMany(n, 4, "stop.example.com")

			grace := 10 * time.Second
			if !tc.finish {
				grace = 100 * time.Millisecond
			}
			held := &heldTransport{next: newSender(t, mp.SMTPURL, concurrency), pass: pass, release: make(chan struct{})}
			first := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Sender: held, Owner: "first", Concurrency: concurrency, ShutdownGrace: grace})
			run := runWorker(t, first, grace+10*time.Second)

			// The first worker sent `pass` mails and has a full batch in
			// progress.
			testenv.Eventually(t, 10*time.Second, "the first worker's batch", func() error {
				if got, h := f.count("outbox", "status = 'SENT'"), held.heldCount(); got != pass || h != concurrency {
					return fmt.Errorf("%d mails sent and %d in progress, waiting for %d and %d", got, h, pass, concurrency)
				}
				return nil
			})
			// It holds those in progress, and those it claimed ahead.
			if got := f.count("outbox", "leased_by = 'first' AND status = 'QUEUED'"); got < concurrency || got > n-pass {
				t.Fatalf("the first worker holds %d rows mid-batch, want from the %d in progress to the %d unsent", got, concurrency, n-pass)
			}
			run.cancel()
			if tc.finish {
				close(held.release)
			}
			if err := run.wait(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := f.count("outbox", "leased_by IS NOT NULL OR lease_until IS NOT NULL"); got != 0 {
				t.Fatalf("%d rows still leased after Run returned, want none", got)
			}
			wantSent := pass
			if tc.finish {
				wantSent += concurrency
			}
			if got := f.count("outbox", "status = 'SENT'"); got != wantSent {
				t.Errorf("%d mails sent by the stopped worker, want %d", got, wantSent)
			}
			if got := f.count("outbox", "status = 'QUEUED' AND attempts = 0"); got != n-wantSent {
				t.Errorf("%d mails left QUEUED without a recorded attempt, want %d", got, n-wantSent)
			}

			second := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Owner: "second"})
			runWorker(t, second, 10*time.Second)
			f.waitDelivered(15 * time.Second)
			list := mp.WaitMessages(t, n, 10*time.Second)
			byRecipient, _ := tally(list)
			// Only a mail the SMTP server accepted but whose worker could
			// not record it may go twice; the held ones never reached it.
			if dup := len(list) - n; dup != 0 {
				t.Errorf("Mailpit holds %d messages for %d mails: %d duplicates, want none (%d were in progress)", len(list), n, dup, concurrency)
			}
			for i := 0; i < n; i++ {
				if got := byRecipient[fmt.Sprintf("member-%d@stop.example.com", i)]; got != 1 {
					t.Errorf("member-%d received %d mails, want 1", i, got)
				}
			}
			if got := f.count("outbox", "status = 'SENT' AND attempts = 1 AND leased_by IS NULL"); got != n {
				t.Errorf("%d rows SENT on their first attempt and released, want %d", got, n)
			}
		})
	}
}

// TestDeliverySupersededMailNotSent: while no worker runs, a binding is
// submitted and modified twice; when the worker starts, only the newest
// link's mail goes out and the superseded ones stay CANCELLED (R5).
func TestDeliverySupersededMailNotSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	mp := testenv.Mailpit(t)
	ctx := context.Background()

	id := f.bind("Alice", "alice0@example.com")
	for _, email := range []string{"alice1@example.com", "alice2@example.com"} {
		if _, err := f.st.UpdateSecurityInfo(ctx, f.org.ID, testActor, id, securityInfo(email)); err != nil {
			t.Fatal(err)
		}
	}
	newest := f.member(id).Binding.NewestLinkID

	counting := &countingOutbox{Outbox: f.st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting})
	f.st.OnOutbox = w.Notify
	runWorker(t, w, 10*time.Second)
	f.waitDelivered(10 * time.Second)
	waitClaims(t, counting, 3) // a few more looks at the outbox find nothing to send

	list := waitMailCount(t, mp, 1, 10*time.Second)
	if to := list[0].To; len(to) != 1 || to[0].Address != "alice2@example.com" {
		t.Errorf("the one mail went to %+v, want alice2@example.com", to)
	}
	for _, r := range f.outbox() {
		switch {
		case r.LinkID == newest:
			if r.Status != string(member.DeliverySent) || r.MessageID != list[0].MessageID {
				t.Errorf("newest link's row %d: %s, Message-ID %s; want SENT as %s", r.ID, r.Status, r.MessageID, list[0].MessageID)
			}
		case r.Status != string(member.DeliveryCancelled) || r.Attempts != 0 || r.Token.Valid || r.SentAt.Valid:
			t.Errorf("superseded row %d to %s: %s, attempts %d, token kept %v, sent_at %v; want CANCELLED, untried, no token",
				r.ID, r.Recipient, r.Status, r.Attempts, r.Token.Valid, r.SentAt)
		}
		if l := f.link(r.LinkID); r.LinkID != newest && (l.SentAt.Valid || !l.KilledAt.Valid) {
			t.Errorf("superseded link %d: sent_at %v, killed_at %v; want never sent, killed", l.ID, l.SentAt, l.KilledAt)
		}
	}
	if b := f.member(id).Binding; b.LinkSentAt == nil || b.UnsentLinks != 0 {
		t.Errorf("binding after delivery: linkSentAt %v, unsentLinks %d; want set and 0", b.LinkSentAt, b.UnsentLinks)
	}
}

// TestDeliverySupersededWhileInFlight: a binding is modified while its
// mail is being sent. The mail that was in flight went out, and the
// store rightly refuses to record it as sent (its row was cancelled), but
// the worker must not hang on to it: the modification's mail must follow
// promptly, and the worker must still stop within its shutdown grace.
func TestDeliverySupersededWhileInFlight(t *testing.T) {
	t.Parallel()
	// The lease exceeds the sender's connect and command timeouts, as
	// WorkerOptions.Lease asks.
	const lease, grace = 12 * time.Second, 200 * time.Millisecond

	// start binds a member while the worker's one slot sends its mail,
	// modifies the binding while that send waits for the server's reply,
	// then lets the reply come.
	start := func(t *testing.T) (*fixture, *testenv.MailpitServer, *countingOutbox, *running) {
		f := newFixture(t, fixtureOptions{})
		mp := testenv.Mailpit(t)
		release := make(chan struct{})
		var sends atomic.Int32
		sender := newSender(t, mp.SMTPURL+"&connect_timeout=2s&timeout=5s", 1)
		transport := transportFunc(func(ctx context.Context, msg *gomail.Msg) error {
			err := sender.Send(ctx, msg)
			if sends.Add(1) == 1 {
				<-release
			}
			return err
		})
		counting := &countingOutbox{Outbox: f.st}
		w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Sender: transport, Concurrency: 1, Lease: lease, ShutdownGrace: grace})
		f.st.OnOutbox = w.Notify
		run := runWorker(t, w, grace+2*time.Second)

		id := f.bind("Bob", "bob0@example.com")
		mp.WaitMessages(t, 1, 10*time.Second)
		if _, err := f.st.UpdateSecurityInfo(context.Background(), f.org.ID, testActor, id, securityInfo("bob1@example.com")); err != nil {
			t.Fatal(err)
		}
		close(release)
		return f, mp, counting, run
	}

	t.Run("next mail not held up", func(t *testing.T) {
		t.Parallel()
		f, mp, _, _ := start(t)
		began := time.Now()
		f.waitDelivered(lease)
		if took := time.Since(began); took > 3*time.Second {
			t.Errorf("the modification's mail went out %s after the superseded one was accepted, want within 3s: the worker's only slot was held by the superseded mail", took.Round(time.Millisecond))
		}
		list := waitMailCount(t, mp, 2, 5*time.Second)
		byRecipient, _ := tally(list)
		if byRecipient["bob0@example.com"] != 1 || byRecipient["bob1@example.com"] != 1 {
			t.Errorf("mails by recipient = %v, want one each to bob0 and bob1", byRecipient)
		}
	})

	t.Run("stops within grace", func(t *testing.T) {
		t.Parallel()
		_, _, counting, run := start(t)
		// The worker has tried to record the superseded mail as sent.
		testenv.Eventually(t, 10*time.Second, "a MarkOutboxSentBatch", func() error {
			if counting.marks.Load() == 0 {
				return errors.New("no MarkOutboxSentBatch yet")
			}
			return nil
		})
		began := time.Now()
		if err := run.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		t.Logf("Run returned %s after its context ended (grace %s)", time.Since(began).Round(time.Millisecond), grace)
	})
}

// transportFunc is a Transport made of a function.
type transportFunc func(ctx context.Context, msg *gomail.Msg) error

func (f transportFunc) Send(ctx context.Context, msg *gomail.Msg) error { return f(ctx, msg) }

// TestDeliveryMailContent: the mail as received. Both parts carry the
// link {PublicURL}/activate?token=… whose token is the newest link's; the
// printed expiry is the stored one to the minute and never later; a zh-CN
// organization gets the Chinese mail; a retried mail keeps its Message-ID
// (R4, R6, DESIGN.md §3, §4).
func TestDeliveryMailContent(t *testing.T) {
	t.Parallel()
	ttl := 72 * time.Hour
	f := newFixture(t, fixtureOptions{Policy: member.Policy{ActivationTTL: ttl, MaxModifications: 3, ResendsPerHour: 5, ResendsTotal: 20}})
	mp := testenv.MailpitWith(t, testenv.MailpitOptions{Chaos: true})
	ctx := context.Background()
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{})
	f.st.OnOutbox = w.Notify
	runWorker(t, w, 10*time.Second)

	// A retried mail keeps its Message-ID.
	mp.SetChaos(t, testenv.MailpitChaos{Recipient: testenv.MailpitChaosTrigger{ErrorCode: 451, Probability: 100}})
	f.bind("Retried", "retried@example.com")
	var row outboxRow
	testenv.Eventually(t, 10*time.Second, "the mail retried twice", func() error {
		rows := f.outbox()
		if len(rows) != 1 || rows[0].Status != string(member.DeliveryRetrying) || rows[0].Attempts < 2 {
			return fmt.Errorf("outbox %+v, waiting for one row RETRYING after 2 attempts", rows)
		}
		row = rows[0]
		return nil
	})
	if !strings.Contains(row.LastError.String, "451") {
		t.Errorf("last_error = %q, want the server's 451 reply", row.LastError.String)
	}
	mp.SetChaos(t, testenv.MailpitChaos{})
	list := waitMailCount(t, mp, 1, 10*time.Second)
	f.waitDelivered(10 * time.Second)
	after := f.outbox()[0]
	if to := list[0].To; len(to) != 1 || to[0].Address != "retried@example.com" {
		t.Errorf("the retried mail went to %+v, want retried@example.com", to)
	}
	if list[0].MessageID != row.MessageID || after.MessageID != row.MessageID {
		t.Errorf("Message-ID received %q, stored %q, before the retries %q: want all the same", list[0].MessageID, after.MessageID, row.MessageID)
	}
	if after.Status != string(member.DeliverySent) || after.Attempts < row.Attempts+1 || after.LastError.Valid {
		t.Errorf("after the retries: %s after %d attempts, last error %q; want SENT after %d+ attempts, no error", after.Status, after.Attempts, after.LastError.String, row.Attempts+1)
	}
	mp.DeleteAll(t)

	// English: bind, then send again; each mail holds its own link.
	id := f.bind("Alice Example", "alice@example.com")
	first := waitMailCount(t, mp, 1, 10*time.Second)[0]
	f.waitDelivered(10 * time.Second)
	if _, err := f.st.ResendActivationLink(ctx, f.org.ID, testActor, id); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "both mails at Mailpit", func() error {
		if got := len(mp.Messages(t)); got != 2 {
			return fmt.Errorf("%d messages, waiting for 2", got)
		}
		return nil
	})
	f.waitDelivered(10 * time.Second)
	var second testenv.MailpitSummary
	for _, s := range mp.Messages(t) {
		if s.ID != first.ID {
			second = s
		}
	}
	b := f.member(id).Binding
	var links []linkRow
	if err := f.db.Select(&links, `SELECT id, binding_id, token_hash, sent_at, expires_at, killed_at FROM activation_links WHERE binding_id = ? ORDER BY id`, b.ID); err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || links[1].ID != b.NewestLinkID {
		t.Fatalf("links of the binding = %+v, want two, the second the newest (%d)", links, b.NewestLinkID)
	}
	for i, s := range []testenv.MailpitSummary{first, second} {
		msg := mp.Message(t, s.ID)
		tok := tokensOf(t, msg)
		l := links[i]
		if !bytes.Equal(mysql.Hash(tok), l.TokenHash) {
			t.Errorf("mail %d: its token does not hash to link %d's token_hash", i+1, l.ID)
		}
		checkExpiry(t, msg, l)
		view, err := f.st.InspectLink(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if view.State != member.LinkValid || view.Email != "alice@example.com" || view.ExpiresAt == nil || !view.ExpiresAt.Equal(l.ExpiresAt.Time) {
			t.Errorf("mail %d: opening its link finds %+v, want a VALID link to alice@example.com expiring %v", i+1, view, l.ExpiresAt.Time)
		}
		if i == 0 {
			checkEnglish(t, msg)
		}
	}

	// Chinese: an organization with lang zh-CN.
	orgZH, _, err := f.st.CreateOrganization(ctx, "示例科技", "zh-CN")
	if err != nil {
		t.Fatal(err)
	}
	zhMember, err := f.st.CreateMember(ctx, orgZH.ID, testActor, member.TypeCreated, "张三", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.BindSecurityInfo(ctx, orgZH.ID, testActor, zhMember.ID, securityInfo("zhangsan@example.com")); err != nil {
		t.Fatal(err)
	}
	var zh *testenv.MailpitMessage
	testenv.Eventually(t, 10*time.Second, "the mail to zhangsan@example.com", func() error {
		for _, s := range mp.Messages(t) {
			if len(s.To) == 1 && s.To[0].Address == "zhangsan@example.com" {
				zh = mp.Message(t, s.ID)
				return nil
			}
		}
		return errors.New("no mail to zhangsan@example.com yet")
	})
	f.waitDelivered(10 * time.Second)
	zhBinding, err := f.st.Member(ctx, orgZH.ID, zhMember.ID)
	if err != nil {
		t.Fatal(err)
	}
	zl := f.link(zhBinding.Binding.NewestLinkID)
	if tok := tokensOf(t, zh); !bytes.Equal(mysql.Hash(tok), zl.TokenHash) {
		t.Errorf("Chinese mail: its token does not hash to the newest link's")
	}
	checkExpiry(t, zh, zl)
	if want := "示例科技：请确认成员账号 张三 的登录邮箱"; zh.Subject != want {
		t.Errorf("Chinese subject = %q, want %q", zh.Subject, want)
	}
	for part, body := range map[string]string{"text": zh.Text, "HTML": zh.HTML} {
		for _, want := range []string{"示例科技", "张三", "zhangsan@example.com", "此链接将于", "请直接忽略"} {
			if !strings.Contains(body, want) {
				t.Errorf("Chinese %s part lacks %q:\n%s", part, want, body)
			}
		}
	}
	if got := zh.Headers["Content-Language"]; len(got) != 1 || got[0] != "zh-CN" {
		t.Errorf("Chinese mail Content-Language = %v, want zh-CN", got)
	}
}

// checkExpiry checks the expiry printed in both parts of msg against the
// stored expiry of its link l: never later, and the same to the minute.
// The mail is written just before it is sent and the link's days start
// when it is accepted, so the printed time may trail by the send as well.
func checkExpiry(t *testing.T, msg *testenv.MailpitMessage, l linkRow) {
	t.Helper()
	if !l.ExpiresAt.Valid {
		t.Fatalf("link %d has no expiry although its mail was received", l.ID)
	}
	stored := l.ExpiresAt.Time.UTC()
	for part, body := range map[string]string{"text": msg.Text, "HTML": msg.HTML} {
		found := expiryRE.FindAllString(body, -1)
		if len(found) != 1 {
			t.Errorf("%s part: %d expiry dates %q, want one", part, len(found), found)
			continue
		}
		printed, err := time.Parse(mail.ExpiryLayout, found[0])
		if err != nil {
			t.Fatal(err)
		}
		if printed.After(stored) || stored.Sub(printed) >= time.Minute+5*time.Second {
			t.Errorf("%s part prints expiry %s, stored %s: want the stored one to the minute, never later", part, found[0], stored.Format(time.RFC3339Nano))
		}
	}
}

// checkEnglish checks the English mail's headers and what it says.
func checkEnglish(t *testing.T, msg *testenv.MailpitMessage) {
	t.Helper()
	if want := "Acme Ltd: confirm the login email of member account Alice Example"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	if msg.From == nil || msg.From.Address != "noreply@example.com" {
		t.Errorf("From = %+v, want noreply@example.com", msg.From)
	}
	if got := msg.Headers["Auto-Submitted"]; len(got) != 1 || got[0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %v, want auto-generated", got)
	}
	if !strings.Contains(strings.ToLower(msg.Raw), "multipart/alternative") {
		t.Errorf("the mail is not multipart/alternative:\n%s", msg.Raw)
	}
	for part, body := range map[string]string{"text": msg.Text, "HTML": msg.HTML} {
		for _, want := range []string{"Acme Ltd", "Alice Example", "alice@example.com", "expires at", "ignore it"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", part, want, body)
			}
		}
	}
}
