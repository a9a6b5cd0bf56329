package signin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"memberbind/internal/signin"
	"memberbind/internal/testenv"
)

// recordCSPViolations runs in every document before anything else and
// keeps the page's Content-Security-Policy violations for the test.
const recordCSPViolations = `
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
`

const phoneWidth, phoneHeight = 390, 844

// pageTab is a phone-sized tab that checks every page it shows.
type pageTab struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newPageTab(t *testing.T, browser context.Context, dir, acceptLanguage string) *pageTab {
	t.Helper()
	pt := &pageTab{t: t, ctx: testenv.Tab(t, browser), dir: dir}
	pt.do(
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: recordCSPViolations}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
				network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": acceptLanguage}})
			return err
		}),
	)
	return pt
}

func (pt *pageTab) do(steps ...chromedp.Action[chromedp.Void]) {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		pt.t.Fatal(err)
	}
}

// load runs steps that load a page and returns its HTTP status.
func (pt *pageTab) load(steps ...chromedp.Action[chromedp.Void]) int64 {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		pt.t.Fatal(err)
	}
	return res.Status
}

func eval[T any](pt *pageTab, expr string) T {
	pt.t.Helper()
	ctx, cancel := context.WithTimeout(pt.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		pt.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// check fails unless the page shows every one of want, lays out within
// the phone's width, has no script, and had its stylesheet applied under
// the page's CSP without a violation; then it saves a screenshot.
func (pt *pageTab) check(shot string, want ...string) {
	pt.t.Helper()
	text := eval[string](pt, `document.body.innerText`)
	for _, w := range want {
		if !strings.Contains(text, w) {
			pt.t.Errorf("%s: page does not show %q:\n%s", shot, w, text)
		}
	}
	if n := eval[int](pt, `document.scripts.length`); n != 0 {
		pt.t.Errorf("%s: page has %d scripts", shot, n)
	}
	if w := eval[int](pt, `document.documentElement.scrollWidth`); w > phoneWidth {
		pt.t.Errorf("%s: page is %dpx wide on a %dpx screen", shot, w, phoneWidth)
	}
	if r := eval[string](pt, `getComputedStyle(document.querySelector('main')).borderTopLeftRadius`); r != "12px" {
		pt.t.Errorf("%s: stylesheet not applied: main's border radius = %q", shot, r)
	}
	for _, v := range eval[[]string](pt, `window.__cspViolations`) {
		pt.t.Errorf("%s: CSP violation: %s", shot, v)
	}
	ctx, cancel := context.WithTimeout(pt.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		pt.t.Fatal(err)
	}
	testenv.SaveArtifact(pt.t, pt.dir, shot, png)
}

// TestPagesInBrowser walks every page in a real Chromium, in Chinese (an
// organization whose language is zh-CN, a browser that prefers Chinese):
// each renders within a phone's width, under its CSP, without script.
func TestPagesInBrowser(t *testing.T) {
	t.Parallel()
	browser := testenv.Browser(t)
	dir := testenv.ArtifactDir(t)
	f := newFixture(t, signin.Options{})
	org := f.org("示例科技有限公司", "zh-CN")
	m := f.activate(org, "王小明", "xiaoming@example.com")
	mux := http.NewServeMux()
	for _, p := range signin.Paths {
		mux.Handle(p, f.h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	pt := newPageTab(t, browser, dir, "zh-CN,zh;q=0.9")
	if s := pt.load(chromedp.Navigate(srv.URL + "/account")); s != http.StatusOK {
		t.Fatalf("/account without a session: %d after the redirect", s)
	}
	if p := eval[string](pt, `location.pathname`); p != "/signin" {
		t.Errorf("/account without a session lands on %s, want /signin", p)
	}
	pt.check("signin-zh-CN-form.png", "登录您的成员账号", "登录邮箱", "发送登录链接")

	// The browser's own validation lets an address through; the server's
	// answer is the same for every address.
	pt.do(chromedp.SendKeys(chromedp.CSS(`#email`), "xiaoming@example.com"))
	if s := pt.load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("request: %d", s)
	}
	pt.check("signin-zh-CN-sent.png", "请查收邮件", "xiaoming@example.com", "15 分钟")
	token := f.signInMails()[m.ID][0]

	if s := pt.load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + token)); s != http.StatusOK {
		t.Fatalf("link: %d", s)
	}
	pt.check("signin-zh-CN-confirm.png", "示例科技有限公司", "登录成员账号 王小明", "xiaoming@example.com", "2026年3月2日 09:45 (UTC)")
	if s := pt.load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("sign in: %d", s)
	}
	pt.check("signin-zh-CN-account.png", "王小明", "示例科技有限公司", "xiaoming@example.com", "启用时间", "最近登录", "当前会话", "退出登录")

	if s := pt.load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + token)); s != http.StatusGone {
		t.Errorf("used link: %d", s)
	}
	pt.check("signin-zh-CN-used.png", "此登录链接已被使用")

	if s := pt.load(chromedp.Navigate(srv.URL + "/account")); s != http.StatusOK {
		t.Fatalf("account: %d", s)
	}
	if s := pt.load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("sign out: %d", s)
	}
	pt.check("signin-zh-CN-signed-out.png", "您已退出登录", "重新登录")

	// A link asked for now and opened after its minutes.
	f.clock.Add(time.Hour)
	if err := f.st.RequestSignIn(f.ctx, "xiaoming@example.com", f.policy); err != nil {
		t.Fatal(err)
	}
	expired := f.signInMails()[m.ID][0]
	f.clock.Add(f.policy.LinkTTL)
	if s := pt.load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + expired)); s != http.StatusGone {
		t.Errorf("expired link: %d", s)
	}
	pt.check("signin-zh-CN-expired.png", "此登录链接已过期", "获取新的登录链接")

	if s := pt.load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + strings.Repeat("A", 43))); s != http.StatusNotFound {
		t.Errorf("unknown link: %d", s)
	}
	pt.check("signin-zh-CN-unknown.png", "此登录链接无效")
}
