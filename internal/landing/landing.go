// Package landing serves the page a member reaches from the activation mail
// (DESIGN.md §3, rule R9).
//
// Mail scanners (Outlook Safe Links and others) open every link in a mail,
// and some even submit forms that submit themselves. So opening the link
// (GET or HEAD /activate?token=…) only shows what would be activated and
// never changes anything; the page has no script at all, and activation
// happens only when a person presses its Confirm button, which POSTs the
// token to /activate.
//
// Every outcome has its own page and status code:
//
//	status       HTTP  when
//	valid        200   GET: the link can be confirmed
//	activated    200   POST that activated now, or the binding was already activated
//	expired      410   this link's days are over; a newer link of the binding is live
//	superseded   410   the link was killed by a modification: use the newest mail
//	failed       410   the binding failed: the admin must bind again with another email
//	unknown      404   no such link, or a malformed token
//
// Only the page of a live link (valid) and the answer of the POST that
// activates it show the email, member, organization and mobile number:
// every other outcome's page says only what became of the link, since
// its address stays in the browser's history.
//
// With Accept: application/json the same outcomes and status codes come as
// JSON, {"status": "<one of the words above>"}, plus for a valid link and
// the POST that activated it "email", "organization", "member" and
// "expiresAt" (RFC 3339, omitted until the link's mail has gone out). Requests that go
// wrong answer with the status words rate_limited (429, with "retryAfter"
// in seconds), method_not_allowed (405), bad_request (400, 413 or 415) and
// error (500).
//
// Misses (unknown or malformed tokens) are limited per client address, so
// tokens cannot be guessed at speed; links that are found never count
// against it, so many members behind one address can confirm at once. See
// Options.
//
// Pages are self-contained: their CSS is inlined and allowed by its hash in
// the Content-Security-Policy, so the handler serves only the path
// /activate.
package landing

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/options"
	"memberbind/internal/webpage"
)

// Path is where the handler answers, and where its Confirm form posts.
// Mount the handler there: mux.Handle(landing.Path, h).
const Path = "/activate"

// Activator is the store side of the pages (implemented by *mysql.Store).
type Activator interface {
	// InspectLink tells what a link is worth now, changing nothing.
	InspectLink(ctx context.Context, token string) (*member.LinkView, error)
	// Activate confirms a link. It returns what the link was found to be:
	// LinkValid means it activated the binding now.
	Activate(ctx context.Context, token string) (*member.LinkView, error)
}

// Options configure a Handler. Zero values take the defaults.
type Options struct {
	// Activator looks links up and activates them. Required.
	Activator Activator
	// Logger receives one line per request (outcome, a short hash of the
	// token, never the token) and internal errors; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock of the miss limiter; time.Now when nil.
	Now func() time.Time

	// MissBurst is how many misses (unknown or malformed tokens) one client
	// address may make at once; 20 when zero. The allowance refills
	// evenly over MissWindow.
	MissBurst int
	// MissWindow is the time in which a client's whole burst refills; one
	// minute when zero. The default allows 20 misses per minute.
	MissWindow time.Duration
	// MaxClients bounds how many client addresses the miss limiter
	// remembers; the least recently seen is forgotten first. 10000 when
	// zero.
	MaxClients int

	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// is believed. The client address is the request's peer address
	// (RemoteAddr); only when that peer is in one of these prefixes is the
	// header read, from the right, skipping further trusted proxies. Empty:
	// X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// Defaults of Options.
const (
	DefaultMissBurst  = 20
	DefaultMissWindow = time.Minute
	DefaultMaxClients = 10000
)

// maxBody caps a POST body: a token field is about 50 bytes.
const maxBody = 4 << 10

// activateTimeout bounds an activation, which runs on even if the person
// closes the page: pressing Confirm is the decision.
const activateTimeout = 30 * time.Second

// Handler serves the activation landing pages at Path. It is safe for
// concurrent use.
type Handler struct {
	act     Activator
	log     *slog.Logger
	misses  *missLimiter
	proxies []netip.Prefix
}

// New returns a Handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	options.Default(&o.MissBurst, DefaultMissBurst)
	options.Default(&o.MissWindow, DefaultMissWindow)
	options.Default(&o.MaxClients, DefaultMaxClients)
	return &Handler{
		act:     o.Activator,
		log:     o.Logger,
		misses:  newMissLimiter(o.MissBurst, o.MissWindow, o.MaxClients, o.Now),
		proxies: o.TrustedProxies,
	}
}

// ServeHTTP answers GET and HEAD (show the link) and POST (confirm it) at
// Path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.URL.Path != Path {
		// Mounted on a subtree by mistake: nothing else lives here.
		h.respondLink(w, r, member.LinkView{State: member.LinkUnknown}, "", false)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.serveLink(w, r, r.URL.Query().Get("token"), false)
	case http.MethodPost:
		token, status := postedToken(w, r)
		if status != 0 {
			h.respondProblem(w, r, status, 0)
			return
		}
		h.serveLink(w, r, token, true)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.respondProblem(w, r, http.StatusMethodNotAllowed, 0)
	}
}

// setSecurityHeaders sets what every answer carries, errors included.
func setSecurityHeaders(hd http.Header) {
	webpage.SetSecurityHeaders(hd)
	hd.Set("Vary", "Accept, Accept-Language")
}

// postedToken reads the token field of a POST body, form-encoded (the
// page's form) or JSON ({"token": "..."}, for single-page frontends). A
// non-zero status says why it could not.
func postedToken(w http.ResponseWriter, r *http.Request) (string, int) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var token string
	var err error
	switch mt {
	case "application/x-www-form-urlencoded":
		if err = r.ParseForm(); err == nil {
			token = r.PostForm.Get("token")
		}
	case "application/json":
		var body struct {
			Token string `json:"token"`
		}
		if err = json.NewDecoder(r.Body).Decode(&body); err == nil {
			token = body.Token
		}
	default:
		return "", http.StatusUnsupportedMediaType
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "", http.StatusRequestEntityTooLarge
	case err != nil:
		return "", http.StatusBadRequest
	}
	return token, 0
}

// serveLink looks the token up (or activates it, for a POST) and answers
// the outcome's page.
func (h *Handler) serveLink(w http.ResponseWriter, r *http.Request, token string, activate bool) {
	token = strings.TrimSpace(token)
	client := h.clientAddr(r)
	view, wait, err := webpage.LookUp(h.misses, client,
		func() (*member.LinkView, error) { return h.lookUp(r, token, activate) },
		func(v *member.LinkView) bool { return v.State == member.LinkUnknown })
	switch {
	case errors.Is(err, webpage.ErrTooManyMisses):
		h.log.InfoContext(r.Context(), "activation link", "method", r.Method, "outcome", "rate_limited",
			"token", webpage.Ref(token), "client", client.String())
		h.respondProblem(w, r, http.StatusTooManyRequests, wait)
		return
	case err != nil:
		status := webpage.FaultStatus(r, err)
		h.log.ErrorContext(r.Context(), "activation link", "method", r.Method, "outcome", "error", "status", status,
			"token", webpage.Ref(token), "client", client.String(), "err", err)
		h.respondProblem(w, r, status, 0)
		return
	}
	activatedNow := activate && view.State == member.LinkValid
	outcome := strings.ToLower(string(view.State))
	if activatedNow {
		outcome = "activated_now"
	}
	h.log.InfoContext(r.Context(), "activation link", "method", r.Method, "outcome", outcome,
		"token", webpage.Ref(token), "client", client.String())
	h.respondLink(w, r, *view, token, activatedNow)
}

// lookUp asks the store about a token; a token that could not be one is
// unknown without asking.
func (h *Handler) lookUp(r *http.Request, token string, activate bool) (*member.LinkView, error) {
	if !member.WellFormedToken(token) {
		return &member.LinkView{State: member.LinkUnknown}, nil
	}
	var view *member.LinkView
	var err error
	if activate {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), activateTimeout)
		defer cancel()
		view, err = h.act.Activate(ctx, token)
	} else {
		view, err = h.act.InspectLink(r.Context(), token)
	}
	if err == nil && view == nil {
		err = errors.New("store returned no link view")
	}
	return view, err
}

// linkResponse is the JSON answer about a link.
type linkResponse struct {
	Status       string     `json:"status"`
	Email        string     `json:"email,omitempty"`
	Organization string     `json:"organization,omitempty"`
	Member       string     `json:"member,omitempty"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
}

// problemResponse is the JSON answer to a request that went wrong.
type problemResponse struct {
	Status     string `json:"status"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// linkStatus is each link state's HTTP status.
var linkStatus = map[member.LinkState]int{
	member.LinkValid:      http.StatusOK,
	member.LinkActivated:  http.StatusOK,
	member.LinkExpired:    http.StatusGone,
	member.LinkSuperseded: http.StatusGone,
	member.LinkFailed:     http.StatusGone,
	member.LinkUnknown:    http.StatusNotFound,
}

// respondLink answers the page (or JSON) of a link's state. activatedNow
// is set for the POST that activated the binding: it gets the success
// page. token goes only into the Confirm form of a valid link's page.
func (h *Handler) respondLink(w http.ResponseWriter, r *http.Request, view member.LinkView, token string, activatedNow bool) {
	status, ok := linkStatus[view.State]
	if !ok {
		// A state this package does not know yet: say nothing about it.
		h.log.ErrorContext(r.Context(), "activation link: unknown link state", "state", string(view.State))
		h.respondProblem(w, r, http.StatusInternalServerError, 0)
		return
	}
	if view.State != member.LinkValid && !activatedNow {
		// A link that works no more says only what became of it: its
		// address stays in the browser's history and in mail archives,
		// and whoever opens it later need not learn whose it was. The
		// organization's language is kept, for the page's words.
		view = member.LinkView{State: view.State, OrgLang: view.OrgLang}
	}
	if wantsJSON(r) {
		res := linkResponse{Status: strings.ToLower(string(view.State))}
		if activatedNow {
			res.Status = "activated"
		}
		if view.State != member.LinkUnknown {
			res.Email, res.Organization, res.Member = view.Email, view.OrgName, view.MemberName
			if view.ExpiresAt != nil {
				t := view.ExpiresAt.UTC()
				res.ExpiresAt = &t
			}
		}
		writeJSON(w, r, status, res)
		return
	}
	name := pageOf(view.State)
	if activatedNow {
		name = pageActivatedNow
	}
	lang := view.OrgLang
	if !member.SupportedLang(lang) {
		lang = webpage.NegotiateLang(r.Header.Get("Accept-Language"))
	}
	d := newPageData(lang, view, "")
	if name == pageValid {
		d.Token = token
	}
	h.writePage(w, r, status, name, d)
}

// respondProblem answers a request that went wrong before a link could be
// judged. wait is the Retry-After of a 429.
func (h *Handler) respondProblem(w http.ResponseWriter, r *http.Request, status int, wait time.Duration) {
	var name, word string
	switch status {
	case http.StatusTooManyRequests:
		name, word = pageRateLimited, "rate_limited"
	case http.StatusMethodNotAllowed:
		name, word = pageMethodNotAllowed, "method_not_allowed"
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		name, word = pageBadRequest, "bad_request"
	default:
		name, word = pageInternal, "error"
	}
	secs := 0
	if status == http.StatusTooManyRequests {
		secs = int((wait + time.Second - 1) / time.Second)
		secs = max(secs, 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if wantsJSON(r) {
		writeJSON(w, r, status, problemResponse{Status: word, RetryAfter: secs})
		return
	}
	lang := webpage.NegotiateLang(r.Header.Get("Accept-Language"))
	h.writePage(w, r, status, name, newPageData(lang, member.LinkView{}, strconv.Itoa(secs)))
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings and times go in: this cannot happen.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	send(w, r, status, append(b, '\n'))
}

// send writes a whole answer; to HEAD, only its headers.
func send(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	webpage.Send(w, r, status, body)
}

// wantsJSON reports whether the client prefers JSON to HTML: it names
// application/json with a higher quality than any HTML type. Browsers
// never do; fetch("/activate", {headers: {Accept: "application/json"}})
// does.
func wantsJSON(r *http.Request) bool {
	var qJSON, qHTML float64
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		mt, q := webpage.MediaRange(part)
		switch mt {
		case "application/json":
			qJSON = max(qJSON, q)
		case "text/html", "application/xhtml+xml":
			qHTML = max(qHTML, q)
		}
	}
	return qJSON > 0 && qJSON > qHTML
}

// clientAddr is the address the miss limiter counts against: the peer's,
// or, behind a trusted proxy, the nearest untrusted address of
// X-Forwarded-For.
func (h *Handler) clientAddr(r *http.Request) netip.Addr {
	return webpage.ClientAddr(r, h.proxies)
}
