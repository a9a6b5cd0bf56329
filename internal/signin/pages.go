package signin

import (
	"embed"
	"net/http"
	"strconv"
	"time"

	"memberbind/internal/webpage"
)

// Page names: each is templates/<lang>/<name>.html.
const (
	pageForm             = "form"
	pageSent             = "sent"
	pageConfirm          = "confirm"
	pageUsed             = "used"
	pageExpired          = "expired"
	pageUnknown          = "unknown"
	pageAccount          = "account"
	pageSignedOut        = "signed_out"
	pageForbidden        = "forbidden"
	pageRateLimited      = "rate_limited"
	pageBadRequest       = "bad_request"
	pageMethodNotAllowed = "method_not_allowed"
	pageNotFound         = "not_found"
	pageInternal         = "internal"
)

// pageNames lists every page; each language must have all of them.
var pageNames = []string{
	pageForm, pageSent, pageConfirm, pageUsed, pageExpired, pageUnknown, pageAccount, pageSignedOut,
	pageForbidden, pageRateLimited, pageBadRequest, pageMethodNotAllowed, pageNotFound, pageInternal,
}

// tone colours a page: the stripe at the top of its card. Pages not
// listed are "bad".
var tone = map[string]string{
	pageForm:      "info",
	pageSent:      "info",
	pageConfirm:   "info",
	pageAccount:   "info",
	pageSignedOut: "ok",
	pageUsed:      "warn",
	pageExpired:   "warn",
}

//go:embed templates
var templateFS embed.FS

// pages holds one parsed template per language and page: the shared
// layout, the language's common parts, and the page's "title" and "body".
var pages = webpage.ParsePages(templateFS, pageNames, tone)

// pageData is what a page template is given. Every string is plain text:
// html/template escapes it wherever it lands.
type pageData struct {
	webpage.Frame

	// Where the forms post and the links lead.
	SignInPath, ConfirmPath, SignOutPath string
	// CSRF is the forgery token of the page's form.
	CSRF string
	// TTLMinutes is a sign-in link's life.
	TTLMinutes int

	Email   string // the email typed, or the login email
	Invalid bool   // the email typed is not an email address
	Token   string // only for the Sign in form of a valid link

	Org, Member         string
	Expires, ExpiresISO string // a sign-in link's expiry
	Active, ActiveISO   string // when the login email was activated
	Left, LeftISO       string // when the member left the organization; "" while a member
	SignIns             []signInItem

	RetryAfter string // seconds, for the 429 page
}

// signInItem is one line of the account's recent sign-ins.
type signInItem struct {
	At, ISO string
	Current bool
}

func (h *Handler) newPageData(lang string) *pageData {
	return &pageData{
		Frame:      webpage.NewFrame(lang),
		SignInPath: Path, ConfirmPath: ConfirmPath, SignOutPath: SignOutPath,
		TTLMinutes: max(1, int(h.policy.LinkTTL/time.Minute)),
	}
}

// writePage renders a page and sends it.
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	pages.Write(w, r, h.log, status, name, d)
}

// problem answers a request that went wrong before anything was decided,
// in the browser's language. wait is the Retry-After of a 429.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, wait time.Duration) {
	var name string
	switch status {
	case http.StatusForbidden:
		name = pageForbidden
	case http.StatusTooManyRequests:
		name = pageRateLimited
	case http.StatusMethodNotAllowed:
		name = pageMethodNotAllowed
	case http.StatusNotFound:
		name = pageNotFound
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		name = pageBadRequest
	default:
		name = pageInternal
	}
	d := h.newPageData(h.browserLang(r))
	if status == http.StatusTooManyRequests {
		secs := max(1, int((wait+time.Second-1)/time.Second))
		d.RetryAfter = strconv.Itoa(secs)
		w.Header().Set("Retry-After", d.RetryAfter)
	}
	h.writePage(w, r, status, name, d)
}
