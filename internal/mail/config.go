package mail

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how the connection to the SMTP server is encrypted.
type TLSMode string

// TLS modes, as written in the tls= parameter of an SMTP URL.
const (
	// TLSNone sends everything in clear text. PLAIN and LOGIN
	// authentication are then refused unless the server is on loopback.
	TLSNone TLSMode = "none"
	// TLSStartTLS connects in clear text and upgrades with STARTTLS,
	// failing if the server does not offer it (RFC 3207).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (RFC 8314, "smtps").
	TLSImplicit TLSMode = "tls"
)

// Default SMTP ports by TLS mode.
const (
	DefaultPortNone     = 25
	DefaultPortStartTLS = 587
	DefaultPortTLS      = 465
)

// Default timeouts of an SMTPConfig.
const (
	// DefaultConnectTimeout bounds opening the TCP connection (and, for
	// TLSImplicit, the TLS handshake).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultCommandTimeout bounds the greeting, EHLO, STARTTLS and AUTH of
	// a new connection, and then each message's whole transaction (NOOP,
	// MAIL, RCPT, DATA and the server's final reply).
	DefaultCommandTimeout = 30 * time.Second
)

// SMTPConfig says how to reach and log in to an SMTP server. Parse one from
// MEMBERBIND_SMTP_URL with ParseSMTPURL. Its String and LogValue methods
// never show the password.
type SMTPConfig struct {
	Host string
	Port int
	TLS  TLSMode
	// Username and Password are used for SMTP AUTH, which is done only when
	// Username is set. The mechanism is the first of PLAIN, LOGIN,
	// SCRAM-SHA-256, SCRAM-SHA-1 and CRAM-MD5 that the server offers.
	Username string
	Password string
	// HELO is the name this client gives in EHLO; empty means the host
	// name of the machine.
	HELO           string
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
}

// Addr is the server's host:port.
func (c SMTPConfig) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// String renders the configuration as an SMTP URL with the password
// replaced by "xxxxx", so it can be printed and logged.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr()}
	if c.Username != "" {
		if c.Password != "" {
			u.User = url.UserPassword(c.Username, "xxxxx")
		} else {
			u.User = url.User(c.Username)
		}
	}
	q := url.Values{}
	q.Set("tls", string(c.TLS))
	q.Set("connect_timeout", c.ConnectTimeout.String())
	q.Set("timeout", c.CommandTimeout.String())
	if c.HELO != "" {
		q.Set("helo", c.HELO)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// GoString makes %#v print the redacted String form too.
func (c SMTPConfig) GoString() string { return "mail.SMTPConfig(" + c.String() + ")" }

// LogValue makes slog print the redacted String form.
func (c SMTPConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Validate reports a configuration that cannot work.
func (c SMTPConfig) Validate() error {
	switch {
	case c.Host == "":
		return errors.New("SMTP host is empty")
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("SMTP port %d is out of range 1-65535", c.Port)
	case c.TLS != TLSNone && c.TLS != TLSStartTLS && c.TLS != TLSImplicit:
		return fmt.Errorf("SMTP TLS mode %q is not one of none, starttls, tls", c.TLS)
	case c.ConnectTimeout <= 0:
		return fmt.Errorf("SMTP connect timeout must be positive, got %s", c.ConnectTimeout)
	case c.CommandTimeout <= 0:
		return fmt.Errorf("SMTP command timeout must be positive, got %s", c.CommandTimeout)
	case c.Username == "" && c.Password != "":
		return errors.New("SMTP password given without a user name")
	case strings.ContainsAny(c.HELO, " \t\r\n"):
		return fmt.Errorf("SMTP HELO name %q must be one word", c.HELO)
	}
	return nil
}

// ParseSMTPURL parses an SMTP server URL:
//
//	smtp://[user[:password]@]host[:port][?tls=none|starttls|tls][&timeout=30s][&connect_timeout=10s][&helo=name]
//	smtps://[user[:password]@]host[:port][?...]
//
// smtps:// means tls=tls. Without a tls parameter, smtp:// uses STARTTLS
// (mandatory), or implicit TLS when the port is 465. The port defaults to
// 25 for tls=none, 587 for starttls and 465 for tls. User information turns
// on SMTP AUTH; characters such as '/', '?', '#' and '@' in it must be
// percent-encoded. timeout is the command timeout and connect_timeout the
// connection timeout, each a Go duration ("30s") or whole seconds ("30").
//
// Errors name what is wrong and never repeat the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return SMTPConfig{}, errors.New("SMTP URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if strings.Contains(raw, "@") {
			// With user information the reason may quote a piece of the
			// password (an unencoded '#' or '/' makes it look like a port
			// or a path).
			return SMTPConfig{}, errors.New("SMTP URL is malformed; percent-encode any '/', '?', '#', '@' or ':' in the user name and password")
		}
		return SMTPConfig{}, fmt.Errorf("SMTP URL is malformed: %v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "smtp" && scheme != "smtps" {
		return SMTPConfig{}, fmt.Errorf("SMTP URL scheme %q is not supported: use smtp:// or smtps://", u.Scheme)
	}
	if u.Opaque != "" {
		return SMTPConfig{}, fmt.Errorf("SMTP URL must look like %s://host:port, with the two slashes", scheme)
	}
	c := SMTPConfig{
		Host:           u.Hostname(),
		ConnectTimeout: DefaultConnectTimeout,
		CommandTimeout: DefaultCommandTimeout,
	}
	if c.Host == "" {
		return SMTPConfig{}, errors.New("SMTP URL has no host")
	}
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, fmt.Errorf("SMTP URL must not have a path, got %q", u.Path)
	}
	if u.Fragment != "" {
		return SMTPConfig{}, errors.New("SMTP URL must not have a #fragment (percent-encode '#' in a password as %23)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("SMTP URL port %q is not a number from 1 to 65535", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" {
			return SMTPConfig{}, errors.New("SMTP URL has user information without a user name")
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("SMTP URL query is malformed: %v", err)
	}
	for key, vals := range q {
		if len(vals) != 1 {
			return SMTPConfig{}, fmt.Errorf("SMTP URL parameter %q is given %d times", key, len(vals))
		}
		val := vals[0]
		switch key {
		case "tls":
			mode := TLSMode(strings.ToLower(val))
			if mode != TLSNone && mode != TLSStartTLS && mode != TLSImplicit {
				return SMTPConfig{}, fmt.Errorf("SMTP URL parameter tls=%q is not one of none, starttls, tls", val)
			}
			c.TLS = mode
		case "timeout":
			if c.CommandTimeout, err = parseTimeout(key, val); err != nil {
				return SMTPConfig{}, err
			}
		case "connect_timeout":
			if c.ConnectTimeout, err = parseTimeout(key, val); err != nil {
				return SMTPConfig{}, err
			}
		case "helo":
			c.HELO = val
		default:
			return SMTPConfig{}, fmt.Errorf("SMTP URL parameter %q is unknown: use tls, timeout, connect_timeout or helo", key)
		}
	}

	switch {
	case scheme == "smtps" && c.TLS != "" && c.TLS != TLSImplicit:
		return SMTPConfig{}, fmt.Errorf("smtps:// means implicit TLS and cannot be combined with tls=%s: use smtp:// for that", c.TLS)
	case scheme == "smtps":
		c.TLS = TLSImplicit
	case c.TLS == "" && c.Port == DefaultPortTLS:
		c.TLS = TLSImplicit
	case c.TLS == "":
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSNone:
			c.Port = DefaultPortNone
		case TLSStartTLS:
			c.Port = DefaultPortStartTLS
		default:
			c.Port = DefaultPortTLS
		}
	}
	if err := c.Validate(); err != nil {
		return SMTPConfig{}, err
	}
	return c, nil
}

func parseTimeout(key, val string) (time.Duration, error) {
	d, err := time.ParseDuration(val)
	if err != nil {
		// Whole seconds are what most SMTP URL dialects mean.
		n, nerr := strconv.Atoi(val)
		if nerr != nil {
			return 0, fmt.Errorf("SMTP URL parameter %s=%q is not a duration such as 30s", key, val)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("SMTP URL parameter %s=%q must be positive", key, val)
	}
	return d, nil
}
