//go:build !noembed

package devstack

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// startMailServer starts a MailServer that the test closes.
func startMailServer(t *testing.T) *MailServer {
	t.Helper()
	s, err := StartMailServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// sendMail sends msg to the server at smtpURL the way memberbind's mailer
// does: go-mail, no TLS.
func sendMail(t *testing.T, smtpURL string, msg *gomail.Msg, opts ...gomail.Option) {
	t.Helper()
	u, err := url.Parse(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "smtp" || u.Query().Get("tls") != "none" {
		t.Fatalf("URL %q: want smtp://host:port?tls=none", smtpURL)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]gomail.Option{gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithTimeout(10 * time.Second)}, opts...)
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// activationMail builds a mail like memberbind's: multipart/alternative, a
// text and an HTML part holding a link, a non-ASCII subject.
func activationMail(t *testing.T, to, link string, enc gomail.Encoding) *gomail.Msg {
	t.Helper()
	m := gomail.NewMsg(gomail.WithEncoding(enc))
	if err := m.FromFormat("Acme 组织", "noreply@memberbind.test"); err != nil {
		t.Fatal(err)
	}
	if err := m.To(to); err != nil {
		t.Fatal(err)
	}
	m.Subject("Activate your login email — 激活 <script>alert(1)</script>")
	m.SetMessageID()
	m.SetDate()
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, "Hello 张三,\n\nOpen "+link+" to activate.\nThe link expires on 2026-03-18 10:00 UTC.\n")
	m.AddAlternativeString(gomail.TypeTextHTML, `<p>Hello 张三,</p><p><a href="`+link+`">Activate</a></p><p>The link expires on 2026-03-18 10:00 UTC.</p>`)
	return m
}

func TestMailServerReceivesGoMail(t *testing.T) {
	t.Parallel()
	s := startMailServer(t)
	for i, enc := range []gomail.Encoding{gomail.EncodingQP, gomail.EncodingB64} {
		to := "member" + strconv.Itoa(i) + "@example.com"
		link := "http://localhost:8080/activate?token=" + strings.Repeat("Ab_-", 11) + strconv.Itoa(i)
		sendMail(t, s.URL(), activationMail(t, to, link, enc))

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := s.Wait(ctx, func(m Message) bool { return len(m.To) == 1 && m.To[0] == to })
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		if m.ParseError != "" {
			t.Errorf("%s: ParseError %s", enc, m.ParseError)
		}
		if want := "Activate your login email — 激活 <script>alert(1)</script>"; m.Subject != want {
			t.Errorf("%s: Subject = %q, want %q", enc, m.Subject, want)
		}
		if m.From != "Acme 组织 <noreply@memberbind.test>" || m.EnvelopeFrom != "noreply@memberbind.test" {
			t.Errorf("%s: From = %q, EnvelopeFrom = %q", enc, m.From, m.EnvelopeFrom)
		}
		if !strings.Contains(m.Text, "Hello 张三,") || !strings.Contains(m.Text, "Open "+link+" to activate.") {
			t.Errorf("%s: Text = %q", enc, m.Text)
		}
		if !strings.Contains(m.HTML, `<a href="`+link+`">Activate</a>`) {
			t.Errorf("%s: HTML = %q", enc, m.HTML)
		}
		if len(m.Links) != 1 || m.Links[0] != link {
			t.Errorf("%s: Links = %q, want [%s]", enc, m.Links, link)
		}
		if m.MessageID == "" || m.Date.IsZero() || m.ReceivedAt.IsZero() || m.Header["Auto-Submitted"][0] != "auto-generated" {
			t.Errorf("%s: headers: %+v", enc, m)
		}
	}

	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].To[0] != "member1@example.com" || msgs[1].To[0] != "member0@example.com" {
		t.Fatalf("Messages() = %+v, want the two mails newest first", msgs)
	}

	// The same mail through the pages.
	h := s.Handler()
	res, body := get(t, h, "/dev/mail")
	if res.StatusCode != 200 || !strings.Contains(body, `href="/dev/mail/2"`) || !strings.Contains(body, "member1@example.com") {
		t.Fatalf("list: %s\n%s", res.Status, body)
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "激活 &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("list: subject not escaped:\n%s", body)
	}
	link := msgs[0].Links[0]
	res, body = get(t, h, "/dev/mail/2")
	if res.StatusCode != 200 || strings.Contains(body, "<script>") {
		t.Fatalf("message: %s\n%s", res.Status, body)
	}
	if !strings.Contains(body, `<a href="`+link+`" rel="noreferrer">`+link+`</a>`) {
		t.Errorf("message: link not clickable:\n%s", body)
	}
	if !strings.Contains(body, `<iframe src="/dev/mail/2/html" sandbox=`) {
		t.Errorf("message: HTML part not framed:\n%s", body)
	}
	if _, body = get(t, h, "/dev/mail/2/html"); !strings.Contains(body, `<a href="`+link+`">Activate</a>`) {
		t.Errorf("HTML part:\n%s", body)
	}
}

func TestMailServerAcceptsAuth(t *testing.T) {
	t.Parallel()
	s := startMailServer(t)
	sendMail(t, s.URL(), activationMail(t, "a@example.com", "http://x.test/", gomail.EncodingQP),
		gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername("any"), gomail.WithPassword("thing"))
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("got %d messages", n)
	}
}

func TestMailServerWaitTimesOut(t *testing.T) {
	t.Parallel()
	s := startMailServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want deadline exceeded", err)
	}
}

func TestMailServerRefusesLargeMail(t *testing.T) {
	t.Parallel()
	s := startMailServer(t)
	m := activationMail(t, "a@example.com", "http://x.test/", gomail.EncodingB64)
	// Base64 makes 8 MiB about 10.7 MiB on the wire: just over the limit,
	// so the client writes no more than it must. The server reads the
	// whole DATA before it refuses, so the client's timeout must cover
	// writing it all on a machine loaded by the race detector: it is
	// generous, and the test waits on the refusal, not on the clock.
	m.AttachReader("big.bin", strings.NewReader(strings.Repeat("x", 8<<20)))
	u, _ := url.Parse(s.URL())
	port, _ := strconv.Atoi(u.Port())
	c, err := gomail.NewClient(u.Hostname(), gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithTimeout(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DialAndSend(m); err == nil || !strings.Contains(err.Error(), "552") {
		t.Fatalf("DialAndSend = %v, want a 552 refusal", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("kept %d messages", n)
	}
}

func TestMailServerClose(t *testing.T) {
	t.Parallel()
	s, err := StartMailServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	u, _ := url.Parse(s.URL())
	port, _ := strconv.Atoi(u.Port())
	c, _ := gomail.NewClient(u.Hostname(), gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithTimeout(2*time.Second))
	if err := c.DialAndSend(activationMail(t, "a@example.com", "http://x.test/", gomail.EncodingQP)); err == nil {
		t.Fatal("sent mail to a closed server")
	}
}
