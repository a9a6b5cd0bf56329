package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"memberbind/internal/testenv"
)

var signInLink = regexp.MustCompile(`https?://[^\s"<>]+/signin/confirm\?token=[A-Za-z0-9_-]+`)

// activateMember binds email to a new member through the API, takes the
// activation link from Mailpit and confirms it, and returns the member's
// id.
func activateMember(t *testing.T, inst *instance, mp *testenv.MailpitServer, key, name, email string) string {
	t.Helper()
	id := bindMember(t, inst.URL, key, name, email)
	msg := waitMail(t, mp, email, "confirm the login email")
	link := activationLink.FindString(msg.Text)
	if link == "" {
		t.Fatalf("no activation link in the mail to %s:\n%s", email, msg.Text)
	}
	token := link[strings.Index(link, "token=")+len("token="):]
	res, err := http.PostForm(inst.URL+"/activate", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if s := memberState(t, inst.URL, key, id); res.StatusCode != http.StatusOK || s["bindStatus"] != "ACTIVATED" {
		t.Fatalf("activate %s: %d, %v", name, res.StatusCode, s)
	}
	return id
}

// waitMail waits for the newest mail to "to" whose subject holds subject.
func waitMail(t *testing.T, mp *testenv.MailpitServer, to, subject string) *testenv.MailpitMessage {
	t.Helper()
	var found string
	eventually(t, 15*time.Second, "a mail to "+to+" about "+subject, func() bool {
		for _, m := range mp.Messages(t) {
			if len(m.To) == 1 && strings.EqualFold(m.To[0].Address, to) && strings.Contains(m.Subject, subject) {
				found = m.ID
				return true
			}
		}
		return false
	})
	return mp.Message(t, found)
}

// memberTab is a phone-sized tab of a real Chromium, with what it needs to
// save screenshots.
type memberTab struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func (m *memberTab) do(steps ...chromedp.Action[chromedp.Void]) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		m.t.Fatal(err)
	}
}

func (m *memberTab) text() string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

func (m *memberTab) path() string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		m.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		m.t.Fatal(err)
	}
	return u.Path
}

// shows fails unless the page shows every one of want.
func (m *memberTab) shows(want ...string) {
	m.t.Helper()
	text := m.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			m.t.Errorf("page %s does not show %q:\n%s", m.path(), w, text)
		}
	}
}

func (m *memberTab) screenshot(name string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		m.t.Fatal(err)
	}
	testenv.SaveArtifact(m.t, m.dir, name, png)
}

// sessionCookie is the browser's session cookie for base, "" when none.
func (m *memberTab) sessionCookie(base string) string {
	m.t.Helper()
	res, err := chromedp.Call(m.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		m.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "mb_session" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
				m.t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", c)
			}
			return c.Value
		}
	}
	return ""
}

// signIn asks for a sign-in link for email on the sign-in page, takes the
// link from Mailpit, opens it and presses Sign in.
func (m *memberTab) signIn(base string, mp *testenv.MailpitServer, email, shotPrefix string) {
	m.t.Helper()
	submit := chromedp.CSS(`button[type="submit"]`)
	m.do(chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.CSS(`input[type="email"]`)))
	if shotPrefix != "" {
		m.screenshot(shotPrefix + "-1-form.png")
	}
	m.do(chromedp.SendKeys(chromedp.CSS(`input[type="email"]`), email), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`a.button`)))
	m.shows("Check your mail", email)
	if shotPrefix != "" {
		m.screenshot(shotPrefix + "-2-sent.png")
	}
	msg := waitMail(m.t, mp, email, "sign in to member account")
	link := signInLink.FindString(msg.Text)
	if link == "" || !strings.Contains(msg.HTML, link) {
		m.t.Fatalf("no sign-in link in both parts of the mail:\n%s", msg.Text)
	}
	m.do(chromedp.Navigate(link), chromedp.WaitVisible(submit))
	m.shows("Sign in to member account", email)
	if m.sessionCookie(base) != "" {
		m.t.Fatal("opening the link signed in")
	}
	if shotPrefix != "" {
		m.screenshot(shotPrefix + "-3-confirm.png")
	}
	m.do(chromedp.Click(submit), chromedp.WaitVisible(chromedp.CSS(`#signins`)))
	if p := m.path(); p != "/account" {
		m.t.Fatalf("after Sign in the browser is at %s, want /account", p)
	}
}

// TestSignInInBrowser is a member's sign-in on a real deployment: the
// member is activated through the API and the activation mail, then signs
// in with its email in Chromium (the link from the mail Mailpit received),
// sees its account, signs out, and the old cookie no longer opens it. A
// member removed from its organization signs in too and sees it left.
func TestSignInInBrowser(t *testing.T) {
	t.Parallel()
	mp := testenv.Mailpit(t)
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	inst := serveFor(t, map[string]string{"MEMBERBIND_DATABASE_DSN": dsn, "MEMBERBIND_SMTP_URL": mp.SMTPURL})
	alice := activateMember(t, inst, mp, key, "Alice", "alice@example.com")
	erin := activateMember(t, inst, mp, key, "Erin", "erin@example.com")
	data := graphql(t, inst.URL, key, `mutation($id: ID!) { removeMember(input: {memberId: $id}) { userErrors { code } } }`, map[string]any{"id": erin})
	if errs := data["removeMember"].(map[string]any)["userErrors"].([]any); len(errs) > 0 {
		t.Fatalf("remove Erin: %v", errs)
	}

	browser := testenv.Browser(t)
	dir := testenv.ArtifactDir(t)
	tab := &memberTab{t: t, ctx: testenv.Tab(t, browser), dir: dir}
	tab.do(chromedp.EmulateViewport(390, 844))

	// An address that is no account gets the same answer and no mail.
	tab.do(chromedp.Navigate(inst.URL+"/signin"), chromedp.WaitVisible(chromedp.CSS(`input[type="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[type="email"]`), "nobody@example.com"), chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.button`)))
	tab.shows("Check your mail", "nobody@example.com")

	tab.signIn(inst.URL, mp, "alice@example.com", "signin")
	tab.shows("Alice", "Acme", "alice@example.com", "Active since", "Recent sign-ins", "This session", "Sign out")
	tab.screenshot("signin-4-account.png")
	events := graphql(t, inst.URL, key, `query($id: ID!) { member(id: $id) { events(first: 5) { edges { node { kind actor email } } } } }`,
		map[string]any{"id": alice})
	first := events["member"].(map[string]any)["events"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
	if first["kind"] != "SIGNED_IN" || first["actor"] != "member" || first["email"] != "alice@example.com" {
		t.Errorf("newest event %v, want SIGNED_IN by the member", first)
	}

	old := tab.sessionCookie(inst.URL)
	if old == "" {
		t.Fatal("no session cookie after signing in")
	}
	tab.do(chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS(`#signins`)))
	tab.shows("You are signed out")
	tab.screenshot("signin-5-signed-out.png")
	if c := tab.sessionCookie(inst.URL); c != "" {
		t.Errorf("the session cookie is still in the browser after sign-out")
	}

	// The old cookie, from anywhere, opens nothing.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, inst.URL+"/account", nil)
	req.AddCookie(&http.Cookie{Name: "mb_session", Value: old})
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
		t.Errorf("the old cookie: %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
	httpOnly := true
	if _, err := chromedp.Call(tab.ctx, network.SetCookie, network.SetCookieParams{
		Name: "mb_session", Value: old, URL: inst.URL + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax,
	}); err != nil {
		t.Fatal(err)
	}
	tab.do(chromedp.Navigate(inst.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`input[type="email"]`)))
	if p := tab.path(); p != "/signin" {
		t.Errorf("the old cookie put back in the browser opens %s, want /signin", p)
	}
	tab.screenshot("signin-6-old-cookie.png")

	// Erin was removed from Acme: she still signs in, and sees she left.
	erinTab := &memberTab{t: t, ctx: testenv.Tab(t, browser), dir: dir}
	erinTab.do(chromedp.EmulateViewport(390, 844))
	erinTab.signIn(inst.URL, mp, "erin@example.com", "")
	erinTab.shows("Erin", "erin@example.com", "left the organization Acme", "Left")
	erinTab.screenshot("signin-7-removed-member.png")
	t.Logf("screenshots in %s", dir)
}
