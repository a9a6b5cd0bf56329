package landing_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"memberbind/internal/landing"
	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// checkConsole fails on anything the console said, other than the browser
// noting the status of a 404 or 410 page it loaded.
func checkConsole(t *testing.T, bt *testenv.PhoneTab) {
	t.Helper()
	for _, m := range bt.Console.Messages() {
		if strings.Contains(m.Text, "the server responded with a status of 4") {
			continue
		}
		t.Errorf("console %s (source %q): %s", m.Type, m.Source, m.Text)
	}
}

// checkSignInLink fails unless the page shows a visible link to the
// sign-in page, named as such.
func checkSignInLink(t *testing.T, bt *testenv.PhoneTab, base string) {
	t.Helper()
	got := testenv.Eval[string](bt, `(() => {
		const a = [...document.querySelectorAll('a[href]')].find(a => a.href.endsWith('/signin'));
		if (!a) return '';
		const r = a.getBoundingClientRect();
		return a.href + ' ' + (r.width > 0 && r.height >= 44 ? 'visible' : 'hidden') + ' ' + a.textContent.trim();
	})()`)
	if want := base + landing.SignInPath + " visible Sign in to your account"; got != want {
		t.Errorf("sign-in link: %q, want %q", got, want)
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
		bt := testenv.NewPhoneTab(t, browser, dir, "")
		before := f.snapshot()
		if status := bt.Load(chromedp.Navigate(link(s.valid))); status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
		bt.CheckPage("Confirm your login email", "Acme Corp", "Alice", "alice@example.com", "+86 138****8000", "1 April 2026, 10:30 (UTC)")
		if after := f.snapshot(); after != before {
			t.Fatalf("loading the page changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if got := f.member(s.validM).Status(); got != member.StatusPending {
			t.Fatalf("status after loading the page = %s, want PENDING", got)
		}
		// Keyboard users see where they are: the button takes focus with a
		// visible outline.
		bt.Do(chromedp.KeyEvent(kb.Tab))
		if !testenv.Eval[bool](bt, `document.activeElement.tagName === 'BUTTON' && document.activeElement.matches(':focus-visible')`) {
			t.Error("Tab does not bring a visibly focused Confirm button")
		}
		if o := testenv.Eval[string](bt, `getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth`); o != "solid 3px" {
			t.Errorf("focused button outline = %q, want solid 3px", o)
		}
		if h := testenv.Eval[float64](bt, `document.querySelector('button').getBoundingClientRect().height`); h < 44 {
			t.Errorf("Confirm button is %.0fpx high, want a 44px touch target", h)
		}
		bt.Screenshot("landing-en-valid.png")

		if status := bt.Load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); status != http.StatusOK {
			t.Fatalf("after Confirm: status = %d, want 200", status)
		}
		bt.CheckPage("Your login email is activated", "alice@example.com", "Alice")
		if u := testenv.Eval[string](bt, `location.href`); u != srv.URL+"/activate" {
			t.Errorf("after Confirm the address is %q, want no token in it", u)
		}
		got := f.member(s.validM)
		if got.Status() != member.StatusActivated || got.LoginEmail != "alice@example.com" {
			t.Errorf("after Confirm: %s, login email %q; want ACTIVATED, alice@example.com", got.Status(), got.LoginEmail)
		}
		// The new login email signs in at once: the page links there.
		checkSignInLink(t, bt, srv.URL)
		bt.Screenshot("landing-en-success.png")

		if status := bt.Load(chromedp.Navigate(link(s.valid))); status != http.StatusOK {
			t.Fatalf("reopened: status = %d, want 200", status)
		}
		bt.CheckPage("This login email is already activated")
		// The link stays in the browser's history: reopened, it names nobody.
		if body := testenv.Eval[string](bt, `document.body.innerText`); strings.Contains(body, "alice@example.com") || strings.Contains(body, "Alice") {
			t.Errorf("the reopened spent link shows whose it was:\n%s", body)
		}
		checkSignInLink(t, bt, srv.URL)
		bt.Screenshot("landing-en-already-activated.png")
		checkConsole(t, bt)
	})

	t.Run("outcomes", func(t *testing.T) {
		bt := testenv.NewPhoneTab(t, browser, dir, "")
		for _, c := range []struct {
			file   string
			token  string
			status int64
			want   []string
		}{
			{"landing-en-expired.png", s.expired, 410, []string{"This activation link has expired"}},
			{"landing-en-superseded.png", s.superseded, 410, []string{"This activation link was replaced"}},
			{"landing-en-failed.png", s.failed, 410, []string{"This activation has failed"}},
			{"landing-en-unknown.png", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404, []string{"This activation link is not valid"}},
			{"landing-en-not-yet-sent.png", s.unsent, 200, []string{"Frank", "Not yet started"}},
		} {
			before := f.snapshot()
			if status := bt.Load(chromedp.Navigate(link(c.token))); status != c.status {
				t.Errorf("%s: status = %d, want %d", c.file, status, c.status)
			}
			bt.CheckPage(c.want...)
			bt.Screenshot(c.file)
			if f.snapshot() != before {
				t.Errorf("%s: loading the page changed the database", c.file)
			}
		}
		checkConsole(t, bt)
	})

	t.Run("zh-CN", func(t *testing.T) {
		bt := testenv.NewPhoneTab(t, browser, dir, "")
		if status := bt.Load(chromedp.Navigate(link(zhTok))); status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
		bt.CheckPage("确认您的登录邮箱", "示例科技有限公司", "王小明", "xiaoming@example.com", "2026年4月1日 10:30 (UTC)", "确认并激活")
		if lang := testenv.Eval[string](bt, `document.documentElement.lang`); lang != "zh-CN" {
			t.Errorf("lang = %q, want zh-CN", lang)
		}
		bt.Screenshot("landing-zh-CN-valid.png")
		if status := bt.Load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); status != http.StatusOK {
			t.Fatalf("after Confirm: status = %d, want 200", status)
		}
		bt.CheckPage("您的登录邮箱已激活")
		if got := f.member(zhM).Status(); got != member.StatusActivated {
			t.Errorf("after Confirm: %s, want ACTIVATED", got)
		}
		bt.Screenshot("landing-zh-CN-success.png")
		checkConsole(t, bt)
	})
}
