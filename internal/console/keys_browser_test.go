package console_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// TestConsoleAPIKeys rotates the organization's API key in headless
// Chromium: the keys dialog lists the console's own key; a bad name is
// refused at its field; a new key is created and its secret shown once,
// then gone from the page; another key is revoked; the last key cannot be
// revoked; and revoking the console's own key signs it out.
func TestConsoleAPIKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	s := newServer(t)
	dir := testenv.ArtifactDir(t)
	ctx := context.Background()
	tb := newTab(t, browser, dir)

	tb.do(chromedp.Navigate(s.url+"/console#key="+s.key), chromedp.WaitVisible(css("#members-section")))
	tb.wait("the empty list", `!document.getElementById('members-empty').hidden`)
	tb.do(chromedp.Click(css("#api-keys")))
	tb.dialogOpen("keys")
	row := func(name string) string { return `#dialog tr[data-key-name=` + js(name) + `]` }
	tb.wait("the default key", `document.querySelector(`+js(row("default"))+`) !== null`)
	if own := tb.text(row("default") + " .sub"); own != "This console signs in with it" {
		t.Errorf("the console's own key is marked %q", own)
	}
	if n := eval[int](tb, `document.querySelectorAll('#dialog tbody tr').length`); n != 1 {
		t.Errorf("%d keys listed, want 1", n)
	}

	// A name that is only spaces is refused at its field.
	tb.do(chromedp.SendKeys(css("#dialog input[name=name]"), "   "), chromedp.Click(css("#dialog form button[type=submit]")))
	tb.wait("INVALID_INPUT at the name", `document.querySelector('#dialog [data-error-for=name]:not([hidden])')?.dataset.code === 'INVALID_INPUT'`)
	tb.typeInto("#dialog input[name=name]", "CI deploys")
	tb.shot("keys-01-create")
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogOpen("key-secret")
	secret := eval[string](tb, `document.querySelector('#dialog input[data-secret]').value`)
	if !regexp.MustCompile(`^mb_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("the secret shown is %q", secret)
	}
	if c, err := s.store.Authenticate(ctx, secret); err != nil || c.Org == nil {
		t.Fatalf("the key the console shows: %+v, %v", c, err)
	}
	tb.shot("keys-02-secret")
	tb.do(chromedp.Click(css("#dialog button[data-action=keys-back]")))
	tb.dialogOpen("keys")
	tb.wait("the new key listed", `document.querySelector(`+js(row("CI deploys"))+`) !== null`)
	if strings.Contains(eval[string](tb, `document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join()`), secret) {
		t.Error("the secret is still in the page after the admin stored it")
	}

	// Revoke the new key.
	tb.do(chromedp.Click(css(row("CI deploys") + " button[data-action=revoke-key]")))
	tb.dialogOpen("revoke-key")
	tb.do(chromedp.Click(css("#dialog button[data-action=confirm-revoke]")))
	tb.dialogOpen("keys")
	tb.wait("the key revoked", `document.querySelector(`+js(row("CI deploys")+" [data-key-status]")+`)?.dataset.keyStatus === 'revoked'`)
	if _, err := s.store.Authenticate(ctx, secret); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("the key revoked in the console: %v", err)
	}
	if n := eval[int](tb, `document.querySelectorAll('#dialog tr[data-key-name="CI deploys"] button[data-action=revoke-key]').length`); n != 0 {
		t.Errorf("a revoked key can be revoked again")
	}
	tb.shot("keys-03-revoked")

	// The last key cannot be revoked.
	tb.do(chromedp.Click(css(row("default") + " button[data-action=revoke-key]")))
	tb.dialogOpen("revoke-key")
	tb.do(chromedp.Click(css("#dialog button[data-action=confirm-revoke]")))
	tb.wait("LAST_API_KEY", `document.querySelector('#dialog .alert [data-code=LAST_API_KEY]') !== null`)
	tb.shot("keys-04-last")
	if _, err := s.store.Authenticate(ctx, s.key); err != nil {
		t.Fatalf("the last key after the refusal: %v", err)
	}

	// With a spare key, the console's own key can go, and it signs out.
	if _, _, err := s.store.CreateAPIKey(ctx, mustOrg(t, s), "spare"); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Click(css("#dialog button[data-action=confirm-revoke]")))
	tb.wait("the key form", `!document.getElementById('key-section').hidden`)
	if toast := tb.text("#toast"); !strings.Contains(toast, "was revoked, and this console signed out") {
		t.Errorf("the toast after revoking the console's key says %q", toast)
	}
	if _, err := s.store.Authenticate(ctx, s.key); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("the console's revoked key: %v", err)
	}
	tb.checkClean()
}

// mustOrg is the id of the test organization.
func mustOrg(t *testing.T, s *server) int64 {
	t.Helper()
	c, err := s.store.Authenticate(context.Background(), s.key)
	if err != nil {
		t.Fatal(err)
	}
	return c.Org.ID
}
