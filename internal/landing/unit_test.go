package landing

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
)

// miss is what serveLink does for a lookup that finds nothing: ask,
// then charge. It reports whether the miss was allowed.
func miss(l *missLimiter, a netip.Addr) (bool, time.Duration) {
	ok, wait := l.Allow(a)
	if ok {
		l.Charge(a)
	}
	return ok, wait
}

func TestMissLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := newMissLimiter(3, 30*time.Second, 100, clock) // one miss back every 10s
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if ok, _ := miss(l, a); !ok {
			t.Fatalf("miss %d refused", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait != 10*time.Second {
		t.Fatalf("4th miss: ok %v, wait %s; want refused for 10s", ok, wait)
	}
	now = now.Add(4 * time.Second)
	if ok, wait := l.Allow(a); ok || wait != 6*time.Second {
		t.Fatalf("4s later: ok %v, wait %s; want refused for 6s", ok, wait)
	}
	if ok, _ := miss(l, netip.MustParseAddr("192.0.2.2")); !ok {
		t.Fatal("another address refused")
	}
	now = now.Add(6 * time.Second)
	if ok, _ := miss(l, a); !ok {
		t.Fatal("10s later: refused")
	}
	if ok, _ := l.Allow(a); ok {
		t.Fatal("one miss came back, two taken")
	}
	// Asking spends nothing: a client with allowance left keeps it.
	now = now.Add(10 * time.Second)
	for range 100 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatal("allowed spent a miss")
		}
	}
	// A bucket that refills completely is forgotten.
	now = now.Add(time.Minute)
	l.Allow(a)
	l.Allow(netip.MustParseAddr("192.0.2.2"))
	if n := l.size(); n != 0 {
		t.Errorf("%d clients remembered with full allowances, want 0", n)
	}
}

// TestMissLimiterOverrun: misses allowed at once, before any was charged,
// overrun the allowance together, and the client pays each back.
func TestMissLimiterOverrun(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newMissLimiter(3, 30*time.Second, 100, func() time.Time { return now })
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 10 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("lookup %d in flight refused", i+1)
		}
	}
	for range 10 {
		l.Charge(a)
	}
	// 10 misses of an allowance of 3: refused until 8 have come back.
	if ok, wait := l.Allow(a); ok || wait != 80*time.Second {
		t.Fatalf("after 10 misses at once: ok %v, wait %s; want refused for 80s", ok, wait)
	}
	now = now.Add(80 * time.Second)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("80s later: refused")
	}
}

func TestMissLimiterIPv6(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newMissLimiter(2, time.Minute, 100, func() time.Time { return now })
	// One /64 is one client.
	for _, s := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if ok, _ := miss(l, netip.MustParseAddr(s)); !ok {
			t.Fatalf("%s refused", s)
		}
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:2::abcd")); ok {
		t.Error("third address of one /64 allowed, want the /64 counted as one client")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Error("another /64 refused")
	}
	// An IPv4-mapped address is its IPv4 address.
	miss(l, netip.MustParseAddr("192.0.2.9"))
	miss(l, netip.MustParseAddr("::ffff:192.0.2.9"))
	if ok, _ := l.Allow(netip.MustParseAddr("192.0.2.9")); ok {
		t.Error("IPv4-mapped address counted apart from its IPv4 address")
	}
}

func TestMissLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newMissLimiter(1, time.Hour, 3, func() time.Time { return now })
	var addrs []netip.Addr
	for i := range 10 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		addrs = append(addrs, a)
		if ok, _ := miss(l, a); !ok {
			t.Fatalf("first miss of %s refused", a)
		}
		if n := l.size(); n > 3 {
			t.Fatalf("%d clients remembered, bound is 3", n)
		}
	}
	// The most recent three are still refused; the oldest were forgotten.
	for _, a := range addrs[7:] {
		if ok, _ := l.Allow(a); ok {
			t.Errorf("%s allowed a second miss", a)
		}
	}
	if ok, _ := l.Allow(addrs[0]); !ok {
		t.Errorf("%s still remembered past the bound", addrs[0])
	}
}

func TestClientAddr(t *testing.T) {
	h := New(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:1234", nil, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"198.51.100.1"}, "192.0.2.1"}, // not a trusted peer
		{"[2001:db8::1]:443", nil, "2001:db8::1"},
		{"[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
		{"10.0.0.1:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:80", []string{"203.0.113.5, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"10.0.0.1:80", []string{"203.0.113.5", "198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:80", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"10.0.0.1:80", []string{"garbage, 10.0.0.2"}, "10.0.0.2"},
		{"10.0.0.1:80", nil, "10.0.0.1"},
		{"[fd00::1]:80", []string{"2001:db8::7"}, "2001:db8::7"},
		{"@", nil, "invalid IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/activate", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := h.clientAddr(r).String(); got != c.want {
			t.Errorf("client of %s %q = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+8613800138000": "+86 138****8000",
		"+14155552671":   "+1 41****2671",
		"+447911123456":  "+44 79****3456",
		"+33612345678":   "+33 6****5678",
		"+85251234567":   "+852 ****4567",
		"+6591234567":    "+65 ****4567",
		"":               "",
		"garbage123456":  "*********3456",
	} {
		if got := maskPhone(in); got != want {
			t.Errorf("maskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWantsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"Application/JSON; charset=utf-8":   true,
		"application/json, text/plain, */*": true,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
		"text/html;q=0.5, application/json":                               true,
		"text/html, application/json;q=0.9":                               false,
		"application/json;q=0":                                            false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/activate", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsJSON(r); got != want {
			t.Errorf("wantsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

// TestStyleHash checks that the CSP's hash is that of the <style> element
// the pages carry, byte for byte.
func TestStyleHash(t *testing.T) {
	var buf bytes.Buffer
	if err := pages.Template("en", pageUnknown).Execute(&buf, newPageData("en", member.LinkView{}, "")); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("no <style> in\n%s", buf.String())
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(contentSecurityPolicy, want) {
		t.Errorf("CSP %q lacks %s", contentSecurityPolicy, want)
	}
	if strings.Count(buf.String(), "<style") != 1 || strings.Contains(buf.String(), "style=") {
		t.Error("a page has a second stylesheet or a style attribute, which the CSP blocks")
	}
}

// TestEveryPage renders every page of every language with hostile values.
func TestEveryPage(t *testing.T) {
	const evil = `</style><script>alert("x")</script>`
	expires := time.Date(2026, 5, 16, 8, 5, 0, 0, time.UTC)
	view := member.LinkView{OrgName: evil, MemberName: evil, Email: evil, Phone: "+8613800138000", ExpiresAt: &expires}
	for _, lang := range member.Langs {
		for _, name := range pageNames {
			d := newPageData(lang, view, "7")
			d.Token = evil
			d.Tone = "x"
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
			if slices.Contains([]string{pageActivated, pageExpired, pageSuperseded, pageFailed, pageUnknown}, name) && strings.Contains(out, "alert") {
				t.Errorf("%s/%s: the page of a spent link shows whose it was:\n%s", lang, name, out)
			}
			if name == pageRateLimited && !strings.Contains(out, "7") {
				t.Errorf("%s/%s does not say how long to wait", lang, name)
			}
		}
	}
}
