package signin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/webpage"
)

// TestEveryPage renders every page of every language with hostile values:
// nothing escapes its context, and every page has the layout's parts.
func TestEveryPage(t *testing.T) {
	const evil = `</style><script>alert("x")</script>"'`
	h := &Handler{policy: member.DefaultSignInPolicy()}
	for _, lang := range member.Langs {
		for _, name := range pageNames {
			d := h.newPageData(lang)
			d.Tone = "x"
			d.CSRF, d.Email, d.Token, d.Org, d.Member = evil, evil, evil, evil, evil
			d.Expires, d.ExpiresISO, d.Active, d.ActiveISO, d.Left, d.LeftISO = evil, evil, evil, evil, evil, evil
			d.SignIns = []signInItem{{At: evil, ISO: evil, Current: true}, {At: evil, ISO: evil}}
			d.Invalid = true
			d.RetryAfter = "7"
			var buf bytes.Buffer
			if err := pages.Template(lang, name).Execute(&buf, d); err != nil {
				t.Errorf("%s/%s: %v", lang, name, err)
				continue
			}
			out := buf.String()
			if strings.Contains(out, "<script") || strings.Count(out, "</style>") != 1 {
				t.Errorf("%s/%s: a value escaped its context:\n%s", lang, name, out)
			}
			for _, want := range []string{`<html lang="` + lang + `">`, `<h1 id="heading">`, "<title>", `<main class="card tone-x" aria-labelledby="heading">`} {
				if !strings.Contains(out, want) {
					t.Errorf("%s/%s lacks %s", lang, name, want)
				}
			}
			if slices.Contains([]string{pageUsed, pageExpired, pageUnknown}, name) && strings.Contains(out, "alert") {
				t.Errorf("%s/%s: the page of a spent link shows whose it was:\n%s", lang, name, out)
			}
			if name == pageRateLimited && !strings.Contains(out, "7") {
				t.Errorf("%s/%s does not say how long to wait", lang, name)
			}
		}
	}
}

// TestStyleHash: the policy's hash is that of the <style> the pages
// carry, and no page has a second stylesheet or a style attribute.
func TestStyleHash(t *testing.T) {
	h := &Handler{policy: member.DefaultSignInPolicy()}
	for _, name := range pageNames {
		var buf bytes.Buffer
		if err := pages.Template("en", name).Execute(&buf, h.newPageData("en")); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(buf.String())
		if m == nil {
			t.Fatalf("%s: no <style>", name)
		}
		sum := sha256.Sum256([]byte(m[1]))
		if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(webpage.ContentSecurityPolicy, want) {
			t.Errorf("CSP %q lacks %s", webpage.ContentSecurityPolicy, want)
		}
		if strings.Count(buf.String(), "<style") != 1 || strings.Contains(buf.String(), "style=") {
			t.Errorf("%s has a second stylesheet or a style attribute, which the CSP blocks", name)
		}
	}
}

// TestSessionCSRF: the signed-in forms' token follows from the session
// id alone, and differs between sessions.
func TestSessionCSRF(t *testing.T) {
	a, b := strings.Repeat("a", 43), strings.Repeat("b", 43)
	first, again := sessionCSRF(a), sessionCSRF(a)
	if first != again || first == sessionCSRF(b) || !member.WellFormedToken(first) {
		t.Errorf("sessionCSRF: %q %q", sessionCSRF(a), sessionCSRF(b))
	}
	if strings.Contains(sessionCSRF(a), a[:8]) {
		t.Error("the token shows the session id")
	}
}

// TestNewChecksOptions refuses options that cannot work.
func TestNewChecksOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no store accepted")
	}
	var st Store = nil
	for _, o := range []Options{
		{Store: st},
		{Store: fakeStore{}, PublicURL: "ftp://x"},
		{Store: fakeStore{}, Policy: member.SignInPolicy{LinkTTL: time.Minute}},
		{Store: fakeStore{}, Policy: member.SignInPolicy{LinkTTL: time.Minute, MaxLiveLinks: 1, IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(Options{Store: fakeStore{}, PublicURL: "https://members.example.com"}); err != nil {
		t.Error(err)
	}
}

type fakeStore struct{ Store }
