package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// EnvChromium names the variable that points browser tests at a Chromium
// (or Chrome) executable.
const EnvChromium = "MEMBERBIND_CHROMIUM"

// EnvRequireBrowser names the variable that, set to 1, makes a browser
// test fail instead of skip when there is no browser; CI=true does the
// same.
const EnvRequireBrowser = "MEMBERBIND_REQUIRE_BROWSER"

// EnvArtifacts names the directory browser tests save screenshots into.
const EnvArtifacts = "MEMBERBIND_ARTIFACTS"

// chromiumInstall is how to get a browser on Debian.
const chromiumInstall = "apt-get install -y chromium"

// ChromiumPath finds the browser: $MEMBERBIND_CHROMIUM, else chromium on
// PATH, else /usr/bin/chromium; "" when there is none.
func ChromiumPath() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	return ""
}

// browserRequired reports whether a missing browser is a failure rather
// than a reason to skip: in CI (CI=true) and where EnvRequireBrowser=1, as
// .ci/run sets it.
func browserRequired() bool {
	return os.Getenv(EnvRequireBrowser) == "1" || os.Getenv("CI") == "true"
}

// Browser starts a private headless Chromium for t and returns its
// chromedp context; chromedp.NewContext on it opens a tab (see Tab). The
// browser stops when t ends. Without a browser the test is skipped, or
// fails when one is required (MEMBERBIND_REQUIRE_BROWSER=1 or CI=true).
// opts add to or override the defaults (a 1280x800 window, among others).
func Browser(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := ChromiumPath()
	if exe == "" {
		msg := "no chromium found (set " + EnvChromium + ", or " + chromiumInstall + ")"
		if browserRequired() {
			t.Fatal(msg + ", and " + EnvRequireBrowser + "=1 or CI=true requires one")
		}
		t.Skip(msg + ": skipping the browser test")
	}
	// What the browser prints, for a failing test to show.
	output := &lockedBuffer{}
	all := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(output),
	}, opts...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), all...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first run starts the browser, which lives as long as the context
	// of that run: it must have no deadline.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v\n%s", exe, err, output.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	return browser
}

// Tab opens a new tab in a browser from Browser; it closes when t ends.
func Tab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// recordCSPViolations runs in every document before the page's own
// scripts (scripts injected through DevTools are not subject to the page's
// Content-Security-Policy) and keeps the page's violations of it where
// Console.CSPViolations reads them.
const recordCSPViolations = `
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
    ' at ' + e.sourceFile + ':' + e.lineNumber + ' ' + (e.sample || ''));
});
`

// Console is what the pages of a tab reported: their console messages and
// uncaught exceptions, and their Content-Security-Policy violations.
type Console struct {
	t   testing.TB
	tab context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// WatchConsole starts recording what the pages the tab (from Tab) loads
// from now on report; call it before the tab navigates. When t fails, the
// messages are logged.
func WatchConsole(t testing.TB, tab context.Context) *Console {
	t.Helper()
	c := &Console{t: t, tab: tab}
	messages := chromedp.Console(tab)
	go func() {
		// It ends when the tab closes.
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.messages = append(c.messages, m)
			c.mu.Unlock()
		}
	}()
	err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: recordCSPViolations})
		return err
	}))
	if err != nil {
		t.Fatalf("watch the console: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range c.Messages() {
				t.Logf("console %s (source %q): %s", m.Type, m.Source, m.Text)
			}
		}
	})
	return c
}

// Messages returns every console message and uncaught exception so far.
func (c *Console) Messages() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), c.messages...)
}

// CSPViolations returns the Content-Security-Policy violations of the page
// the tab shows; each page starts with none. It fails the test when the
// page keeps no record of them (it loaded before WatchConsole).
func (c *Console) CSPViolations() []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.tab, 30*time.Second)
	defer cancel()
	rec, err := chromedp.Run(ctx, chromedp.Evaluate[cspRecord](
		`({recording: Array.isArray(window.__cspViolations), violations: window.__cspViolations || []})`))
	if err != nil {
		c.t.Fatalf("read the CSP violations: %v", err)
	}
	if !rec.Recording {
		c.t.Fatal("the page keeps no record of CSP violations: it loaded before WatchConsole")
	}
	return rec.Violations
}

// cspRecord is what recordCSPViolations kept in a page.
type cspRecord struct {
	Recording  bool     `json:"recording"`
	Violations []string `json:"violations"`
}

// Problems returns what a browser test fails on, one line each: the
// Content-Security-Policy violations of the page the tab shows, and every
// error, warning and uncaught exception the console has shown so far but
// those whose text holds one of allowed.
func (c *Console) Problems(allowed ...string) []string {
	c.t.Helper()
	var problems []string
	for _, v := range c.CSPViolations() {
		problems = append(problems, "CSP violation: "+v)
	}
next:
	for _, m := range c.Messages() {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
			continue
		}
		for _, a := range allowed {
			if strings.Contains(m.Text, a) {
				continue next
			}
		}
		problems = append(problems, fmt.Sprintf("console %s (source %q): %s", m.Type, m.Source, m.Text))
	}
	return problems
}

// ArtifactDir is where a test saves what a person should look at:
// $MEMBERBIND_ARTIFACTS (created if needed) when set, else a temporary
// directory of t.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SaveArtifact writes data as the file name in dir (from ArtifactDir) and
// logs its path.
func SaveArtifact(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s", p)
	return p
}
