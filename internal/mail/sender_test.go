package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/testenv"
)

// mailpitConfig is an SMTPConfig for a private Mailpit.
func mailpitConfig(t *testing.T, mp *testenv.MailpitServer) SMTPConfig {
	t.Helper()
	cfg, err := ParseSMTPURL(mp.SMTPURL)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// countByMessageID counts the stored mails per Message-ID.
func countByMessageID(list []testenv.MailpitSummary) map[string]int {
	n := map[string]int{}
	for _, m := range list {
		n[m.MessageID]++
	}
	return n
}

func TestSenderReusesOneConnection(t *testing.T) {
	mp := testenv.Mailpit(t)
	cfg := mailpitConfig(t, mp)
	cfg.Username, cfg.Password = "mailer", "any-password" // Mailpit accepts any; PLAIN is allowed on loopback
	s, err := NewSender(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const n = 5
	for i := range n {
		if err := s.Send(t.Context(), testMsg(t, i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got := s.dials.Load(); got != 1 {
		t.Errorf("dialed %d connections for %d sequential messages, want 1", got, n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// The server has them all once Close (QUIT) returned.
	list := mp.WaitMessages(t, n, 10*time.Second)
	counts := countByMessageID(list)
	for i := range n {
		id := fmt.Sprintf("outbox-%d.test@memberbind", i)
		if counts[id] != 1 {
			t.Errorf("message %s arrived %d times, want once", id, counts[id])
		}
	}
	if len(list) != n {
		t.Errorf("Mailpit holds %d messages, want %d", len(list), n)
	}
	for _, m := range list {
		if m.Username != "mailer" {
			t.Errorf("message %s sent as AUTH user %q, want mailer", m.MessageID, m.Username)
		}
	}
	if err := s.Send(t.Context(), testMsg(t, 99)); !errors.Is(err, ErrSenderClosed) {
		t.Errorf("Send after Close = %v, want ErrSenderClosed", err)
	}

	// What a mail client sees.
	got := mp.Message(t, list[0].ID)
	if got.Headers["Auto-Submitted"][0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got.Headers["Auto-Submitted"])
	}
	if !strings.Contains(got.Text, testLink) || !strings.Contains(got.HTML, testLink) {
		t.Errorf("the link %s is not in both parts:\ntext: %s\nhtml: %s", testLink, got.Text, got.HTML)
	}
	if got.To[0].Address != "ada@example.com" || got.From.Address != "noreply@example.com" {
		t.Errorf("From %v To %v", got.From, got.To)
	}
	if !strings.Contains(got.Raw, "multipart/alternative") {
		t.Errorf("raw message is not multipart/alternative:\n%s", got.Raw)
	}
}

func TestSenderConcurrentPool(t *testing.T) {
	mp := testenv.Mailpit(t)
	const size, workers, each = 2, 6, 5
	s, err := NewSender(mailpitConfig(t, mp), size)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.Send(t.Context(), testMsg(t, w*100+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("send: %v", err)
	}
	if got := s.dials.Load(); got > size {
		t.Errorf("dialed %d connections with a pool of %d", got, size)
	}
	list := mp.WaitMessages(t, workers*each, 10*time.Second)
	for id, c := range countByMessageID(list) {
		if c != 1 {
			t.Errorf("message %s arrived %d times", id, c)
		}
	}
	if len(list) != workers*each {
		t.Errorf("Mailpit holds %d messages, want %d", len(list), workers*each)
	}
}

func TestSenderRedialsDroppedConnection(t *testing.T) {
	// The server drops every connection after one message, as a server
	// does with clients idle for too long.
	f := startFakeSMTP(t, fakeScript{dropAfter: 1})
	s, err := NewSender(f.config(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		if err := s.Send(t.Context(), testMsg(t, i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got := f.accepted.Load(); got != 3 {
		t.Errorf("server accepted %d messages, want 3", got)
	}
	if got := s.dials.Load(); got != 3 {
		t.Errorf("dialed %d times, want 3 (one redial per dropped connection)", got)
	}
}

func TestSenderRedialsAfterError(t *testing.T) {
	// A rejected message does not poison the pool: the connection is
	// replaced and the next message goes through.
	f := startFakeSMTP(t, fakeScript{rcpt: "550 5.1.1 unknown"})
	s, err := NewSender(f.config(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(t.Context(), testMsg(t, 1)); err == nil {
		t.Fatal("send to a rejected recipient succeeded")
	}
	if err := s.Send(t.Context(), testMsg(t, 2)); err == nil {
		t.Fatal("send to a rejected recipient succeeded")
	}
	if got := s.dials.Load(); got != 2 {
		t.Errorf("dialed %d times, want 2 (a fresh connection after each error)", got)
	}
}

func TestSenderDeliveredDespiteFailedRSET(t *testing.T) {
	// go-mail sends RSET after the server accepted the message and reports
	// a failure of it as a SendError; the message is delivered all the
	// same and must not be reported as failed (the worker would send it
	// again).
	for _, rset := range []string{replyDrop, "421 4.3.2 Shutting down"} {
		t.Run(rset, func(t *testing.T) {
			f := startFakeSMTP(t, fakeScript{rset: rset})
			s, err := NewSender(f.config(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 2 {
				if err := s.Send(t.Context(), testMsg(t, i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if got := f.accepted.Load(); got != 2 {
				t.Errorf("server accepted %d messages, want 2", got)
			}
			if got := s.dials.Load(); got != 2 {
				t.Errorf("dialed %d times, want 2 (the connection is not reused after a failed RSET)", got)
			}
		})
	}
}

func TestSenderContextCutsSend(t *testing.T) {
	// The server never answers the end of DATA; only ctx can end the send
	// before the 30s command timeout.
	f := startFakeSMTP(t, fakeScript{dataEnd: replyHang})
	cfg := f.config(t)
	cfg.CommandTimeout = 30 * time.Second
	s, err := NewSender(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, testMsg(t, 1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send took %s after its context ended", elapsed)
	}
	if temporary, _ := Classify(err); !temporary {
		t.Errorf("a cut send is classified permanent")
	}
}

func TestSenderWaitsForAFreeConnection(t *testing.T) {
	f := startFakeSMTP(t, fakeScript{dataEnd: replyHang})
	s, err := NewSender(f.config(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The only connection is stuck; a second caller waits for it and
	// gives up with its own context.
	ctx1, cancel1 := context.WithCancel(t.Context())
	defer cancel1()
	first := make(chan error, 1)
	go func() { first <- s.Send(ctx1, testMsg(t, 1)) }()
	waitFor(t, 5*time.Second, "the first send to reach DATA", func() bool { return f.conns.Load() == 1 && sawCommand(f, "DATA") })

	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	if err := s.Send(ctx2, testMsg(t, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Send = %v, want context.DeadlineExceeded while the pool is busy", err)
	}
	if got := f.conns.Load(); got != 1 {
		t.Errorf("%d connections opened with a pool of 1", got)
	}
	cancel1()
	if err := <-first; err == nil {
		t.Error("the stuck send succeeded")
	}
}

// sawCommand drains the commands the fake server received so far and
// reports whether one starts with prefix.
func sawCommand(f *fakeSMTP, prefix string) bool {
	for {
		select {
		case c := <-f.commands:
			if strings.HasPrefix(c, prefix) {
				return true
			}
		default:
			return false
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key to dir
// and returns the paths and a pool that trusts it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "memberbind test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestSenderTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	for _, mode := range []TLSMode{TLSStartTLS, TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			mp := testenv.MailpitWith(t, testenv.MailpitOptions{TLSCert: certFile, TLSKey: keyFile, ImplicitTLS: mode == TLSImplicit})
			cfg := mailpitConfig(t, mp)
			if cfg.TLS != mode {
				t.Fatalf("Mailpit's SMTP URL %s has tls=%s, want %s", mp.SMTPURL, cfg.TLS, mode)
			}
			cfg.Username, cfg.Password = "mailer", "any-password"
			s, err := NewSender(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			// Without trusting the test CA the connection is refused.
			if err := s.Send(t.Context(), testMsg(t, 1)); err == nil {
				t.Fatal("send to a server with an untrusted certificate succeeded")
			} else if temporary, reason := Classify(err); !temporary || !strings.Contains(reason, "certificate") {
				t.Errorf("untrusted certificate: Classify = %v, %q", temporary, reason)
			}

			s.rootCAs = pool
			for i := range 2 {
				if err := s.Send(t.Context(), testMsg(t, i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if got := s.dials.Load(); got != 1 {
				t.Errorf("dialed %d connections, want 1", got)
			}
			list := mp.WaitMessages(t, 2, 10*time.Second)
			if len(list) != 2 {
				t.Errorf("Mailpit holds %d messages, want 2", len(list))
			}
			for _, m := range list {
				if m.Username != "mailer" {
					t.Errorf("message %s sent as AUTH user %q, want mailer", m.MessageID, m.Username)
				}
			}
		})
	}
}

func TestSenderStartTLSRequired(t *testing.T) {
	// A server that does not offer STARTTLS must not get the mail in clear
	// text when the configuration asks for STARTTLS.
	f := startFakeSMTP(t, fakeScript{})
	cfg := f.config(t)
	cfg.TLS = TLSStartTLS
	s, err := NewSender(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(t.Context(), testMsg(t, 1))
	if err == nil {
		t.Fatal("send without STARTTLS succeeded")
	}
	if temporary, reason := Classify(err); !temporary || !strings.Contains(reason, "STARTTLS") {
		t.Errorf("Classify = %v, %q; want temporary, naming STARTTLS", temporary, reason)
	}
	if f.accepted.Load() != 0 || sawCommand(f, "MAIL") {
		t.Error("the message was sent without TLS")
	}
}
