package mail

import (
	"bytes"
	"context"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/member"
)

func testSignInMessage() member.OutboxMessage {
	m := testOutboxMessage()
	m.Kind = member.OutboxSignIn
	m.MessageID = "signin.11.abcd@memberbind"
	m.ExpiresAt = time.Date(2026, 11, 27, 14, 18, 59, 0, time.UTC)
	return m
}

const testSignInLink = "https://bind.example.com/signin/confirm?token=tok%2Ben%2Fwith%3Dchars_-"

// TestRenderSignIn: a sign-in row gets the sign-in mail, with the sign-in
// link and its own expiry, in the organization's language.
func TestRenderSignIn(t *testing.T) {
	for _, c := range []struct {
		lang, subject string
		want          []string
	}{
		{"en", "Acme Cloud: sign in to member account ada-dev",
			[]string{"Acme Cloud", "ada-dev", "ada@example.com", "works once", "2026-11-27 14:18 UTC", "If it was not you, ignore this mail"}},
		{"zh-CN", "Acme Cloud：登录成员账号 ada-dev",
			[]string{"Acme Cloud", "ada-dev", "ada@example.com", "只能使用一次", "2026-11-27 14:18 UTC", "请忽略此邮件"}},
	} {
		m := testSignInMessage()
		m.OrgLang = c.lang
		r := testRenderOptions()
		r.ExpiresAt = m.ExpiresAt
		p := renderAndParse(t, m, r)
		if p.subject != c.subject {
			t.Errorf("%s subject = %q, want %q", c.lang, p.subject, c.subject)
		}
		if got := p.header.Get("Message-Id"); got != "<signin.11.abcd@memberbind>" {
			t.Errorf("%s Message-Id = %q", c.lang, got)
		}
		for part, body := range map[string]string{"text": p.text, "html": p.html} {
			for _, want := range append(c.want, testSignInLink) {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s part lacks %q:\n%s", c.lang, part, want, body)
				}
			}
			if strings.Contains(body, "/activate") {
				t.Errorf("%s %s part holds an activation link:\n%s", c.lang, part, body)
			}
		}
	}
	// An activation row is unchanged by the kind: "" and "activation" alike.
	for _, kind := range []member.OutboxKind{"", member.OutboxActivation} {
		m := testOutboxMessage()
		m.Kind = kind
		if p := renderAndParse(t, m, testRenderOptions()); !strings.Contains(p.text, testLink) {
			t.Errorf("kind %q: no activation link:\n%s", kind, p.text)
		}
	}
	if got, err := SignInURL("https://bind.example.com/", "a+b"); err != nil || got != "https://bind.example.com/signin/confirm?token=a%2Bb" {
		t.Errorf("SignInURL = %q, %v", got, err)
	}
}

// recordTransport keeps every mail it is given.
type recordTransport struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recordTransport) Send(_ context.Context, msg *gomail.Msg) error {
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, buf.String())
	return nil
}

func (r *recordTransport) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// TestWorkerSignInMail: the worker prints a sign-in link's own expiry
// (not now + the activation TTL), and does not send a sign-in mail that
// would arrive after its link expired.
func TestWorkerSignInMail(t *testing.T) {
	clock := newTestClock()
	outbox := newMemOutbox(clock.Now)
	live := outbox.add(func(m *member.OutboxMessage) {
		m.Kind, m.ExpiresAt = member.OutboxSignIn, clock.Now().Add(15*time.Minute)
	})
	dead := outbox.add(func(m *member.OutboxMessage) {
		m.Kind, m.ExpiresAt = member.OutboxSignIn, clock.Now()
	})
	tr := &recordTransport{}
	w, logs := newTestWorker(t, WorkerOptions{Outbox: outbox, Sender: tr, Now: clock.Now})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "both rows decided", func() bool {
		return outbox.row(live).status == member.DeliverySent && outbox.row(dead).status == member.DeliveryFailed
	})
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	sent := tr.sent()
	if len(sent) != 1 {
		t.Fatalf("%d mails sent, want 1", len(sent))
	}
	p := parseMail(t, []byte(sent[0]))
	if !strings.Contains(p.text, "2026-11-27 14:15 UTC") || !strings.Contains(p.text, "/signin/confirm?token=") {
		t.Errorf("sign-in mail does not print its link's expiry or link:\n%s", p.text)
	}
	if r := outbox.row(dead); !strings.Contains(r.lastError, "expired") {
		t.Errorf("lastError = %q, want it to say the link expired", r.lastError)
	}
	if strings.Contains(logs.String(), "signin/confirm?token") {
		t.Errorf("the log holds a sign-in link:\n%s", logs.String())
	}
	logs.checkNoSecrets(t, outbox)
}

// TestWorkerSignInRetryNotPastExpiry: a temporary failure is retried
// only while the retry would still come before the link expires.
func TestWorkerSignInRetryNotPastExpiry(t *testing.T) {
	clock := newTestClock()
	outbox := newMemOutbox(clock.Now)
	soon := outbox.add(func(m *member.OutboxMessage) {
		m.Kind, m.ExpiresAt = member.OutboxSignIn, clock.Now().Add(2*time.Second) // before the first retry (5s ±20%)
	})
	later := outbox.add(func(m *member.OutboxMessage) {
		m.Kind, m.ExpiresAt = member.OutboxSignIn, clock.Now().Add(15*time.Minute)
	})
	w, _ := newTestWorker(t, WorkerOptions{
		Outbox: outbox,
		Sender: failTransport{err: fmt.Errorf("connect: %w", &textproto.Error{Code: 451, Msg: "4.7.1 Try again later"})},
		Now:    clock.Now,
	})
	stop := startWorker(t, w)
	waitFor(t, 10*time.Second, "both rows decided", func() bool {
		return outbox.row(soon).status == member.DeliveryFailed && outbox.row(later).status == member.DeliveryRetrying
	})
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if r := outbox.row(soon); !strings.Contains(r.lastError, "expires before the next attempt") || !strings.Contains(r.lastError, "451") {
		t.Errorf("lastError = %q", r.lastError)
	}
}
