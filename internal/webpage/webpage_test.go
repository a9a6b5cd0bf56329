package webpage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLayout: each Layout is a copy a page fills in on its own, and the
// stylesheet it inlines is the one the policy allows.
func TestLayout(t *testing.T) {
	a := template.Must(Layout().Parse(`{{define "title"}}A{{end}}{{define "body"}}<h1>a</h1>{{end}}`))
	b := template.Must(Layout().Parse(`{{define "title"}}B{{end}}{{define "body"}}<h1>b</h1>{{end}}`))
	data := map[string]any{"Lang": "en", "Tone": "ok", "CSS": template.CSS(Style)}
	var outA, outB bytes.Buffer
	if err := a.Execute(&outA, data); err != nil {
		t.Fatal(err)
	}
	if err := b.Execute(&outB, data); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(outA.String(), "<title>A</title>") || !strings.Contains(outB.String(), "<title>B</title>") {
		t.Errorf("pages share their parts:\n%s\n%s", outA.String(), outB.String())
	}
	if !strings.Contains(outA.String(), "<style>"+Style+"</style>") {
		t.Error("the layout does not inline the stylesheet as is")
	}
	if !strings.Contains(ContentSecurityPolicy, "'"+styleHash(Style)+"'") {
		t.Errorf("the policy %q does not allow the stylesheet", ContentSecurityPolicy)
	}
}

func TestSetSecurityHeaders(t *testing.T) {
	h := http.Header{}
	SetSecurityHeaders(h)
	for k, v := range map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex, nofollow",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestFormatTime(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 5, 59, 0, time.FixedZone("CST", 8*3600))
	if got := FormatTime("en", at); got != "2 March 2026, 01:05 (UTC)" {
		t.Errorf("en: %q", got)
	}
	if got := FormatTime("zh-CN", at); got != "2026年3月2日 01:05 (UTC)" {
		t.Errorf("zh-CN: %q", got)
	}
}

func TestNegotiateLang(t *testing.T) {
	for header, want := range map[string]string{
		"":                            "en",
		"*":                           "en",
		"zh":                          "zh-CN",
		"ZH-cn":                       "zh-CN",
		"zh-Hans-CN":                  "zh-CN",
		"zh-TW":                       "zh-CN",
		"en-US,zh;q=0.5":              "en",
		"zh;q=0.5,en;q=0.5":           "zh-CN",
		"ja, fr;q=0.9":                "en",
		"ja, zh;q=0.1":                "zh-CN",
		"zh;q=bad":                    "en",
		"zh;q=0":                      "en",
		"en-GB,en;q=0.9,zh-CN;q=0.95": "en",
		"en;q=0.9,zh-CN;q=0.95":       "zh-CN",
		"fr-FR, zh;q=0.8, en;q=0.5":   "zh-CN",
	} {
		if got := NegotiateLang(header); got != want {
			t.Errorf("NegotiateLang(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestFaultStatus: a store error is a 500, unless the database ran out of
// the request's time, which is a 503.
func TestFaultStatus(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if got := FaultStatus(r, errors.New("down")); got != http.StatusInternalServerError {
		t.Errorf("store error: %d, want 500", got)
	}
	if got := FaultStatus(r, fmt.Errorf("inspect link: %w", context.DeadlineExceeded)); got != http.StatusServiceUnavailable {
		t.Errorf("store out of time: %d, want 503", got)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if got := FaultStatus(r.WithContext(ctx), errors.New("driver: bad connection")); got != http.StatusServiceUnavailable {
		t.Errorf("error after the request's deadline: %d, want 503", got)
	}
}
