package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/internal/testenv"
)

// TestConsoleTourInBrowser follows the seed's console walk-through
// (Binding Security Information for Members) click by click in headless
// Chromium, against the real program with real mail: bind a member's
// security information, take the activation mail from Mailpit, confirm on
// the landing page, see the member activated with its login email and its
// history; send a link again; let a link expire and bind again, first with
// the failed email, then with a new one; an invited member refused; an
// activated member removed. Each step leaves a screenshot
// console-tour-NN-<step>.png in testenv.ArtifactDir.
//
// Two instances run side by side, each on its own database and
// organization: one with the default activation TTL for the paths where
// links are used, one with a TTL of seconds for the path where one expires.
func TestConsoleTourInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	start := time.Now()
	mailpit := testenv.Mailpit(t)
	browser := testenv.Browser(t, chromedp.Flag("lang", "en-US"))
	dir := testenv.ArtifactDir(t)
	t.Cleanup(func() {
		t.Logf("console tour took %s; screenshots in %s", time.Since(start).Round(time.Millisecond), dir)
	})

	t.Run("bind, activate, send again, invited, remove", func(t *testing.T) {
		t.Parallel()
		tourActivation(t, browser, mailpit, dir)
	})
	t.Run("link expires, bind again", func(t *testing.T) {
		t.Parallel()
		tourExpiry(t, browser, mailpit, dir)
	})
}

// tourActivation is steps 1-4, 6 and 7 of the tour, on an instance with
// the default activation TTL.
func tourActivation(t *testing.T, browser context.Context, mp *testenv.MailpitServer, dir string) {
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme Corp")
	inst := serveFor(t, map[string]string{
		"MEMBERBIND_DATABASE_DSN": dsn,
		"MEMBERBIND_SMTP_URL":     mp.SMTPURL,
	})
	admin := newTourTab(t, browser, dir)
	admin.signIn(inst.URL, key, "Acme Corp")

	// 1. Member account management: create a member, click "Bind security
	// information" on the right of it, enter the email and mobile number,
	// Submit. It is pending activation.
	admin.createMember("Alice Zhang")
	admin.shot(1, "member-created")
	alice := admin.row("Alice Zhang")
	admin.wantStatus(alice, "UNBOUND")
	admin.click(alice, "Bind security information")
	admin.dialogOpen("bind")
	if got := admin.text("#dialog-title"); got != "Bind security information" {
		t.Errorf("bind dialog title %q", got)
	}
	admin.fill("Email", "alice@example.com")
	admin.fill("Mobile number", "138 0013 8000")
	admin.shot(2, "bind-dialog")
	admin.click("#dialog", "Submit")
	admin.dialogClosed()
	admin.waitStatus(alice, "PENDING")
	if got := admin.text(alice + " .badge"); got != "Pending activation" {
		t.Errorf("Alice's status reads %q, want Pending activation", got)
	}
	if got := admin.text(alice + " button[data-action=activate]"); got != "Bind security information (activate)" {
		t.Errorf("Alice's action reads %q", got)
	}
	admin.shot(3, "pending")

	// 2. The activation mail, opened by the member, who confirms on the
	// landing page.
	mail := tourMailsTo(t, mp, "alice@example.com", 1)[0]
	msg := mp.Message(t, mail.ID)
	link := tourActivationLink.FindString(msg.Text)
	if link == "" || !strings.Contains(msg.HTML, link) {
		t.Fatalf("no activation link in both parts of the mail to alice@example.com:\n%s", msg.Text)
	}
	if !strings.HasPrefix(link, inst.URL+"/activate?token=") {
		t.Errorf("the link %s does not lead to this instance (%s)", link, inst.URL)
	}
	memberTab := newTourTab(t, browser, dir)
	memberTab.do(chromedp.Navigate(link))
	if got := memberTab.text("h1"); got != "Confirm your login email" {
		t.Errorf("the link opens a page saying %q", got)
	}
	body := memberTab.bodyText()
	for _, want := range []string{"Acme Corp", "Alice Zhang", "alice@example.com", "+86 138****8000"} {
		if !strings.Contains(body, want) {
			t.Errorf("confirm page lacks %q:\n%s", want, body)
		}
	}
	memberTab.shot(4, "landing-confirm")
	if s := memberState(t, inst.URL, key, admin.memberID(alice)); s["bindStatus"] != "PENDING" {
		t.Errorf("opening the link changed the member: %v", s)
	}
	if status := memberTab.clickToPage("body", "Confirm and activate"); status != 200 {
		t.Errorf("Confirm answered %d", status)
	}
	if got := memberTab.text("h1"); got != "Your login email is activated" {
		t.Errorf("after Confirm the page says %q", got)
	}
	if body := memberTab.bodyText(); !strings.Contains(body, "alice@example.com") || !strings.Contains(body, "Alice Zhang") {
		t.Errorf("success page does not name the email and the member:\n%s", body)
	}
	if loc := tourEval[string](memberTab, `location.href`); strings.Contains(loc, "token=") {
		t.Errorf("after Confirm the address still holds the token: %s", loc)
	}
	memberTab.shot(5, "landing-activated")
	memberTab.checkClean()

	// 3. Back in the console: activated, with its login email; the member's
	// name opens the details and the history.
	admin.reload()
	alice = admin.row("Alice Zhang")
	admin.waitStatus(alice, "ACTIVATED")
	if got := admin.text(alice + " td.col-email"); got != "alice@example.com" {
		t.Errorf("Alice's login email column reads %q", got)
	}
	if got := admin.text(alice + " .badge"); got != "Activated" {
		t.Errorf("Alice's status reads %q, want Activated", got)
	}
	if tourEval[bool](admin, `document.querySelector(`+tourJS(alice+" button[data-action=bind], "+alice+" button[data-action=activate]")+`) !== null`) {
		t.Errorf("an activated member still offers to bind")
	}
	admin.shot(6, "activated")
	admin.click(alice, "Alice Zhang")
	admin.dialogOpen("details")
	if got := admin.text("#dialog [data-fact=loginEmail] dd"); got != "alice@example.com" {
		t.Errorf("details: login email %q", got)
	}
	if got := admin.text("#dialog [data-fact=status] dd"); got != "Activated" {
		t.Errorf("details: status %q", got)
	}
	kinds := tourEval[[]string](admin, `[...document.querySelectorAll('#dialog .event')].map(e => e.dataset.kind)`)
	for _, want := range []string{"ACTIVATED", "LINK_SENT", "SUBMITTED", "CREATED"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("history %v lacks %s", kinds, want)
		}
	}
	if len(kinds) > 0 && kinds[0] != "ACTIVATED" {
		t.Errorf("history %v: the newest event is not ACTIVATED", kinds)
	}
	admin.shot(7, "details-history")
	admin.click("#dialog", "Close")
	admin.dialogClosed()

	// 4. Sending the activation link again: "Bind security information
	// (activate)" on another pending member, then "Send again".
	admin.createMember("Dave Chen")
	dave := admin.row("Dave Chen")
	admin.click(dave, "Bind security information")
	admin.dialogOpen("bind")
	admin.fill("Email", "dave@example.com")
	admin.fill("Mobile number", "137 0013 7000")
	admin.click("#dialog", "Submit")
	admin.dialogClosed()
	admin.waitStatus(dave, "PENDING")
	tourMailsTo(t, mp, "dave@example.com", 1)
	admin.click(dave, "Bind security information (activate)")
	admin.dialogOpen("activate")
	if got := admin.text("#dialog [data-fact=email] dd"); got != "dave@example.com" {
		t.Errorf("activate dialog: email %q", got)
	}
	admin.click("#dialog", "Send again")
	admin.wait("the resend confirmation", `document.querySelector('#dialog .status-msg')?.textContent === 'A new activation link will be sent to dave@example.com.'`)
	admin.shot(8, "send-again")
	both := tourMailsTo(t, mp, "dave@example.com", 2)
	if len(both) != 2 {
		t.Errorf("%d mails to dave@example.com, want 2", len(both))
	}
	links := map[string]bool{}
	for _, m := range both {
		links[tourActivationLink.FindString(mp.Message(t, m.ID).Text)] = true
	}
	if len(links) != 2 || links[""] {
		t.Errorf("the second mail does not carry a new link: %v", links)
	}
	admin.click("#dialog", "Close")
	admin.dialogClosed()
	admin.click(dave, "Dave Chen")
	admin.dialogOpen("details")
	if kinds := tourEval[[]string](admin, `[...document.querySelectorAll('#dialog .event')].map(e => e.dataset.kind)`); !slices.Contains(kinds, "LINK_RESENT") {
		t.Errorf("Dave's history %v lacks LINK_RESENT", kinds)
	}
	admin.shot(9, "send-again-history")
	admin.click("#dialog", "Close")
	admin.dialogClosed()

	// 6. An invited member: security information can't be bound, and the
	// console says why; should a stale page let the admin try anyway, the
	// API refuses with the reason.
	admin.click("#members-section", "Invite member")
	admin.dialogOpen("invite")
	admin.fill("Member name", "Bob Li")
	admin.click("#dialog", "Invite")
	admin.dialogClosed()
	bob := admin.row("Bob Li")
	if !tourEval[bool](admin, `document.querySelector(`+tourJS(bob+" button[data-action=bind]")+`).disabled`) {
		t.Errorf("an invited member's Bind security information is enabled")
	}
	if got := admin.text(bob + " [data-note=invited]"); got != "Security information can’t be bound for invited member accounts." {
		t.Errorf("invited member's note %q", got)
	}
	admin.shot(15, "invited")
	// Enabled and clicked in one task: a live update that redraws the
	// row in between would disable the button again.
	admin.do(chromedp.Evaluate[chromedp.Void](`(b => { b.disabled = false; b.click(); })(document.querySelector(` + tourJS(bob+" button[data-action=bind]") + `))`))
	admin.dialogOpen("bind")
	admin.fill("Email", "bob@example.com")
	admin.fill("Mobile number", "136 0013 6000")
	admin.click("#dialog", "Submit")
	admin.wait("the INVITED_MEMBER refusal", `document.querySelector('#dialog .alert:not([hidden]) [data-code=INVITED_MEMBER]') !== null`)
	// In English the console shows the API's own message.
	if got := admin.text("#dialog .alert [data-code=INVITED_MEMBER]"); !strings.Contains(got, "Bob Li") || !strings.Contains(got, "invited") {
		t.Errorf("the refusal reads %q", got)
	}
	admin.shot(16, "invited-refused")
	admin.click("#dialog", "Cancel")
	admin.dialogClosed()
	admin.waitStatus(bob, "UNBOUND")

	// 7. Remove the activated member.
	alice = admin.row("Alice Zhang")
	admin.click(alice, "Remove")
	admin.dialogOpen("remove")
	if got := admin.text("#dialog-body"); !strings.Contains(got, "Remove Alice Zhang from the organization?") || !strings.Contains(got, "alice@example.com") {
		t.Errorf("remove dialog says %q", got)
	}
	admin.shot(17, "remove-confirm")
	admin.click("#dialog", "Remove")
	admin.dialogClosed()
	admin.wait("Alice gone", `document.querySelector(`+tourJS(alice)+`) === null`)
	admin.wait("the removal toast", `document.getElementById('toast').textContent === 'Alice Zhang was removed from the organization.'`)
	admin.reload()
	admin.row("Dave Chen")
	if names := tourEval[[]string](admin, `[...document.querySelectorAll('#members-body .member-name')].map(e => e.textContent)`); slices.Contains(names, "Alice Zhang") {
		t.Errorf("after a reload Alice is still listed: %v", names)
	}
	admin.shot(18, "removed")
	if n := len(tourMailsTo(t, mp, "alice@example.com", 1)); n != 1 {
		t.Errorf("%d mails to alice@example.com, want 1", n)
	}
	admin.checkClean()
}

// tourExpiry is step 5 of the tour, on an instance whose links expire
// seconds after their mail is sent.
func tourExpiry(t *testing.T, browser context.Context, mp *testenv.MailpitServer, dir string) {
	const ttl = 5 * time.Second
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Globex")
	inst := serveFor(t, map[string]string{
		"MEMBERBIND_DATABASE_DSN":   dsn,
		"MEMBERBIND_SMTP_URL":       mp.SMTPURL,
		"MEMBERBIND_ACTIVATION_TTL": ttl.String(),
	})
	admin := newTourTab(t, browser, dir)
	admin.signIn(inst.URL, key, "Globex")

	admin.createMember("Carol Wang")
	carol := admin.row("Carol Wang")
	admin.click(carol, "Bind security information")
	admin.dialogOpen("bind")
	admin.fill("Email", "carol@example.com")
	admin.fill("Mobile number", "139 0013 9000")
	admin.click("#dialog", "Submit")
	admin.dialogClosed()
	admin.waitStatus(carol, "PENDING")
	// The link's life starts when its mail is accepted. Spend one of the
	// modifications while it lives (the mobile number only), so that the
	// count after binding again is seen to start afresh.
	tourMailsTo(t, mp, "carol@example.com", 1)
	admin.click(carol, "Bind security information (activate)")
	admin.dialogOpen("activate")
	admin.fill("Mobile number", "139 0013 9001")
	admin.click("#dialog", "Modify")
	admin.wait("one modification spent (the link must not have expired yet: TTL "+ttl.String()+")",
		`document.querySelector('#dialog [data-remaining]')?.dataset.remaining === '2'`)
	admin.shot(10, "expiry-modified")
	admin.click("#dialog", "Close")
	admin.dialogClosed()
	tourMailsTo(t, mp, "carol@example.com", 2)

	// 5. The link expires unused: the console shows the binding failed.
	// The admin reloads the page until it says so.
	deadline := time.Now().Add(ttl + 15*time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		admin.reload()
		carol = admin.row("Carol Wang")
		if admin.status(carol) == "FAILED" {
			break
		}
		if time.Now().After(deadline) {
			admin.failShot()
			t.Fatalf("Carol is still %s, %s after her link's TTL of %s", admin.status(carol), 15*time.Second, ttl)
		}
		<-tick.C
	}
	if got := admin.text(carol + " .badge"); got != "Activation failed" {
		t.Errorf("Carol's status reads %q, want Activation failed", got)
	}
	if got := admin.text(carol + " button[data-action=failed]"); got != "Bind security information (failed)" {
		t.Errorf("Carol's action reads %q", got)
	}
	admin.shot(11, "expiry-failed")
	admin.click(carol, "Bind security information (failed)")
	admin.dialogOpen("failed")
	if got := admin.text("#dialog [data-fact=email] dd"); got != "carol@example.com" {
		t.Errorf("failed dialog: email %q", got)
	}
	admin.shot(12, "expiry-failed-dialog")
	admin.click("#dialog", "Bind again")
	admin.dialogOpen("rebind")
	if got := tourEval[string](admin, `document.querySelector('#dialog input[name=phone]').value`); got != "13900139001" {
		t.Errorf("Bind again starts with mobile number %q, want the bound one", got)
	}
	// The email that failed cannot be bound again.
	admin.fill("Email", "carol@example.com")
	admin.click("#dialog", "Submit")
	admin.wait("EMAIL_PREVIOUSLY_FAILED at the email field",
		`document.querySelector('#dialog [data-error-for=email]:not([hidden])')?.dataset.code === 'EMAIL_PREVIOUSLY_FAILED'`)
	if got := admin.text("#dialog [data-error-for=email]"); !strings.Contains(got, "carol@example.com") || !strings.Contains(got, "cannot be bound again") {
		t.Errorf("the email field's error reads %q", got)
	}
	if tourEval[bool](admin, `!document.querySelector('#dialog [data-error-for=phone]').hidden`) {
		t.Errorf("an error shows at the mobile number too")
	}
	admin.shot(13, "expiry-rebind-same-email")
	// A new one can; the new binding has its modifications afresh. (It too
	// expires within the TTL, so it is read at once.)
	admin.fill("Email", "carol.wang@example.com")
	admin.click("#dialog", "Submit")
	admin.dialogClosed()
	admin.waitStatus(carol, "PENDING")
	admin.click(carol, "Bind security information (activate)")
	admin.dialogOpen("activate")
	if got := tourEval[string](admin, `document.querySelector('#dialog [data-remaining]').dataset.remaining`); got != "3" {
		t.Errorf("after binding again %s modifications remain, want 3", got)
	}
	if got := admin.text("#dialog [data-fact=email] dd"); got != "carol.wang@example.com" {
		t.Errorf("activate dialog after binding again: email %q", got)
	}
	admin.shot(14, "expiry-rebound")
	admin.click("#dialog", "Close")
	admin.dialogClosed()
	tourMailsTo(t, mp, "carol.wang@example.com", 1)
	admin.click(carol, "Carol Wang")
	admin.dialogOpen("details")
	kinds := tourEval[[]string](admin, `[...document.querySelectorAll('#dialog .event')].map(e => e.dataset.kind)`)
	for _, want := range []string{"REBOUND", "EXPIRED", "MODIFIED", "SUBMITTED"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("Carol's history %v lacks %s", kinds, want)
		}
	}
	admin.click("#dialog", "Close")
	admin.dialogClosed()
	if n := len(tourMailsTo(t, mp, "carol@example.com", 2)); n != 2 {
		t.Errorf("%d mails to carol@example.com, want 2 (bind, modify)", n)
	}
	admin.checkClean()
}

// tourActivationLink finds an activation link in a mail.
var tourActivationLink = regexp.MustCompile(`https?://[^\s"<>]+/activate\?token=[A-Za-z0-9_-]+`)

// tourMailsTo waits until Mailpit holds at least n mails to addr and
// returns them all, newest first.
func tourMailsTo(t *testing.T, mp *testenv.MailpitServer, addr string, n int) []testenv.MailpitSummary {
	t.Helper()
	const within = 15 * time.Second
	deadline := time.Now().Add(within)
	for {
		var to []testenv.MailpitSummary
		for _, m := range mp.Messages(t) {
			if slices.ContainsFunc(m.To, func(a *testenv.MailpitAddress) bool { return strings.EqualFold(a.Address, addr) }) {
				to = append(to, m)
			}
		}
		if len(to) >= n {
			return to
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit: %d mails to %s after %s, want %d", len(to), addr, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tourTab is a browser tab with what its pages reported.
type tourTab struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	console *testenv.Console

	mu  sync.Mutex
	csp []string // violations of documents left behind
}

func newTourTab(t *testing.T, browser context.Context, dir string) *tourTab {
	t.Helper()
	ctx := testenv.Tab(t, browser)
	return &tourTab{t: t, ctx: ctx, dir: dir, console: testenv.WatchConsole(t, ctx)}
}

// do runs actions with a deadline; on failure it saves a screenshot.
func (tb *tourTab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.failShot()
		tb.t.Fatal(err)
	}
}

// tourEval evaluates a JavaScript expression in the page.
func tourEval[T any](tb *tourTab, expr string) T {
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
// deadline saying what it was waiting for and what the page said.
func (tb *tourTab) wait(what, predicate string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("waiting for %s (%s): %v\nbanner: %q\ndialog: %q", what, predicate, err,
			tourEval[string](tb, `document.getElementById('banner-text')?.textContent ?? ''`),
			tourEval[string](tb, `document.getElementById('dialog')?.open ? document.getElementById('dialog').dataset.kind + ': ' + document.getElementById('dialog-body').innerText : ''`))
	}
}

// shot saves a full-page screenshot as console-tour-NN-step.png.
func (tb *tourTab) shot(n int, step string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	testenv.SaveArtifact(tb.t, tb.dir, fmt.Sprintf("console-tour-%02d-%s.png", n, step), png)
}

// failShot saves what the page looked like when a step failed.
func (tb *tourTab) failShot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := "console-tour-FAILED-" + strings.NewReplacer("/", "_", " ", "_", ",", "").Replace(tb.t.Name()) + ".png"
		testenv.SaveArtifact(tb.t, tb.dir, name, png)
	}
}

// keepCSP takes the CSP violations of the document before it is left.
func (tb *tourTab) keepCSP() {
	tb.t.Helper()
	v := tb.console.CSPViolations()
	tb.mu.Lock()
	tb.csp = append(tb.csp, v...)
	tb.mu.Unlock()
}

// checkClean fails on CSP violations, uncaught exceptions and console
// errors and warnings.
func (tb *tourTab) checkClean() {
	tb.t.Helper()
	tb.keepCSP()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, v := range tb.csp {
		tb.t.Errorf("CSP violation: %s", v)
	}
	for _, m := range tb.console.Messages() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			tb.t.Errorf("browser console %s (source %q) at %s:%d: %s", m.Type, m.Source, m.URL, m.Line, m.Text)
		}
	}
}

// tourJS quotes s as a JavaScript string literal.
func tourJS(s string) string { return strconv.Quote(s) }

// text is the trimmed text of the first element matching sel ("" if none).
func (tb *tourTab) text(sel string) string {
	tb.t.Helper()
	return tourEval[string](tb, `(document.querySelector(`+tourJS(sel)+`)?.textContent ?? '').trim()`)
}

// bodyText is the page's text as it reads.
func (tb *tourTab) bodyText() string {
	tb.t.Helper()
	return tourEval[string](tb, `document.body.innerText`)
}

// tourButton selects the enabled, visible button inside scope (a CSS
// selector) whose label (its text, or its aria-label for an icon) is
// label, as a person reading the seed finds it. A click on it waits for it
// to be there.
func tourButton(scope, label string) chromedp.JSPath {
	return chromedp.JSPath(`[...document.querySelectorAll(` + tourJS(scope+" button") + `)].find(b => (b.textContent.trim() === ` + tourJS(label) +
		` || b.getAttribute('aria-label') === ` + tourJS(label) + `) && !b.disabled && b.getClientRects().length > 0)`)
}

// click clicks, with the mouse, the button labelled label in scope.
func (tb *tourTab) click(scope, label string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	for {
		err := chromedp.Do(ctx, chromedp.Click(tourButton(scope, label)))
		// A live update (memberChanged) may redraw the row between
		// finding the button and clicking it: click the new one, as a
		// person would.
		if err != nil && strings.Contains(err.Error(), "Could not find node with given id") && ctx.Err() == nil {
			continue
		}
		if err != nil {
			tb.clickFailed(scope, label, err)
		}
		return
	}
}

// clickToPage clicks a button that loads a page, waits for the page and
// returns its HTTP status.
func (tb *tourTab) clickToPage(scope, label string) int64 {
	tb.t.Helper()
	tb.keepCSP()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(tourButton(scope, label)))
	if err != nil {
		tb.clickFailed(scope, label, err)
	}
	return res.Status
}

func (tb *tourTab) clickFailed(scope, label string, err error) {
	tb.t.Helper()
	tb.failShot()
	tb.t.Fatalf("click %q in %s: %v\nbuttons there: %q", label, scope, err,
		tourEval[[]string](tb, `[...document.querySelectorAll(`+tourJS(scope+" button")+`)].map(b => (b.textContent.trim() || b.getAttribute('aria-label')) + (b.disabled ? ' (disabled)' : ''))`))
}

// fill replaces the value of the dialog's field labelled label by typing.
func (tb *tourTab) fill(label, value string) {
	tb.t.Helper()
	input := `(() => { const l = [...document.querySelectorAll('#dialog label')].find(l => l.textContent.trim() === ` + tourJS(label) +
		`); return l ? document.getElementById(l.htmlFor) : null; })()`
	tb.do(
		chromedp.WaitVisible(chromedp.JSPath(input)),
		chromedp.Evaluate[chromedp.Void](input+`.value = ''`),
		chromedp.SendKeys(chromedp.JSPath(input), value),
	)
}

// signIn opens the console with the organization's key in the link, as
// the start-up message prints it.
func (tb *tourTab) signIn(base, key, org string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(base+"/console#key="+key), chromedp.WaitVisible(chromedp.CSS("#members-section")))
	tb.wait("the organization's name", `document.getElementById('org-name').textContent === `+tourJS(org))
	tb.wait("the empty list", `!document.getElementById('members-empty').hidden`)
	if got := tb.text("#members-title"); got != "Member account management" {
		tb.t.Errorf("console title %q", got)
	}
}

// reload reloads the console, which keeps the key for the tab's session.
func (tb *tourTab) reload() {
	tb.t.Helper()
	tb.keepCSP()
	tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#members-section")))
	tb.wait("the list", `document.getElementById('members-table').getAttribute('aria-busy') === null && document.getElementById('list-status').textContent !== 'Loading…' && document.querySelectorAll('#members-body tr').length > 0`)
}

// createMember clicks "Create member" and creates one named name.
func (tb *tourTab) createMember(name string) {
	tb.t.Helper()
	tb.click("#members-section", "Create member")
	tb.dialogOpen("create")
	tb.fill("Member name", name)
	tb.click("#dialog", "Create")
	tb.dialogClosed()
	tb.row(name)
}

// row waits for the row of the member named name and returns a CSS
// selector for it.
func (tb *tourTab) row(name string) string {
	tb.t.Helper()
	find := `[...document.querySelectorAll('#members-body tr')].find(r => r.querySelector('.member-name').textContent === ` + tourJS(name) + `)`
	tb.wait("the row of "+name, find+` !== undefined`)
	return `#members-body tr[data-member-id="` + tourEval[string](tb, find+`.dataset.memberId`) + `"]`
}

// memberID is the member id of a row.
func (tb *tourTab) memberID(row string) string {
	tb.t.Helper()
	return tourEval[string](tb, `document.querySelector(`+tourJS(row)+`).dataset.memberId`)
}

func (tb *tourTab) status(row string) string {
	tb.t.Helper()
	return tourEval[string](tb, `document.querySelector(`+tourJS(row)+`)?.dataset.status ?? ''`)
}

func (tb *tourTab) wantStatus(row, want string) {
	tb.t.Helper()
	if got := tb.status(row); got != want {
		tb.t.Errorf("%s is %s, want %s", row, got, want)
	}
}

func (tb *tourTab) waitStatus(row, want string) {
	tb.t.Helper()
	tb.wait(row+" "+want, `document.querySelector(`+tourJS(row)+`)?.dataset.status === `+tourJS(want))
}

// dialogOpen waits for the dialog to show the view kind.
func (tb *tourTab) dialogOpen(kind string) {
	tb.t.Helper()
	tb.wait("the "+kind+" dialog", `document.getElementById('dialog').open && document.getElementById('dialog').dataset.kind === `+tourJS(kind))
}

func (tb *tourTab) dialogClosed() {
	tb.t.Helper()
	tb.wait("the dialog to close", `!document.getElementById('dialog').open`)
}
