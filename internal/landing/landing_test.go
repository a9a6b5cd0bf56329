package landing_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/landing"
	"memberbind/internal/member"
)

// scenario is one organization with a link in every state a link can be
// found in, built through the store's real API.
type scenario struct {
	f   *fixture
	org *member.Organization

	valid, unsent                 string // live links; unsent's mail has not gone out
	superseded, modifiedNew       string // a link killed by a modification, and the new one
	expired, expiredNewer         string // a link past its days, and a resent one still live
	failed                        string // the only link of a binding that failed
	reboundOld, reboundNew        string // a failed binding's link, and its rebind's link
	activated, activatedOther     string // the link that activated a binding, and another of it
	validM, supersededM, expiredM *member.Member
	failedM, reboundM, activatedM *member.Member
	unsentM                       *member.Member
}

// buildScenario walks the clock from t0 to just past the first links'
// expiry, making each state on the way.
func buildScenario(t *testing.T, f *fixture, orgName, lang string) *scenario {
	t.Helper()
	s := &scenario{f: f, org: f.org(orgName, lang)}
	ttl := f.st.Policy().ActivationTTL

	// At t0: bindings whose links will run out.
	s.expiredM = f.bind(s.org, "Carol", "carol@example.com")
	s.failedM = f.bind(s.org, "Dave", "dave@example.com")
	s.reboundM = f.bind(s.org, "Grace", "grace@example.com")
	tok := f.deliver()
	s.expired, s.failed, s.reboundOld = tok[s.expiredM.ID][0], tok[s.failedM.ID][0], tok[s.reboundM.ID][0]

	// Two days later Carol's link is sent again: hers stays pending.
	f.clock.Add(48 * time.Hour)
	f.resend(s.expiredM)
	s.expiredNewer = f.deliver()[s.expiredM.ID][0]

	// Past the first links' expiry: Carol's first link is expired, Dave's
	// and Grace's bindings failed. Grace is bound again.
	f.clock.Set(t0.Add(ttl + time.Hour))
	f.rebind(s.reboundM, "grace.new@example.com")

	s.validM = f.bind(s.org, "Alice", "alice@example.com")
	s.supersededM = f.bind(s.org, "Bob", "bob@example.com")
	s.activatedM = f.bind(s.org, "Erin", "erin@example.com")
	tok = f.deliver()
	s.valid, s.superseded, s.activated = tok[s.validM.ID][0], tok[s.supersededM.ID][0], tok[s.activatedM.ID][0]
	s.reboundNew = tok[s.reboundM.ID][0]

	f.modify(s.supersededM, "bob.new@example.com")
	f.resend(s.activatedM)
	tok = f.deliver()
	s.modifiedNew, s.activatedOther = tok[s.supersededM.ID][0], tok[s.activatedM.ID][0]
	if res := post(f.h, s.activated); res.Status != http.StatusOK {
		t.Fatalf("activate Erin: %d\n%s", res.Status, res.Body)
	}

	// Frank's mail is taken from the outbox but not sent yet.
	s.unsentM = f.bind(s.org, "Frank", "frank@example.com")
	_, tok = f.claim()
	s.unsent = tok[s.unsentM.ID][0]
	return s
}

// linkCase is one link and what opening it must answer.
type linkCase struct {
	name   string
	token  string
	status int
	word   string // JSON status
	email  string // JSON email; "" for none
	text   []string
	// member is whose link it is: a link that works no more must not
	// show the name (issue 12.8).
	member string
}

func (s *scenario) cases() []linkCase {
	return []linkCase{
		{"valid", s.valid, 200, "valid", "alice@example.com", []string{"Confirm your login email", "Alice", "alice@example.com", "+86 138****8000", "Confirm and activate"}, "Alice"},
		{"valid, mail not sent yet", s.unsent, 200, "valid", "frank@example.com", []string{"Frank", "Not yet started"}, "Frank"},
		{"superseded by a modification", s.superseded, 410, "superseded", "", []string{"was replaced", "newest activation mail"}, "Bob"},
		{"the modification's new link", s.modifiedNew, 200, "valid", "bob.new@example.com", []string{"bob.new@example.com"}, "Bob"},
		{"expired, a newer link live", s.expired, 410, "expired", "", []string{"has expired", "most recent mail"}, "Carol"},
		{"the newer link", s.expiredNewer, 200, "valid", "carol@example.com", []string{"Carol"}, "Carol"},
		{"binding failed", s.failed, 410, "failed", "", []string{"has failed", "bind", "different email"}, "Dave"},
		{"failed binding, rebound since", s.reboundOld, 410, "superseded", "", []string{"was replaced", "newest activation mail"}, "Grace"},
		{"the rebind's link", s.reboundNew, 200, "valid", "grace.new@example.com", []string{"grace.new@example.com"}, "Grace"},
		{"the link that activated", s.activated, 200, "activated", "", []string{"already activated"}, "Erin"},
		{"another link of an activated binding", s.activatedOther, 200, "activated", "", []string{"already activated"}, "Erin"},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404, "unknown", "", []string{"not valid"}, ""},
		{"malformed: short", "abc", 404, "unknown", "", []string{"not valid"}, ""},
		{"malformed: empty", "", 404, "unknown", "", []string{"not valid"}, ""},
		{"malformed: too long", s.valid + "A", 404, "unknown", "", []string{"not valid"}, ""},
		{"malformed: bad character", s.valid[:42] + "!", 404, "unknown", "", []string{"not valid"}, ""},
	}
}

// checkNothingPersonal fails if the answer about a link that works no
// more shows whose it was: an email, the member, the organization or a
// masked mobile number (issue 12.8), in HTML or JSON.
func checkNothingPersonal(t *testing.T, how string, res response, memberName string) {
	t.Helper()
	for _, bad := range []string{"example.com", "Acme Corp", "****", "+86", memberName} {
		if bad != "" && strings.Contains(text(res), bad) {
			t.Errorf("%s answer about a spent link shows %q:\n%s", how, bad, res.Body)
		}
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if v := decodeJSON(t, res); len(v) != 1 {
			t.Errorf(`%s JSON = %v, want only "status"`, how, v)
		}
	}
}

// checkHeaders fails unless res carries the headers every answer must.
func checkHeaders(t *testing.T, res response) {
	t.Helper()
	want := map[string]string{
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := res.Header.Get("X-Robots-Tag"); !strings.Contains(got, "noindex") {
		t.Errorf("X-Robots-Tag = %q, want noindex", got)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, d)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q allows %s", csp, bad)
		}
	}
}

// checkPage fails unless res is a complete, script-free HTML page.
func checkPage(t *testing.T, res response, lang string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, want := range []string{"<!DOCTYPE html>", `<html lang="` + lang + `">`, `<meta name="viewport"`, "<h1 "} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("page lacks %s:\n%s", want, res.Body)
		}
	}
	lower := strings.ToLower(res.Body)
	for _, bad := range []string{"<script", "javascript:", " onload", " onclick", "<iframe", "<img", "<link", "http://", "https://"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page has %s:\n%s", bad, res.Body)
		}
	}
}

func decodeJSON(t *testing.T, res response) map[string]any {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
		t.Fatalf("decode %q: %v", res.Body, err)
	}
	return v
}

func checkJSON(t *testing.T, res response, status int, word, email string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("JSON status code = %d, want %d", res.Status, status)
	}
	v := decodeJSON(t, res)
	if v["status"] != word {
		t.Errorf(`JSON "status" = %v, want %q`, v["status"], word)
	}
	got, has := v["email"]
	switch {
	case email == "" && has:
		t.Errorf(`JSON has "email" %v, want none`, got)
	case email != "" && got != email:
		t.Errorf(`JSON "email" = %v, want %q`, got, email)
	}
}

// TestOutcomes opens a link in every state with GET, HEAD, GET as JSON,
// and (where the link cannot be activated) POST and POST as JSON; none of
// them may change anything.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, landing.Options{MissBurst: 1000})
	s := buildScenario(t, f, "Acme Corp", "en")
	members := []*member.Member{s.validM, s.supersededM, s.expiredM, s.failedM, s.reboundM, s.activatedM, s.unsentM}
	memberBefore := make([]*member.Member, len(members))
	for i, m := range members {
		memberBefore[i] = f.member(m)
	}
	before := f.snapshot()

	for _, c := range s.cases() {
		t.Run(c.name, func(t *testing.T) {
			res := get(f.h, c.token)
			if res.Status != c.status {
				t.Errorf("GET status = %d, want %d\n%s", res.Status, c.status, res.Body)
			}
			checkHeaders(t, res)
			checkPage(t, res, "en")
			for _, want := range c.text {
				if !strings.Contains(text(res), want) {
					t.Errorf("GET page lacks %q:\n%s", want, res.Body)
				}
			}
			hasForm := strings.Contains(res.Body, "<form")
			if wantForm := c.word == "valid"; hasForm != wantForm {
				t.Errorf("page has a form: %v, want %v", hasForm, wantForm)
			}
			if hasForm {
				for _, want := range []string{`method="post"`, `action="/activate"`, `<input type="hidden" name="token" value="` + c.token + `">`, `<button type="submit"`} {
					if !strings.Contains(res.Body, want) {
						t.Errorf("form lacks %s:\n%s", want, res.Body)
					}
				}
			}

			hres := head(f.h, c.token)
			if hres.Status != c.status || hres.Body != "" {
				t.Errorf("HEAD = %d with %d bytes, want %d and none", hres.Status, len(hres.Body), c.status)
			}
			checkHeaders(t, hres)

			jres := get(f.h, c.token, withAccept("application/json"))
			checkJSON(t, jres, c.status, c.word, c.email)
			checkHeaders(t, jres)

			if c.word == "valid" {
				return // a POST would activate it: see TestActivation
			}
			checkNothingPersonal(t, "GET", res, c.member)
			checkNothingPersonal(t, "GET JSON", jres, c.member)
			pres := post(f.h, c.token)
			if pres.Status != c.status {
				t.Errorf("POST status = %d, want %d", pres.Status, c.status)
			}
			checkHeaders(t, pres)
			checkPage(t, pres, "en")
			for _, want := range c.text {
				if !strings.Contains(text(pres), want) {
					t.Errorf("POST page lacks %q:\n%s", want, pres.Body)
				}
			}
			pjres := post(f.h, c.token, withAccept("application/json"))
			checkJSON(t, pjres, c.status, c.word, c.email)
			checkNothingPersonal(t, "POST", pres, c.member)
			checkNothingPersonal(t, "POST JSON", pjres, c.member)
		})
	}

	if after := f.snapshot(); after != before {
		t.Errorf("opening links changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for i, m := range members {
		if got := f.member(m); !reflect.DeepEqual(got, memberBefore[i]) {
			t.Errorf("member %s changed:\nbefore %+v\nafter  %+v", m.Name, memberBefore[i], got)
		}
	}
	if got := f.member(s.validM).Status(); got != member.StatusPending {
		t.Errorf("Alice is %s after GET/HEAD of her link, want PENDING", got)
	}
}

// TestActivation confirms the earlier of two links to one email (R6: a
// resend keeps it working), then finds every link of the binding spent.
func TestActivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	m := f.bind(org, "Alice", "alice@example.com")
	first := f.deliver()[m.ID][0]
	f.clock.Add(time.Hour)
	f.resend(m)
	second := f.deliver()[m.ID][0]

	for _, tok := range []string{first, second} {
		if res := get(f.h, tok); res.Status != http.StatusOK || !strings.Contains(res.Body, "Confirm and activate") {
			t.Fatalf("GET before activation = %d:\n%s", res.Status, res.Body)
		}
	}
	if got := f.member(m).Status(); got != member.StatusPending {
		t.Fatalf("status after GET = %s, want PENDING", got)
	}

	res := post(f.h, first)
	if res.Status != http.StatusOK {
		t.Fatalf("POST = %d:\n%s", res.Status, res.Body)
	}
	checkHeaders(t, res)
	checkPage(t, res, "en")
	for _, want := range []string{"Your login email is activated", "alice@example.com", "Alice", "Acme Corp"} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("success page lacks %q:\n%s", want, res.Body)
		}
	}
	if strings.Contains(res.Body, "<form") || strings.Contains(res.Body, first) {
		t.Errorf("success page carries a form or the token:\n%s", res.Body)
	}

	got := f.member(m)
	if got.Status() != member.StatusActivated || got.LoginEmail != "alice@example.com" {
		t.Errorf("after activation: status %s, login email %q; want ACTIVATED, alice@example.com", got.Status(), got.LoginEmail)
	}
	if n := f.countEvents(m.ID, member.EventActivated); n != 1 {
		t.Errorf("%d ACTIVATED events, want 1", n)
	}

	before := f.snapshot()
	for _, tok := range []string{first, second} {
		for _, res := range []response{get(f.h, tok), post(f.h, tok)} {
			if res.Status != http.StatusOK || !strings.Contains(res.Body, "This login email is already activated") {
				t.Errorf("after activation = %d:\n%s", res.Status, res.Body)
			}
			checkNothingPersonal(t, "after activation", res, "Alice")
		}
		checkJSON(t, post(f.h, tok, withAccept("application/json")), http.StatusOK, "activated", "")
		checkJSON(t, get(f.h, tok, withAccept("application/json")), http.StatusOK, "activated", "")
	}
	if after := f.snapshot(); after != before {
		t.Errorf("links of an activated binding changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestActivationJSON activates from a single-page frontend: a JSON body
// and a JSON answer.
func TestActivationJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	m := f.bind(org, "Alice", "alice@example.com")
	tok := f.deliver()[m.ID][0]

	res := serve(f.h, http.MethodPost, "/activate", "application/json", strings.NewReader(`{"token":"`+tok+`"}`), withAccept("application/json"))
	checkJSON(t, res, http.StatusOK, "activated", "alice@example.com")
	checkHeaders(t, res)
	v := decodeJSON(t, res)
	if v["organization"] != "Acme Corp" || v["member"] != "Alice" {
		t.Errorf("JSON = %v, want organization and member", v)
	}
	if got := f.member(m); got.Status() != member.StatusActivated {
		t.Errorf("status = %s, want ACTIVATED", got.Status())
	}
}

// TestConcurrentActivation submits two links of one binding, and one
// link twice, at the same instant: one activation, two success answers.
func TestConcurrentActivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	const n = 6
	var ms []*member.Member
	for i := range n {
		ms = append(ms, f.bind(org, "Member "+string(rune('A'+i)), "member"+string(rune('a'+i))+"@example.com"))
	}
	first := f.deliver()
	for _, m := range ms {
		f.resend(m)
	}
	second := f.deliver()

	type result struct {
		member int
		res    response
	}
	results := make(chan result, 2*n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range ms {
		tokens := []string{first[m.ID][0], second[m.ID][0]}
		if i%2 == 1 {
			tokens[1] = tokens[0] // the same link, submitted twice
		}
		for _, tok := range tokens {
			wg.Go(func() {
				<-start
				results <- result{i, post(f.h, tok)}
			})
		}
	}
	close(start)
	wg.Wait()
	close(results)

	now := make([]int, n)
	already := make([]int, n)
	for r := range results {
		switch {
		case r.res.Status != http.StatusOK:
			t.Errorf("member %d: POST = %d:\n%s", r.member, r.res.Status, r.res.Body)
		case strings.Contains(r.res.Body, "Your login email is activated"):
			now[r.member]++
		case strings.Contains(r.res.Body, "This login email is already activated"):
			already[r.member]++
		default:
			t.Errorf("member %d: POST answered neither success page:\n%s", r.member, r.res.Body)
		}
	}
	for i, m := range ms {
		if now[i] != 1 || already[i] != 1 {
			t.Errorf("member %d: %d activated-now and %d already-activated pages, want 1 and 1", i, now[i], already[i])
		}
		if c := f.countEvents(m.ID, member.EventActivated); c != 1 {
			t.Errorf("member %d: %d ACTIVATED events, want 1", i, c)
		}
		if got := f.member(m); got.Status() != member.StatusActivated || got.LoginEmail != m.Binding.Email {
			t.Errorf("member %d: %s with login email %q", i, got.Status(), got.LoginEmail)
		}
	}
}

// TestRateLimit makes one client miss until it is refused, and checks
// that others are not, that X-Forwarded-For is ignored, and that the
// allowance comes back with time.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	m := f.bind(org, "Alice", "alice@example.com")
	tok := f.deliver()[m.ID][0]
	const attacker = "203.0.113.7:40000"
	unknown := "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

	// Found links do not count.
	for range 30 {
		if res := get(f.h, tok, withRemote(attacker)); res.Status != http.StatusOK {
			t.Fatalf("GET of a live link = %d", res.Status)
		}
	}
	for i := range landing.DefaultMissBurst {
		// A new address each time in X-Forwarded-For must not help.
		res := get(f.h, unknown, withRemote(attacker), withHeader("X-Forwarded-For", "198.51.100."+string(rune('0'+i%10))))
		if res.Status != http.StatusNotFound {
			t.Fatalf("miss %d = %d, want 404", i+1, res.Status)
		}
	}
	before := f.snapshot()
	for _, res := range []response{
		get(f.h, unknown, withRemote(attacker)),
		get(f.h, "malformed", withRemote("203.0.113.7:40001")),
		post(f.h, unknown, withRemote(attacker)),
		get(f.h, tok, withRemote(attacker)), // no answer about any token now
	} {
		if res.Status != http.StatusTooManyRequests {
			t.Fatalf("after %d misses = %d, want 429", landing.DefaultMissBurst, res.Status)
		}
		checkHeaders(t, res)
		checkPage(t, res, "en")
		if got := res.Header.Get("Retry-After"); got != "3" {
			t.Errorf("Retry-After = %q, want 3 (20 a minute)", got)
		}
		if !strings.Contains(res.Body, "Too many attempts") {
			t.Errorf("429 page:\n%s", res.Body)
		}
	}
	jres := get(f.h, tok, withRemote(attacker), withAccept("application/json"))
	if jres.Status != http.StatusTooManyRequests {
		t.Errorf("JSON = %d, want 429", jres.Status)
	}
	if v := decodeJSON(t, jres); v["status"] != "rate_limited" || v["retryAfter"] != 3.0 {
		t.Errorf("JSON = %v", v)
	}
	if f.member(m).Status() != member.StatusPending {
		t.Error("a refused request changed the member")
	}
	if after := f.snapshot(); after != before {
		t.Errorf("refused requests changed the database")
	}

	// Someone else is not refused.
	if res := get(f.h, tok, withRemote("192.0.2.55:1234")); res.Status != http.StatusOK {
		t.Errorf("another client = %d, want 200", res.Status)
	}
	if res := get(f.h, unknown, withRemote("[2001:db8::1]:1234")); res.Status != http.StatusNotFound {
		t.Errorf("an IPv6 client = %d, want 404", res.Status)
	}

	// One miss comes back every three seconds.
	f.clock.Add(3 * time.Second)
	if res := get(f.h, unknown, withRemote(attacker)); res.Status != http.StatusNotFound {
		t.Errorf("3s later = %d, want 404", res.Status)
	}
	if res := get(f.h, unknown, withRemote(attacker)); res.Status != http.StatusTooManyRequests {
		t.Errorf("then = %d, want 429", res.Status)
	}
	f.clock.Add(time.Minute)
	if res := get(f.h, tok, withRemote(attacker)); res.Status != http.StatusOK {
		t.Errorf("a minute later = %d, want 200", res.Status)
	}
}

// TestRateLimitBehindProxy counts the client named by a trusted proxy.
func TestRateLimitBehindProxy(t *testing.T) {
	t.Parallel()
	h := landing.New(landing.Options{Now: stopped,
		Activator:      failingActivator{t},
		MissBurst:      2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	const proxy = "10.1.2.3:5555"
	for i, want := range []int{404, 404, 429} {
		if res := get(h, "x", withRemote(proxy), withHeader("X-Forwarded-For", "spoofed, 198.51.100.9")); res.Status != want {
			t.Errorf("client behind proxy, request %d = %d, want %d", i+1, res.Status, want)
		}
	}
	// Another client behind the same proxy has its own allowance.
	if res := get(h, "x", withRemote(proxy), withHeader("X-Forwarded-For", "198.51.100.10")); res.Status != http.StatusNotFound {
		t.Errorf("second client behind proxy = %d, want 404", res.Status)
	}
	// A peer that is not a trusted proxy cannot pick its address.
	for i, want := range []int{404, 404, 429} {
		if res := get(h, "x", withRemote("192.0.2.1:1"), withHeader("X-Forwarded-For", "198.51.100."+string(rune('1'+i)))); res.Status != want {
			t.Errorf("untrusted peer, request %d = %d, want %d", i+1, res.Status, want)
		}
	}
}

// TestEscaping names an organization and a member like a script.
func TestEscaping(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const evil = `<script>alert(1)</script>`
	org := f.org(evil, "en")
	m := f.bind(org, evil+`"'&`, "alice@example.com")
	tok := f.deliver()[m.ID][0]

	for name, res := range map[string]response{"GET": get(f.h, tok), "POST": post(f.h, tok)} {
		if strings.Contains(res.Body, "<script") || strings.Contains(res.Body, `alert(1)</`) {
			t.Errorf("%s: the name reached the page unescaped:\n%s", name, res.Body)
		}
		if !strings.Contains(res.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the escaped name is missing:\n%s", name, res.Body)
		}
		if !strings.Contains(res.Body, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;") {
			t.Errorf("%s: the escaped member name is missing:\n%s", name, res.Body)
		}
	}
	// Once spent, the link's page names nobody (issue 12.8).
	if res := get(f.h, tok); strings.Contains(res.Body, "script") {
		t.Errorf("GET again: the spent link's page shows the names:\n%s", res.Body)
	}
	m2 := f.bind(org, evil, "bob@example.com")
	tok = f.deliver()[m2.ID][0]
	jres := get(f.h, tok, withAccept("application/json"))
	if strings.Contains(jres.Body, "<script") {
		t.Errorf("JSON carries a raw tag: %s", jres.Body)
	}
	if v := decodeJSON(t, jres); v["organization"] != evil {
		t.Errorf("JSON organization = %v, want %q", v["organization"], evil)
	}
}

// TestLanguages shows pages in the organization's language, and pages
// with no organization in the language the browser asks for.
func TestLanguages(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, landing.Options{MissBurst: 1000})
	zh := buildScenario(t, f, "示例科技", "zh-CN")
	en := f.org("Acme Corp", "en")
	enM := f.bind(en, "Zoe", "zoe@example.com")
	enTok := f.deliver()[enM.ID][0]

	zhPages := []struct {
		token  string
		status int
		text   string
	}{
		{zh.valid, 200, "确认您的登录邮箱"},
		{zh.unsent, 200, "尚未开始计时"},
		{zh.superseded, 410, "此激活链接已被替换"},
		{zh.expired, 410, "此激活链接已过期"},
		{zh.failed, 410, "此次激活已失败"},
		{zh.activatedOther, 200, "此登录邮箱已激活"},
	}
	for _, p := range zhPages {
		// The organization's language wins over the browser's.
		res := get(f.h, p.token, withAcceptLanguage("en-US,en;q=0.9"))
		if res.Status != p.status || !strings.Contains(res.Body, p.text) {
			t.Errorf("zh-CN page = %d, want %d with %q:\n%s", res.Status, p.status, p.text, res.Body)
		}
		checkPage(t, res, "zh-CN")
		if p.token != zh.valid && p.token != zh.unsent && (strings.Contains(text(res), "示例科技") || strings.Contains(text(res), "example.com")) {
			t.Errorf("zh-CN page of a spent link shows whose it was:\n%s", res.Body)
		}
		if got := res.Header.Get("Content-Language"); got != "zh-CN" {
			t.Errorf("Content-Language = %q", got)
		}
	}
	res := get(f.h, zh.valid)
	if want := "2026年4月1日 10:30 (UTC)"; !strings.Contains(res.Body, want) {
		t.Errorf("zh-CN expiry: want %q in\n%s", want, res.Body)
	}
	if want := `datetime="2026-04-01T10:30:00Z"`; !strings.Contains(res.Body, want) {
		t.Errorf("zh-CN expiry: want %s in\n%s", want, res.Body)
	}
	res = post(f.h, zh.valid, withAcceptLanguage("en"))
	if res.Status != 200 || !strings.Contains(res.Body, "您的登录邮箱已激活") {
		t.Errorf("zh-CN success page = %d:\n%s", res.Status, res.Body)
	}

	res = get(f.h, enTok, withAcceptLanguage("zh-CN,zh;q=0.9"))
	checkPage(t, res, "en")
	if want := "1 April 2026, 10:30 (UTC)"; !strings.Contains(res.Body, want) {
		t.Errorf("en expiry: want %q in\n%s", want, res.Body)
	}

	for header, lang := range map[string]string{
		"":                            "en",
		"zh-CN":                       "zh-CN",
		"zh-TW,zh;q=0.9":              "zh-CN",
		"fr-FR, zh;q=0.8, en;q=0.5":   "zh-CN",
		"fr-FR, en;q=0.8, zh;q=0.5":   "en",
		"de":                          "en",
		"zh;q=0":                      "en",
		"en-GB,en;q=0.9,zh-CN;q=0.95": "en",
		"en;q=0.9,zh-CN;q=0.95":       "zh-CN",
	} {
		res := get(f.h, "nope", withAcceptLanguage(header))
		if !strings.Contains(res.Body, `<html lang="`+lang+`">`) {
			t.Errorf("Accept-Language %q: want a page in %s", header, lang)
		}
		if res.Status != http.StatusNotFound {
			t.Errorf("unknown link = %d", res.Status)
		}
	}
}

// TestNoTokenInLog checks that log lines name links by a hash prefix only.
func TestNoTokenInLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	org := f.org("Acme Corp", "en")
	m := f.bind(org, "Alice", "alice@example.com")
	tok := f.deliver()[m.ID][0]
	get(f.h, tok)
	head(f.h, tok)
	post(f.h, tok)
	post(f.h, tok)
	get(f.h, tok[:40]+"zzz")
	logs := f.logBuf.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, tok[:20]) || strings.Contains(logs, tok[:40]+"zzz") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	for _, want := range []string{`"outcome":"valid"`, `"outcome":"activated_now"`, `"outcome":"activated"`, `"outcome":"unknown"`, `"token":"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}
