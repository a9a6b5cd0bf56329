package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// A Sender is the Transport of a Worker.
var _ Transport = (*Sender)(nil)

// ErrSenderClosed is returned by Send after Close.
var ErrSenderClosed = errors.New("mail sender is closed")

// maxIdle is how long an idle connection is kept for reuse. Servers may
// drop idle clients after a few minutes (RFC 5321 §4.5.3.2 asks for at
// least five); a stale one is detected by go-mail's NOOP and redialed
// anyway, this only saves the round trip.
const maxIdle = time.Minute

// authMechanisms are the SMTP AUTH mechanisms tried, in order of
// preference, when the configuration has a user name. go-mail refuses
// PLAIN and LOGIN over an unencrypted connection to anything but loopback.
var authMechanisms = []gomail.SMTPAuthType{
	gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
	gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
}

// Sender delivers mails over SMTP through a small pool of reusable
// connections: each connection is dialed once (greeting, EHLO, STARTTLS,
// AUTH) and then carries message after message, and is closed and redialed
// after any error. It is safe for concurrent use; at most size sends run at
// once, further callers wait for a free connection.
type Sender struct {
	cfg   SMTPConfig
	slots chan struct{}

	mu     sync.Mutex
	idle   []*smtpConn
	closed bool

	dials   atomic.Int64   // connections opened, for tests
	rootCAs *x509.CertPool // nil: the system's; tests trust their own CA
}

// NewSender returns a Sender for the server of cfg with at most size
// connections (size < 1 means 1). It does not connect until the first Send.
func NewSender(cfg SMTPConfig, size int) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if size < 1 {
		size = 1
	}
	return &Sender{cfg: cfg, slots: make(chan struct{}, size)}, nil
}

// Send delivers msg on a pooled connection, dialing one if none is idle; a
// nil error means the server accepted it. If a reused connection turns out
// to be dead before the message was started, Send redials once. When ctx
// ends before the server has accepted the message, the connection is cut
// and the error wraps ctx.Err(). Pass any error to Classify. Give Send a new
// Msg for every attempt: it judges acceptance by msg.IsDelivered.
func (s *Sender) Send(ctx context.Context, msg *gomail.Msg) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.slots }()

	for attempt := 0; ; attempt++ {
		c, reused, err := s.conn(ctx)
		if err != nil {
			return err
		}
		reusable, err := c.send(ctx, msg)
		if err == nil {
			if reusable {
				s.put(c)
			} else {
				c.abort()
			}
			return nil
		}
		c.abort()
		if reused && attempt == 0 && ctx.Err() == nil && staleConn(err) {
			continue
		}
		return err
	}
}

// Close closes the idle connections (with QUIT) and makes later Sends
// fail. Sends in progress finish and close their connections.
func (s *Sender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.quit())
	}
	return errors.Join(errs...)
}

// staleConn reports whether err says the connection was dead before the
// message was started (go-mail checks with NOOP first), so that sending it
// on a new connection cannot duplicate it.
func staleConn(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrConnCheck
}

// conn takes an idle connection or dials a new one.
func (s *Sender) conn(ctx context.Context) (c *smtpConn, reused bool, err error) {
	var stale []*smtpConn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, ErrSenderClosed
	}
	for len(s.idle) > 0 && c == nil {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(last.idleSince) > maxIdle {
			stale = append(stale, last)
			continue
		}
		c = last
	}
	s.mu.Unlock()
	for _, old := range stale {
		_ = old.quit()
	}
	if c != nil {
		return c, true, nil
	}
	c, err = s.dial(ctx)
	return c, false, err
}

// put returns a healthy connection to the pool.
func (s *Sender) put(c *smtpConn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.quit()
		return
	}
	c.idleSince = time.Now()
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

func (s *Sender) dial(ctx context.Context) (*smtpConn, error) {
	c := &smtpConn{}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.CommandTimeout),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(c.dialFunc(s.cfg, s.tlsConfig())),
	}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// The dial function does the TLS handshake; WithSSL keeps go-mail
		// from attempting STARTTLS on top.
		opts = append(opts, gomail.WithSSL())
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password),
			gomail.WithOpportunisticSMTPAuth(authMechanisms...),
		)
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure SMTP client for %s: %w", s.cfg.Addr(), err)
	}
	c.client = client

	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	// The connect timeout bounds only the TCP (and TLS) dial; the SMTP
	// exchange after it is bounded by the command timeout, and by ctx.
	stop := context.AfterFunc(ctx, c.abort)
	err = client.DialWithContext(dialCtx)
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		c.abort()
		return nil, fmt.Errorf("connect to SMTP server %s: %w", s.cfg.Addr(), err)
	}
	s.dials.Add(1)
	return c, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.rootCAs}
}

// smtpConn is one pooled connection: a go-mail Client holding one SMTP
// session, and the raw network connection under it so that a cancelled
// context can cut it.
type smtpConn struct {
	client    *gomail.Client
	idleSince time.Time

	mu      sync.Mutex
	raw     net.Conn
	aborted bool
}

// dialFunc returns the go-mail dial function: it opens the TCP connection,
// remembers it, and for implicit TLS does the handshake.
func (c *smtpConn) dialFunc(cfg SMTPConfig, tlsConf *tls.Config) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.raw = raw
		aborted := c.aborted
		c.mu.Unlock()
		if aborted {
			_ = raw.Close()
			return nil, context.Canceled
		}
		if cfg.TLS != TLSImplicit {
			return raw, nil
		}
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

// send sends one message; if ctx ends first, the connection is cut. It
// reports whether the connection can carry another message.
func (c *smtpConn) send(ctx context.Context, msg *gomail.Msg) (reusable bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, c.abort)
	err = c.client.Send(msg)
	if err != nil && msg.IsDelivered() {
		// The server accepted the message and go-mail's RSET after it
		// failed (it still returns a SendError): a success, on a
		// connection not worth keeping.
		stop()
		return false, nil
	}
	if !stop() {
		// The connection was cut. If the server had already accepted the
		// message, that is still a success, on a connection now gone.
		if err != nil {
			err = fmt.Errorf("send interrupted: %w", errors.Join(ctx.Err(), err))
		}
		return false, err
	}
	return err == nil, err
}

// abort closes the network connection at once, without QUIT. It is safe to
// call concurrently with a send, and more than once.
func (c *smtpConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	if c.raw != nil {
		_ = c.raw.Close()
	}
}

// quit ends the session politely, bounded by a short deadline.
func (c *smtpConn) quit() error {
	c.mu.Lock()
	if c.raw != nil && !c.aborted {
		_ = c.raw.SetDeadline(time.Now().Add(5 * time.Second))
	}
	c.mu.Unlock()
	err := c.client.Close()
	c.abort()
	return err
}
