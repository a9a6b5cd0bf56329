// Package signin serves passwordless sign-in for members whose login email
// is activated, and the account page they then see.
//
//	GET  /signin               a form asking for the login email
//	POST /signin               mail a sign-in link (if the email is an account's)
//	GET  /signin/confirm       what a sign-in link opens: a Sign in button
//	POST /signin/confirm       confirm the link: start a session, 303 to /account
//	GET  /account              the signed-in member's account; 303 to /signin without a session
//	POST /account/signout      end the session, server-side
//
// Nobody can learn from POST /signin which emails are accounts: every
// well-formed address gets the same page, after the same minimum time
// (Options.AnswerFloor), whether a link was mailed or not. Requests are
// limited in memory per client address, and per client address and email
// address together (each instance on its own; see package ratelimit): not
// per email address alone, which would let strangers spend a member's
// allowance and lock it out of signing in. What bounds the mail an address
// receives, however many clients ask, is the store's count of the mails
// sent to it (member.SignInPolicy MaxLiveLinks and MailsPerHour), held in
// the database.
//
// Mail scanners open links, so GET /signin/confirm changes nothing: the
// session starts only when a person presses Sign in. Only a live link's
// page shows the member, organization and email; a used or expired one's
// says only that, since its address stays in the browser's history. A
// sign-in link works once, for a few minutes (member.SignInPolicy), and its token, like the
// session id, is stored only as a hash.
//
// The session lives in an HttpOnly, SameSite=Lax cookie on Path=/ (Secure,
// and named with the __Host- prefix, when the public URL is https). It
// ends after an idle time and after an absolute time, and signing out ends
// it in the database: the cookie is then worth nothing, wherever a copy of
// it is.
//
// Every form that changes state is protected against cross-site request
// forgery twice over: http.CrossOriginProtection refuses cross-origin
// browser posts (Sec-Fetch-Site, Origin), and each form carries a token
// the other site cannot know: before sign-in, a double-submit token that
// must equal a SameSite cookie's; once signed in, a token derived from the
// session id.
//
// The pages share the layout, stylesheet, security headers and language
// choice of the activation pages (package webpage): the organization's
// language once the member is known, the browser's Accept-Language before.
package signin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"memberbind/internal/contact"
	"memberbind/internal/member"
	"memberbind/internal/options"
	"memberbind/internal/ratelimit"
	"memberbind/internal/webpage"
)

// The handler's paths. Mount the handler on each: for _, p := range
// signin.Paths { mux.Handle(p, h) }.
const (
	Path        = "/signin"
	ConfirmPath = "/signin/confirm"
	AccountPath = "/account"
	SignOutPath = "/account/signout"
)

// Paths are the patterns to mount the handler on: its paths, and the
// subtrees under /signin/ and /account/, where anything else gets a 404
// page of the same look.
var Paths = []string{Path, Path + "/", AccountPath, AccountPath + "/"}

// Store is the storage side of signing in (implemented by *mysql.Store).
type Store interface {
	// RequestSignIn mails a sign-in link to email if it is an activated
	// login email, and does nothing otherwise; it returns nil either way.
	RequestSignIn(ctx context.Context, email string, p member.SignInPolicy) error
	// InspectSignIn tells what a sign-in link is worth now, changing nothing.
	InspectSignIn(ctx context.Context, token string) (*member.SignInView, error)
	// SignIn confirms a sign-in link; for a valid one (SignInValid) it
	// starts a session and returns its raw id.
	SignIn(ctx context.Context, token string, p member.SignInPolicy) (*member.SignInView, string, error)
	// Session returns the live session of a raw id, keeping it alive, or
	// nil when there is none.
	Session(ctx context.Context, token string, p member.SignInPolicy) (*member.Session, error)
	// Account is what the member of a session sees of its account.
	Account(ctx context.Context, s *member.Session, recent int) (*member.Account, error)
	// SignOut ends a session for good.
	SignOut(ctx context.Context, token string) error
}

// Options configure a Handler. Zero values take the defaults.
type Options struct {
	// Store keeps links and sessions. Required.
	Store Store
	// Policy is the links' and sessions' lifetimes;
	// member.DefaultSignInPolicy when zero.
	Policy member.SignInPolicy
	// PublicURL is where members reach the service, e.g.
	// "https://members.example.com". When it is https, cookies are Secure
	// and __Host- prefixed. Its origin is trusted by the cross-origin
	// check (which otherwise compares the Origin header with the Host).
	PublicURL string
	// Logger receives one line per request (outcome, short hashes of
	// tokens and addresses, never a token or an email) and internal
	// errors; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock of the rate limiters; time.Now when nil.
	Now func() time.Time

	// AnswerFloor is the least time POST /signin takes to answer, so that
	// mailing a link and not mailing one take the same time; 300ms when
	// zero, none when negative.
	AnswerFloor time.Duration

	// PairBurst sign-in requests may be made from one client address for
	// one email address at once, refilled evenly over PairWindow; 3 per
	// 15 minutes by default. Requests from other clients do not spend
	// it.
	PairBurst  int
	PairWindow time.Duration
	// ClientBurst sign-in requests may be made from one client address at
	// once, refilled evenly over ClientWindow; 10 per 10 minutes by
	// default.
	ClientBurst  int
	ClientWindow time.Duration
	// MissBurst unknown sign-in links may be opened from one client
	// address at once, refilled over MissWindow; 20 per minute by default.
	MissBurst  int
	MissWindow time.Duration
	// MaxKeys bounds how many addresses each limiter remembers; 10000 when
	// zero.
	MaxKeys int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (see webpage.ClientAddr). Empty: the peer address counts.
	TrustedProxies []netip.Prefix

	// RecentSignIns is how many sign-ins the account page lists; 5 when zero.
	RecentSignIns int
}

// Defaults of Options.
const (
	DefaultAnswerFloor   = 300 * time.Millisecond
	DefaultPairBurst     = 3
	DefaultPairWindow    = 15 * time.Minute
	DefaultClientBurst   = 10
	DefaultClientWindow  = 10 * time.Minute
	DefaultMissBurst     = 20
	DefaultMissWindow    = time.Minute
	DefaultMaxKeys       = 10000
	DefaultRecentSignIns = 5
)

// Cookie names, before the __Host- prefix they get over https.
const (
	SessionCookie = "mb_session"
	CSRFCookie    = "mb_csrf"
)

// maxBody caps a POST body: the longest form holds an email and a token.
const maxBody = 4 << 10

// storeTimeout bounds a store call that runs on even if the person
// closes the page: pressing a button is the decision.
const storeTimeout = 30 * time.Second

// Handler serves the sign-in and account pages. It is safe for concurrent
// use.
type Handler struct {
	store   Store
	policy  member.SignInPolicy
	log     *slog.Logger
	floor   time.Duration
	secure  bool
	origin  *http.CrossOriginProtection
	proxies []netip.Prefix
	recent  int

	pairs   *ratelimit.Limiter[pair]
	clients *ratelimit.Limiter[netip.Addr]
	misses  *ratelimit.Limiter[netip.Addr]
}

// pair is what the per-request limiter counts under: a client (as
// ratelimit.ClientKey) asking for an email (as member.EmailKey).
type pair struct {
	client netip.Addr
	email  string
}

// New returns a Handler, or an error for options that cannot work.
func New(o Options) (*Handler, error) {
	if o.Store == nil {
		return nil, errors.New("signin: Store is required")
	}
	if o.Policy == (member.SignInPolicy{}) {
		o.Policy = member.DefaultSignInPolicy()
	}
	o.Policy = o.Policy.WithDefaults()
	if err := o.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.AnswerFloor == 0:
		o.AnswerFloor = DefaultAnswerFloor
	case o.AnswerFloor < 0:
		o.AnswerFloor = 0
	}
	options.Default(&o.PairBurst, DefaultPairBurst)
	options.Default(&o.PairWindow, DefaultPairWindow)
	options.Default(&o.ClientBurst, DefaultClientBurst)
	options.Default(&o.ClientWindow, DefaultClientWindow)
	options.Default(&o.MissBurst, DefaultMissBurst)
	options.Default(&o.MissWindow, DefaultMissWindow)
	options.Default(&o.MaxKeys, DefaultMaxKeys)
	options.Default(&o.RecentSignIns, DefaultRecentSignIns)

	h := &Handler{
		store:   o.Store,
		policy:  o.Policy,
		log:     o.Logger,
		floor:   o.AnswerFloor,
		origin:  http.NewCrossOriginProtection(),
		proxies: o.TrustedProxies,
		recent:  o.RecentSignIns,
		pairs:   ratelimit.New[pair](o.PairBurst, o.PairWindow, o.MaxKeys, o.Now),
		clients: ratelimit.New[netip.Addr](o.ClientBurst, o.ClientWindow, o.MaxKeys, o.Now),
		misses:  ratelimit.New[netip.Addr](o.MissBurst, o.MissWindow, o.MaxKeys, o.Now),
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("signin: public URL %q must be an absolute http or https URL", o.PublicURL)
		}
		h.secure = u.Scheme == "https"
		if err := h.origin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("signin: public URL %q: %w", o.PublicURL, err)
		}
	}
	return h, nil
}

// ServeHTTP answers the paths of the package comment.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	webpage.SetSecurityHeaders(w.Header())
	w.Header().Set("Vary", "Accept-Language, Cookie")
	var get, post func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case Path:
		get, post = h.serveForm, h.serveRequest
	case ConfirmPath:
		get, post = h.serveLink, h.serveConfirm
	case AccountPath:
		get = h.serveAccount
	case SignOutPath:
		post = h.serveSignOut
	default:
		h.problem(w, r, http.StatusNotFound, 0)
		return
	}
	switch {
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && get != nil:
		get(w, r)
	case r.Method == http.MethodPost && post != nil:
		post(w, r)
	default:
		var allow []string
		if get != nil {
			allow = append(allow, http.MethodGet, http.MethodHead)
		}
		if post != nil {
			allow = append(allow, http.MethodPost)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.problem(w, r, http.StatusMethodNotAllowed, 0)
	}
}

// serveForm is GET /signin: the form, or the account for a member signed
// in already.
func (h *Handler) serveForm(w http.ResponseWriter, r *http.Request) {
	if token := h.cookie(r, SessionCookie); token != "" {
		sess, err := h.store.Session(r.Context(), token, h.policy)
		if err != nil {
			h.internal(w, r, "session", err)
			return
		}
		if sess != nil {
			redirect(w, r, AccountPath)
			return
		}
		h.clearCookie(w, SessionCookie)
	}
	d := h.newPageData(h.browserLang(r))
	d.CSRF = h.csrfCookie(w, r)
	h.writePage(w, r, http.StatusOK, pageForm, d)
}

// serveRequest is POST /signin: mail a sign-in link if the email is an
// activated login email, and answer the same page either way.
func (h *Handler) serveRequest(w http.ResponseWriter, r *http.Request) {
	form, ok := h.acceptForm(w, r)
	if !ok {
		return
	}
	if !h.doubleSubmitted(r, form) {
		h.refuse(w, r, "sign-in request", "csrf token")
		return
	}
	client := webpage.ClientAddr(r, h.proxies)
	if ok, wait := h.clients.Take(ratelimit.ClientKey(client)); !ok {
		h.log.InfoContext(r.Context(), "sign-in request", "outcome", "rate_limited", "limit", "client", "client", client.String())
		h.problem(w, r, http.StatusTooManyRequests, wait)
		return
	}
	lang := h.browserLang(r)
	email, err := contact.ParseEmail(form.Get("email"))
	if err != nil {
		h.log.InfoContext(r.Context(), "sign-in request", "outcome", "invalid_email", "client", client.String())
		d := h.newPageData(lang)
		d.CSRF = h.csrfCookie(w, r)
		d.Email = strings.TrimSpace(form.Get("email"))
		d.Invalid = true
		h.writePage(w, r, http.StatusBadRequest, pageForm, d)
		return
	}
	key := member.EmailKey(email)
	if ok, wait := h.pairs.Take(pair{ratelimit.ClientKey(client), key}); !ok {
		h.log.InfoContext(r.Context(), "sign-in request", "outcome", "rate_limited", "limit", "client_address",
			"address", webpage.Ref(key), "client", client.String())
		h.problem(w, r, http.StatusTooManyRequests, wait)
		return
	}

	// From here on the answer must not depend on the address: the same
	// page, no sooner than the floor, whatever the store did. A store
	// error is logged and not shown, since it could only show on the
	// path of an address that is an account.
	// The floor is a real wait the client sees, not a limit, so it runs
	// on the wall clock, not on the injected one.
	answerAt := time.Now().Add(h.floor)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	err = h.store.RequestSignIn(ctx, email, h.policy)
	cancel()
	if err != nil {
		h.log.ErrorContext(r.Context(), "sign-in request", "outcome", "error", "address", webpage.Ref(key), "client", client.String(), "err", err)
	} else {
		h.log.InfoContext(r.Context(), "sign-in request", "outcome", "answered", "address", webpage.Ref(key), "client", client.String())
	}
	waitUntil(r.Context(), answerAt)
	d := h.newPageData(lang)
	d.Email = email
	h.writePage(w, r, http.StatusOK, pageSent, d)
}

// waitUntil returns at t, or when ctx ends.
func waitUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// serveLink is GET /signin/confirm?token=…: what the link is worth, and
// for a valid one the Sign in button. It changes nothing.
func (h *Handler) serveLink(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.URL.Query().Get("token"))
	view, ok := h.lookUp(w, r, token, func(ctx context.Context) (*member.SignInView, error) {
		return h.store.InspectSignIn(ctx, token)
	})
	if !ok {
		return
	}
	h.respondLink(w, r, view, token)
}

// serveConfirm is POST /signin/confirm: sign in with the link.
func (h *Handler) serveConfirm(w http.ResponseWriter, r *http.Request) {
	form, ok := h.acceptForm(w, r)
	if !ok {
		return
	}
	if !h.doubleSubmitted(r, form) {
		h.refuse(w, r, "sign-in link", "csrf token")
		return
	}
	token := strings.TrimSpace(form.Get("token"))
	var session string
	view, ok := h.lookUp(w, r, token, func(ctx context.Context) (*member.SignInView, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		view, s, err := h.store.SignIn(ctx, token, h.policy)
		session = s
		return view, err
	})
	if !ok {
		return
	}
	if view.State != member.SignInValid {
		h.respondLink(w, r, view, "")
		return
	}
	if session == "" {
		h.internal(w, r, "sign-in link", errors.New("store signed in without a session"))
		return
	}
	// A session this browser held before is ended, not left behind.
	if old := h.cookie(r, SessionCookie); old != "" {
		if err := h.store.SignOut(context.WithoutCancel(r.Context()), old); err != nil {
			h.log.WarnContext(r.Context(), "end the session replaced by a sign-in", "err", err)
		}
	}
	h.setCookie(w, SessionCookie, session)
	h.log.InfoContext(r.Context(), "sign-in link", "method", r.Method, "outcome", "signed_in", "token", webpage.Ref(token),
		"session", webpage.Ref(session))
	redirect(w, r, AccountPath)
}

// lookUp asks the store about a sign-in token under the miss limiter, as
// the activation page does (webpage.LookUp): a client that opens too many
// unknown links gets no answer about any. It answers the request itself
// and reports false when it could not.
func (h *Handler) lookUp(w http.ResponseWriter, r *http.Request, token string, ask func(context.Context) (*member.SignInView, error)) (*member.SignInView, bool) {
	client := ratelimit.ClientKey(webpage.ClientAddr(r, h.proxies))
	view, wait, err := webpage.LookUp(h.misses, client,
		func() (*member.SignInView, error) {
			if !member.WellFormedToken(token) {
				return &member.SignInView{State: member.SignInUnknown}, nil
			}
			view, err := ask(r.Context())
			if err == nil && view == nil {
				err = errors.New("store returned no sign-in view")
			}
			return view, err
		},
		func(v *member.SignInView) bool { return v.State == member.SignInUnknown })
	switch {
	case errors.Is(err, webpage.ErrTooManyMisses):
		h.log.InfoContext(r.Context(), "sign-in link", "method", r.Method, "outcome", "rate_limited", "token", webpage.Ref(token))
		h.problem(w, r, http.StatusTooManyRequests, wait)
		return nil, false
	case err != nil:
		h.internal(w, r, "sign-in link", err)
		return nil, false
	}
	if r.Method != http.MethodPost || view.State != member.SignInValid {
		h.log.InfoContext(r.Context(), "sign-in link", "method", r.Method, "outcome", strings.ToLower(string(view.State)), "token", webpage.Ref(token))
	}
	return view, true
}

// linkStatus is each sign-in link state's HTTP status and page.
var linkStatus = map[member.SignInState]struct {
	status int
	page   string
}{
	member.SignInValid:   {http.StatusOK, pageConfirm},
	member.SignInUsed:    {http.StatusGone, pageUsed},
	member.SignInExpired: {http.StatusGone, pageExpired},
	member.SignInUnknown: {http.StatusNotFound, pageUnknown},
}

// respondLink answers the page of a sign-in link's state. token goes only
// into the Sign in form of a valid link's page.
func (h *Handler) respondLink(w http.ResponseWriter, r *http.Request, view *member.SignInView, token string) {
	s, ok := linkStatus[view.State]
	if !ok {
		h.internal(w, r, "sign-in link", fmt.Errorf("unknown sign-in link state %q", view.State))
		return
	}
	lang := view.OrgLang
	if !member.SupportedLang(lang) {
		lang = h.browserLang(r)
	}
	d := h.newPageData(lang)
	// Only a live link shows whose it is: a used or expired one says only
	// that, since its address stays in the browser's history.
	if view.State == member.SignInValid {
		d.Org, d.Member, d.Email = view.OrgName, view.MemberName, view.Email
		d.Expires, d.ExpiresISO = webpage.FormatTime(lang, view.ExpiresAt), iso(view.ExpiresAt)
		d.Token = token
		d.CSRF = h.csrfCookie(w, r)
	}
	h.writePage(w, r, s.status, s.page, d)
}

// serveAccount is GET /account.
func (h *Handler) serveAccount(w http.ResponseWriter, r *http.Request) {
	token, sess, ok := h.session(w, r)
	if !ok {
		return
	}
	a, err := h.store.Account(r.Context(), sess, h.recent)
	if err != nil {
		h.internal(w, r, "account", err)
		return
	}
	lang := a.OrgLang
	if !member.SupportedLang(lang) {
		lang = h.browserLang(r)
	}
	d := h.newPageData(lang)
	d.CSRF = sessionCSRF(token)
	d.Org, d.Member, d.Email = a.OrgName, a.Name, a.LoginEmail
	if a.ActivatedAt != nil {
		d.Active, d.ActiveISO = webpage.FormatTime(lang, *a.ActivatedAt), iso(*a.ActivatedAt)
	}
	if a.RemovedAt != nil {
		d.Left, d.LeftISO = webpage.FormatTime(lang, *a.RemovedAt), iso(*a.RemovedAt)
	}
	for _, si := range a.SignIns {
		d.SignIns = append(d.SignIns, signInItem{At: webpage.FormatTime(lang, si.At), ISO: iso(si.At), Current: si.Current})
	}
	h.writePage(w, r, http.StatusOK, pageAccount, d)
}

// serveSignOut is POST /account/signout: the session ends in the store,
// and its cookie is cleared.
func (h *Handler) serveSignOut(w http.ResponseWriter, r *http.Request) {
	form, ok := h.acceptForm(w, r)
	if !ok {
		return
	}
	token, sess, ok := h.session(w, r)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("csrf")), []byte(sessionCSRF(token))) != 1 {
		h.refuse(w, r, "sign-out", "csrf token")
		return
	}
	// The page is in the organization's language: read it before the
	// session that leads to it ends.
	lang := h.browserLang(r)
	if a, err := h.store.Account(r.Context(), sess, 0); err == nil && member.SupportedLang(a.OrgLang) {
		lang = a.OrgLang
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	if err := h.store.SignOut(ctx, token); err != nil {
		h.internal(w, r, "sign-out", err)
		return
	}
	h.clearCookie(w, SessionCookie)
	h.log.InfoContext(r.Context(), "sign-out", "outcome", "signed_out", "session", webpage.Ref(token))
	h.writePage(w, r, http.StatusOK, pageSignedOut, h.newPageData(lang))
}

// session returns the request's live session and its raw id. Without one
// it sends the visitor to the sign-in page (clearing a dead cookie) and
// reports false.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (string, *member.Session, bool) {
	token := h.cookie(r, SessionCookie)
	var sess *member.Session
	if token != "" {
		var err error
		if sess, err = h.store.Session(r.Context(), token, h.policy); err != nil {
			h.internal(w, r, "session", err)
			return "", nil, false
		}
	}
	if sess == nil {
		if _, err := r.Cookie(h.cookieName(SessionCookie)); err == nil {
			h.clearCookie(w, SessionCookie)
		}
		h.log.InfoContext(r.Context(), "account", "method", r.Method, "outcome", "no_session", "session", webpage.Ref(token))
		redirect(w, r, Path)
		return "", nil, false
	}
	return token, sess, true
}

// acceptForm applies what every POST must pass: the cross-origin check,
// and a form-encoded body of bounded size. It answers the request itself
// and reports false when the request fails them.
func (h *Handler) acceptForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if err := h.origin.Check(r); err != nil {
		h.refuse(w, r, "form", "cross-origin: "+err.Error())
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		h.problem(w, r, http.StatusUnsupportedMediaType, 0)
		return nil, false
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.problem(w, r, http.StatusRequestEntityTooLarge, 0)
		} else {
			h.problem(w, r, http.StatusBadRequest, 0)
		}
		return nil, false
	}
	return r.PostForm, true
}

// refuse answers a request that failed the forgery checks.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, what, why string) {
	h.log.WarnContext(r.Context(), what, "method", r.Method, "path", r.URL.Path, "outcome", "forbidden", "reason", why,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	h.problem(w, r, http.StatusForbidden, 0)
}

// internal logs an internal error and answers the bare 500 page; 503 when
// the database did not answer within the request's deadline.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := webpage.FaultStatus(r, err)
	h.log.ErrorContext(r.Context(), what, "method", r.Method, "path", r.URL.Path, "outcome", "error", "status", status, "err", err)
	h.problem(w, r, status, 0)
}

// redirect answers 303 See Other to a path of this service.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Set("Location", path)
	webpage.Send(w, r, http.StatusSeeOther, nil)
}

// browserLang is the page language before the member is known.
func (h *Handler) browserLang(r *http.Request) string {
	return webpage.NegotiateLang(r.Header.Get("Accept-Language"))
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sessionCSRF is the forgery token of a signed-in member's forms: derived
// from the session id, which another site cannot read, so it needs no
// storage and dies with the session.
func sessionCSRF(session string) string {
	sum := sha256.Sum256([]byte("memberbind session form\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
