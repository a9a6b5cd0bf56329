package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
)

// parsedMail is a rendered mail read back the way a mail client reads it.
type parsedMail struct {
	header  netmail.Header
	subject string
	text    string
	html    string
	raw     string
}

func renderAndParse(t *testing.T, m member.OutboxMessage, r RenderOptions) parsedMail {
	t.Helper()
	msg, err := Render(m, r)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return parseMail(t, buf.Bytes())
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	mm, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	p := parsedMail{header: mm.Header, raw: string(raw)}
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(mm.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(mm.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", mm.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(mm.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		types = append(types, ct)
		var body io.Reader = part
		switch strings.ToLower(part.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(part)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read %s part: %v", ct, err)
		}
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Fatalf("parts = %v, want [text/plain text/html]", types)
	}
	return p
}

func testOutboxMessage() member.OutboxMessage {
	return member.OutboxMessage{
		ID:         123,
		OrgID:      7,
		MemberID:   42,
		BindingID:  9,
		LinkID:     11,
		Recipient:  "ada@example.com",
		Token:      "tok+en/with=chars_-",
		MessageID:  "outbox-123.abcd@memberbind",
		CreatedAt:  time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC),
		OrgName:    "Acme Cloud",
		OrgLang:    "en",
		MemberName: "ada-dev",
	}
}

func testRenderOptions() RenderOptions {
	now := time.Date(2026, 11, 27, 14, 3, 59, 0, time.UTC)
	return RenderOptions{
		PublicURL: "https://bind.example.com/",
		From:      "Memberbind <noreply@example.com>",
		ExpiresAt: now.Add(15 * 24 * time.Hour),
		Now:       now,
	}
}

const testLink = "https://bind.example.com/activate?token=tok%2Ben%2Fwith%3Dchars_-"

func TestRenderEnglish(t *testing.T) {
	p := renderAndParse(t, testOutboxMessage(), testRenderOptions())

	for name, want := range map[string]string{
		"Message-Id":                "<outbox-123.abcd@memberbind>",
		"From":                      `"Memberbind" <noreply@example.com>`,
		"To":                        "<ada@example.com>",
		"Auto-Submitted":            "auto-generated",
		"X-Auto-Response-Suppress":  "All",
		"Content-Language":          "en",
		"Date":                      "Fri, 27 Nov 2026 14:03:59 +0000",
		"Mime-Version":              "1.0",
		"User-Agent":                "",
		"X-Mailer":                  "",
		"Bcc":                       "",
		"Content-Transfer-Encoding": "",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if want := "Acme Cloud: confirm the login email of member account ada-dev"; p.subject != want {
		t.Errorf("subject = %q, want %q", p.subject, want)
	}
	for part, body := range map[string]string{"text": p.text, "html": p.html} {
		for _, want := range []string{
			"Acme Cloud",           // who asks
			"ada-dev",              // for which member account
			"ada@example.com",      // which address
			"2026-12-12 14:03 UTC", // when the link expires, absolute, seconds cut
			"did not expect this mail, ignore it",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", part, want, body)
			}
		}
	}
	if !strings.Contains(p.text, testLink) {
		t.Errorf("text part lacks the link %s:\n%s", testLink, p.text)
	}
	if !strings.Contains(p.html, `href="`+testLink+`"`) {
		t.Errorf("HTML part lacks a link to %s:\n%s", testLink, p.html)
	}
}

func TestRenderChinese(t *testing.T) {
	m := testOutboxMessage()
	m.OrgLang = "zh-CN"
	m.OrgName = "示例科技"
	m.MemberName = "研发-张三"
	p := renderAndParse(t, m, testRenderOptions())

	if want := "示例科技：请确认成员账号 研发-张三 的登录邮箱"; p.subject != want {
		t.Errorf("subject = %q, want %q", p.subject, want)
	}
	if got := p.header.Get("Content-Language"); got != "zh-CN" {
		t.Errorf("Content-Language = %q, want zh-CN", got)
	}
	for part, body := range map[string]string{"text": p.text, "html": p.html} {
		for _, want := range []string{"示例科技", "研发-张三", "ada@example.com", "2026-12-12 14:03 UTC", "请直接忽略", testLink} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", part, want, body)
			}
		}
	}
}

func TestRenderLanguageFallback(t *testing.T) {
	for _, lang := range []string{"", "en", "fr", "zh-TW", "EN-us"} {
		m := testOutboxMessage()
		m.OrgLang = lang
		p := renderAndParse(t, m, testRenderOptions())
		if p.header.Get("Content-Language") != "en" || !strings.Contains(p.text, "did not expect this mail") {
			t.Errorf("OrgLang %q: not rendered in English:\n%s", lang, p.text)
		}
	}
	for _, lang := range []string{"zh-CN", "zh-cn", "zh_CN", "zh"} {
		if got := Lang(lang); got != LangChinese {
			t.Errorf("Lang(%q) = %q, want %q", lang, got, LangChinese)
		}
	}
}

func TestRenderEscapesNames(t *testing.T) {
	m := testOutboxMessage()
	m.OrgName = "<script>alert('org')</script>\r\nBcc: victim@example.com"
	m.MemberName = "<script>alert(1)</script>\nX-Injected: yes"
	p := renderAndParse(t, m, testRenderOptions())

	if strings.Contains(p.html, "<script>") {
		t.Errorf("HTML part holds a raw <script>:\n%s", p.html)
	}
	if !strings.Contains(p.html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML part does not show the escaped member name:\n%s", p.html)
	}
	// The names stay one line: no header injected, no line added.
	for _, h := range []string{"Bcc", "X-Injected"} {
		if got := p.header.Get(h); got != "" {
			t.Errorf("header %s = %q was injected", h, got)
		}
	}
	if strings.Contains(p.subject, "\n") || strings.Contains(p.subject, "\r") {
		t.Errorf("subject %q holds a line break", p.subject)
	}
	wantSubject := "<script>alert('org')</script> Bcc: victim@example.com: confirm the login email of member account <script>alert(1)</script> X-Injected: yes"
	if p.subject != wantSubject {
		t.Errorf("subject = %q, want %q", p.subject, wantSubject)
	}
	if !strings.Contains(p.text, `"<script>alert(1)</script> X-Injected: yes"`) {
		t.Errorf("text part does not show the member name on one line:\n%s", p.text)
	}
	// Only the two recipients the message was written for.
	if got := p.header.Get("To"); got != "<ada@example.com>" {
		t.Errorf("To = %q", got)
	}
}

func TestRenderMessageID(t *testing.T) {
	for _, id := range []string{"outbox-123.abcd@memberbind", "<outbox-123.abcd@memberbind>", " <outbox-123.abcd@memberbind> "} {
		m := testOutboxMessage()
		m.MessageID = id
		p := renderAndParse(t, m, testRenderOptions())
		if got := p.header.Get("Message-Id"); got != "<outbox-123.abcd@memberbind>" {
			t.Errorf("MessageID %q: header = %q", id, got)
		}
	}
	for _, id := range []string{"", "no-at-sign", "a@b@c", "x@y\r\nBcc: z@z", "a b@c", "<>@x"} {
		m := testOutboxMessage()
		m.MessageID = id
		if _, err := Render(m, testRenderOptions()); err == nil {
			t.Errorf("MessageID %q: Render succeeded, want an error", id)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	tests := map[string]func(*member.OutboxMessage, *RenderOptions){
		"no token":           func(m *member.OutboxMessage, _ *RenderOptions) { m.Token = "" },
		"bad recipient":      func(m *member.OutboxMessage, _ *RenderOptions) { m.Recipient = "not an address" },
		"bad sender":         func(_ *member.OutboxMessage, r *RenderOptions) { r.From = "nobody" },
		"relative URL":       func(_ *member.OutboxMessage, r *RenderOptions) { r.PublicURL = "/bind" },
		"ftp URL":            func(_ *member.OutboxMessage, r *RenderOptions) { r.PublicURL = "ftp://example.com" },
		"URL with query":     func(_ *member.OutboxMessage, r *RenderOptions) { r.PublicURL = "https://example.com/?a=b" },
		"no expiry":          func(_ *member.OutboxMessage, r *RenderOptions) { r.ExpiresAt = time.Time{} },
		"bad message ID":     func(m *member.OutboxMessage, _ *RenderOptions) { m.MessageID = "nope" },
		"header in receiver": func(m *member.OutboxMessage, _ *RenderOptions) { m.Recipient = "a@example.com\r\nBcc: b@example.com" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			m, r := testOutboxMessage(), testRenderOptions()
			mutate(&m, &r)
			_, err := Render(m, r)
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			if m.Token != "" && strings.Contains(err.Error(), m.Token) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}

func TestActivationURL(t *testing.T) {
	for base, want := range map[string]string{
		"https://bind.example.com":       "https://bind.example.com/activate?token=a%2Bb",
		"https://bind.example.com/":      "https://bind.example.com/activate?token=a%2Bb",
		"http://localhost:8080":          "http://localhost:8080/activate?token=a%2Bb",
		"https://example.com/memberbind": "https://example.com/memberbind/activate?token=a%2Bb",
	} {
		got, err := ActivationURL(base, "a+b")
		if err != nil || got != want {
			t.Errorf("ActivationURL(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
}
