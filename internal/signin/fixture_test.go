package signin_test

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/signin"
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
	h      *signin.Handler
	policy member.SignInPolicy
	logBuf *lockedBuffer
}

// newFixture builds a fixture whose handler has o, with the store, clock
// and a captured logger filled in, and no answer floor unless o sets one.
func newFixture(t *testing.T, o signin.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := mysql.Open(ctx, testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, db: db, clock: testenv.NewClock(t0), logBuf: &lockedBuffer{}}
	f.st = mysql.New(db, mysql.Options{Now: f.clock.Now})
	o.Store = f.st
	o.Now = f.clock.Now
	if o.AnswerFloor == 0 {
		o.AnswerFloor = -1
	}
	if o.Policy == (member.SignInPolicy{}) {
		o.Policy = member.DefaultSignInPolicy()
	}
	f.policy = o.Policy
	o.Logger = slog.New(slog.NewJSONHandler(f.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.h, err = signin.New(o); err != nil {
		t.Fatal(err)
	}
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

// bind creates a member of org and binds email to it; its mail is queued.
func (f *fixture) bind(org *member.Organization, name, email string) *member.Member {
	f.t.Helper()
	return testenv.Bind(f.t, f.st, org.ID, name, email)
}

// deliver sends every due mail now, as if the SMTP server accepted it,
// and returns the raw tokens by kind and member id.
func (f *fixture) deliver() map[member.OutboxKind]map[int64][]string {
	f.t.Helper()
	return testenv.Deliver(f.t, f.st, f.clock.Now())
}

// activate binds email to a new member of org and confirms its link.
func (f *fixture) activate(org *member.Organization, name, email string) *member.Member {
	f.t.Helper()
	m := f.bind(org, name, email)
	tok := f.deliver()[member.OutboxActivation][m.ID]
	if v, err := f.st.Activate(f.ctx, tok[0]); err != nil || v.State != member.LinkValid {
		f.t.Fatalf("activate %s: %v %v", name, v, err)
	}
	return m
}

// signInMails delivers the due mail and returns the sign-in tokens by
// member id.
func (f *fixture) signInMails() map[int64][]string {
	f.t.Helper()
	return f.deliver()[member.OutboxSignIn]
}

func (f *fixture) count(table, cond string, args ...any) int {
	f.t.Helper()
	return testenv.Count(f.t, f.db, table, cond, args...)
}

// snapshot dumps every table, for comparing before and after requests
// that must change nothing.
func (f *fixture) snapshot() string {
	f.t.Helper()
	return testenv.Snapshot(f.t, f.db, "members", "bindings", "email_claims", "activation_links", "outbox", "member_events", "signin_links", "member_sessions", "mail_recipients")
}

// response is an answer of the handler, read whole.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// text is the body with HTML character references decoded, for looking
// for what a person reads.
func (r response) text() string { return html.UnescapeString(r.Body) }

// cookie returns the cookie of that name the answer sets, or nil.
func (r response) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// csrfField reads the csrf field of the page's form.
func (r response) csrfField() string {
	m := regexp.MustCompile(`name="csrf" value="([^"]*)"`).FindStringSubmatch(r.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// browser is a client of the handler that keeps cookies as a browser
// does, and sends what a same-origin form post of a browser sends.
type browser struct {
	f       *fixture
	h       http.Handler
	remote  string
	lang    string
	cookies map[string]*http.Cookie
	header  http.Header // added to every request
}

func (f *fixture) browser() *browser {
	return &browser{f: f, h: f.h, remote: "192.0.2.10:51000", cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

// do runs one request through the handler, with the browser's cookies,
// and keeps the cookies the answer sets.
func (b *browser) do(method, target, contentType string, body io.Reader, mutate ...func(*http.Request)) response {
	b.f.t.Helper()
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = b.remote
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for k, vs := range b.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	for _, m := range mutate {
		m(req)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := rec.Result()
	data, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: string(data)}
}

func (b *browser) get(target string) response {
	b.f.t.Helper()
	return b.do(http.MethodGet, target, "", nil)
}

// post posts a form as a same-origin page of the service does.
func (b *browser) post(target string, form url.Values, mutate ...func(*http.Request)) response {
	b.f.t.Helper()
	return b.do(http.MethodPost, target, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), append([]func(*http.Request){func(r *http.Request) {
		r.Header.Set("Origin", "http://example.com")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}}, mutate...)...)
}

// requestLink opens the sign-in form and asks for a link for email.
func (b *browser) requestLink(email string) response {
	b.f.t.Helper()
	form := b.get("/signin")
	return b.post("/signin", url.Values{"email": {email}, "csrf": {form.csrfField()}})
}

// signIn asks for a link for email, takes it from the outbox, opens it
// and presses Sign in; it returns the answer to that press.
func (b *browser) signIn(email string) response {
	b.f.t.Helper()
	if res := b.requestLink(email); res.Status != http.StatusOK {
		b.f.t.Fatalf("request a link for %s: %d", email, res.Status)
	}
	var token string
	for _, toks := range b.f.signInMails() {
		token = toks[0]
	}
	if token == "" {
		b.f.t.Fatalf("no sign-in mail for %s", email)
	}
	return b.confirm(token)
}

// confirm opens a sign-in link and presses its Sign in button.
func (b *browser) confirm(token string) response {
	b.f.t.Helper()
	page := b.get("/signin/confirm?token=" + url.QueryEscape(token))
	if page.Status != http.StatusOK {
		return page
	}
	return b.post("/signin/confirm", url.Values{"token": {token}, "csrf": {page.csrfField()}})
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
