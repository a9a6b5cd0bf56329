//go:build !noembed

// The pages are reachable only through the embedded mail server, and these
// tests feed them mail parsed by it.

package devstack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// evilMail has markup in every field a page shows.
var evilMail = crlf(`
From: "<script>alert(1)</script>" <evil@x.test>
To: victim@x.test
Subject: <script>alert('subject')</script> & more
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=utf-8

Click https://app.test/activate?token=t0k"><script>alert(2)</script> now.
Or javascript:alert(3) which is no link.
--b
Content-Type: text/html; charset=utf-8

<html><head><title>x</title></head><body><script>alert(4)</script><a href="https://app.test/activate?token=t0k">Activate</a></body></html>
--b--
`)

// newTestPages returns the pages of a mailbox holding evilMail, mounted as
// the lead mounts them.
func newTestPages(t *testing.T) (*http.ServeMux, *mailbox) {
	t.Helper()
	box := newMailbox()
	box.add(parseMessage(crlf("Subject: first\n\nhello\n")))
	box.add(parseMessage(evilMail))
	h := &mailPages{box: box, smtpURL: "smtp://127.0.0.1:2525?tls=none"}
	mux := http.NewServeMux()
	mux.Handle(MailPath, h)
	mux.Handle(MailPath+"/", h)
	return mux, box
}

func get(t *testing.T, h http.Handler, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestMailPagesSecurityHeaders(t *testing.T) {
	mux, _ := newTestPages(t)
	for _, target := range []string{"/dev/mail", "/dev/mail/", "/dev/mail/2", "/dev/mail/2/html", "/dev/mail/2/raw", "/dev/mail/99", "/dev/mail/?format=json"} {
		res, _ := get(t, mux, target)
		h := res.Header
		if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", target, h)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", target, csp)
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "'unsafe-eval'") {
			t.Errorf("%s: CSP allows scripts: %q", target, csp)
		}
	}
}

func TestMailPagesList(t *testing.T) {
	mux, _ := newTestPages(t)
	for _, target := range []string{"/dev/mail", "/dev/mail/"} {
		res, body := get(t, mux, target)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %s %s", target, res.Status, res.Header.Get("Content-Type"))
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: unescaped script:\n%s", target, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt; &amp; more") {
			t.Errorf("%s: subject not shown escaped:\n%s", target, body)
		}
		first, second := strings.Index(body, `href="/dev/mail/2"`), strings.Index(body, `href="/dev/mail/1"`)
		if first < 0 || second < 0 || first > second {
			t.Errorf("%s: want links to 2 then 1:\n%s", target, body)
		}
		if !strings.Contains(body, "<style>"+pageCSS+"</style>") {
			t.Errorf("%s: stylesheet differs from the one the CSP hash allows", target)
		}
	}
}

func TestMailPagesMessage(t *testing.T) {
	mux, _ := newTestPages(t)
	res, body := get(t, mux, "/dev/mail/2")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %s", res.Status)
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("unescaped script:\n%s", body)
	}
	// The text part's link is an anchor; what follows the quote is not part
	// of it.
	if !strings.Contains(body, `<a href="https://app.test/activate?token=t0k" rel="noreferrer">https://app.test/activate?token=t0k</a>&#34;&gt;&lt;script&gt;`) {
		t.Errorf("text link not clickable or not escaped:\n%s", body)
	}
	if strings.Contains(body, `href="javascript:`) {
		t.Errorf("javascript: URL made a link:\n%s", body)
	}
	if !strings.Contains(body, `<iframe src="/dev/mail/2/html" sandbox="allow-popups allow-popups-to-escape-sandbox"`) {
		t.Errorf("HTML part not framed in a sandbox:\n%s", body)
	}
	if !strings.Contains(body, "<dt>Subject</dt><dd>&lt;script&gt;") {
		t.Errorf("headers not shown:\n%s", body)
	}

	res, body = get(t, mux, "/dev/mail/2/html")
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "sandbox allow-popups allow-popups-to-escape-sandbox;") || strings.Contains(csp, "allow-scripts") || strings.Contains(csp, "allow-same-origin") {
		t.Errorf("HTML part CSP = %q", csp)
	}
	if !strings.Contains(body, `<head><base target="_blank"><title>`) || !strings.Contains(body, `<a href="https://app.test/activate?token=t0k">Activate</a>`) {
		t.Errorf("HTML part = %s", body)
	}

	res, body = get(t, mux, "/dev/mail/2/raw")
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || body != string(evilMail) {
		t.Errorf("raw: %s, %q", ct, body)
	}
}

func TestMailPagesJSON(t *testing.T) {
	mux, _ := newTestPages(t)
	for _, req := range [][]string{{"/dev/mail?format=json"}, {"/dev/mail/", "Accept", "application/json"}} {
		res, body := get(t, mux, req[0], req[1:]...)
		if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("%v: Content-Type %q", req, ct)
		}
		var list struct {
			SMTPURL  string    `json:"smtpUrl"`
			Messages []Message `json:"messages"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Messages) != 2 || list.Messages[0].ID != "2" || list.Messages[0].Raw != "" || list.SMTPURL == "" {
			t.Errorf("%v: %+v", req, list)
		}
	}

	_, body := get(t, mux, "/dev/mail/2?format=json")
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "2" || m.Raw != string(evilMail) || len(m.Links) != 1 || m.Links[0] != "https://app.test/activate?token=t0k" {
		t.Errorf("message JSON: %+v", m)
	}

	res, _ := get(t, mux, "/dev/mail/99?format=json")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown message: %s", res.Status)
	}
}

func TestMailPagesMounts(t *testing.T) {
	box := newMailbox()
	box.add(parseMessage(crlf("Subject: one\n\nhi\n")))
	h := &mailPages{box: box}
	tests := []struct {
		name     string
		handler  http.Handler
		list     string
		wantLink string
	}{
		{"full paths", h, "/dev/mail", `href="/dev/mail/1"`},
		{"StripPrefix at MailPath", http.StripPrefix("/dev/mail", h), "/dev/mail/", `href="/dev/mail/1"`},
		{"StripPrefix elsewhere", http.StripPrefix("/x/mailbox", h), "/x/mailbox", `href="/x/mailbox/1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, tt.handler, tt.list)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, tt.wantLink) {
				t.Fatalf("list: %s\n%s", res.Status, body)
			}
			target := tt.wantLink[len(`href="`) : len(tt.wantLink)-1]
			if res, _ := get(t, tt.handler, target); res.StatusCode != http.StatusOK {
				t.Errorf("%s: %s", target, res.Status)
			}
		})
	}
}

func TestMailPagesMethods(t *testing.T) {
	mux, _ := newTestPages(t)
	req := httptest.NewRequest(http.MethodPost, "/dev/mail/", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	for _, target := range []string{"/dev/mail/nope", "/dev/mail/1/x", "/dev/mail/1/html"} {
		if res, _ := get(t, mux, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s", target, res.Status)
		}
	}
}

func TestWithBaseTarget(t *testing.T) {
	tests := map[string]string{
		`<html><HEAD lang="x"><title>t</title></HEAD><body>b</body></html>`: `<html><HEAD lang="x"><base target="_blank"><title>t</title></HEAD><body>b</body></html>`,
		"<!DOCTYPE html>\n<p>x</p>":                                         `<!DOCTYPE html><base target="_blank">` + "\n<p>x</p>",
		"<p>x</p>":                                                          `<base target="_blank"><p>x</p>`,
	}
	for in, want := range tests {
		if got := withBaseTarget(in); got != want {
			t.Errorf("withBaseTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
