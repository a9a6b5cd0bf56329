//go:build !noembed

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// StartMailServer starts an SMTP server (github.com/emersion/go-smtp) on a
// free loopback port and returns once it is listening. ctx bounds the start
// only; the server runs until Close. It speaks plain SMTP without TLS,
// accepts every sender and recipient, needs no authentication (and accepts
// AUTH PLAIN with any credentials), and keeps what it receives as described
// at [MailServer].
func StartMailServer(ctx context.Context) (*MailServer, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: listen for SMTP: %w", err)
	}
	box := newMailbox()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{box: box}, nil
	}))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = MaxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = true // loopback only; any credentials pass
	srv.EnableSMTPUTF8 = true    // addresses are stored as received

	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l) // returns once Close has closed the listener
	}()
	var once sync.Once
	var closeErr error
	return &MailServer{
		url: "smtp://" + l.Addr().String() + "?tls=none",
		box: box,
		close: func() error {
			once.Do(func() {
				closeErr = srv.Close()
				// Serve adds the listener to those Close closes only once it
				// runs, which may be after this.
				l.Close()
				<-served
				if errors.Is(closeErr, net.ErrClosed) {
					closeErr = nil
				}
			})
			return closeErr
		},
	}, nil
}

// smtpSession receives the mail of one SMTP connection.
type smtpSession struct {
	box  *mailbox
	from string
	to   []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

// AuthMechanisms implements smtp.AuthSession.
func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth implements smtp.AuthSession: every user name and password pass, so
// that a sender configured with credentials works unchanged.
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error { return nil }), nil
}

// Mail implements smtp.Session.
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

// Rcpt implements smtp.Session.
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data implements smtp.Session.
func (s *smtpSession) Data(r io.Reader) error {
	// The reader stops with smtp.ErrDataTooLarge past MaxMessageBytes,
	// which go-smtp answers with 552.
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parseMessage(raw)
	m.EnvelopeFrom = s.from
	m.To = append([]string(nil), s.to...)
	m.ReceivedAt = time.Now().UTC()
	s.box.add(m)
	return nil
}

// Reset implements smtp.Session.
func (s *smtpSession) Reset() { s.from, s.to = "", nil }

// Logout implements smtp.Session.
func (s *smtpSession) Logout() error { return nil }
