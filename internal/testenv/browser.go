package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the variable that points browser tests at a Chromium
// (or Chrome) executable.
const EnvChromium = "MEMBERBIND_CHROMIUM"

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

// Browser starts a private headless Chromium for t and returns its
// chromedp context; chromedp.NewContext on it opens a tab (see Tab). The
// browser stops when t ends. Without a browser the test is skipped (or
// fails, when MEMBERBIND_REQUIRE_BROWSER=1, e.g. in CI). opts add to or
// override the defaults (a 1280x800 window, among others).
func Browser(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := ChromiumPath()
	if exe == "" {
		msg := "no chromium found (set " + EnvChromium + ", or " + chromiumInstall + "): skipping the browser test"
		if os.Getenv("MEMBERBIND_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	output := &browserOutput{}
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

// browserOutput keeps what the browser process prints, for a failing test
// to show; the process writes while the test may read.
type browserOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
