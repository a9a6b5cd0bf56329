package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MailpitVersion is the Mailpit release these helpers are written against.
const MailpitVersion = "v1.33.1"

// mailpitInstall is the command that installs the expected Mailpit.
const mailpitInstall = "go install github.com/axllent/mailpit@" + MailpitVersion

// MailpitServer is a private Mailpit process: an SMTP server that keeps
// every mail it accepts, and its REST API to read them.
type MailpitServer struct {
	// SMTPAddr is the SMTP listener, "127.0.0.1:port".
	SMTPAddr string
	// SMTPURL is an SMTP URL for it, "smtp://127.0.0.1:port?tls=none"
	// (or tls=starttls, tls=tls, see MailpitOptions). It accepts any AUTH
	// user and password, also over a clear-text connection unless TLS is
	// required.
	SMTPURL string
	// APIURL is the base of the web UI and REST API, "http://127.0.0.1:port".
	APIURL string

	cmd    *exec.Cmd
	exited chan struct{}
	output *lockedBuffer
	client *http.Client
}

// MailpitOptions change how Mailpit is started.
type MailpitOptions struct {
	// Chaos starts Mailpit with --enable-chaos, so that SetChaos can make
	// its SMTP server fail on purpose.
	Chaos bool
	// TLSCert and TLSKey are PEM files of a certificate for 127.0.0.1:
	// with them the SMTP server offers STARTTLS (and SMTPURL says
	// tls=starttls).
	TLSCert, TLSKey string
	// ImplicitTLS, with TLSCert and TLSKey, makes the SMTP server speak TLS
	// from the first byte (--smtp-require-tls; SMTPURL says tls=tls).
	// Mailpit then refuses --smtp-auth-allow-insecure, which is left out.
	ImplicitTLS bool
	// Args are extra command-line flags.
	Args []string
}

// Mailpit starts a private Mailpit for the test and stops it at cleanup.
// The binary is $MEMBERBIND_MAILPIT_BIN, else mailpit on PATH, else
// $(go env GOPATH)/bin/mailpit; without one the test is skipped (or fails,
// when MEMBERBIND_REQUIRE_MAILPIT=1, e.g. in CI).
func Mailpit(t testing.TB) *MailpitServer {
	t.Helper()
	return MailpitWith(t, MailpitOptions{})
}

// MailpitWith is Mailpit with options.
func MailpitWith(t testing.TB, o MailpitOptions) *MailpitServer {
	t.Helper()
	bin := mailpitBinary()
	if bin == "" {
		msg := "mailpit not found (set MEMBERBIND_MAILPIT_BIN or run: " + mailpitInstall + ")"
		if os.Getenv("MEMBERBIND_REQUIRE_MAILPIT") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir() // removed after the process is stopped (cleanups run last-in first-out)

	// A free port found by listening can be taken by someone else before
	// Mailpit binds it; try again with new ports when that happens.
	var lastErr error
	for try := 0; try < 3; try++ {
		s, err := startMailpit(bin, dir, try, o)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("mailpit output:\n%s", s.output.String())
				}
				s.stop()
			})
			return s
		}
		lastErr = err
	}
	t.Fatalf("start mailpit %s: %v", bin, lastErr)
	return nil
}

// mailpitBinary finds the binary once per test process.
var mailpitBinary = sync.OnceValue(findMailpit)

func findMailpit() string {
	if p := os.Getenv("MEMBERBIND_MAILPIT_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	var gopath string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(strings.Split(string(out), string(os.PathListSeparator))[0])
	}
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if gopath != "" {
		p := filepath.Join(gopath, "bin", "mailpit")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMailpit(bin, dir string, try int, o MailpitOptions) (*MailpitServer, error) {
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	smtpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort))
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
	args := []string{
		"--disable-version-check",
		"--max", "0",
		"--smtp", smtpAddr,
		"--listen", httpAddr,
		"--smtp-auth-accept-any",
		// No reverse DNS lookup per connection: nothing to resolve here.
		"--smtp-disable-rdns",
		// In the test's temporary directory, so nothing is left behind
		// even if the process is killed.
		"--database", filepath.Join(dir, fmt.Sprintf("mailpit-%d.db", try)),
	}
	tlsMode := "none"
	if o.TLSCert != "" || o.TLSKey != "" {
		args = append(args, "--smtp-tls-cert", o.TLSCert, "--smtp-tls-key", o.TLSKey)
		tlsMode = "starttls"
	}
	if o.ImplicitTLS {
		args = append(args, "--smtp-require-tls")
		tlsMode = "tls"
	} else {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	if o.Chaos {
		args = append(args, "--enable-chaos")
	}
	args = append(args, o.Args...)

	s := &MailpitServer{
		SMTPAddr: smtpAddr,
		SMTPURL:  "smtp://" + smtpAddr + "?tls=" + tlsMode,
		APIURL:   "http://" + httpAddr,
		exited:   make(chan struct{}),
		output:   &lockedBuffer{},
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = s.output
	s.cmd.Stderr = s.output
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(20 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.output.String())
	}
	return s, nil
}

// waitReady polls until both the API answers /readyz and the SMTP port
// accepts a connection, or the process exits, or the deadline passes.
func (s *MailpitServer) waitReady(within time.Duration) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ready() {
			return nil
		}
		select {
		case <-s.exited:
			return errors.New("mailpit exited before it was ready")
		case <-deadline.C:
			return fmt.Errorf("mailpit not ready within %s", within)
		case <-tick.C:
		}
	}
}

func (s *MailpitServer) ready() bool {
	resp, err := s.client.Get(s.APIURL + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited
// within five seconds.
func (s *MailpitServer) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// MailpitAddress is a mail address as the Mailpit API shows it.
type MailpitAddress struct {
	Name    string
	Address string
}

// MailpitSummary is a message in Mailpit's list (GET /api/v1/messages).
type MailpitSummary struct {
	// ID is Mailpit's database ID, for Message.
	ID string
	// MessageID is the Message-ID header without angle brackets.
	MessageID string
	From      *MailpitAddress
	To        []*MailpitAddress
	Subject   string
	Created   time.Time
	// Username is the SMTP AUTH user the message was sent with, if any.
	Username string
	Size     uint64
	Snippet  string
}

// MailpitMessage is one message with its content: the decoded text and HTML
// parts (GET /api/v1/message/{ID}), its headers
// (GET /api/v1/message/{ID}/headers) and the raw source
// (GET /api/v1/message/{ID}/raw).
type MailpitMessage struct {
	ID        string
	MessageID string
	From      *MailpitAddress
	To        []*MailpitAddress
	Subject   string
	Date      time.Time
	Text      string
	HTML      string
	// Headers are the message's headers by canonical name, values as sent
	// (RFC 2047 encoded words are not decoded).
	Headers map[string][]string `json:"-"`
	// Raw is the message as received.
	Raw string `json:"-"`
}

// Messages returns every stored message, newest first. Like every method
// that takes t, call it from the test's goroutine.
func (s *MailpitServer) Messages(t testing.TB) []MailpitSummary {
	t.Helper()
	list, err := s.messages()
	if err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	return list
}

func (s *MailpitServer) messages() ([]MailpitSummary, error) {
	const page = 250
	var all []MailpitSummary
	for start := 0; ; start += page {
		var res struct {
			Total    int
			Messages []MailpitSummary
		}
		if err := s.getJSON(fmt.Sprintf("/api/v1/messages?start=%d&limit=%d", start, page), &res); err != nil {
			return nil, err
		}
		all = append(all, res.Messages...)
		if len(res.Messages) < page || len(all) >= res.Total {
			return all, nil
		}
	}
}

// Message returns one message by its Mailpit ID, with text, HTML, headers
// and raw source.
func (s *MailpitServer) Message(t testing.TB, id string) *MailpitMessage {
	t.Helper()
	var m MailpitMessage
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id)+"/headers", &m.Headers); err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	raw, err := s.get("/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	m.Raw = string(raw)
	return &m
}

// WaitMessages polls until at least n messages are stored and returns
// them all, newest first; it fails the test if that takes longer than
// within.
func (s *MailpitServer) WaitMessages(t testing.TB, n int, within time.Duration) []MailpitSummary {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		list, err := s.messages()
		if err != nil {
			t.Fatalf("mailpit: %v", err)
		}
		if len(list) >= n {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit: %d messages after %s, want %d", len(list), within, n)
		}
		<-tick.C
	}
}

// DeleteAll deletes every stored message.
func (s *MailpitServer) DeleteAll(t testing.TB) {
	t.Helper()
	if err := s.do(http.MethodDelete, "/api/v1/messages", nil, nil); err != nil {
		t.Fatalf("mailpit: %v", err)
	}
}

// MailpitChaosTrigger makes one SMTP step fail with ErrorCode (400-599) in
// Probability percent (0-100) of the cases. Mailpit answers
// "<code> Chaos sender error" to MAIL FROM, "<code> Chaos recipient error"
// to RCPT TO and "<code> Chaos authentication error" to AUTH.
type MailpitChaosTrigger struct {
	ErrorCode   int
	Probability int
}

// MailpitChaos holds a trigger for each SMTP step Mailpit's chaos can fail
// (PUT /api/v1/chaos). A zero trigger turns that step's chaos off.
type MailpitChaos struct {
	Sender         MailpitChaosTrigger
	Recipient      MailpitChaosTrigger
	Authentication MailpitChaosTrigger
}

// SetChaos replaces the chaos triggers. The server must have been started
// with MailpitOptions.Chaos.
func (s *MailpitServer) SetChaos(t testing.TB, c MailpitChaos) {
	t.Helper()
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got MailpitChaos
	if err := s.do(http.MethodPut, "/api/v1/chaos", body, &got); err != nil {
		t.Fatalf("mailpit: set chaos: %v", err)
	}
	if got.Recipient.Probability != c.Recipient.Probability || got.Sender.Probability != c.Sender.Probability ||
		got.Authentication.Probability != c.Authentication.Probability {
		t.Fatalf("mailpit: set chaos %+v, server has %+v", c, got)
	}
}

func (s *MailpitServer) getJSON(path string, v any) error {
	return s.do(http.MethodGet, path, nil, v)
}

func (s *MailpitServer) get(path string) ([]byte, error) {
	resp, err := s.client.Get(s.APIURL + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func (s *MailpitServer) do(method, path string, body []byte, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.APIURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// lockedBuffer collects the process output; the process writes while a
// failing test may read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
