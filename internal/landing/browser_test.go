package landing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"memberbind/internal/landing"
	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// phone is the viewport the pages are looked at in: an iPhone-sized
// screen at twice the pixel density.
const phoneWidth, phoneHeight = 390, 844

// browserTab is one phone-sized tab, and what its pages reported.
type browserTab struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	console *testenv.Console
}

func newBrowserTab(t *testing.T, browser context.Context, dir string) *browserTab {
	t.Helper()
	ctx := testenv.Tab(t, browser)
	bt := &browserTab{t: t, ctx: ctx, dir: dir, console: testenv.WatchConsole(t, ctx)}
	bt.do(chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	return bt
}

func (bt *browserTab) do(steps ...chromedp.Action[chromedp.Void]) {
	bt.t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		bt.t.Fatal(err)
	}
}

// load runs steps that load a page (a navigation, a click on Confirm) and
// returns the page's HTTP status.
func (bt *browserTab) load(steps ...chromedp.Action[chromedp.Void]) int64 {
	bt.t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		bt.t.Fatal(err)
	}
	return res.Status
}

func browserEval[T any](bt *browserTab, expr string) T {
	bt.t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		bt.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// check fails unless the page in the tab shows every one of want, lays out
// within the phone's width, carries no script, and had its stylesheet
// applied under the page's CSP without any violation.
func (bt *browserTab) check(want ...string) {
	bt.t.Helper()
	text := browserEval[string](bt, `document.body.innerText`)
	for _, w := range want {
		if !strings.Contains(text, w) {
			bt.t.Errorf("page does not show %q:\n%s", w, text)
		}
	}
	if n := browserEval[int](bt, `document.scripts.length`); n != 0 {
		bt.t.Errorf("page has %d scripts", n)
	}
	if w := browserEval[int](bt, `document.documentElement.scrollWidth`); w > phoneWidth {
		bt.t.Errorf("page is %dpx wide on a %dpx screen", w, phoneWidth)
	}
	// The card's border comes from the inline stylesheet: it is there only if
	// the CSP let the stylesheet in.
	if r := browserEval[string](bt, `getComputedStyle(document.querySelector('main')).borderTopLeftRadius`); r != "12px" {
		bt.t.Errorf("stylesheet not applied: main's border radius = %q", r)
	}
	for _, v := range bt.console.CSPViolations() {
		bt.t.Errorf("CSP violation: %s", v)
	}
}

// screenshot saves the whole page.
func (bt *browserTab) screenshot(name string) {
	bt.t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		bt.t.Fatal(err)
	}
	testenv.SaveArtifact(bt.t, bt.dir, name, png)
}

// checkConsole fails on anything the console said, other than the browser
// noting the status of a 404 or 410 page it loaded.
func (bt *browserTab) checkConsole() {
	bt.t.Helper()
	for _, m := range bt.console.Messages() {
		if strings.Contains(m.Text, "the server responded with a status of 4") {
			continue
		}
		bt.t.Errorf("console %s (source %q): %s", m.Type, m.Source, m.Text)
	}
}

// TestInBrowser opens links in a real headless Chromium on a phone-sized
// screen: the page shows the member and changes nothing; Confirm
// activates; every other outcome shows its page. Screenshots of each are
// saved as test artifacts.
func TestInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := testenv.Browser(t)
	dir := testenv.ArtifactDir(t)

	f := newFixtureWith(t, landing.Options{MissBurst: 1000})
	s := buildScenario(t, f, "Acme Corp", "en")
	zhOrg := f.org("示例科技有限公司", "zh-CN")
	zhM := f.bind(zhOrg, "王小明", "xiaoming@example.com")
	zhTok := f.deliver()[zhM.ID][0]

	mux := http.NewServeMux()
	mux.Handle(landing.Path, f.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	link := func(token string) string { return srv.URL + "/activate?token=" + token }

	t.Run("confirm", func(t *testing.T) {
		bt := newBrowserTab(t, browser, dir)
		before := f.snapshot()
		if status := bt.load(chromedp.Navigate(link(s.valid))); status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
		bt.check("Confirm your login email", "Acme Corp", "Alice", "alice@example.com", "+86 138****8000", "1 April 2026, 10:30 (UTC)")
		if after := f.snapshot(); after != before {
			t.Fatalf("loading the page changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if got := f.member(s.validM).Status(); got != member.StatusPending {
			t.Fatalf("status after loading the page = %s, want PENDING", got)
		}
		// Keyboard users see where they are: the button takes focus with a
		// visible outline.
		bt.do(chromedp.KeyEvent(kb.Tab))
		if !browserEval[bool](bt, `document.activeElement.tagName === 'BUTTON' && document.activeElement.matches(':focus-visible')`) {
			t.Error("Tab does not bring a visibly focused Confirm button")
		}
		if o := browserEval[string](bt, `getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth`); o != "solid 3px" {
			t.Errorf("focused button outline = %q, want solid 3px", o)
		}
		if h := browserEval[float64](bt, `document.querySelector('button').getBoundingClientRect().height`); h < 44 {
			t.Errorf("Confirm button is %.0fpx high, want a 44px touch target", h)
		}
		bt.screenshot("landing-en-valid.png")

		if status := bt.load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); status != http.StatusOK {
			t.Fatalf("after Confirm: status = %d, want 200", status)
		}
		bt.check("Your login email is activated", "alice@example.com", "Alice")
		if u := browserEval[string](bt, `location.href`); u != srv.URL+"/activate" {
			t.Errorf("after Confirm the address is %q, want no token in it", u)
		}
		got := f.member(s.validM)
		if got.Status() != member.StatusActivated || got.LoginEmail != "alice@example.com" {
			t.Errorf("after Confirm: %s, login email %q; want ACTIVATED, alice@example.com", got.Status(), got.LoginEmail)
		}
		bt.screenshot("landing-en-success.png")

		if status := bt.load(chromedp.Navigate(link(s.valid))); status != http.StatusOK {
			t.Fatalf("reopened: status = %d, want 200", status)
		}
		bt.check("This email is already activated", "alice@example.com")
		bt.screenshot("landing-en-already-activated.png")
		bt.checkConsole()
	})

	t.Run("outcomes", func(t *testing.T) {
		bt := newBrowserTab(t, browser, dir)
		for _, c := range []struct {
			file   string
			token  string
			status int64
			want   []string
		}{
			{"landing-en-expired.png", s.expired, 410, []string{"This activation link has expired", "carol@example.com"}},
			{"landing-en-superseded.png", s.superseded, 410, []string{"This activation link was replaced", "bob@example.com"}},
			{"landing-en-failed.png", s.failed, 410, []string{"This activation has failed", "dave@example.com"}},
			{"landing-en-unknown.png", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404, []string{"This activation link is not valid"}},
			{"landing-en-not-yet-sent.png", s.unsent, 200, []string{"Frank", "Not yet started"}},
		} {
			before := f.snapshot()
			if status := bt.load(chromedp.Navigate(link(c.token))); status != c.status {
				t.Errorf("%s: status = %d, want %d", c.file, status, c.status)
			}
			bt.check(c.want...)
			bt.screenshot(c.file)
			if f.snapshot() != before {
				t.Errorf("%s: loading the page changed the database", c.file)
			}
		}
		bt.checkConsole()
	})

	t.Run("zh-CN", func(t *testing.T) {
		bt := newBrowserTab(t, browser, dir)
		if status := bt.load(chromedp.Navigate(link(zhTok))); status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
		bt.check("确认您的登录邮箱", "示例科技有限公司", "王小明", "xiaoming@example.com", "2026年4月1日 10:30 (UTC)", "确认并激活")
		if lang := browserEval[string](bt, `document.documentElement.lang`); lang != "zh-CN" {
			t.Errorf("lang = %q, want zh-CN", lang)
		}
		bt.screenshot("landing-zh-CN-valid.png")
		if status := bt.load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); status != http.StatusOK {
			t.Fatalf("after Confirm: status = %d, want 200", status)
		}
		bt.check("您的登录邮箱已激活")
		if got := f.member(zhM).Status(); got != member.StatusActivated {
			t.Errorf("after Confirm: %s, want ACTIVATED", got)
		}
		bt.screenshot("landing-zh-CN-success.png")
		bt.checkConsole()
	})
}
