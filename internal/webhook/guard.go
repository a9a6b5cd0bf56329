// Package webhook delivers an organization's events to its registered
// endpoints (DESIGN.md §10): it signs them as the Standard Webhooks spec
// says, sends them over HTTP through a dialer that refuses private
// destinations after DNS resolution, and retries through the store's
// leased delivery rows (internal/mysql), as internal/mail does with the
// outbox.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"memberbind/internal/member"
)

// Guard decides which destinations webhooks may reach: at registration
// (CheckURL) and again at every connection (DialContext), after DNS
// resolution, so that a name that resolved to a public address when it
// was registered and to a private one later (DNS rebinding) is refused.
type Guard struct {
	// AllowPrivate lifts the address check (MEMBERBIND_WEBHOOK_ALLOW_PRIVATE),
	// for development against a receiver on this machine or network.
	AllowPrivate bool
	// LookupNetIP resolves a host name; net.DefaultResolver's when nil.
	// Tests give names addresses with it.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, broadcast
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata (also in fc00::/7)
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64: checked by its IPv4 address too
}

// Forbidden says why a is not a destination for webhooks, or "" if it is
// one: private, loopback, link-local (169.254.169.254, the cloud metadata
// address, among them), carrier-grade NAT, unspecified, multicast or
// reserved.
func Forbidden(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "not an address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(a) {
			if p.Bits() == 96 && a.Is6() {
				b := a.As16()
				return Forbidden(netip.AddrFrom4([4]byte(b[12:])))
			}
			return "a reserved or internal address"
		}
	}
	return ""
}

func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if strings.EqualFold(host, "localhost") {
		// RFC 6761: localhost is loopback, whatever a resolver says.
		return []netip.Addr{netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	if g.LookupNetIP != nil {
		return g.LookupNetIP(ctx, "ip", host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// maxURL is the width of webhook_endpoints.url.
const maxURL = 2000

// CheckURL checks a URL given for an endpoint: absolute https (http only
// to a loopback host), without credentials or fragment, whose host
// resolves, and, unless AllowPrivate, only to public addresses. A refusal
// is a *member.Error with CodeInvalidWebhookURL on the field "url".
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	bad := func(format string, args ...any) error {
		return member.FieldErrorf(member.CodeInvalidWebhookURL, "url", format, args...)
	}
	if len(raw) > maxURL {
		return bad("the URL is longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad("the URL must be absolute, like https://example.com/webhooks")
	}
	if u.User != nil {
		return bad("the URL must not hold a user name or password: authenticate deliveries by their signature")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("the URL must not have a fragment (#...)")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHost(host) {
			return bad("the URL must use https:// (plain http:// only to this machine, localhost or 127.0.0.1)")
		}
	default:
		return bad("the URL must use https://, not %s://", u.Scheme)
	}
	if g.AllowPrivate {
		return nil
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return bad("the host %s cannot be resolved", host)
	}
	for _, a := range addrs {
		if why := Forbidden(a); why != "" {
			return bad("the host %s resolves to %s; webhooks go only to public addresses", host, why)
		}
	}
	return nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// ErrForbiddenAddress is the error of a connection refused by the Guard.
var ErrForbiddenAddress = errors.New("webhook destination refused")

// control is the net.Dialer Control function: it runs on the address the
// dialer is about to connect to, after any resolution, so nothing reaches
// a forbidden address whatever a name resolved to.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not an address", ErrForbiddenAddress, address)
	}
	if why := Forbidden(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, ap.Addr(), why)
	}
	return nil
}

// DialContext connects to address through the Guard: it resolves the host
// with LookupNetIP and dials each address in turn, each checked by the
// dialer's Control function.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	d := net.Dialer{Control: g.control}
	var first error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
