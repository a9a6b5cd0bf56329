package signin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/internal/signin"
	"memberbind/internal/testenv"
)

// check fails unless the page shows every one of want and passes
// testenv's checks of a server-rendered page; then it saves a screenshot.
func check(pt *testenv.PhoneTab, shot string, want ...string) {
	pt.CheckPage(want...)
	pt.Screenshot(shot)
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

	pt := testenv.NewPhoneTab(t, browser, dir, "zh-CN,zh;q=0.9")
	if s := pt.Load(chromedp.Navigate(srv.URL + "/account")); s != http.StatusOK {
		t.Fatalf("/account without a session: %d after the redirect", s)
	}
	if p := testenv.Eval[string](pt, `location.pathname`); p != "/signin" {
		t.Errorf("/account without a session lands on %s, want /signin", p)
	}
	check(pt, "signin-zh-CN-form.png", "登录您的成员账号", "登录邮箱", "发送登录链接")

	// The browser's own validation lets an address through; the server's
	// answer is the same for every address.
	pt.Do(chromedp.SendKeys(chromedp.CSS(`#email`), "xiaoming@example.com"))
	if s := pt.Load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("request: %d", s)
	}
	check(pt, "signin-zh-CN-sent.png", "请查收邮件", "xiaoming@example.com", "15 分钟")
	token := f.signInMails()[m.ID][0]

	if s := pt.Load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + token)); s != http.StatusOK {
		t.Fatalf("link: %d", s)
	}
	check(pt, "signin-zh-CN-confirm.png", "示例科技有限公司", "登录成员账号 王小明", "xiaoming@example.com", "2026年3月2日 09:45 (UTC)")
	if s := pt.Load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("sign in: %d", s)
	}
	check(pt, "signin-zh-CN-account.png", "王小明", "示例科技有限公司", "xiaoming@example.com", "启用时间", "最近登录", "当前会话", "退出登录")

	if s := pt.Load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + token)); s != http.StatusGone {
		t.Errorf("used link: %d", s)
	}
	check(pt, "signin-zh-CN-used.png", "此登录链接已被使用")

	if s := pt.Load(chromedp.Navigate(srv.URL + "/account")); s != http.StatusOK {
		t.Fatalf("account: %d", s)
	}
	if s := pt.Load(chromedp.Click(chromedp.CSS(`button[type="submit"]`))); s != http.StatusOK {
		t.Fatalf("sign out: %d", s)
	}
	check(pt, "signin-zh-CN-signed-out.png", "您已退出登录", "重新登录")

	// A link asked for now and opened after its minutes.
	f.clock.Add(time.Hour)
	if err := f.st.RequestSignIn(f.ctx, "xiaoming@example.com", f.policy); err != nil {
		t.Fatal(err)
	}
	expired := f.signInMails()[m.ID][0]
	f.clock.Add(f.policy.LinkTTL)
	if s := pt.Load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + expired)); s != http.StatusGone {
		t.Errorf("expired link: %d", s)
	}
	check(pt, "signin-zh-CN-expired.png", "此登录链接已过期", "获取新的登录链接")

	if s := pt.Load(chromedp.Navigate(srv.URL + "/signin/confirm?token=" + strings.Repeat("A", 43))); s != http.StatusNotFound {
		t.Errorf("unknown link: %d", s)
	}
	check(pt, "signin-zh-CN-unknown.png", "此登录链接无效")
}
