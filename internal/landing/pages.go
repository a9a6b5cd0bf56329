package landing

import (
	"embed"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"memberbind/internal/member"
	"memberbind/internal/webpage"
)

// Page names: each is templates/<lang>/<name>.html.
const (
	pageValid            = "valid"
	pageActivatedNow     = "activated_now"
	pageActivated        = "activated"
	pageExpired          = "expired"
	pageSuperseded       = "superseded"
	pageFailed           = "failed"
	pageUnknown          = "unknown"
	pageRateLimited      = "rate_limited"
	pageMethodNotAllowed = "method_not_allowed"
	pageBadRequest       = "bad_request"
	pageInternal         = "internal"
)

// pageNames lists every page; each language must have all of them.
var pageNames = []string{
	pageValid, pageActivatedNow, pageActivated, pageExpired, pageSuperseded, pageFailed, pageUnknown,
	pageRateLimited, pageMethodNotAllowed, pageBadRequest, pageInternal,
}

// pageOf is the page of a link state.
func pageOf(s member.LinkState) string {
	switch s {
	case member.LinkValid:
		return pageValid
	case member.LinkActivated:
		return pageActivated
	case member.LinkExpired:
		return pageExpired
	case member.LinkSuperseded:
		return pageSuperseded
	case member.LinkFailed:
		return pageFailed
	}
	return pageUnknown
}

// tone colours a page: the stripe at the top of its card. Pages not
// listed are "bad".
var tone = map[string]string{
	pageValid:        "info",
	pageActivatedNow: "ok",
	pageActivated:    "ok",
	pageExpired:      "warn",
	pageSuperseded:   "warn",
}

//go:embed templates
var templateFS embed.FS

// contentSecurityPolicy is the policy that allows the pages' CSS, shared
// with the other member pages (package webpage).
var contentSecurityPolicy = webpage.ContentSecurityPolicy

// pages holds one parsed template per language and page: the shared
// layout, the language's common parts, and the page's "title" and "body".
var pages = webpage.ParsePages(templateFS, pageNames, tone)

// pageData is what a page template is given. Every string is plain text:
// html/template escapes it wherever it lands.
type pageData struct {
	webpage.Frame
	Action string

	Org, Member, Email string
	Phone              string // masked
	Expires            string // absolute, in UTC, in the page's language; "" until the mail is sent
	ExpiresISO         string // RFC 3339, for <time datetime>
	Token              string // only for the Confirm form of a valid link
	RetryAfter         string // seconds, for the 429 page
	SignInPath         string // where an activated login email signs in
}

// SignInPath is where a member signs in with its activated login email:
// internal/signin's Path, which cmd/memberbind mounts beside this
// handler. (The adapters do not import each other.)
const SignInPath = "/signin"

func newPageData(lang string, v member.LinkView, retryAfter string) *pageData {
	d := &pageData{
		Frame: webpage.NewFrame(lang), Action: Path,
		Org: v.OrgName, Member: v.MemberName, Email: v.Email, Phone: maskPhone(v.Phone),
		RetryAfter: retryAfter, SignInPath: SignInPath,
	}
	if v.ExpiresAt != nil {
		d.Expires = webpage.FormatTime(lang, *v.ExpiresAt)
		d.ExpiresISO = v.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return d
}

// writePage renders a page and sends it.
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	pages.Write(w, r, h.log, status, name, d)
}

// maskPhone shows an E.164 number with the middle of its national number
// hidden, +86 138****8000: enough for the member to recognise it, too
// little for anyone else to use it.
func maskPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		// Not a number the store would keep: show only its end.
		keep := min(4, len(e164))
		return strings.Repeat("*", len(e164)-keep) + e164[len(e164)-keep:]
	}
	return fmt.Sprintf("+%d %s", n.GetCountryCode(), maskDigits(phonenumbers.GetNationalSignificantNumber(n)))
}

// maskDigits keeps the last four digits (two of a short number) and up to
// three leading ones, hiding at least four in between.
func maskDigits(s string) string {
	tail := 4
	if len(s) <= 7 {
		tail = 2
	}
	hidden := 4
	if len(s) < tail+hidden {
		return strings.Repeat("*", len(s)-min(len(s), tail)) + s[len(s)-min(len(s), tail):]
	}
	head := min(3, len(s)-tail-hidden)
	return s[:head] + strings.Repeat("*", len(s)-head-tail) + s[len(s)-tail:]
}
