package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Special replies of the fake SMTP server.
const (
	replyDrop = "DROP" // close the connection instead of answering
	replyHang = "HANG" // never answer, keep the connection open
)

// fakeScript says how the fake SMTP server answers. Empty replies are the
// usual success.
type fakeScript struct {
	greeting   string   // default "220 fake ESMTP ready"
	extensions []string // EHLO keywords, default 8BITMIME
	auth       string   // reply to AUTH
	mail       string   // reply to MAIL FROM
	rcpt       string   // reply to RCPT TO
	data       string   // reply to DATA
	dataEnd    string   // reply after the message's final "."
	rset       string   // reply to RSET
	// dropMidData closes the connection after reading a few lines of the
	// message.
	dropMidData bool
	// dropAfter closes the connection after answering RSET once this many
	// messages were accepted on it (an idle connection the server dropped).
	dropAfter int
}

// fakeSMTP is a scriptable SMTP server on 127.0.0.1, enough of RFC 5321 for
// go-mail.
type fakeSMTP struct {
	addr     string
	script   fakeScript
	accepted atomic.Int64 // messages accepted
	conns    atomic.Int64 // connections accepted
	commands chan string  // every command line received, AUTH redacted

	mu   sync.Mutex
	open []net.Conn
}

func startFakeSMTP(t *testing.T, s fakeScript) *fakeSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{addr: l.Addr().String(), script: s, commands: make(chan string, 1000)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = l.Close()
		f.mu.Lock()
		for _, c := range f.open {
			_ = c.Close()
		}
		f.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			f.mu.Lock()
			f.open = append(f.open, c)
			f.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				f.serve(c)
			}()
		}
	}()
	return f
}

// config is an SMTPConfig for the fake server.
func (f *fakeSMTP) config(t *testing.T) SMTPConfig {
	t.Helper()
	host, port, _ := net.SplitHostPort(f.addr)
	p, _ := strconv.Atoi(port)
	return SMTPConfig{Host: host, Port: p, TLS: TLSNone, ConnectTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second}
}

func (f *fakeSMTP) serve(c net.Conn) {
	s := f.script
	r := textproto.NewReader(bufio.NewReader(c))
	w := bufio.NewWriter(c)
	// reply writes a reply; it reports false when the connection should end.
	reply := func(line, def string) bool {
		if line == "" {
			line = def
		}
		switch line {
		case replyDrop:
			return false
		case replyHang:
			_, _ = io.Copy(io.Discard, c)
			return false
		}
		_, _ = w.WriteString(line + "\r\n")
		_ = w.Flush()
		// A 421 reply means the server closes the connection (RFC 5321 §3.8).
		return !strings.HasPrefix(line, "421")
	}
	if !reply(s.greeting, "220 fake ESMTP ready") {
		return
	}
	if s.greeting != "" && !strings.HasPrefix(s.greeting, "2") {
		return // a refusing greeting: nothing more to say
	}
	accepted := 0
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if verb == "AUTH" {
			f.commands <- "AUTH [redacted]"
		} else {
			f.commands <- line
		}
		ok := true
		switch verb {
		case "EHLO":
			exts := s.extensions
			if exts == nil {
				exts = []string{"8BITMIME"}
			}
			var b strings.Builder
			b.WriteString("250-fake greets you")
			for _, e := range exts {
				b.WriteString("\r\n250-" + e)
			}
			b.WriteString("\r\n250 HELP")
			ok = reply(b.String(), "")
		case "HELO":
			ok = reply("250 fake", "")
		case "AUTH":
			ok = reply(s.auth, "235 2.7.0 Authentication successful")
		case "MAIL":
			ok = reply(s.mail, "250 2.1.0 Ok")
		case "RCPT":
			ok = reply(s.rcpt, "250 2.1.5 Ok")
		case "DATA":
			if s.data != "" {
				ok = reply(s.data, "")
				break
			}
			if !reply("354 End data with <CR><LF>.<CR><LF>", "") {
				return
			}
			if s.dropMidData {
				for range 3 {
					if _, err := r.ReadLine(); err != nil {
						return
					}
				}
				return
			}
			if _, err := r.ReadDotBytes(); err != nil {
				return
			}
			if s.dataEnd == "" {
				accepted++
				f.accepted.Add(1)
			}
			ok = reply(s.dataEnd, "250 2.0.0 Ok: queued as "+strconv.Itoa(accepted))
		case "RSET":
			ok = reply(s.rset, "250 2.0.0 Ok")
			if s.dropAfter > 0 && accepted >= s.dropAfter {
				return
			}
		case "NOOP":
			ok = reply("250 2.0.0 Ok", "")
		case "QUIT":
			reply("221 2.0.0 Bye", "")
			return
		default:
			ok = reply("502 5.5.2 Error: command not recognized", "")
		}
		if !ok {
			return
		}
	}
}

// testMsg renders a message for the tests that only need one to send.
func testMsg(t *testing.T, n int) *gomail.Msg {
	t.Helper()
	m := testOutboxMessage()
	m.ID = int64(n)
	m.MessageID = fmt.Sprintf("outbox-%d.test@memberbind", n)
	msg, err := Render(m, testRenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestClassifyAgainstSMTPServers(t *testing.T) {
	const password = "hunter2-secret"
	tests := []struct {
		name      string
		script    *fakeScript // nil: nothing listens on the port
		auth      bool
		timeout   time.Duration
		temporary bool
		reason    []string // substrings of the reason
		errType   string   // what go-mail returned: "SendError", "textproto" or "net"
	}{
		{name: "connection refused", temporary: true, reason: []string{"connection refused", "127.0.0.1:"}, errType: "net"},
		{name: "server hangs", script: &fakeScript{greeting: replyHang}, timeout: 300 * time.Millisecond, temporary: true, reason: []string{"timed out"}, errType: "net"},
		{name: "421 greeting", script: &fakeScript{greeting: "421 4.3.2 Service not available, closing channel"}, temporary: true, reason: []string{"connect: 421 4.3.2 Service not available, closing channel"}, errType: "textproto"},
		{name: "554 greeting", script: &fakeScript{greeting: "554 5.7.1 Your address is blocked"}, temporary: true, reason: []string{"554 5.7.1 Your address is blocked"}, errType: "textproto"},
		{name: "dropped mid-DATA", script: &fakeScript{dropMidData: true}, temporary: true, reason: []string{"end of DATA", "connection closed"}, errType: "SendError"},
		{name: "451 on MAIL FROM", script: &fakeScript{mail: "451 4.3.0 Try again later"}, temporary: true, reason: []string{"MAIL FROM: 451 4.3.0 Try again later"}, errType: "SendError"},
		{name: "530 on MAIL FROM", script: &fakeScript{mail: "530 5.7.0 Authentication required"}, temporary: true, reason: []string{"MAIL FROM: 530 5.7.0 Authentication required"}, errType: "SendError"},
		{name: "450 on RCPT", script: &fakeScript{rcpt: "450 4.2.1 Mailbox busy, try later"}, temporary: true, reason: []string{"RCPT TO: 450 4.2.1 Mailbox busy, try later"}, errType: "SendError"},
		{name: "550 on RCPT", script: &fakeScript{rcpt: "550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown"}, temporary: false, reason: []string{"RCPT TO: 550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown"}, errType: "SendError"},
		{name: "554 on DATA", script: &fakeScript{data: "554 5.5.1 Error: no valid recipients"}, temporary: false, reason: []string{"DATA: 554 5.5.1 Error: no valid recipients"}, errType: "SendError"},
		{name: "554 after DATA", script: &fakeScript{dataEnd: "554 5.7.1 Message rejected as spam"}, temporary: false, reason: []string{"end of DATA: 554 5.7.1 Message rejected as spam"}, errType: "SendError"},
		{name: "452 after DATA", script: &fakeScript{dataEnd: "452 4.3.1 Insufficient system storage"}, temporary: true, reason: []string{"end of DATA: 452 4.3.1 Insufficient system storage"}, errType: "SendError"},
		{name: "535 on AUTH", script: &fakeScript{extensions: []string{"AUTH PLAIN LOGIN"}, auth: "535 5.7.8 Error: authentication failed"}, auth: true, temporary: true, reason: []string{"AUTH: 535 5.7.8 Error: authentication failed"}, errType: "textproto"},
		{name: "454 on AUTH", script: &fakeScript{extensions: []string{"AUTH PLAIN"}, auth: "454 4.7.0 Temporary authentication failure"}, auth: true, temporary: true, reason: []string{"AUTH: 454 4.7.0"}, errType: "textproto"},
		{name: "421 on RCPT then close", script: &fakeScript{rcpt: "421 4.7.0 Too many errors, closing"}, temporary: true, reason: []string{"RCPT TO: 421 4.7.0 Too many errors"}, errType: "SendError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg SMTPConfig
			if tt.script != nil {
				cfg = startFakeSMTP(t, *tt.script).config(t)
			} else {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().(*net.TCPAddr)
				_ = l.Close()
				cfg = SMTPConfig{Host: "127.0.0.1", Port: addr.Port, TLS: TLSNone, ConnectTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second}
			}
			if tt.timeout > 0 {
				cfg.CommandTimeout = tt.timeout
			}
			if tt.auth {
				cfg.Username, cfg.Password = "mailer", password
			}
			s, err := NewSender(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			sendErr := s.Send(ctx, testMsg(t, 1))
			if sendErr == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if tt.timeout > 0 && time.Since(start) > 10*tt.timeout {
				t.Errorf("Send took %s with a %s timeout", time.Since(start), tt.timeout)
			}

			var (
				se *gomail.SendError
				tp *textproto.Error
				ne net.Error
			)
			got := "other"
			switch {
			case errors.As(sendErr, &se):
				got = "SendError"
			case errors.As(sendErr, &tp):
				got = "textproto"
			case errors.As(sendErr, &ne):
				got = "net"
			}
			if got != tt.errType {
				t.Errorf("go-mail returned %s (%T: %v), want %s", got, sendErr, sendErr, tt.errType)
			}

			temporary, reason := Classify(sendErr)
			t.Logf("go-mail: %T %v\nClassify: temporary=%v reason=%q", sendErr, sendErr, temporary, reason)
			if temporary != tt.temporary {
				t.Errorf("Classify(%v) temporary = %v, want %v (reason %q)", sendErr, temporary, tt.temporary, reason)
			}
			for _, want := range tt.reason {
				if !strings.Contains(reason, want) {
					t.Errorf("reason %q lacks %q (error: %v)", reason, want, sendErr)
				}
			}
			if strings.Contains(reason, password) || strings.Contains(sendErr.Error(), password) {
				t.Errorf("the password shows in %q / %v", reason, sendErr)
			}
			if strings.Contains(reason, "\n") || len(reason) > maxReason {
				t.Errorf("reason %q is not one short line", reason)
			}
			if strings.Contains(reason, "affected message ID") {
				t.Errorf("reason %q carries go-mail's message ID suffix", reason)
			}
		})
	}
}

func TestClassifyPlainErrors(t *testing.T) {
	tests := []struct {
		err       error
		temporary bool
		reason    string
	}{
		{nil, false, ""},
		{context.Canceled, true, "cancelled"},
		{fmt.Errorf("send: %w", context.DeadlineExceeded), true, "timed out"},
		{io.EOF, true, "connection closed by the SMTP server"},
		{fmt.Errorf("connect: %w", &textproto.Error{Code: 421, Msg: "4.3.2 shutting down"}), true, "connect: 421 4.3.2 shutting down"},
		{fmt.Errorf("SMTP AUTH failed: %w", &textproto.Error{Code: 535, Msg: "5.7.8 bad credentials"}), true, "AUTH: 535 5.7.8 bad credentials"},
		{errors.New("STARTTLS mode set to: \"TLSMandatory\", but target host does not support STARTTLS"), true, "does not support STARTTLS"},
		{errors.New(strings.Repeat("long ", 200)), true, "long long"},
	}
	for _, tt := range tests {
		temporary, reason := Classify(tt.err)
		if temporary != tt.temporary || !strings.Contains(reason, tt.reason) {
			t.Errorf("Classify(%v) = %v, %q; want %v, containing %q", tt.err, temporary, reason, tt.temporary, tt.reason)
		}
		if len(reason) > maxReason {
			t.Errorf("Classify(%v) reason is %d bytes long", tt.err, len(reason))
		}
	}
}
