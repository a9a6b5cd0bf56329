package signin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/signin"
)

// checkHeaders fails unless res carries the headers every answer must.
func checkHeaders(t *testing.T, res response) {
	t.Helper()
	for k, v := range map[string]string{
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Vary":                   "Accept-Language, Cookie",
	} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, d)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q allows %s", csp, bad)
		}
	}
}

// checkPage fails unless res is a complete, script-free HTML page in lang
// with the headers every answer carries.
func checkPage(t *testing.T, res response, status int, lang string, want ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status = %d, want %d:\n%s", res.Status, status, res.text())
	}
	checkHeaders(t, res)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cl := res.Header.Get("Content-Language"); cl != lang {
		t.Errorf("Content-Language = %q, want %q", cl, lang)
	}
	for _, w := range append([]string{"<!DOCTYPE html>", `<html lang="` + lang + `">`, "<h1 "}, want...) {
		if !strings.Contains(res.text(), w) {
			t.Errorf("page lacks %q:\n%s", w, res.text())
		}
	}
	lower := strings.ToLower(res.Body)
	for _, bad := range []string{"<script", "javascript:", " onload", " onclick", "<iframe", "<img", "<link", "http://", "https://"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page has %s:\n%s", bad, res.Body)
		}
	}
}

func checkRedirect(t *testing.T, res response, to string) {
	t.Helper()
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != to {
		t.Errorf("answer = %d to %q, want 303 to %s", res.Status, res.Header.Get("Location"), to)
	}
	checkHeaders(t, res)
}

// TestSignInAndOut is a member's whole path through the pages: ask for a
// link, open it (which changes nothing), sign in, see the account, sign
// out; the old cookie then signs nobody in.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme Corp", "en")
	alice := f.activate(org, "Alice", "alice@example.com")
	b := f.browser()

	form := b.get("/signin")
	checkPage(t, form, http.StatusOK, "en", "Sign in to your member account", `name="email"`, `action="/signin"`)
	csrf := b.cookies[signin.CSRFCookie]
	c := form.cookie(signin.CSRFCookie)
	if csrf == nil || c == nil || !member.WellFormedToken(c.Value) || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Fatalf("CSRF cookie %+v", c)
	}
	if form.csrfField() != c.Value {
		t.Errorf("form's csrf field %q is not the cookie's %q", form.csrfField(), c.Value)
	}
	// A second visit keeps the cookie.
	if again := b.get("/signin"); again.cookie(signin.CSRFCookie) != nil || again.csrfField() != c.Value {
		t.Error("the form set a new CSRF cookie though the browser had one")
	}

	f.clock.Add(time.Hour)
	sent := b.post("/signin", url.Values{"email": {" Alice@EXAMPLE.com "}, "csrf": {c.Value}})
	checkPage(t, sent, http.StatusOK, "en", "Check your mail", "Alice@example.com", "15 minutes")
	tokens := f.signInMails()
	if len(tokens) != 1 || len(tokens[alice.ID]) != 1 {
		t.Fatalf("sign-in mails: %v", tokens)
	}
	token := tokens[alice.ID][0]

	before := f.snapshot()
	link := b.get("/signin/confirm?token=" + token)
	checkPage(t, link, http.StatusOK, "en", "Sign in to member account Alice", "Acme Corp", "alice@example.com",
		"2 March 2026, 10:45 (UTC)", `action="/signin/confirm"`, `name="token" value="`+token+`"`)
	if head := b.do(http.MethodHead, "/signin/confirm?token="+token, "", nil); head.Status != http.StatusOK || head.Body != "" {
		t.Errorf("HEAD = %d with %d bytes", head.Status, len(head.Body))
	}
	if f.snapshot() != before {
		t.Fatal("opening the link changed the database")
	}

	f.clock.Add(time.Minute)
	res := b.post("/signin/confirm", url.Values{"token": {token}, "csrf": {link.csrfField()}})
	checkRedirect(t, res, "/account")
	sc := res.cookie(signin.SessionCookie)
	if sc == nil || !member.WellFormedToken(sc.Value) || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" ||
		sc.Secure || sc.MaxAge != 0 || !sc.Expires.IsZero() {
		t.Fatalf("session cookie %+v", sc)
	}
	if n := f.count("member_sessions", "token_hash = ?", hash(sc.Value)); n != 1 {
		t.Error("the session is not stored by its id's hash")
	}
	if n := f.count("member_events", "member_id = ? AND kind = 'SIGNED_IN'", alice.ID); n != 1 {
		t.Errorf("%d SIGNED_IN events, want 1", n)
	}

	account := b.get("/account")
	checkPage(t, account, http.StatusOK, "en", "Alice", "Acme Corp", "alice@example.com", "You are signed in",
		"Active since", "2 March 2026, 09:30 (UTC)", "Recent sign-ins", "2 March 2026, 10:31 (UTC)", "This session",
		`action="/account/signout"`)
	if strings.Contains(account.text(), "left the organization") {
		t.Error("a member shows as having left")
	}
	// A signed-in member sent to the form goes to its account.
	checkRedirect(t, b.get("/signin"), "/account")

	// The link is spent.
	used := b.get("/signin/confirm?token=" + token)
	checkPage(t, used, http.StatusGone, "en", "This sign-in link was already used", `href="/signin"`)

	old := b.cookies[signin.SessionCookie].Value
	out := b.post("/account/signout", url.Values{"csrf": {account.csrfField()}})
	checkPage(t, out, http.StatusOK, "en", "You are signed out")
	if c := out.cookie(signin.SessionCookie); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("sign-out does not clear the cookie: %+v", c)
	}
	if n := f.count("member_sessions", "token_hash = ? AND ended_at IS NOT NULL", hash(old)); n != 1 {
		t.Error("the session did not end in the database")
	}
	checkRedirect(t, b.get("/account"), "/signin")

	// The old cookie, replayed, opens nothing and ends nothing more.
	thief := f.browser()
	thief.cookies[signin.SessionCookie] = &http.Cookie{Name: signin.SessionCookie, Value: old}
	res = thief.get("/account")
	checkRedirect(t, res, "/signin")
	if c := res.cookie(signin.SessionCookie); c == nil || c.MaxAge >= 0 {
		t.Error("a dead session cookie is not cleared")
	}
	thief.cookies[signin.SessionCookie] = &http.Cookie{Name: signin.SessionCookie, Value: old}
	checkRedirect(t, thief.post("/account/signout", url.Values{"csrf": {account.csrfField()}}), "/signin")
	checkRedirect(t, f.browser().get("/account"), "/signin")
}

func hash(s string) []byte { return mysql.Hash(s) }

// TestSameAnswerForEveryAddress: every well-formed address gets the same
// page (but for the address it echoes), the same headers, and no sooner
// than the answer floor; only an activated login email gets mail.
func TestSameAnswerForEveryAddress(t *testing.T) {
	t.Parallel()
	const floor = 150 * time.Millisecond
	f := newFixture(t, signin.Options{AnswerFloor: floor, PairBurst: 100, ClientBurst: 100})
	org := f.org("Acme", "en")
	ttl := f.st.Policy().ActivationTTL
	f.bind(org, "Dave", "dave@example.com") // will fail
	f.deliver()
	f.clock.Add(ttl + time.Hour)
	f.bind(org, "Bob", "bob@example.com") // pending
	carol := f.bind(org, "Carol", "carol.old@example.com")
	info := member.SecurityInfo{Email: "carol@example.com", CountryCode: "86", Phone: "+8613800138000"}
	if _, err := f.st.UpdateSecurityInfo(f.ctx, org.ID, "test", carol.ID, info); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	alice := f.activate(org, "Alice", "alice@example.com")
	erin := f.activate(org, "Erin", "erin@example.com")
	if _, err := f.st.RemoveMember(f.ctx, org.ID, "test", erin.ID); err != nil {
		t.Fatal(err)
	}

	var first response
	for i, email := range []string{
		"nobody@example.com", "bob@example.com", "dave@example.com", "carol.old@example.com",
		"alice@example.com", "erin@example.com", "ALICE@example.com",
	} {
		b := f.browser()
		form := b.get("/signin")
		began := time.Now()
		res := b.post("/signin", url.Values{"email": {email}, "csrf": {form.csrfField()}})
		if took := time.Since(began); took < floor {
			t.Errorf("%s answered in %s, before the floor of %s", email, took, floor)
		}
		checkPage(t, res, http.StatusOK, "en", "Check your mail")
		if res.Header.Get("Content-Length") != strconv.Itoa(len(res.Body)) {
			t.Errorf("%s: Content-Length %s for %d bytes", email, res.Header.Get("Content-Length"), len(res.Body))
		}
		res.Body = strings.ReplaceAll(res.Body, email, "EMAIL")
		for _, h := range []string{"Date", "Set-Cookie"} {
			res.Header.Del(h)
		}
		if i == 0 {
			first = res
			continue
		}
		if res.Body != first.Body {
			t.Errorf("%s got another page:\n%s\nthan an unknown address:\n%s", email, res.Body, first.Body)
		}
		if got, want := headerString(res.Header), headerString(first.Header); got != want {
			t.Errorf("%s got other headers:\n%s\nthan an unknown address:\n%s", email, got, want)
		}
	}
	mails := f.signInMails()
	if len(mails) != 2 || len(mails[alice.ID]) != 2 || len(mails[erin.ID]) != 1 {
		t.Errorf("sign-in mails by member: %v; want 2 for Alice and 1 for Erin, none for anyone else", mails)
	}
}

func headerString(h http.Header) string {
	var b strings.Builder
	for _, k := range []string{"Content-Type", "Content-Language", "Cache-Control", "Content-Security-Policy",
		"Referrer-Policy", "Vary", "X-Frame-Options", "X-Content-Type-Options", "Location", "Retry-After"} {
		b.WriteString(k + ": " + h.Get(k) + "\n")
	}
	return b.String()
}

// TestInvalidEmail re-shows the form, asks nothing of the store.
func TestInvalidEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	b := f.browser()
	form := b.get("/signin")
	before := f.snapshot()
	for _, email := range []string{"", "not an email", `"Bob" <bob@example.com>`, "<script>@x"} {
		res := b.post("/signin", url.Values{"email": {email}, "csrf": {form.csrfField()}})
		checkPage(t, res, http.StatusBadRequest, "en", "This is not an email address", `aria-invalid="true"`)
		if res.csrfField() != form.csrfField() {
			t.Error("the form shown again lost its CSRF token")
		}
	}
	if f.snapshot() != before {
		t.Error("an invalid email changed the database")
	}
}

// TestForgery: posts without the form's token, with another token, or
// from another site are refused and change nothing.
func TestForgery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{PublicURL: "http://members.example.com"})
	org := f.org("Acme", "en")
	f.activate(org, "Alice", "alice@example.com")
	b := f.browser()
	if res := b.signIn("alice@example.com"); res.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.Status)
	}
	account := b.get("/account")
	csrf := b.cookies[signin.CSRFCookie].Value // the double-submit token b had before signing in

	// A second browser asks for a link, which the forgeries then try to use.
	other := f.browser()
	if res := other.requestLink("alice@example.com"); res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	var token string
	for _, toks := range f.signInMails() {
		token = toks[0]
	}
	page := other.get("/signin/confirm?token=" + token)

	crossSite := func(r *http.Request) {
		r.Header.Set("Origin", "https://evil.example")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	sameSite := func(r *http.Request) {
		r.Header.Set("Origin", "http://evil.members.example.com")
		r.Header.Set("Sec-Fetch-Site", "same-site")
	}
	oldBrowser := func(r *http.Request) { // no Sec-Fetch-Site: the Origin decides
		r.Header.Del("Sec-Fetch-Site")
		r.Header.Set("Origin", "https://evil.example")
	}
	noCookie := func(r *http.Request) {
		var keep []*http.Cookie
		for _, c := range r.Cookies() {
			if c.Name != signin.CSRFCookie {
				keep = append(keep, c)
			}
		}
		r.Header.Del("Cookie")
		for _, c := range keep {
			r.AddCookie(c)
		}
	}
	before := f.snapshot()
	for _, c := range []struct {
		name   string
		client *browser
		path   string
		form   url.Values
		mutate func(*http.Request)
	}{
		{"request: no token", other, "/signin", url.Values{"email": {"alice@example.com"}}, nil},
		{"request: wrong token", other, "/signin", url.Values{"email": {"alice@example.com"}, "csrf": {strings.Repeat("A", 43)}}, nil},
		{"request: no cookie", other, "/signin", url.Values{"email": {"alice@example.com"}, "csrf": {page.csrfField()}}, noCookie},
		{"request: cross-site", other, "/signin", url.Values{"email": {"alice@example.com"}, "csrf": {page.csrfField()}}, crossSite},
		{"request: same-site", other, "/signin", url.Values{"email": {"alice@example.com"}, "csrf": {page.csrfField()}}, sameSite},
		{"request: old browser, other origin", other, "/signin", url.Values{"email": {"alice@example.com"}, "csrf": {page.csrfField()}}, oldBrowser},
		{"confirm: no token", other, "/signin/confirm", url.Values{"token": {token}}, nil},
		{"confirm: another browser's token", other, "/signin/confirm", url.Values{"token": {token}, "csrf": {csrf}}, nil},
		{"confirm: cross-site", other, "/signin/confirm", url.Values{"token": {token}, "csrf": {page.csrfField()}}, crossSite},
		{"sign-out: no token", b, "/account/signout", url.Values{}, nil},
		{"sign-out: the pre-sign-in token", b, "/account/signout", url.Values{"csrf": {csrf}}, nil},
		{"sign-out: cross-site", b, "/account/signout", url.Values{"csrf": {account.csrfField()}}, crossSite},
	} {
		var mutate []func(*http.Request)
		if c.mutate != nil {
			mutate = append(mutate, c.mutate)
		}
		res := c.client.post(c.path, c.form, mutate...)
		checkPage(t, res, http.StatusForbidden, "en", "This form could not be accepted")
		if f.snapshot() != before {
			t.Fatalf("%s changed the database", c.name)
		}
	}
	if res := b.get("/account"); res.Status != http.StatusOK {
		t.Errorf("after the forged sign-outs the session is gone: %d", res.Status)
	}
	// The public URL's origin is trusted even where the Host differs (a
	// reverse proxy), and the real forms still work.
	viaProxy := func(r *http.Request) {
		r.Host = "10.0.0.5:8080"
		r.Header.Set("Origin", "http://members.example.com")
		r.Header.Del("Sec-Fetch-Site")
	}
	res := other.post("/signin/confirm", url.Values{"token": {token}, "csrf": {page.csrfField()}}, viaProxy)
	checkRedirect(t, res, "/account")
}

// TestLinkPages: expired, used and unknown links each get their own page,
// change nothing, and are in the organization's language once it is
// known.
// checkNothingPersonal fails if the page of a sign-in link that works no
// more shows whose it was (issue 12.8): the link stays in the browser's
// history.
func checkNothingPersonal(t *testing.T, res response) {
	t.Helper()
	for _, bad := range []string{"示例科技", "王小明", "example.com", "2026年3月2日"} {
		if strings.Contains(res.text(), bad) {
			t.Errorf("the page of a spent sign-in link shows %q:\n%s", bad, res.Body)
		}
	}
}

func TestLinkPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{MissBurst: 1000})
	zh := f.org("示例科技", "zh-CN")
	m := f.activate(zh, "王小明", "xiaoming@example.com")
	b := f.browser()
	b.lang = "en-US,en;q=0.9"

	b.requestLink("xiaoming@example.com")
	expired := f.signInMails()[m.ID][0]
	b.requestLink("xiaoming@example.com")
	valid := f.signInMails()[m.ID][0]
	f.clock.Add(f.policy.LinkTTL - time.Second)
	b.requestLink("xiaoming@example.com")
	used := f.signInMails()[m.ID][0]
	if res := b.confirm(used); res.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.Status)
	}
	f.clock.Add(time.Second) // the first two links expire now

	before := f.snapshot()
	for _, c := range []struct {
		token  string
		status int
		lang   string
		want   []string
	}{
		{expired, http.StatusGone, "zh-CN", []string{"此登录链接已过期", `href="/signin"`}},
		{valid, http.StatusGone, "zh-CN", []string{"此登录链接已过期"}},
		{used, http.StatusGone, "zh-CN", []string{"此登录链接已被使用"}},
		{strings.Repeat("A", 43), http.StatusNotFound, "en", []string{"This sign-in link is not valid"}},
		{"short", http.StatusNotFound, "en", []string{"This sign-in link is not valid"}},
		{"", http.StatusNotFound, "en", []string{"This sign-in link is not valid"}},
	} {
		res := b.get("/signin/confirm?token=" + url.QueryEscape(c.token))
		checkPage(t, res, c.status, c.lang, c.want...)
		if strings.Contains(res.Body, `name="token"`) {
			t.Errorf("%s page has a Sign in form", c.want[0])
		}
		checkNothingPersonal(t, res)
		// Pressing Sign in on a stale page does not sign in either.
		res = b.post("/signin/confirm", url.Values{"token": {c.token}, "csrf": {b.cookies[signin.CSRFCookie].Value}})
		checkPage(t, res, c.status, c.lang, c.want...)
		checkNothingPersonal(t, res)
	}
	if f.snapshot() != before {
		t.Error("stale links changed the database")
	}
	// The account is in the organization's language too.
	checkPage(t, b.get("/account"), http.StatusOK, "zh-CN", "您已登录您的成员账号", "王小明", "最近登录", "当前会话", "退出登录")
	// Before the member is known, the browser's language decides.
	zhBrowser := f.browser()
	zhBrowser.lang = "zh-CN,zh;q=0.9,en;q=0.5"
	checkPage(t, zhBrowser.get("/signin"), http.StatusOK, "zh-CN", "登录您的成员账号", "发送登录链接")
}

// TestSessionExpiry: a session ends after the idle timeout without use
// and at its absolute end however much it is used.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme", "en")
	f.activate(org, "Alice", "alice@example.com")
	p := f.policy

	b := f.browser()
	checkRedirect(t, b.signIn("alice@example.com"), "/account")
	f.clock.Add(p.IdleTimeout - time.Second)
	if res := b.get("/account"); res.Status != http.StatusOK {
		t.Fatalf("idle for less than the timeout: %d", res.Status)
	}
	f.clock.Add(p.IdleTimeout - time.Second)
	if res := b.get("/account"); res.Status != http.StatusOK {
		t.Fatalf("used within the idle timeout: %d", res.Status)
	}
	f.clock.Add(p.IdleTimeout)
	checkRedirect(t, b.get("/account"), "/signin")
	if _, ok := b.cookies[signin.SessionCookie]; ok {
		t.Error("the idle session's cookie was not cleared")
	}

	b = f.browser()
	checkRedirect(t, b.signIn("alice@example.com"), "/account")
	began := f.clock.Now()
	for f.clock.Now().Add(25 * time.Minute).Before(began.Add(p.AbsoluteTimeout)) {
		f.clock.Add(25 * time.Minute)
		if res := b.get("/account"); res.Status != http.StatusOK {
			t.Fatalf("session in use ended %s after sign-in: %d", f.clock.Now().Sub(began), res.Status)
		}
	}
	f.clock.Set(began.Add(p.AbsoluteTimeout))
	checkRedirect(t, b.get("/account"), "/signin")
}

// TestRemovedMember: a member removed from its organization still signs
// in, and its account says it left.
func TestRemovedMember(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme", "en")
	erin := f.activate(org, "Erin", "erin@example.com")
	f.clock.Add(48 * time.Hour)
	if _, err := f.st.RemoveMember(f.ctx, org.ID, "test", erin.ID); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	checkRedirect(t, b.signIn("erin@example.com"), "/account")
	checkPage(t, b.get("/account"), http.StatusOK, "en", "Erin", "left the organization Acme on", "4 March 2026, 09:30 (UTC)",
		"erin@example.com", "Left")
}

// TestRateLimits: sign-in requests are limited per client and email
// address and per client address, unknown links per client address; a
// limited request changes nothing.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{PairBurst: 2, PairWindow: 10 * time.Minute, ClientBurst: 4, ClientWindow: 4 * time.Minute,
		MissBurst: 2, MissWindow: time.Minute})
	org := f.org("Acme", "en")
	alice := f.activate(org, "Alice", "alice@example.com")

	ask := func(b *browser, email string) response {
		t.Helper()
		form := b.get("/signin")
		return b.post("/signin", url.Values{"email": {email}, "csrf": {form.csrfField()}})
	}
	limited := func(res response, wait int) {
		t.Helper()
		checkPage(t, res, http.StatusTooManyRequests, "en", "Too many attempts", strconv.Itoa(wait)+" seconds")
		if got := res.Header.Get("Retry-After"); got != strconv.Itoa(wait) {
			t.Errorf("Retry-After = %q, want %d", got, wait)
		}
	}

	// Per client and address: two, then one every five minutes; another
	// client asking for the same address is not held up.
	a, b := f.browser(), f.browser()
	b.remote = "198.51.100.7:4000"
	for range 2 {
		if res := ask(a, "alice@example.com"); res.Status != http.StatusOK {
			t.Fatalf("request: %d", res.Status)
		}
	}
	before := f.snapshot()
	limited(ask(a, "ALICE@example.com"), 300)
	if f.snapshot() != before {
		t.Error("a limited request wrote")
	}
	if res := ask(a, "bob@example.com"); res.Status != http.StatusOK {
		t.Errorf("another address: %d", res.Status)
	}
	if res := ask(b, "alice@example.com"); res.Status != http.StatusOK {
		t.Errorf("another client: %d", res.Status)
	}
	f.clock.Add(5 * time.Minute)
	if res := ask(a, "alice@example.com"); res.Status != http.StatusOK {
		t.Errorf("five minutes later: %d", res.Status)
	}
	if n := len(f.signInMails()[alice.ID]); n != 4 {
		t.Errorf("%d mails to Alice, want 4", n)
	}

	// Per client: four, then one a minute; another client is not held up.
	f.clock.Add(time.Hour)
	c, d := f.browser(), f.browser()
	c.remote, d.remote = "203.0.113.9:1", "203.0.113.10:1"
	for i := range 4 {
		if res := ask(c, "someone"+strconv.Itoa(i)+"@example.com"); res.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i, res.Status)
		}
	}
	limited(ask(c, "someone.else@example.com"), 60)
	if res := ask(d, "someone.else@example.com"); res.Status != http.StatusOK {
		t.Errorf("another client: %d", res.Status)
	}

	// Unknown links: two misses, then one every 30s; a found link does
	// not count.
	e := f.browser()
	e.remote = "192.0.2.99:1"
	ask(e, "alice@example.com")
	good := f.signInMails()[alice.ID][0]
	for range 3 {
		if res := e.get("/signin/confirm?token=" + good); res.Status != http.StatusOK {
			t.Fatalf("a valid link: %d", res.Status)
		}
	}
	for range 2 {
		if res := e.get("/signin/confirm?token=" + strings.Repeat("B", 43)); res.Status != http.StatusNotFound {
			t.Fatalf("unknown link: %d", res.Status)
		}
	}
	limited(e.get("/signin/confirm?token="+good), 30)
	limited(e.post("/signin/confirm", url.Values{"token": {good}, "csrf": {e.cookies[signin.CSRFCookie].Value}}), 30)
	f.clock.Add(30 * time.Second)
	checkRedirect(t, e.confirm(good), "/account")
}

// TestMethodsAndPaths: every path answers its methods only, and anything
// else under /signin/ and /account/ is a page of the same look.
func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	b := f.browser()
	csrf := b.get("/signin").csrfField()
	for _, c := range []struct {
		method, path, allow string
	}{
		{http.MethodPut, "/signin", "GET, HEAD, POST"},
		{http.MethodDelete, "/signin/confirm", "GET, HEAD, POST"},
		{http.MethodPost, "/account", "GET, HEAD"},
		{http.MethodGet, "/account/signout", "POST"},
	} {
		res := b.do(c.method, c.path, "", nil)
		checkPage(t, res, http.StatusMethodNotAllowed, "en", "This page cannot do that")
		if got := res.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
		}
	}
	for _, p := range []string{"/signin/", "/signin/other", "/account/", "/account/x/y"} {
		checkPage(t, b.get(p), http.StatusNotFound, "en", "There is no such page")
	}
	res := b.do(http.MethodPost, "/signin", "application/json", strings.NewReader(`{"email":"a@example.com"}`))
	checkPage(t, res, http.StatusUnsupportedMediaType, "en", "The request was not understood")
	big := url.Values{"email": {strings.Repeat("a", 5000) + "@example.com"}, "csrf": {csrf}}.Encode()
	res = b.do(http.MethodPost, "/signin", "application/x-www-form-urlencoded", strings.NewReader(big))
	if res.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 5 kB body: %d, want 413", res.Status)
	}
}

// TestSecureCookies: behind an https public URL the cookies are Secure
// and __Host- prefixed.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{PublicURL: "https://members.example.com"})
	org := f.org("Acme", "en")
	f.activate(org, "Alice", "alice@example.com")
	b := f.browser()
	form := b.get("/signin")
	if c := form.cookie("__Host-" + signin.CSRFCookie); c == nil || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Fatalf("CSRF cookie %+v", c)
	}
	b.post("/signin", url.Values{"email": {"alice@example.com"}, "csrf": {form.csrfField()}}, func(r *http.Request) {
		r.Header.Set("Origin", "https://members.example.com")
	})
	var token string
	for _, toks := range f.signInMails() {
		token = toks[0]
	}
	res := b.confirm(token)
	c := res.cookie("__Host-" + signin.SessionCookie)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("session cookie %+v", c)
	}
	checkPage(t, b.get("/account"), http.StatusOK, "en", "Alice")
	// A cookie without the prefix is not read.
	plain := f.browser()
	plain.cookies[signin.SessionCookie] = &http.Cookie{Name: signin.SessionCookie, Value: c.Value}
	checkRedirect(t, plain.get("/account"), "/signin")
}

// TestConcurrentConfirm: pressing Sign in many times at once starts one
// session.
func TestConcurrentConfirm(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{MissBurst: 1000})
	org := f.org("Acme", "en")
	alice := f.activate(org, "Alice", "alice@example.com")
	b := f.browser()
	b.requestLink("alice@example.com")
	token := f.signInMails()[alice.ID][0]
	page := b.get("/signin/confirm?token=" + token)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		c := &browser{f: f, h: f.h, remote: b.remote, cookies: map[string]*http.Cookie{}, header: http.Header{}}
		c.cookies[signin.CSRFCookie] = b.cookies[signin.CSRFCookie]
		wg.Go(func() {
			req := url.Values{"token": {token}, "csrf": {page.csrfField()}}
			statuses[i] = c.post("/signin/confirm", req).Status
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			won++
		case http.StatusGone:
		default:
			t.Errorf("a confirmation answered %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d confirmations signed in, want 1 (statuses %v)", won, statuses)
	}
	if c := f.count("member_sessions", "member_id = ?", alice.ID); c != 1 {
		t.Errorf("%d sessions, want 1", c)
	}
}

// TestNoSecretsInLog: the log never holds a token, a session id or an
// email address.
func TestNoSecretsInLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme", "en")
	f.activate(org, "Alice", "alice@example.com")
	b := f.browser()
	b.requestLink("alice@example.com")
	var token string
	for _, toks := range f.signInMails() {
		token = toks[0]
	}
	b.confirm(token)
	session := b.cookies[signin.SessionCookie].Value
	account := b.get("/account")
	b.post("/account/signout", url.Values{"csrf": {account.csrfField()}})
	logs := f.logBuf.String()
	for _, secret := range []string{token, session, "alice@example.com", account.csrfField()} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !regexp.MustCompile(`"outcome":"signed_in"`).MatchString(logs) {
		t.Errorf("the log does not record the sign-in:\n%s", logs)
	}
}

// TestConfirmPathMatchesMail: the link in the mail opens this handler.
func TestConfirmPathMatchesMail(t *testing.T) {
	if signin.ConfirmPath != mail.SignInPath {
		t.Errorf("signin.ConfirmPath %q, mail.SignInPath %q", signin.ConfirmPath, mail.SignInPath)
	}
}

// errStore fails every call, as a store whose database is down.
type errStore struct{}

var errDown = errors.New("dial tcp 10.0.0.5:3306: secret detail")

func (errStore) RequestSignIn(context.Context, string, member.SignInPolicy) error { return errDown }
func (errStore) InspectSignIn(context.Context, string) (*member.SignInView, error) {
	return nil, errDown
}
func (errStore) SignIn(context.Context, string, member.SignInPolicy) (*member.SignInView, string, error) {
	return nil, "", errDown
}
func (errStore) Session(context.Context, string, member.SignInPolicy) (*member.Session, error) {
	return nil, errDown
}
func (errStore) Account(context.Context, *member.Session, int) (*member.Account, error) {
	return nil, errDown
}
func (errStore) SignOut(context.Context, string) error { return errDown }

// TestStoreError: a store failure is a bare 500 page that tells nothing,
// except on POST /signin, whose answer must not differ from the others;
// the log has the error.
func TestStoreError(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	h, err := signin.New(signin.Options{Store: errStore{}, AnswerFloor: -1, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{f: &fixture{t: t}, h: h, remote: "192.0.2.1:1", cookies: map[string]*http.Cookie{}, header: http.Header{}}
	form := b.get("/signin")
	checkPage(t, form, http.StatusOK, "en", "Sign in to your member account")
	checkPage(t, b.post("/signin", url.Values{"email": {"alice@example.com"}, "csrf": {form.csrfField()}}), http.StatusOK, "en", "Check your mail")
	good := strings.Repeat("A", 43)
	b.cookies[signin.SessionCookie] = &http.Cookie{Name: signin.SessionCookie, Value: good}
	for _, res := range []response{
		b.get("/signin"),
		b.get("/signin/confirm?token=" + good),
		b.post("/signin/confirm", url.Values{"token": {good}, "csrf": {form.csrfField()}}),
		b.get("/account"),
		b.post("/account/signout", url.Values{"csrf": {"x"}}),
	} {
		checkPage(t, res, http.StatusInternalServerError, "en", "Something went wrong")
		if strings.Contains(res.Body, "secret detail") {
			t.Errorf("the page shows the error:\n%s", res.Body)
		}
	}
	if n := strings.Count(logs.String(), "secret detail"); n != 6 {
		t.Errorf("%d errors logged, want 6:\n%s", n, logs.String())
	}
	// A body that is no form.
	res := b.do(http.MethodPost, "/signin", "application/x-www-form-urlencoded", strings.NewReader("email=%zz"))
	checkPage(t, res, http.StatusBadRequest, "en", "The request was not understood")
}

// TestStrangersCannotLockOutAMember: requests from other clients do not
// spend a member's own allowance, and a flood from many clients still
// mails the address no more than the store's cap, answering every request
// the same page.
func TestStrangersCannotLockOutAMember(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signin.Options{})
	org := f.org("Acme", "en")
	alice := f.activate(org, "Alice", "alice@example.com")
	ask := func(remote, email string) response {
		t.Helper()
		b := f.browser()
		b.remote = remote
		form := b.get("/signin")
		return b.post("/signin", url.Values{"email": {email}, "csrf": {form.csrfField()}})
	}
	for i := range signin.DefaultPairBurst {
		if res := ask("203.0.113.66:5000", "alice@example.com"); res.Status != http.StatusOK {
			t.Fatalf("stranger's request %d: %d", i+1, res.Status)
		}
	}
	if res := ask("203.0.113.66:5000", "alice@example.com"); res.Status != http.StatusTooManyRequests {
		t.Errorf("stranger's request past the allowance: %d, want 429", res.Status)
	}
	own := ask("198.51.100.20:6000", "alice@example.com")
	checkPage(t, own, http.StatusOK, "en", "Check your mail")
	if n := len(f.signInMails()[alice.ID]); n != signin.DefaultPairBurst+1 {
		t.Fatalf("%d mails to Alice, want %d: the member's own request must mail", n, signin.DefaultPairBurst+1)
	}

	// A flood from many clients: each answered the same, and the mail
	// stops at the live links' cap (5, one more than already sent).
	for i := range 30 {
		res := ask(fmt.Sprintf("192.0.2.%d:7000", i+1), "alice@example.com")
		checkPage(t, res, http.StatusOK, "en", "Check your mail")
	}
	if n := len(f.signInMails()[alice.ID]); n != 1 {
		t.Errorf("the flood mailed %d links, want 1 (the live links' cap of %d)", n, f.policy.MaxLiveLinks)
	}
}

// TestSignInMailsPerHour: however many live links are allowed, an email
// receives at most MailsPerHour sign-in mails in any hour, counted in the
// database; the hour after, it gets mail again.
func TestSignInMailsPerHour(t *testing.T) {
	t.Parallel()
	p := member.DefaultSignInPolicy()
	p.MaxLiveLinks, p.MailsPerHour = 100, 3
	f := newFixture(t, signin.Options{Policy: p})
	org := f.org("Acme", "en")
	alice := f.activate(org, "Alice", "alice@example.com")
	var first string
	for i := range 12 {
		b := f.browser()
		b.remote = fmt.Sprintf("192.0.2.%d:7000", i+1)
		form := b.get("/signin")
		res := b.post("/signin", url.Values{"email": {"alice@example.com"}, "csrf": {form.csrfField()}})
		checkPage(t, res, http.StatusOK, "en", "Check your mail")
		if i == 0 {
			first = res.Body
		} else if res.Body != first {
			t.Errorf("request %d got another page than the first", i+1)
		}
		if i == 5 {
			f.clock.Add(59 * time.Minute)
		}
	}
	if n := len(f.signInMails()[alice.ID]); n != 3 {
		t.Errorf("%d mails to Alice within the hour, want 3", n)
	}
	f.clock.Add(time.Minute)
	if err := f.st.RequestSignIn(f.ctx, "alice@example.com", p); err != nil {
		t.Fatal(err)
	}
	if n := len(f.signInMails()[alice.ID]); n != 1 {
		t.Errorf("%d mails to Alice an hour after the first, want 1", n)
	}
}

// deadlineStore runs out of time on every look-up, as a database that
// stopped answering within the request's deadline.
type deadlineStore struct{ errStore }

func (deadlineStore) InspectSignIn(context.Context, string) (*member.SignInView, error) {
	return nil, fmt.Errorf("inspect sign-in link: %w", context.DeadlineExceeded)
}

// TestStoreTimeout: a store that ran out of time is a 503, on the same
// page that tells nothing.
func TestStoreTimeout(t *testing.T) {
	t.Parallel()
	h, err := signin.New(signin.Options{Store: deadlineStore{}, AnswerFloor: -1, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{f: &fixture{t: t}, h: h, remote: "192.0.2.1:1", cookies: map[string]*http.Cookie{}, header: http.Header{}}
	res := b.get("/signin/confirm?token=" + strings.Repeat("A", 43))
	checkPage(t, res, http.StatusServiceUnavailable, "en", "Something went wrong")
	if strings.Contains(res.Body, "deadline") {
		t.Errorf("the page shows the error:\n%s", res.Body)
	}
}
