package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"memberbind/graph"
	"memberbind/internal/console"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// server is memberbind's real GraphQL handler and the console on one test
// server, over a fresh database, with a clock the test holds.
type server struct {
	url   string
	store *mysql.Store
	clock *testenv.Clock
	key   string // the API key of the test's organization
}

func newServer(t *testing.T) *server {
	t.Helper()
	return newServerStore(t, mysql.Options{})
}

// newServerStore is newServer over a store with the options o, but for
// its clock, which is the test's.
func newServerStore(t *testing.T, o mysql.Options) *server {
	t.Helper()
	// The clock starts at the real time, so that the times the browser
	// shows are today's; the test moves it on to make a link expire.
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Second))
	o.Now = clock.Now
	st := testenv.Store(t, o)
	mux := http.NewServeMux()
	// Subscriptions served as a deployment serves them (the console
	// follows memberChanged); nothing polls, so nothing arrives.
	live := graph.NewLive(graph.LiveOptions{Changes: st, Now: clock.Now})
	mux.Handle("/graphql", graph.NewHandler(graph.Options{Service: st, Introspection: true, Logger: slog.New(slog.DiscardHandler), Live: live}))
	h := console.Handler()
	mux.Handle("/console", h)
	mux.Handle("/console/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, key, err := st.CreateOrganization(context.Background(), "Acme Corp", "en")
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: srv.URL, store: st, clock: clock, key: key}
}

// sendMail does what the mail worker will: claims the queued mail and
// reports it accepted by the SMTP server now. It returns the raw token of
// the mail to recipient.
func (s *server) sendMail(t *testing.T, recipient string) string {
	t.Helper()
	ctx := context.Background()
	msgs, err := s.store.ClaimOutbox(ctx, "t", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, m := range msgs {
		if err := s.store.MarkOutboxSent(ctx, m.OrgID, m.ID, "t", s.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if m.Recipient == recipient {
			token = m.Token
		}
	}
	if token == "" {
		t.Fatalf("no mail to %s among %d claimed", recipient, len(msgs))
	}
	return token
}

// tab is one browser tab, and what its pages reported.
type tab struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	console *testenv.Console
}

// startBrowser starts Chromium in English, whatever the machine's
// language: the test reads the console's English words.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return testenv.Browser(t, chromedp.Flag("lang", "en-US"))
}

func newTab(t *testing.T, browser context.Context, dir string) *tab {
	t.Helper()
	ctx := testenv.Tab(t, browser)
	return &tab{t: t, ctx: ctx, dir: dir, console: testenv.WatchConsole(t, ctx)}
}

// do runs actions with a deadline; on failure it saves a screenshot.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.failShot()
		tb.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript predicate until it holds, or fails after a
// deadline with what it was waiting for.
func (tb *tab) wait(what, predicate string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("waiting for %s (%s): %v\nbanner: %q\ndialog alert: %q", what, predicate, err,
			eval[string](tb, `document.getElementById('banner-text').textContent`),
			eval[string](tb, `[...document.querySelectorAll('#dialog .alert:not([hidden])')].map(e => e.textContent).join(' | ')`))
	}
}

// shot saves a screenshot of the viewport as console-<name>.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	testenv.SaveArtifact(tb.t, tb.dir, "console-"+name+".png", png)
}

// failShot saves what the page looked like when a step failed.
func (tb *tab) failShot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		file := filepath.Join(tb.dir, "console-FAILED-"+strings.ReplaceAll(tb.t.Name(), "/", "_")+".png")
		if os.WriteFile(file, png, 0o644) == nil {
			tb.t.Logf("screenshot of the failure: %s", file)
		}
	}
}

// checkClean fails on CSP violations, uncaught exceptions, and console
// errors and warnings other than those allowed (by substring).
func (tb *tab) checkClean(allowed ...string) {
	tb.t.Helper()
	for _, p := range tb.console.Problems(allowed...) {
		tb.t.Error(p)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return strconv.Quote(s) }

// row waits for the row of the member named name and returns a CSS
// selector for it.
func (tb *tab) row(name string) string {
	tb.t.Helper()
	find := `[...document.querySelectorAll('#members-body tr')].find(r => r.querySelector('.member-name').textContent === ` + js(name) + `)`
	tb.wait("the row of "+name, find+` !== undefined`)
	id := eval[string](tb, find+`.dataset.memberId`)
	return `#members-body tr[data-member-id="` + id + `"]`
}

// dialogOpen waits for the dialog to show the view kind.
func (tb *tab) dialogOpen(kind string) {
	tb.t.Helper()
	tb.wait("the "+kind+" dialog", `document.getElementById('dialog').open && document.getElementById('dialog').dataset.kind === `+js(kind))
}

func (tb *tab) dialogClosed() {
	tb.t.Helper()
	tb.wait("the dialog to close", `!document.getElementById('dialog').open`)
}

// text is the trimmed text of the first element matching sel ("" if none).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, `(document.querySelector(`+js(sel)+`)?.textContent ?? '').trim()`)
}

func (tb *tab) focused() string {
	tb.t.Helper()
	return eval[string](tb, `(() => { const e = document.activeElement; return e ? e.tagName.toLowerCase() + (e.dataset.action ? '[' + e.dataset.action + ']' : '') + (e.name ? '[name=' + e.name + ']' : '') + ' ' + e.textContent.trim() : ''; })()`)
}

// typeInto replaces the value of an input by typing into it.
func (tb *tab) typeInto(sel, value string) {
	tb.t.Helper()
	tb.do(
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+js(sel)+`).value = ''`),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// TestConsoleInBrowser follows the seed's walk-through in headless Chromium
// against the real GraphQL handler and database: create a member, bind its
// security information, send the link again, activate it, see its login
// email and remove it; an invited member refused; a binding that fails when
// its link expires, bound again; errors at their fields; Chinese; a phone.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	s := newServer(t)
	dir := testenv.ArtifactDir(t)
	ctx := context.Background()
	tb := newTab(t, browser, dir)

	// The key form, then the key from the link.
	tb.do(chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(css("#key-input")))
	if f := tb.focused(); !strings.HasPrefix(f, "input[name=key]") {
		t.Errorf("focus on a fresh console is on %q, want the key field", f)
	}
	tb.do(chromedp.SendKeys(css("#key-input"), "not-a-key"), chromedp.Click(css("#key-form button[type=submit]")))
	tb.wait("the key shape error", `!document.getElementById('key-error').hidden`)
	tb.shot("01-key-form")

	// A fresh load with the key in the link, as the zero-configuration
	// start prints it.
	tb.do(chromedp.Navigate("about:blank"), chromedp.Navigate(s.url+"/console#key="+s.key), chromedp.WaitVisible(css("#members-section")))
	tb.wait("the empty list", `!document.getElementById('members-empty').hidden`)
	if loc := eval[string](tb, `location.href`); loc != s.url+"/console" {
		t.Errorf("after taking the key the address is %q, want %q", loc, s.url+"/console")
	}
	if got := eval[string](tb, `sessionStorage.getItem('memberbind.console.apiKey')`); got != s.key {
		t.Errorf("sessionStorage holds %q, want the key", got)
	}
	if org := tb.text("#org-name"); org != "Acme Corp" {
		t.Errorf("organization shown as %q", org)
	}
	tb.shot("02-empty")

	// Create member.
	tb.do(chromedp.Click(css("#create-member")))
	tb.dialogOpen("create")
	if f := tb.focused(); !strings.HasPrefix(f, "input[name=name]") {
		t.Errorf("focus in the create dialog is on %q, want the name field", f)
	}
	tb.do(chromedp.SendKeys(css("#dialog input[name=name]"), "Alice Zhang"),
		chromedp.SendKeys(css("#dialog textarea[name=remark]"), "Finance team"))
	tb.shot("03-create-dialog")
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	alice := tb.row("Alice Zhang")
	tb.wait("Alice UNBOUND", `document.querySelector(`+js(alice)+`).dataset.status === 'UNBOUND'`)
	if got := tb.text(alice + " button[data-action=bind]"); got != "Bind security information" {
		t.Errorf("Alice's bind action says %q", got)
	}

	// Bind security information: a bad mobile number first.
	tb.do(chromedp.Click(css(alice + " button[data-action=bind]")))
	tb.dialogOpen("bind")
	if f := tb.focused(); !strings.HasPrefix(f, "input[name=email]") {
		t.Errorf("focus in the bind dialog is on %q, want the email field", f)
	}
	// The note tells the organization's link lifetime (15 days by default).
	if note := eval[string](tb, `[...document.querySelectorAll('#dialog .notes li')].map(li => li.textContent).join(' | ')`); !strings.Contains(note, "It expires 15 days after it is sent") {
		t.Errorf("the bind dialog's notes say %q, want the link lifetime of the policy (15 days)", note)
	}
	if cc := eval[string](tb, `document.querySelector('#dialog input[name=countryCode]').value`); cc != "+86" {
		t.Errorf("country code starts as %q, want +86", cc)
	}
	tb.do(chromedp.SendKeys(css("#dialog input[name=email]"), "alice@example.com"),
		chromedp.SendKeys(css("#dialog input[name=phone]"), "12345"),
		chromedp.Click(css("#dialog form button[type=submit]")))
	tb.wait("the INVALID_PHONE error at the phone field",
		`document.querySelector('#dialog [data-error-for=phone]:not([hidden])')?.dataset.code === 'INVALID_PHONE'`)
	if eval[bool](tb, `!document.querySelector('#dialog [data-error-for=email]').hidden`) {
		t.Errorf("an error shows at the email field too")
	}
	if inv := eval[string](tb, `document.querySelector('#dialog input[name=phone]').getAttribute('aria-invalid')`); inv != "true" {
		t.Errorf("phone field aria-invalid = %q", inv)
	}
	if f := tb.focused(); !strings.HasPrefix(f, "input[name=phone]") {
		t.Errorf("after the error the focus is on %q, want the phone field", f)
	}
	tb.shot("04-bind-invalid-phone")
	tb.typeInto("#dialog input[name=phone]", "138 0013 8000")
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	tb.wait("Alice PENDING", `document.querySelector(`+js(alice)+`).dataset.status === 'PENDING'`)
	tb.wait("the activate action", `document.querySelector(`+js(alice+" button[data-action=activate]")+`)?.textContent === 'Bind security information (activate)'`)
	tb.wait("the focus back on Alice's row", `document.activeElement.closest('tr') === document.querySelector(`+js(alice)+`)`)
	tb.shot("05-pending")

	// Bind security information (activate): the mail has not gone out yet.
	tb.do(chromedp.Click(css(alice + " button[data-action=activate]")))
	tb.dialogOpen("activate")
	if got := tb.text("#dialog [data-fact=email] dd"); got != "alice@example.com" {
		t.Errorf("activate dialog email %q", got)
	}
	if got := tb.text("#dialog [data-fact=mobile] dd"); got != "+86 138****8000" {
		t.Errorf("activate dialog mobile %q, want +86 138****8000", got)
	}
	if got := tb.text("#dialog [data-fact=linkSentAt] dd"); got != "Not sent yet" {
		t.Errorf("link sent: %q, want Not sent yet", got)
	}
	if got := eval[string](tb, `document.querySelector('#dialog [data-delivery]').dataset.delivery`); got != "QUEUED" {
		t.Errorf("delivery %q, want QUEUED", got)
	}
	if got := tb.text("#dialog [data-remaining]"); !strings.Contains(got, "3") {
		t.Errorf("modifications remaining: %q", got)
	}
	tb.shot("06-activate-not-sent")
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.dialogClosed()
	tb.wait("the focus back on the activate action", `document.activeElement === document.querySelector(`+js(alice+" button[data-action=activate]")+`)`)

	// The mail worker sends it.
	sentAt := s.clock.Now()
	token := s.sendMail(t, "alice@example.com")
	tb.do(chromedp.Click(css(alice + " button[data-action=activate]")))
	tb.dialogOpen("activate")
	tb.wait("the link's sending time", `document.querySelector('#dialog [data-fact=linkSentAt] time') !== null`)
	if got := eval[string](tb, `document.querySelector('#dialog [data-fact=linkSentAt] time').getAttribute('datetime')`); !sameInstant(got, sentAt) {
		t.Errorf("link sent at %q, want %s", got, sentAt.Format(time.RFC3339))
	}
	if got := eval[string](tb, `document.querySelector('#dialog [data-fact=linkExpiresAt] time').getAttribute('datetime')`); !sameInstant(got, sentAt.Add(member.DefaultPolicy().ActivationTTL)) {
		t.Errorf("link expires at %q, want 15 days after %s", got, sentAt.Format(time.RFC3339))
	}
	if title := eval[string](tb, `document.querySelector('#dialog [data-fact=linkExpiresAt] time').title`); !strings.HasSuffix(title, "Z (UTC)") {
		t.Errorf("time title %q, want the UTC ISO", title)
	}
	tb.shot("07-activate-sent")

	// Send again, until the hourly cap: the button then says when.
	for i := 1; i <= member.DefaultPolicy().ResendsPerHour-1; i++ {
		tb.do(chromedp.Click(css("#dialog button[data-action=resend]")))
		tb.wait(fmt.Sprintf("resend %d confirmed", i), `document.querySelector('#dialog .status-msg')?.textContent.includes('alice@example.com')`)
		if i < member.DefaultPolicy().ResendsPerHour-1 {
			tb.wait("the resend button enabled again", `!document.querySelector('#dialog button[data-action=resend]').disabled`)
			tb.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#dialog .status-msg').textContent = ''`))
		}
	}
	tb.wait("Send again disabled", `document.querySelector('#dialog button[data-action=resend]').disabled`)
	tb.wait("when it can be sent again", `document.querySelector('#dialog [data-note=resend]:not([hidden]) time') !== null`)
	if got := eval[string](tb, `document.querySelector('#dialog [data-note=resend] time').getAttribute('datetime')`); !sameInstant(got, s.clock.Now().Add(time.Hour)) {
		t.Errorf("next resend at %q, want an hour from now", got)
	}
	tb.shot("08-resend-limited")
	tb.do(chromedp.Click(css("#dialog-close")))
	tb.dialogClosed()

	// The member opens the first link (still valid after the resends) and
	// confirms. Activate answers with the link as it was found: valid.
	view, err := s.store.Activate(ctx, token)
	if err != nil || view.State != member.LinkValid {
		t.Fatalf("activate: %+v, %v", view, err)
	}
	tb.do(chromedp.Reload(), chromedp.WaitVisible(css("#members-section")))
	alice = tb.row("Alice Zhang")
	tb.wait("Alice ACTIVATED", `document.querySelector(`+js(alice)+`).dataset.status === 'ACTIVATED'`)
	if got := tb.text(alice + " td.col-email"); got != "alice@example.com" {
		t.Errorf("login email column %q", got)
	}
	if eval[bool](tb, `document.querySelector(`+js(alice+" button[data-action=activate], "+alice+" button[data-action=bind]")+`) !== null`) {
		t.Errorf("an activated member still has a bind action")
	}
	tb.shot("09-activated")

	// Click the member name: login email and history.
	tb.do(chromedp.Click(css(alice + " button.member-name")))
	tb.dialogOpen("details")
	if got := tb.text("#dialog [data-fact=loginEmail] dd"); got != "alice@example.com" {
		t.Errorf("details login email %q", got)
	}
	kinds := eval[[]string](tb, `[...document.querySelectorAll('#dialog .event')].map(e => e.dataset.kind)`)
	for _, want := range []string{"ACTIVATED", "LINK_RESENT", "LINK_SENT", "SUBMITTED", "CREATED"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("history %v lacks %s", kinds, want)
		}
	}
	tb.shot("10-details")
	// Closing and at once opening another dialog: the close event of the
	// first, which the browser queues, must not empty the second.
	intact := eval[bool](tb, `new Promise(done => {
		document.getElementById('dialog-close').click();
		document.getElementById('create-member').click();
		setTimeout(() => done(document.getElementById('dialog').open &&
			document.getElementById('dialog').dataset.kind === 'create' &&
			document.querySelector('#dialog input[name=name]') !== null), 0);
	})`)
	if !intact {
		t.Errorf("a dialog opened right after another closed lost its content")
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.dialogClosed()

	// Remove it.
	tb.do(chromedp.Click(css(alice + " button[data-action=remove]")))
	tb.dialogOpen("remove")
	if got := tb.text("#dialog-body"); !strings.Contains(got, "alice@example.com") {
		t.Errorf("remove dialog does not say the account keeps its email: %q", got)
	}
	tb.shot("11-remove-confirm")
	tb.do(chromedp.Click(css("#dialog button[data-action=confirm-remove]")))
	tb.dialogClosed()
	tb.wait("Alice gone", `document.querySelector(`+js(alice)+`) === null`)
	tb.wait("the toast", `document.getElementById('toast').textContent.includes('Alice Zhang')`)

	// An invited member: the bind action is disabled and says why.
	tb.do(chromedp.Click(css("#invite-member")))
	tb.dialogOpen("invite")
	tb.do(chromedp.SendKeys(css("#dialog input[name=name]"), "Bob Li"), chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	bob := tb.row("Bob Li")
	if !eval[bool](tb, `document.querySelector(`+js(bob+" button[data-action=bind]")+`).disabled`) {
		t.Errorf("an invited member's bind action is enabled")
	}
	if got := tb.text(bob + " [data-note=invited]"); got != "Security information can’t be bound for invited member accounts." {
		t.Errorf("invited note %q", got)
	}
	if desc := eval[string](tb, `document.querySelector(`+js(bob+" button[data-action=bind]")+`).getAttribute('aria-describedby')`); desc == "" {
		t.Errorf("the disabled bind action is not described by its reason")
	}
	tb.shot("12-invited")
	// Should a stale page let the admin try anyway, the API's refusal is
	// what they see. (The test re-enables the button as such a page would
	// have it.)
	// Enabled and clicked in one task: a live update that redraws the
	// row in between would disable the button again.
	tb.do(chromedp.Evaluate[chromedp.Void](`(b => { b.disabled = false; b.click(); })(document.querySelector(` + js(bob+" button[data-action=bind]") + `))`))
	tb.dialogOpen("bind")
	tb.do(chromedp.SendKeys(css("#dialog input[name=email]"), "bob@example.com"),
		chromedp.SendKeys(css("#dialog input[name=phone]"), "13700137000"),
		chromedp.Click(css("#dialog form button[type=submit]")))
	tb.wait("the INVITED_MEMBER refusal", `document.querySelector('#dialog .alert:not([hidden]) [data-code=INVITED_MEMBER]') !== null`)
	if got := tb.text("#dialog .alert [data-code=INVITED_MEMBER]"); !strings.Contains(got, "invited") {
		t.Errorf("INVITED_MEMBER says %q", got)
	}
	tb.shot("12b-invited-refused")
	tb.do(chromedp.Click(css("#dialog-close")))
	tb.dialogClosed()
	tb.wait("Bob still unbound, his bind action disabled again",
		`document.querySelector(`+js(bob)+`).dataset.status === 'UNBOUND' && document.querySelector(`+js(bob+" button[data-action=bind]")+`).disabled`)

	// A second created member whose link expires.
	tb.do(chromedp.Click(css("#create-member")))
	tb.dialogOpen("create")
	tb.do(chromedp.SendKeys(css("#dialog input[name=name]"), "Carol Wang"), chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	carol := tb.row("Carol Wang")
	tb.do(chromedp.Click(css(carol + " button[data-action=bind]")))
	tb.dialogOpen("bind")
	tb.do(chromedp.SendKeys(css("#dialog input[name=email]"), "carol@example.com"),
		chromedp.SendKeys(css("#dialog input[name=phone]"), "13900139000"),
		chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	tb.wait("Carol PENDING", `document.querySelector(`+js(carol)+`).dataset.status === 'PENDING'`)
	// Not removable while pending: the reasons are a click away.
	if !eval[bool](tb, `document.querySelector(`+js(carol+" button[data-action=remove]")+`).disabled`) {
		t.Errorf("a pending member's Remove is enabled")
	}
	tb.do(chromedp.Click(css(carol + " button[data-action=why]")))
	tb.wait("the removal reasons", `!document.querySelector(`+js(carol+" [data-note=removal]")+`).hidden`)
	if got := tb.text(carol + " [data-note=removal]"); !strings.Contains(got, "activated") {
		t.Errorf("removal reasons %q", got)
	}
	tb.shot("13-remove-why")

	s.sendMail(t, "carol@example.com")
	s.clock.Add(16 * 24 * time.Hour)
	tb.do(chromedp.Reload(), chromedp.WaitVisible(css("#members-section")))
	carol = tb.row("Carol Wang")
	tb.wait("Carol FAILED", `document.querySelector(`+js(carol)+`).dataset.status === 'FAILED'`)
	if got := tb.text(carol + " button[data-action=failed]"); got != "Bind security information (failed)" {
		t.Errorf("Carol's action says %q", got)
	}
	tb.shot("14-failed")

	tb.do(chromedp.Click(css(carol + " button[data-action=failed]")))
	tb.dialogOpen("failed")
	if got := tb.text("#dialog [data-fact=email] dd"); got != "carol@example.com" {
		t.Errorf("failed dialog email %q", got)
	}
	tb.shot("15-failed-dialog")
	tb.do(chromedp.Click(css("#dialog button[data-action=rebind]")))
	tb.dialogOpen("rebind")
	if got := eval[string](tb, `document.querySelector('#dialog input[name=phone]').value`); got != "13900139000" {
		t.Errorf("Bind again keeps the mobile number: got %q", got)
	}
	tb.do(chromedp.SendKeys(css("#dialog input[name=email]"), "carol@example.com"),
		chromedp.Click(css("#dialog form button[type=submit]")))
	tb.wait("EMAIL_PREVIOUSLY_FAILED at the email field",
		`document.querySelector('#dialog [data-error-for=email]:not([hidden])')?.dataset.code === 'EMAIL_PREVIOUSLY_FAILED'`)
	if got := tb.text("#dialog [data-error-for=email]"); !strings.Contains(got, "cannot be bound again") {
		t.Errorf("email field error %q", got)
	}
	tb.shot("16-rebind-email-failed")
	tb.typeInto("#dialog input[name=email]", "carol.wang@example.com")
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogClosed()
	tb.wait("Carol PENDING again", `document.querySelector(`+js(carol)+`).dataset.status === 'PENDING'`)
	tb.shot("17-rebound")

	// Search and filters.
	tb.do(chromedp.SendKeys(css("#filter-search"), "carol.wang"))
	tb.wait("the search to leave Carol alone", `document.querySelectorAll('#members-body tr').length === 1 && document.querySelector(`+js(carol)+`) !== null`)
	tb.typeInto("#filter-search", "")
	tb.do(chromedp.Click(css("#filters button[type=submit]")))
	tb.wait("both rows back", `document.querySelectorAll('#members-body tr').length === 2`)
	tb.do(chromedp.Focus(css("#filter-type")), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	tb.wait("only invited members", `document.querySelectorAll('#members-body tr').length === 1 && document.querySelector(`+js(bob)+`) !== null`)
	if got := tb.text("#list-status"); got != "Members 1–1 of 1" {
		t.Errorf("list status %q", got)
	}
	tb.do(chromedp.Click(css("#filter-reset")))
	tb.wait("both rows back", `document.querySelectorAll('#members-body tr').length === 2`)

	// 简体中文.
	tb.do(chromedp.Focus(css("#lang")), chromedp.KeyEvent(kb.ArrowDown))
	tb.wait("Chinese labels", `document.getElementById('members-title').textContent === '成员账号管理'`)
	if got := tb.text(carol + " button[data-action=activate]"); got != "绑定安全信息（待激活）" {
		t.Errorf("zh-CN activate action %q", got)
	}
	if got := eval[string](tb, `document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("html lang %q", got)
	}
	tb.shot("18-zh-CN")
	tb.do(chromedp.Click(css(carol + " button[data-action=activate]")))
	tb.dialogOpen("activate")
	if got := tb.text("#dialog-title"); got != "绑定安全信息（待激活）" {
		t.Errorf("zh-CN dialog title %q", got)
	}
	tb.shot("19-zh-CN-activate")
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.dialogClosed()
	tb.do(chromedp.Focus(css("#lang")), chromedp.KeyEvent(kb.ArrowUp))
	tb.wait("English again", `document.getElementById('members-title').textContent === 'Member account management'`)

	// A phone.
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
	tb.wait("cards", `getComputedStyle(document.querySelector('#members-body tr')).display === 'block'`)
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %dpx wide on a 390px screen", w)
	}
	tb.shot("20-phone")
	tb.do(chromedp.Click(css(carol + " button[data-action=activate]")))
	tb.dialogOpen("activate")
	tb.shot("21-phone-activate")
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.dialogClosed()
	tb.do(chromedp.EmulateViewport(1280, 800))

	// Sign out.
	tb.do(chromedp.Click(css("#forget-key")))
	tb.wait("the key form", `!document.getElementById('key-section').hidden`)
	if got := eval[bool](tb, `sessionStorage.getItem('memberbind.console.apiKey') === null`); !got {
		t.Errorf("the key is still in sessionStorage after signing out")
	}
	tb.checkClean()

	// A key the API refuses: the banner says so, and the key form is back.
	bad := newTab(t, browser, dir)
	wrongKey := "mb_" + strings.Repeat("A", 43)
	bad.do(chromedp.Navigate(s.url + "/console#key=" + wrongKey))
	bad.wait("the UNAUTHENTICATED banner", `!document.getElementById('banner').hidden && document.getElementById('banner-text').textContent.includes('UNAUTHENTICATED')`)
	bad.wait("the key form", `!document.getElementById('key-section').hidden`)
	bad.shot("22-unauthenticated")
	// The browser logs the 401 of /graphql itself; nothing else may show.
	bad.checkClean("status of 401")
}

// TestConsolePaging walks the keyset pages of a longer member list, and
// searches a list longer than a search looks at.
func TestConsolePaging(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	// A search by a part of a name looks at the newest 20 members only.
	s := newServerStore(t, mysql.Options{SearchScope: 20})
	ctx := context.Background()
	caller, err := s.store.Authenticate(ctx, s.key)
	if err != nil {
		t.Fatal(err)
	}
	org, actor := caller.Org, caller.Actor
	for i := 1; i <= 25; i++ {
		m, err := s.store.CreateMember(ctx, org.ID, actor, member.TypeCreated, fmt.Sprintf("Member %02d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := s.store.BindSecurityInfo(ctx, org.ID, actor, m.ID, testenv.SecurityInfo(t, "first.member@example.com")); err != nil {
				t.Fatal(err)
			}
		}
	}
	tb := newTab(t, browser, testenv.ArtifactDir(t))
	tb.do(chromedp.Navigate(s.url+"/console#key="+s.key), chromedp.WaitVisible(css("#members-section")))
	tb.wait("page 1", `document.querySelectorAll('#members-body tr').length === 20`)
	if got := tb.text("#list-status"); got != "Members 1–20 of 25" {
		t.Errorf("page 1 status %q", got)
	}
	if first := tb.text("#members-body tr .member-name"); first != "Member 25" {
		t.Errorf("newest first: first row is %q", first)
	}
	if !eval[bool](tb, `document.getElementById('page-prev').disabled`) {
		t.Errorf("Previous enabled on page 1")
	}
	tb.do(chromedp.Click(css("#page-next")))
	tb.wait("page 2", `document.querySelectorAll('#members-body tr').length === 5`)
	if got := tb.text("#list-status"); got != "Members 21–25 of 25" {
		t.Errorf("page 2 status %q", got)
	}
	if !eval[bool](tb, `document.getElementById('page-next').disabled`) {
		t.Errorf("Next enabled on the last page")
	}
	if f := eval[string](tb, `document.activeElement.id`); f != "page-prev" {
		t.Errorf("on the last page the focus is on %q, want Previous", f)
	}
	tb.shot("23-page-2")
	tb.do(chromedp.Click(css("#page-prev")))
	tb.wait("page 1 again", `document.querySelectorAll('#members-body tr').length === 20`)
	if !eval[bool](tb, `document.getElementById('list-scope').hidden`) {
		t.Errorf("without a search, the list says %q", tb.text("#list-scope"))
	}

	// A search by a part of a name finds the matches among the newest 20
	// and says so next to the count, also when it finds none; a complete
	// email address finds the oldest member.
	const onlyNewest = "Only the newest 20 members were searched. To find anyone, search for their full email address."
	tb.do(chromedp.SendKeys(css("#filter-search"), "member"))
	tb.wait("the search's count", `document.getElementById('list-range').textContent === 'Members 1–20 of 20'`)
	if got := tb.text("#list-scope"); got != onlyNewest || eval[bool](tb, `document.getElementById('list-scope').hidden`) {
		t.Errorf("a search of the newest members says %q", got)
	}
	if !eval[bool](tb, `document.getElementById('page-next').disabled`) {
		t.Errorf("Next enabled after the newest 20 matches")
	}
	tb.shot("24-search-newest")
	tb.typeInto("#filter-search", "first.member@")
	tb.wait("no match among the newest", `!document.getElementById('members-empty').hidden`)
	if got := tb.text("#list-status"); got != onlyNewest {
		t.Errorf("a search that found nothing among the newest: status %q, want %q", got, onlyNewest)
	}
	tb.typeInto("#filter-search", "First.Member@example.com")
	tb.wait("the oldest member by email", `document.querySelectorAll('#members-body tr').length === 1`)
	if got := tb.text("#list-status"); got != "Members 1–1 of 1" {
		t.Errorf("a search by a complete email: status %q", got)
	}
	if got := tb.text("#members-body tr .member-name"); got != "Member 01" {
		t.Errorf("a search by a complete email found %q", got)
	}
	// 简体中文, then English again.
	tb.typeInto("#filter-search", "member")
	tb.wait("the search again", `!document.getElementById('list-scope').hidden`)
	tb.do(chromedp.Focus(css("#lang")), chromedp.KeyEvent(kb.ArrowDown))
	tb.wait("the note in Chinese", `document.getElementById('list-scope').textContent.startsWith('仅搜索了最新的 20 个成员')`)
	tb.do(chromedp.Focus(css("#lang")), chromedp.KeyEvent(kb.ArrowUp))
	tb.wait("the note in English", `document.getElementById('list-scope').textContent === `+js(onlyNewest))
	tb.do(chromedp.Click(css("#filter-reset")))
	tb.wait("the whole list", `document.getElementById('list-range').textContent === 'Members 1–20 of 25'`)
	if !eval[bool](tb, `document.getElementById('list-scope').hidden`) {
		t.Errorf("after Reset, the list says %q", tb.text("#list-scope"))
	}
	tb.checkClean()
}

// sameInstant reports whether an RFC 3339 string is the instant want.
func sameInstant(s string, want time.Time) bool {
	got, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && got.Equal(want)
}

// emailLineStarts is a JavaScript expression: the characters of the
// email element sel that begin a new line as the browser lays it out
// ("" when it fits on one line, "@" when it breaks before the domain).
func emailLineStarts(sel string) string {
	return `(() => {
		const el = document.querySelector(` + js(sel) + `);
		const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
		let starts = '', top = null, n;
		while ((n = walker.nextNode())) {
			for (let i = 0; i < n.length; i++) {
				const r = document.createRange();
				r.setStart(n, i);
				r.setEnd(n, i + 1);
				const rect = r.getClientRects()[0];
				if (!rect) continue;
				if (top !== null && rect.top > top + 2) starts += n.data[i];
				top = rect.top;
			}
		}
		return starts;
	})()`
}

// TestConsolePolish: what a walk through every screen found. After Send
// again and then Modify, the activate dialog no longer says the link went
// to the old email; a long login email breaks in the table only before
// its @, at any width; a malformed key in a #key= link is shown in the
// field its message is about.
func TestConsolePolish(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	s := newServer(t)
	ctx := context.Background()
	caller, err := s.store.Authenticate(ctx, s.key)
	if err != nil {
		t.Fatal(err)
	}
	const long = "alexandra.konstantinopoulou-whitfield@engineering.example-corporation.com"
	signedUp := testenv.Bind(t, s.store, caller.Org.ID, "Alexandra", long)
	if _, err := s.store.Activate(ctx, s.sendMail(t, long)); err != nil {
		t.Fatal(err)
	}
	if m, err := s.store.Member(ctx, caller.Org.ID, signedUp.ID); err != nil || m.LoginEmail != long {
		t.Fatalf("Alexandra: %+v, %v; want activated", m, err)
	}
	testenv.Bind(t, s.store, caller.Org.ID, "Olga", "old@example.com")
	s.sendMail(t, "old@example.com")
	tb := newTab(t, browser, testenv.ArtifactDir(t))

	// A link whose key is malformed: the key is in the field the
	// message is under, and the message says it came from the link.
	tb.do(chromedp.Navigate(s.url+"/console#key=mb_short"), chromedp.WaitVisible(css("#key-input")))
	tb.wait("the key error", `!document.getElementById('key-error').hidden`)
	if got := eval[string](tb, `document.getElementById('key-input').value`); got != "mb_short" {
		t.Errorf("after a malformed #key= the key field holds %q, want the link's key", got)
	}
	if got := tb.text("#key-error"); !strings.Contains(got, "link") {
		t.Errorf("the key error %q does not say the key came from the link", got)
	}
	tb.shot("30-key-from-link-malformed")
	// The same from a link opened on the loaded console.
	tb.do(chromedp.Evaluate[chromedp.Void](`location.hash = '#key=mb_other'`))
	tb.wait("the link's other key in the field", `document.getElementById('key-input').value === 'mb_other' && !document.getElementById('key-error').hidden`)
	tb.do(chromedp.Evaluate[chromedp.Void](`location.hash = '#key=' + ` + js(s.key)))
	tb.wait("the list", `!document.getElementById('members-section').hidden`)

	// The long login email, at the widths of a desktop, a tablet and a
	// phone.
	alexandra := tb.row("Alexandra")
	email := alexandra + " td.col-email .email"
	for _, w := range []int64{1280, 700, 390} {
		if w == 390 {
			tb.do(chromedp.EmulateViewport(w, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
		} else {
			tb.do(chromedp.EmulateViewport(w, 800))
		}
		tb.wait("the layout of the width", fmt.Sprintf(`window.innerWidth === %d`, w))
		if got := eval[string](tb, emailLineStarts(email)); got != "" && got != "@" {
			t.Errorf("at %dpx the login email breaks before %q, want nowhere or before the @ only", w, got)
		}
		if got := eval[string](tb, `document.querySelector(`+js(email)+`).textContent + ' ' + document.querySelector(`+js(email)+`).title`); got != long+" "+long {
			t.Errorf("at %dpx the login email's text and title are %q", w, got)
		}
		if got := eval[int](tb, `document.documentElement.scrollWidth`); got > int(w) {
			t.Errorf("at %dpx the page is %dpx wide", w, got)
		}
		// Nor does it widen its column past 18rem: a longer part is cut
		// short.
		if got := eval[float64](tb, `document.querySelector(`+js(email)+`).getBoundingClientRect().width / parseFloat(getComputedStyle(document.documentElement).fontSize)`); got > 18.01 {
			t.Errorf("at %dpx the login email is %.1frem wide, want at most 18rem", w, got)
		}
		tb.do(chromedp.ScrollIntoView(css(email)))
		tb.shot(fmt.Sprintf("31-long-email-%d", w))
	}
	tb.do(chromedp.EmulateViewport(1280, 800))

	// Send again, then Modify: nothing in the dialog names the old email.
	olga := tb.row("Olga")
	tb.do(chromedp.Click(css(olga + " button[data-action=activate]")))
	tb.dialogOpen("activate")
	tb.do(chromedp.Click(css("#dialog button[data-action=resend]")))
	tb.wait("the resend confirmed", `document.querySelector('#dialog .status-msg')?.textContent.includes('old@example.com')`)
	tb.typeInto("#dialog form[data-form=modify] input[name=email]", "new@example.com")
	tb.do(chromedp.Click(css("#dialog form[data-form=modify] button[type=submit]")))
	tb.wait("the modification confirmed", `[...document.querySelectorAll('#dialog .status-msg')].some(e => e.textContent.includes('new@example.com'))`)
	if got := eval[string](tb, `document.getElementById('dialog').innerText`); strings.Contains(got, "old@example.com") {
		t.Errorf("after Send again and Modify the dialog still names the old email:\n%s", got)
	}
	if got := tb.text("#dialog [data-fact=email] dd"); got != "new@example.com" {
		t.Errorf("the dialog's email is %q, want new@example.com", got)
	}
	tb.shot("32-resend-then-modify")
	tb.checkClean()
}
