//go:build !noembed

package devstack

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// crlf turns the \n line ends of a test message into the CRLF of the wire.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n"))
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		subject     string
		from        string
		text        string
		html        string
		links       []string
		attachments []Attachment
	}{
		{
			name: "alternative, quoted-printable, Q-encoded subject",
			raw: `
From: =?UTF-8?Q?Acme_=C3=A9quipe?= <noreply@acme.test>
To: member@example.com
Subject: =?UTF-8?Q?Activez_votre_compte_=E2=80=94_=E6=B5=8B=E8=AF=95?=
Date: Tue, 03 Mar 2026 10:00:00 +0100
Message-ID: <abc@acme.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9: open https://app.test/activate?token=3Dabc_123. It expires soo=
n (see https://app.test/help).
--b1
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<p>Caf=C3=A9 <a href=3D"https://app.test/activate?token=3Dabc_123&amp;x=3D1">open</a></p>
--b1--
`,
			subject: "Activez votre compte — 测试",
			from:    "Acme équipe <noreply@acme.test>",
			text:    "Café: open https://app.test/activate?token=abc_123. It expires soon (see https://app.test/help).",
			html:    `<p>Café <a href="https://app.test/activate?token=abc_123&amp;x=1">open</a></p>`,
			links: []string{
				"https://app.test/activate?token=abc_123",
				"https://app.test/help",
				"https://app.test/activate?token=abc_123&x=1",
			},
		},
		{
			name: "mixed with base64 alternative and an attachment, B-encoded subject",
			raw: `
From: a@b.test
To: c@d.test
Subject: =?utf-8?B?5rWL6K+V?=
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

aGVsbG8gaHR0cDovL2xvY2FsaG9zdDo4MDgw
L3ghCg==
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PGI+aGk8L2I+
--inner--
--outer
Content-Type: application/pdf; name="r.pdf"
Content-Disposition: attachment; filename="r.pdf"
Content-Transfer-Encoding: base64

JVBERg==
--outer--
`,
			subject:     "测试",
			from:        "a@b.test",
			text:        "hello http://localhost:8080/x!\n",
			html:        "<b>hi</b>",
			links:       []string{"http://localhost:8080/x"},
			attachments: []Attachment{{Filename: "r.pdf", ContentType: "application/pdf", Size: 4}},
		},
		{
			name: "single part without MIME headers",
			raw: `
From: x@y.test
Subject: plain

line one (https://example.test/a_(b)).
`,
			subject: "plain",
			from:    "x@y.test",
			text:    "line one (https://example.test/a_(b)).\r\n",
			links:   []string{"https://example.test/a_(b)"},
		},
		{
			name: "latin-1 text",
			raw: `
Subject: =?iso-8859-1?q?caf=E9?=
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9
`,
			subject: "café",
			text:    "café\r\n",
		},
		{
			name: "charsets the standard library lacks",
			raw: `
Subject: =?windows-1252?Q?=80_5?= =?Shift_JIS?B?g2WDWINn?=
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=ISO-8859-15
Content-Transfer-Encoding: quoted-printable

=A4 5, see https://app.test/=E9t=E9
--b
Content-Type: text/html; charset=latin1
Content-Transfer-Encoding: quoted-printable

<a href=3D"https://app.test/=E9">=E9</a>
--b--
`,
			subject: "€ 5テスト",
			text:    "€ 5, see https://app.test/été",
			html:    `<a href="https://app.test/é">é</a>`,
			links:   []string{"https://app.test/été", "https://app.test/é"},
		},
		{
			name: "attachment names in encoded words and RFC 2231",
			raw: `
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

hi
--b
Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="
Content-Transfer-Encoding: base64

JVBERg==
--b
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename*=UTF-8''%E6%B5%8B.txt

x
--b--
`,
			text: "hi",
			attachments: []Attachment{
				{Filename: "résumé.pdf", ContentType: "application/pdf", Size: 4},
				{Filename: "测.txt", ContentType: "text/plain", Size: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseMessage(crlf(tt.raw))
			if m.ParseError != "" {
				t.Fatalf("ParseError = %q", m.ParseError)
			}
			if m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
			}
			if m.From != tt.from {
				t.Errorf("From = %q, want %q", m.From, tt.from)
			}
			if m.Text != tt.text {
				t.Errorf("Text = %q, want %q", m.Text, tt.text)
			}
			if m.HTML != tt.html {
				t.Errorf("HTML = %q, want %q", m.HTML, tt.html)
			}
			if !slices.Equal(m.Links, tt.links) {
				t.Errorf("Links = %q, want %q", m.Links, tt.links)
			}
			if !slices.Equal(m.Attachments, tt.attachments) {
				t.Errorf("Attachments = %+v, want %+v", m.Attachments, tt.attachments)
			}
		})
	}
}

func TestParseMessageHeaders(t *testing.T) {
	m := parseMessage(crlf(`
From: =?UTF-8?B?5byg5LiJ?= <zs@example.test>
To: a@example.test, =?UTF-8?Q?B=C3=B6b?= <b@example.test>
Subject: hi
Date: Tue, 03 Mar 2026 10:00:00 +0100
Message-ID: <1@x>
Auto-Submitted: auto-generated

body
`))
	if want := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if m.From != "张三 <zs@example.test>" {
		t.Errorf("From = %q", m.From)
	}
	if got := m.Header["To"]; len(got) != 1 || got[0] != "a@example.test, Böb <b@example.test>" {
		t.Errorf(`Header["To"] = %q`, got)
	}
	if m.MessageID != "<1@x>" || m.Header["Auto-Submitted"][0] != "auto-generated" {
		t.Errorf("MessageID = %q, header = %v", m.MessageID, m.Header)
	}
}

func TestParseMessageBroken(t *testing.T) {
	tests := map[string]string{
		"no header end":       "garbage without a blank line",
		"missing boundary":    "Content-Type: multipart/alternative\r\n\r\nx",
		"truncated multipart": "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhalf",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			m := parseMessage([]byte(raw))
			if m.ParseError == "" {
				t.Errorf("ParseError is empty")
			}
			if m.Raw != raw {
				t.Errorf("Raw not kept")
			}
		})
	}
}

// nested returns a mail whose text part lies inside levels multiparts.
func nested(levels int) []byte {
	var b strings.Builder
	b.WriteString("Subject: deep\r\n")
	for i := range levels {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ndeep text")
	for i := levels - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "\r\n--b%d--", i)
	}
	return []byte(b.String())
}

func TestParseMessageDepth(t *testing.T) {
	m := parseMessage(nested(maxMIMEDepth))
	if m.ParseError != "" || m.Text != "deep text" {
		t.Errorf("%d levels: ParseError = %q, Text = %q", maxMIMEDepth, m.ParseError, m.Text)
	}
	m = parseMessage(nested(maxMIMEDepth + 1))
	if !strings.Contains(m.ParseError, "nested too deeply") || m.Text != "" {
		t.Errorf("%d levels: ParseError = %q, Text = %q", maxMIMEDepth+1, m.ParseError, m.Text)
	}
	if m.Subject != "deep" {
		t.Errorf("Subject = %q: the header is lost with the body", m.Subject)
	}
}

// TestParseMessageUndecoded checks that a body in an unknown charset or
// transfer encoding is shown as written, and ParseError says why.
func TestParseMessageUndecoded(t *testing.T) {
	m := parseMessage(crlf(`
Subject: =?x-unknown?Q?caf=E9?=
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=x-unknown

caf` + "\xe9" + ` https://app.test/a
--b
Content-Type: text/html
Content-Transfer-Encoding: x-uuencode

<p>as written</p>
--b--
`))
	if m.Text != "caf\uFFFD https://app.test/a" || m.HTML != "<p>as written</p>" {
		t.Errorf("Text = %q, HTML = %q", m.Text, m.HTML)
	}
	if m.Subject != "=?x-unknown?Q?caf=E9?=" {
		t.Errorf("Subject = %q, want it as written", m.Subject)
	}
	if !strings.Contains(m.ParseError, "x-unknown") || !strings.Contains(m.ParseError, "x-uuencode") {
		t.Errorf("ParseError = %q, want both the charset and the encoding named", m.ParseError)
	}
	if !slices.Equal(m.Links, []string{"https://app.test/a"}) {
		t.Errorf("Links = %q", m.Links)
	}
}

// FuzzParseMessage checks that no input makes parseMessage panic or lose
// the raw message.
func FuzzParseMessage(f *testing.F) {
	f.Add(nested(maxMIMEDepth + 1))
	f.Add(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: base64\n\nZ\n--b--\n"))
	f.Add([]byte("Subject: =?utf-8?B?****?=\r\nFrom: <\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if m := parseMessage(raw); m.Raw != string(raw) {
			t.Errorf("Raw not kept")
		}
	})
}
