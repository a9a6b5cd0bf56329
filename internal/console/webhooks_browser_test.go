package console_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
	"memberbind/internal/webhook"
)

// TestConsoleWebhooks registers a webhook endpoint in headless Chromium: a
// plain-http URL to another host and no events are refused at their
// fields; a good one shows its secret once and is listed with its
// deliveries; a disabled endpoint can be enabled again; and it is deleted.
func TestConsoleWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	s := newServer(t)
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	s.store.Webhooks = mysql.WebhookConfig{Cipher: aead, CheckURL: (&webhook.Guard{AllowPrivate: true}).CheckURL}
	dir := testenv.ArtifactDir(t)
	tb := newTab(t, browser, dir)

	tb.do(chromedp.Navigate(s.url+"/console#key="+s.key), chromedp.WaitVisible(css("#members-section")))
	tb.do(chromedp.Click(css("#webhooks")))
	tb.dialogOpen("hooks")
	tb.typeInto("#dialog input[name=url]", "http://hooks.example/x")
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.wait("INVALID_WEBHOOK_URL at the url", `document.querySelector('#dialog [data-error-for=url]:not([hidden])')?.dataset.code === 'INVALID_WEBHOOK_URL'`)
	tb.wait("INVALID_INPUT at the events", `document.querySelector('#dialog [data-error-for=events]:not([hidden])')?.dataset.code === 'INVALID_INPUT'`)
	tb.shot("hooks-01-refused")

	tb.typeInto("#dialog input[name=url]", "http://localhost:9/hooks")
	tb.do(chromedp.Click(css("#hook-event-MEMBER_ACTIVATED")), chromedp.Click(css("#hook-event-MEMBER_REMOVED")))
	tb.do(chromedp.Click(css("#dialog form button[type=submit]")))
	tb.dialogOpen("hook-secret")
	secret := eval[string](tb, `document.querySelector('#dialog input[data-secret]').value`)
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=$`).MatchString(secret) {
		t.Fatalf("the secret shown is %q", secret)
	}
	tb.do(chromedp.Click(css("#dialog button[data-action=hooks-back]")))
	tb.dialogOpen("hooks")
	row := `#dialog tr[data-hook-url="http://localhost:9/hooks"]`
	tb.wait("the endpoint listed", `document.querySelector(`+js(row+" [data-hook-status]")+`)?.dataset.hookStatus === 'enabled'`)
	if strings.Contains(eval[string](tb, `document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join()`), secret) {
		t.Error("the secret is still in the page after the admin stored it")
	}

	// Disabled by failures (as the worker does after 24 hours), then
	// enabled again from the console.
	if _, err := s.store.DB().Exec(`UPDATE webhook_endpoints SET disabled_at = NOW(6), failing_since = NOW(6)`); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Click(css("#dialog-close")))
	tb.wait("the dialog closed", `!document.getElementById('dialog').open`)
	tb.do(chromedp.Click(css("#webhooks")))
	tb.dialogOpen("hooks")
	tb.wait("the endpoint disabled", `document.querySelector(`+js(row+" [data-hook-status]")+`)?.dataset.hookStatus === 'disabled'`)
	tb.shot("hooks-02-disabled")
	tb.do(chromedp.Click(css(row + " button[data-action=enable-hook]")))
	tb.wait("the endpoint enabled again", `document.querySelector(`+js(row+" [data-hook-status]")+`)?.dataset.hookStatus === 'enabled'`)

	tb.do(chromedp.Click(css(row + " button[data-action=delete-hook]")))
	tb.wait("the endpoint deleted", `document.querySelector(`+js(row)+`) === null && document.querySelector('#dialog .alert') !== null`)
	list, err := s.store.WebhookEndpoints(context.Background(), mustOrg(t, s))
	if err != nil || len(list) != 0 {
		t.Errorf("endpoints after the delete: %v, %v", list, err)
	}
	tb.checkClean()
}
