// Package webpage is what the HTML pages members see share: the
// activation pages (internal/landing) and the sign-in and account pages
// (internal/signin). It holds their one layout and stylesheet, the
// security headers and Content-Security-Policy that allow exactly that
// stylesheet and nothing else, the rendering of a page, the choice of
// language, the time format, the client address behind trusted proxies,
// the look-up of a link token under a limit on misses (LookUp), and the
// short references that name tokens in logs (Ref).
//
// Pages are self-contained: the stylesheet is inlined in a <style> element
// and allowed by its hash, so a page is one request with nothing else to
// mount, and the policy needs no 'unsafe-inline'.
package webpage

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"memberbind/internal/member"
)

//go:embed layout.html style.css
var files embed.FS

// Style is the pages' CSS, for the layout's <style> element.
var Style = mustRead("style.css")

// ContentSecurityPolicy allows nothing but the inline stylesheet (by hash)
// and forms posting back to the service: no script of any kind, no
// images, fonts or frames, no third party. frame-ancestors 'none' stops
// click-jacking of the pages' buttons; base-uri 'none' stops a <base> from
// redirecting a form.
var ContentSecurityPolicy = "default-src 'none'; style-src '" + styleHash(Style) + "'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var layout = template.Must(template.ParseFS(files, "layout.html"))

// Layout returns a fresh copy of the pages' layout, to which a page adds
// its "title" and "body" templates. The layout reads .Lang (the page's
// language), .CSS (Style as template.CSS) and .Tone (info, ok, warn or
// bad: the colour of the card's top stripe) from the page's data.
func Layout() *template.Template {
	return template.Must(layout.Clone())
}

// SetSecurityHeaders sets what every page answer carries, errors
// included: the policy, no referrer, no caching, no sniffing, no framing,
// no indexing.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Frame-Options", "DENY")
}

// Send writes a whole answer; to HEAD, only its headers. (net/http's
// server drops a HEAD body by itself, other ResponseWriters may not.)
func Send(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// NegotiateLang picks en or zh-CN from an Accept-Language header: the
// language of the client's most preferred range (highest quality, earlier
// first on a tie) that is a form of English or of Chinese; en when none is
// or the header does not parse.
//
// x/text/language parses the header and judges which of our languages a
// range is a form of (en-GB is English, zh-TW is Chinese, if of another
// script). The Matcher is asked about one range at a time, in the client's
// order, rather than about the whole list: over a list it lets an exact
// match further down beat a close one the client prefers
// ("en-GB,en;q=0.9,zh-CN;q=0.95" would be answered in Chinese), which
// for two languages is the wrong trade.
func NegotiateLang(header string) string {
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return "en"
	}
	for _, tag := range tags {
		if _, i, conf := langMatcher.Match(tag); conf != language.No {
			return member.Langs[i]
		}
	}
	return "en"
}

// langMatcher matches to member.Langs, in its order.
var langMatcher = func() language.Matcher {
	var tags []language.Tag
	for _, l := range member.Langs {
		tags = append(tags, language.MustParse(l))
	}
	return language.NewMatcher(tags)
}()

// MediaRange splits one element of an Accept header into its media range
// (lower-case) and quality. It stays hand-written: x/text/language parses
// only language ranges, and mime.ParseMediaType takes one type without
// the quality rules an Accept list needs.
func MediaRange(s string) (string, float64) {
	fields := strings.Split(s, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	q := 1.0
	for _, p := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
				q = f
			} else {
				q = 0
			}
		}
	}
	return mt, q
}

// FormatTime writes an instant in UTC, as a person of lang reads a date.
func FormatTime(lang string, t time.Time) string {
	t = t.UTC()
	if lang == "zh-CN" {
		return fmt.Sprintf("%d年%d月%d日 %02d:%02d (UTC)", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())
	}
	return t.Format("2 January 2006, 15:04 (UTC)")
}

// FaultStatus is the status of the page answering a request that failed
// with err, an error of the store: 503 when the database did not answer
// within the request's deadline (the page asks to try again in a few
// minutes either way), else 500.
func FaultStatus(r *http.Request, err error) int {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ClientAddr is the address a request is counted against: the peer's, or,
// when the peer is one of the trusted reverse proxies, the nearest
// untrusted address of X-Forwarded-For, read from the right.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := ParseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !contains(trusted, peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := ParseAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			// A hop that is no address was not written by a proxy we
			// trust: stop at the last one that was.
			return addr
		}
		addr = a
		if !contains(trusted, a) {
			return a
		}
	}
	return addr
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseAddr reads "ip:port", "[ip]:port" or a bare IP; the zero Addr when
// it is none of those (all such clients then share one allowance).
func ParseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}
