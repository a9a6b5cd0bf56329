package main

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"memberbind/graph"
	"memberbind/internal/member"
	"memberbind/internal/requestlog"
)

// config is memberbind's configuration, read from the environment
// (DESIGN.md §5).
type config struct {
	DatabaseDSN string // empty: the embedded database
	SMTPURL     string // empty: the embedded SMTP server
	MailFrom    string
	PublicURL   string // empty: derived from the listen address (zero configuration only)
	// Listen is the public listener's address: loopback on the
	// zero-configuration start, every interface on a configured one,
	// unless MEMBERBIND_LISTEN says otherwise.
	Listen string
	// RequestTimeout bounds every request on the public listener, so that
	// a database that stops answering does not pile requests up.
	RequestTimeout time.Duration
	Policy         member.Policy
	// SignIn is the sign-in links' and sessions' policy.
	SignIn member.SignInPolicy

	// GraphQLCostInFlight bounds the summed complexity of the GraphQL
	// operations executed at once (graph.Options.CostInFlight).
	GraphQLCostInFlight int
	// GraphQLCostPerOrg is how much of GraphQLCostInFlight one
	// organization's operations may hold at once
	// (graph.Options.CostPerOrganization); 0: half of it.
	GraphQLCostPerOrg int
	// GraphQLIntrospection lets GraphQL clients read the schema
	// (__schema, __type); the playground needs it.
	GraphQLIntrospection bool

	MailConcurrency int
	MailRetryBudget time.Duration
	// MailLease is how long a worker holds a claimed mail before another
	// may take it over, had the first died mid-send.
	MailLease time.Duration
	// AdminListen is the admin listener's address (/metrics,
	// /debug/pprof/, /healthz, /readyz); empty when it is off.
	AdminListen string
	// LogFormat is FormatText or FormatJSON (requestlog); LogLevel the
	// least level written.
	LogFormat string
	LogLevel  slog.Level
	// ShutdownDelay is how long, once told to stop, the instance keeps
	// serving while /readyz answers 503, so that load balancers stop
	// sending it requests before it stops taking them.
	ShutdownDelay time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the
	// activation and sign-in pages believe when they count a client's
	// attempts; empty: the peer address counts.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the origins (scheme://host[:port]) of the browser
	// frontends that may call /graphql; empty: none.
	CORSOrigins []string
	// SubscriptionsPerKey and SubscriptionsMax bound the memberChanged
	// subscriptions one API key, and the whole instance, hold open
	// (graph.LiveOptions).
	SubscriptionsPerKey int
	SubscriptionsMax    int

	// WebhookSecretKey seals webhook endpoints' secrets in the database
	// (AES-256-GCM); nil: an in-memory key on the zero-configuration start
	// (its database is in memory too), webhooks refused otherwise.
	WebhookSecretKey []byte
	// WebhookAllowPrivate lets webhooks go to private, loopback and
	// link-local addresses, for development.
	WebhookAllowPrivate bool

	// Now is the clock of the store, the mail worker and the pages' rate
	// limiters: time.Now, which only tests replace (runAt).
	Now func() time.Time
}

// The environment variables memberbind reads.
const (
	envDatabaseDSN     = "MEMBERBIND_DATABASE_DSN"
	envSMTPURL         = "MEMBERBIND_SMTP_URL"
	envMailFrom        = "MEMBERBIND_MAIL_FROM"
	envPublicURL       = "MEMBERBIND_PUBLIC_URL"
	envListen          = "MEMBERBIND_LISTEN"
	envActivationTTL   = "MEMBERBIND_ACTIVATION_TTL"
	envMaxMods         = "MEMBERBIND_MAX_MODIFICATIONS"
	envResendsPerHour  = "MEMBERBIND_RESENDS_PER_HOUR"
	envResendsTotal    = "MEMBERBIND_RESENDS_TOTAL"
	envMailsPerRcpt    = "MEMBERBIND_MAILS_PER_RECIPIENT_HOUR"
	envMailsPerOrg     = "MEMBERBIND_MAILS_PER_ORG_HOUR"
	envMailConcurrency = "MEMBERBIND_MAIL_CONCURRENCY"
	envMailRetryBudget = "MEMBERBIND_MAIL_RETRY_BUDGET"
	envMailLease       = "MEMBERBIND_MAIL_LEASE"
	envSignInTTL       = "MEMBERBIND_SIGNIN_TTL"
	envTrustedProxies  = "MEMBERBIND_TRUSTED_PROXIES"
	envGraphQLCost     = "MEMBERBIND_GRAPHQL_COST_IN_FLIGHT"
	envGraphQLCostOrg  = "MEMBERBIND_GRAPHQL_COST_PER_ORG"
	envIntrospection   = "MEMBERBIND_GRAPHQL_INTROSPECTION"
	envRequestTimeout  = "MEMBERBIND_REQUEST_TIMEOUT"
	envCORSOrigins     = "MEMBERBIND_CORS_ORIGINS"
	envAdminListen     = "MEMBERBIND_ADMIN_LISTEN"
	envLogFormat       = "MEMBERBIND_LOG_FORMAT"
	envLogLevel        = "MEMBERBIND_LOG_LEVEL"
	envShutdownDelay   = "MEMBERBIND_SHUTDOWN_DELAY"
	envWebhookKey      = "MEMBERBIND_WEBHOOK_SECRET_KEY"
	envWebhookPrivate  = "MEMBERBIND_WEBHOOK_ALLOW_PRIVATE"
	envSubsPerKey      = "MEMBERBIND_SUBSCRIPTIONS_PER_KEY"
	envSubsMax         = "MEMBERBIND_SUBSCRIPTIONS_MAX"
)

// defaultAdminListen is the admin listener's default address: loopback,
// since pprof and metrics say much about the instance and are not
// authenticated. A container sets its own (see the Dockerfile).
const defaultAdminListen = "127.0.0.1:9090"

// Default listen addresses. The zero-configuration start serves every mail
// it sent at /dev/mail, unauthenticated, so it listens on loopback only;
// a deployment that configured its database and SMTP server is meant to
// be reached, and listens on every interface.
const (
	devListen        = "127.0.0.1:8080"
	configuredListen = ":8080"
)

// zeroConfig reports whether nothing was configured, which starts the
// embedded database and SMTP server (and /dev/mail).
func (c config) zeroConfig() bool { return c.DatabaseDSN == "" && c.SMTPURL == "" }

// checkServe refuses a configuration that serve cannot run safely: either
// nothing is configured (the zero-configuration start), or the database,
// the SMTP server and the public URL all are. A half-configured instance
// would fall back to an embedded server (and an open mailbox) or mail
// links to its listen address; it names what is missing instead.
func (c config) checkServe() error {
	if c.zeroConfig() {
		return nil
	}
	switch {
	case c.SMTPURL == "":
		return fmt.Errorf("%s is set but %s is not: a configured deployment needs its SMTP server (unset both for the zero-configuration start with embedded servers)", envDatabaseDSN, envSMTPURL)
	case c.DatabaseDSN == "":
		return fmt.Errorf("%s is set but %s is not: a configured deployment needs its database (unset both for the zero-configuration start with embedded servers)", envSMTPURL, envDatabaseDSN)
	case c.PublicURL == "":
		return fmt.Errorf("%s is not set: the links in the mail point there, and cookies are Secure only when it is https", envPublicURL)
	}
	return nil
}

// loadConfig reads the configuration; every bad value is named in the error.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseDSN:          strings.TrimSpace(getenv(envDatabaseDSN)),
		SMTPURL:              strings.TrimSpace(getenv(envSMTPURL)),
		MailFrom:             strings.TrimSpace(getenv(envMailFrom)),
		PublicURL:            strings.TrimRight(strings.TrimSpace(getenv(envPublicURL)), "/"),
		Listen:               strings.TrimSpace(getenv(envListen)),
		Policy:               member.DefaultPolicy(),
		SignIn:               member.DefaultSignInPolicy(),
		Now:                  time.Now,
		MailConcurrency:      4,
		GraphQLCostInFlight:  graph.DefaultCostInFlight(),
		GraphQLIntrospection: true,
		MailRetryBudget:      24 * time.Hour,
		MailLease:            2 * time.Minute,
		RequestTimeout:       10 * time.Second,
		AdminListen:          strings.TrimSpace(getenv(envAdminListen)),
		LogFormat:            strings.ToLower(strings.TrimSpace(getenv(envLogFormat))),
		ShutdownDelay:        5 * time.Second,
		SubscriptionsPerKey:  graph.DefaultSubscriptionsPerKey,
		SubscriptionsMax:     graph.DefaultSubscriptionsMax,
	}
	switch c.AdminListen {
	case "":
		c.AdminListen = defaultAdminListen
	case "off":
		c.AdminListen = ""
	}
	if c.Listen == "" {
		c.Listen = configuredListen
		if c.zeroConfig() {
			c.Listen = devListen
		}
	}
	if c.MailFrom == "" {
		c.MailFrom = "memberbind <no-reply@memberbind.localhost>"
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return c, fmt.Errorf("%s: %q is not a mail address: %v", envMailFrom, c.MailFrom, err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("%s: %q must be an absolute http or https URL", envPublicURL, c.PublicURL)
		}
	}
	var errs []string
	duration := func(name string, dst *time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Sprintf("%s: %q is not a positive duration such as 360h", name, v))
				return
			}
			*dst = d
		}
	}
	number := func(name string, dst *int, min int) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < min {
				errs = append(errs, fmt.Sprintf("%s: %q is not a whole number of at least %d", name, v, min))
				return
			}
			*dst = n
		}
	}
	duration(envActivationTTL, &c.Policy.ActivationTTL)
	number(envMaxMods, &c.Policy.MaxModifications, 0)
	number(envResendsPerHour, &c.Policy.ResendsPerHour, 1)
	number(envResendsTotal, &c.Policy.ResendsTotal, 1)
	number(envMailsPerRcpt, &c.Policy.MailsPerRecipientHour, 1)
	number(envMailsPerOrg, &c.Policy.MailsPerOrgHour, 1)
	if n := c.Policy.MailsPerRecipientHour; n > member.MaxMailsPerRecipientHour {
		errs = append(errs, fmt.Sprintf("%s: %d is more than the most allowed, %d", envMailsPerRcpt, n, member.MaxMailsPerRecipientHour))
	}
	number(envMailConcurrency, &c.MailConcurrency, 1)
	number(envGraphQLCost, &c.GraphQLCostInFlight, 1)
	number(envGraphQLCostOrg, &c.GraphQLCostPerOrg, 1)
	if c.GraphQLCostPerOrg > c.GraphQLCostInFlight {
		errs = append(errs, fmt.Sprintf("%s: %d is more than %s (%d): one organization cannot hold more than the whole budget",
			envGraphQLCostOrg, c.GraphQLCostPerOrg, envGraphQLCost, c.GraphQLCostInFlight))
	}
	if v := strings.TrimSpace(getenv(envWebhookKey)); v != "" {
		key, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(key) != 32 {
			errs = append(errs, fmt.Sprintf("%s: must be 32 random bytes in standard base64 (e.g. the output of openssl rand -base64 32)", envWebhookKey))
		} else {
			c.WebhookSecretKey = key
		}
	}
	if v := strings.TrimSpace(getenv(envWebhookPrivate)); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is neither true nor false", envWebhookPrivate, v))
		} else {
			c.WebhookAllowPrivate = on
		}
	}
	number(envSubsPerKey, &c.SubscriptionsPerKey, 1)
	number(envSubsMax, &c.SubscriptionsMax, 1)
	if v := strings.TrimSpace(getenv(envIntrospection)); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is neither true nor false", envIntrospection, v))
		} else {
			c.GraphQLIntrospection = on
		}
	}
	duration(envMailRetryBudget, &c.MailRetryBudget)
	duration(envMailLease, &c.MailLease)
	duration(envSignInTTL, &c.SignIn.LinkTTL)
	duration(envRequestTimeout, &c.RequestTimeout)
	switch c.LogFormat {
	case "":
		c.LogFormat = requestlog.FormatText
	case requestlog.FormatText, requestlog.FormatJSON:
	default:
		errs = append(errs, fmt.Sprintf("%s: %q is neither text nor json", envLogFormat, c.LogFormat))
	}
	if l, err := requestlog.ParseLevel(getenv(envLogLevel)); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %q is not one of debug, info, warn, error", envLogLevel, getenv(envLogLevel)))
	} else {
		c.LogLevel = l
	}
	if v := strings.TrimSpace(getenv(envShutdownDelay)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s: %q is not a duration of 0 or more such as 5s", envShutdownDelay, v))
		} else {
			c.ShutdownDelay = d
		}
	}
	proxies, err := parseTrustedProxies(getenv(envTrustedProxies))
	if err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", envTrustedProxies, err))
	}
	c.TrustedProxies = proxies
	origins, bad := parseCORSOrigins(getenv(envCORSOrigins))
	for _, b := range bad {
		errs = append(errs, fmt.Sprintf("%s: %s", envCORSOrigins, b))
	}
	c.CORSOrigins = origins
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	if err := c.SignIn.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", envSignInTTL, err)
	}
	return c, c.Policy.Validate()
}

// parseTrustedProxies reads a comma-separated list of networks in CIDR
// notation ("10.0.0.0/8, fd00::/8"); a bare address is a network of that
// one address. Empty entries are skipped; anything else that is not a
// network is an error that quotes it.
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if !strings.Contains(entry, "/") {
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is neither a network in CIDR notation (such as 10.0.0.0/8) nor an IP address", entry)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network in CIDR notation such as 10.0.0.0/8 or fd00::/8", entry)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// Peer addresses are compared unmapped (webpage.ClientAddr).
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// parseCORSOrigins reads a comma-separated list of origins, each
// scheme://host[:port] with the scheme http or https, as a browser sends
// it in its Origin header: the host in lower case, no default port (the
// two are normalized), and nothing after it. Empty entries are skipped;
// every other entry that is no origin is named in its own message.
func parseCORSOrigins(v string) (origins []string, bad []string) {
	seen := map[string]bool{}
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		origin, err := parseOrigin(entry)
		if err != "" {
			bad = append(bad, fmt.Sprintf("%q is not an origin: %s", entry, err))
			continue
		}
		if !seen[origin] {
			seen[origin] = true
			origins = append(origins, origin)
		}
	}
	return origins, bad
}

// parseOrigin returns entry as a browser would send it in Origin, or
// what is wrong with it.
func parseOrigin(entry string) (string, string) {
	const shape = "write scheme://host[:port], such as https://app.example.com or http://localhost:5173"
	if strings.Contains(entry, "*") {
		return "", "wildcards are not allowed: list each origin"
	}
	u, err := url.Parse(entry)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "":
		return "", shape
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "the scheme must be http or https"
	case u.User != nil:
		return "", "an origin has no user name or password"
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(entry, "?") || strings.HasSuffix(entry, "#"):
		return "", "an origin has no path, query or fragment (not even a trailing /): " + shape
	}
	host, port := u.Hostname(), u.Port()
	for _, r := range host {
		if r > 0x7f {
			return "", "write an internationalized host in its ASCII (xn--) form, as browsers send it"
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "the port must be a number from 1 to 65535"
		}
		if (u.Scheme == "http" && n == 80) || (u.Scheme == "https" && n == 443) {
			port = "" // a browser leaves the default port out
		}
	}
	host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, ""
}
