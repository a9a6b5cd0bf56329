package signin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"

	"memberbind/internal/member"
)

// cookieName is a cookie's name as sent: over https with the __Host-
// prefix, which makes the browser insist on Secure, Path=/ and no Domain,
// so that no other host (a sibling subdomain) can set or shadow it.
func (h *Handler) cookieName(name string) string {
	if h.secure {
		return "__Host-" + name
	}
	return name
}

// cookie returns the value of one of the handler's cookies, "" when it
// is missing or cannot be a token.
func (h *Handler) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(h.cookieName(name))
	if err != nil || !member.WellFormedToken(c.Value) {
		return ""
	}
	return c.Value
}

// setCookie sets one of the handler's cookies for this browser session:
// no expiry of its own (the server ends sessions), HttpOnly, SameSite=Lax
// (so a cross-site form post does not carry it), Path=/, and Secure over
// https.
func (h *Handler) setCookie(w http.ResponseWriter, name, value string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(name), Value: value, Path: "/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// clearCookie tells the browser to drop one of the handler's cookies.
func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(name), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// csrfCookie returns the double-submit token of the forms shown before
// sign-in, setting its cookie when the browser has none. The form carries
// the token in a field; a post is accepted only when field and cookie
// agree, which another site cannot arrange: it can neither read the
// cookie nor, SameSite, make the browser send it with a cross-site post.
func (h *Handler) csrfCookie(w http.ResponseWriter, r *http.Request) string {
	if v := h.cookie(r, CSRFCookie); v != "" {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	v := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, CSRFCookie, v)
	return v
}

// doubleSubmitted reports whether a form's csrf field matches the
// browser's double-submit cookie.
func (h *Handler) doubleSubmitted(r *http.Request, form url.Values) bool {
	c := h.cookie(r, CSRFCookie)
	return c != "" && subtle.ConstantTimeCompare([]byte(form.Get("csrf")), []byte(c)) == 1
}
