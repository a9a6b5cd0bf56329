package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// PhoneWidth and PhoneHeight are the viewport the server-rendered pages
// (internal/webpage: activation, sign-in) are looked at in, an
// iPhone-sized screen at twice the pixel density.
const PhoneWidth, PhoneHeight = 390, 844

// PhoneTab is a phone-sized tab whose console and Content-Security-Policy
// violations are watched. Each of its calls fails the test on an error
// and gives up after 30 seconds.
type PhoneTab struct {
	t       testing.TB
	ctx     context.Context
	dir     string
	Console *Console
}

// NewPhoneTab opens a PhoneTab in browser whose screenshots go to dir. A
// non-empty acceptLanguage is sent as the Accept-Language of every request.
func NewPhoneTab(t testing.TB, browser context.Context, dir, acceptLanguage string) *PhoneTab {
	t.Helper()
	ctx := Tab(t, browser)
	p := &PhoneTab{t: t, ctx: ctx, dir: dir, Console: WatchConsole(t, ctx)}
	p.Do(chromedp.EmulateViewport(PhoneWidth, PhoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	if acceptLanguage != "" {
		p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
				network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": acceptLanguage}})
			return err
		}))
	}
	return p
}

// Do runs steps in the tab.
func (p *PhoneTab) Do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// Load runs steps that load a page (a navigation, a click on a button)
// and returns the page's HTTP status.
func (p *PhoneTab) Load(steps ...chromedp.Action[chromedp.Void]) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		p.t.Fatal(err)
	}
	return res.Status
}

// Eval is the value of the JavaScript expression expr in the tab's page.
func Eval[T any](p *PhoneTab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// CheckPage fails unless the page shows every one of want, lays out within
// the phone's width, carries no script, and had its stylesheet applied
// under the page's CSP without any violation: the card of the
// server-rendered layout gets its 12px corners from the inline stylesheet
// only if the CSP let it in. Each failure names the page.
func (p *PhoneTab) CheckPage(want ...string) {
	p.t.Helper()
	where := Eval[string](p, `location.pathname + location.search.replace(/token=[^&]*/, 'token=…')`)
	text := Eval[string](p, `document.body.innerText`)
	for _, w := range want {
		if !strings.Contains(text, w) {
			p.t.Errorf("%s: page does not show %q:\n%s", where, w, text)
		}
	}
	if n := Eval[int](p, `document.scripts.length`); n != 0 {
		p.t.Errorf("%s: page has %d scripts", where, n)
	}
	if w := Eval[int](p, `document.documentElement.scrollWidth`); w > PhoneWidth {
		p.t.Errorf("%s: page is %dpx wide on a %dpx screen", where, w, PhoneWidth)
	}
	if r := Eval[string](p, `getComputedStyle(document.querySelector('main')).borderTopLeftRadius`); r != "12px" {
		p.t.Errorf("%s: stylesheet not applied: main's border radius = %q", where, r)
	}
	for _, v := range p.Console.CSPViolations() {
		p.t.Errorf("%s: CSP violation: %s", where, v)
	}
}

// Screenshot saves the whole page as name in the tab's directory.
func (p *PhoneTab) Screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	SaveArtifact(p.t, p.dir, name, png)
}
