package landing_test

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/landing"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// t0 is where every fixture's clock starts.
var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// fixture is a fresh database with the real store on a settable clock,
// and the handler under test on it.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	db     *sqlx.DB
	st     *mysql.Store
	clock  *testenv.Clock
	h      *landing.Handler
	logBuf *lockedBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, landing.Options{})
}

// newFixtureWith builds a fixture whose handler has o, with the store,
// clock and a captured logger filled in.
func newFixtureWith(t *testing.T, o landing.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: testenv.NewClock(t0), logBuf: &lockedBuffer{}}
	f.st = testenv.Store(t, mysql.Options{Now: f.clock.Now, Policy: member.DefaultPolicy()})
	f.db = f.st.DB()
	o.Activator = f.st
	o.Now = f.clock.Now
	o.Logger = slog.New(slog.NewJSONHandler(f.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.h = landing.New(o)
	return f
}

// org creates an organization.
func (f *fixture) org(name, lang string) *member.Organization {
	f.t.Helper()
	o, _, err := f.st.CreateOrganization(f.ctx, name, lang)
	if err != nil {
		f.t.Fatalf("create organization %q: %v", name, err)
	}
	return o
}

// bind creates a member of org and binds email and a Chinese mobile number
// to it; its link's mail is queued, not sent (see deliver).
func (f *fixture) bind(org *member.Organization, name, email string) *member.Member {
	f.t.Helper()
	return testenv.Bind(f.t, f.st, org.ID, name, email)
}

// modify changes a pending binding's email (R5), which supersedes its links.
func (f *fixture) modify(m *member.Member, email string) {
	f.t.Helper()
	if _, err := f.st.UpdateSecurityInfo(f.ctx, m.OrgID, "test", m.ID, testenv.SecurityInfo(f.t, email)); err != nil {
		f.t.Fatalf("modify %q: %v", m.Name, err)
	}
}

// rebind binds a new email to a FAILED member (R8).
func (f *fixture) rebind(m *member.Member, email string) {
	f.t.Helper()
	if _, err := f.st.RebindSecurityInfo(f.ctx, m.OrgID, "test", m.ID, testenv.SecurityInfo(f.t, email)); err != nil {
		f.t.Fatalf("rebind %q: %v", m.Name, err)
	}
}

// resend sends a pending binding's link again (R6).
func (f *fixture) resend(m *member.Member) {
	f.t.Helper()
	if _, err := f.st.ResendActivationLink(f.ctx, m.OrgID, "test", m.ID); err != nil {
		f.t.Fatalf("resend to %q: %v", m.Name, err)
	}
}

// claim takes every due mail from the outbox and returns the raw tokens
// by member id, oldest link first, without marking them sent: their days
// have not started.
func (f *fixture) claim() ([]member.OutboxMessage, map[int64][]string) {
	f.t.Helper()
	msgs, err := f.st.ClaimOutbox(f.ctx, "test", 100, time.Minute)
	if err != nil {
		f.t.Fatal(err)
	}
	tokens := make(map[int64][]string)
	for _, m := range msgs {
		if m.Token == "" {
			f.t.Fatalf("outbox row %d has no token", m.ID)
		}
		tokens[m.MemberID] = append(tokens[m.MemberID], m.Token)
	}
	return msgs, tokens
}

// deliver sends every due mail now (as if the SMTP server accepted it),
// starting the links' days, and returns their tokens by member id.
func (f *fixture) deliver() map[int64][]string {
	f.t.Helper()
	return testenv.Deliver(f.t, f.st, f.clock.Now())[member.OutboxActivation]
}

// member reads a member as the store sees it now.
func (f *fixture) member(m *member.Member) *member.Member {
	f.t.Helper()
	got, err := f.st.Member(f.ctx, m.OrgID, m.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// countEvents counts a member's events of one kind.
func (f *fixture) countEvents(memberID int64, kind member.EventKind) int {
	f.t.Helper()
	var n int
	if err := f.db.GetContext(f.ctx, &n, `SELECT COUNT(*) FROM member_events WHERE member_id = ? AND kind = ?`, memberID, string(kind)); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// snapshot dumps every table a link could change, for comparing before
// and after requests that must change nothing.
func (f *fixture) snapshot() string {
	f.t.Helper()
	return testenv.Snapshot(f.t, f.db, "organizations", "members", "bindings", "email_claims", "activation_links", "outbox", "member_events")
}

// response is an answer of the handler, read whole.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// text is the body with HTML character references decoded (html/template
// writes "+" as "&#43;"), for looking for what a person reads.
func text(res response) string { return html.UnescapeString(res.Body) }

// request options.
type reqOpt func(*http.Request)

func withAccept(v string) reqOpt { return func(r *http.Request) { r.Header.Set("Accept", v) } }
func withAcceptLanguage(v string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Accept-Language", v) }
}
func withRemote(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }
func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Add(k, v) } }

// serve runs one request through h.
func serve(h http.Handler, method, target, contentType string, body io.Reader, opts ...reqOpt) response {
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// get opens a link: GET /activate?token=…
func get(h http.Handler, token string, opts ...reqOpt) response {
	return serve(h, http.MethodGet, "/activate?token="+url.QueryEscape(token), "", nil, opts...)
}

// head is get with HEAD.
func head(h http.Handler, token string, opts ...reqOpt) response {
	return serve(h, http.MethodHead, "/activate?token="+url.QueryEscape(token), "", nil, opts...)
}

// post confirms a link as the page's form does.
func post(h http.Handler, token string, opts ...reqOpt) response {
	form := url.Values{"token": {token}}.Encode()
	return serve(h, http.MethodPost, "/activate", "application/x-www-form-urlencoded", strings.NewReader(form), opts...)
}

// lockedBuffer collects log output written from handler goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
