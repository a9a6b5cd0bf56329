package devstack

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one mail received by a [MailServer], decoded for reading. A
// Message and everything it holds are shared and must not be modified.
type Message struct {
	// ID identifies the message within its server ("1", "2", ...).
	ID string `json:"id"`
	// EnvelopeFrom is the SMTP MAIL FROM address (the return path).
	EnvelopeFrom string `json:"envelopeFrom"`
	// To holds the SMTP RCPT TO addresses: who the mail was delivered to,
	// Bcc included.
	To []string `json:"to"`
	// From is the From header, decoded ("Name <addr>" or "addr").
	From string `json:"from"`
	// Subject is the Subject header with RFC 2047 encoded words decoded.
	Subject string `json:"subject"`
	// Date is the Date header; zero if it is missing or malformed.
	Date time.Time `json:"date"`
	// MessageID is the Message-ID header.
	MessageID string `json:"messageId"`
	// Header holds every header, RFC 2047 encoded words decoded, keys in
	// canonical form.
	Header map[string][]string `json:"header"`
	// Text is the first text/plain part (or the whole body of a text/plain
	// mail), transfer encoding removed, as UTF-8.
	Text string `json:"text"`
	// HTML is the first text/html part, transfer encoding removed, as UTF-8.
	HTML string `json:"html"`
	// Links holds the http and https URLs of the text part, then those the
	// HTML part links to (href) that the text part lacks, in order of
	// appearance.
	Links []string `json:"links"`
	// Attachments describes the parts that are neither the text nor the
	// HTML body.
	Attachments []Attachment `json:"attachments"`
	// ParseError says why the mail could not be fully decoded; empty if it
	// could. What could be decoded is kept, and Raw always is.
	ParseError string `json:"parseError,omitempty"`
	// Raw is the message as received, headers and body.
	Raw string `json:"raw,omitempty"`
	// ReceivedAt is when the server accepted the message.
	ReceivedAt time.Time `json:"receivedAt"`
}

// Attachment describes a MIME part that is not one of the bodies.
type Attachment struct {
	// Filename is the part's file name, if it gave one.
	Filename string `json:"filename"`
	// ContentType is the part's media type, such as image/png.
	ContentType string `json:"contentType"`
	// Size is the decoded size in bytes.
	Size int `json:"size"`
}

// maxMIMEDepth bounds the nesting of multipart bodies that is followed.
const maxMIMEDepth = 8

// parseMessage decodes raw into a Message. It never fails: what cannot be
// decoded is described in ParseError.
func parseMessage(raw []byte) Message {
	m := Message{Raw: string(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseError = fmt.Sprintf("read message: %v", err)
		return m
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	decode := func(v string) string {
		if d, err := dec.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	m.Header = make(map[string][]string, len(msg.Header))
	for k, vs := range msg.Header {
		for _, v := range vs {
			m.Header[k] = append(m.Header[k], decode(v))
		}
	}
	m.Subject = decode(msg.Header.Get("Subject"))
	m.MessageID = msg.Header.Get("Message-Id")
	if addrs, err := msg.Header.AddressList("From"); err == nil && len(addrs) > 0 {
		m.From = formatAddress(addrs[0])
	} else {
		m.From = decode(msg.Header.Get("From"))
	}
	if d, err := msg.Header.Date(); err == nil {
		m.Date = d
	}

	p := &bodyParser{m: &m}
	if err := p.part(msg.Header, msg.Body, 0); err != nil {
		m.ParseError = err.Error()
	}
	m.Links = extractLinks(m.Text, m.HTML)
	return m
}

// formatAddress writes a as "Name <addr>" without the RFC 2047 encoding
// that mail.Address.String applies to non-ASCII names.
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// header is what the body parser reads of a mail.Header or of a MIME
// part's textproto.MIMEHeader.
type header interface{ Get(string) string }

type bodyParser struct{ m *Message }

// part decodes one MIME entity with header h and (still transfer-encoded)
// body r, recursing into multiparts.
func (p *bodyParser) part(h header, r io.Reader, depth int) error {
	ct := h.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		// RFC 2045 §5.2: missing or unreadable means text/plain ASCII.
		mediaType, params = "text/plain", map[string]string{"charset": "us-ascii"}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxMIMEDepth {
			return errors.New("multipart nested too deeply")
		}
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%s without boundary", mediaType)
		}
		mr := multipart.NewReader(r, boundary)
		for {
			// NextRawPart leaves the transfer encoding alone, so that
			// quoted-printable and base64 are undone in one place below.
			sub, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediaType, err)
			}
			if err := p.part(sub.Header, sub, depth+1); err != nil {
				return err
			}
		}
	}

	body, err := io.ReadAll(transferDecoder(h.Get("Content-Transfer-Encoding"), r))
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	attached := disposition == "attachment"
	switch {
	case mediaType == "text/plain" && !attached && p.m.Text == "":
		p.m.Text = toUTF8(body, params["charset"])
	case mediaType == "text/html" && !attached && p.m.HTML == "":
		p.m.HTML = toUTF8(body, params["charset"])
	default:
		name := dparams["filename"]
		if name == "" {
			name = params["name"]
		}
		if d, err := (&mime.WordDecoder{CharsetReader: charsetReader}).DecodeHeader(name); err == nil {
			name = d
		}
		p.m.Attachments = append(p.m.Attachments, Attachment{Filename: name, ContentType: mediaType, Size: len(body)})
	}
	return nil
}

// transferDecoder undoes a Content-Transfer-Encoding.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// The decoder skips the line breaks; other stray whitespace is not
		// allowed by RFC 2045 but is dropped too.
		return base64.NewDecoder(base64.StdEncoding, &spaceDropper{r: r})
	default: // 7bit, 8bit, binary
		return r
	}
}

// spaceDropper drops spaces and tabs from what it reads.
type spaceDropper struct{ r io.Reader }

func (s *spaceDropper) Read(b []byte) (int, error) {
	for {
		n, err := s.r.Read(b)
		j := 0
		for _, c := range b[:n] {
			if c != ' ' && c != '\t' {
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// toUTF8 converts a text body in charset to UTF-8. The standard library
// knows only UTF-8, US-ASCII and ISO-8859-1; other charsets are shown as
// if they were UTF-8, with invalid bytes replaced.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "l1":
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return sb.String()
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// charsetReader lets mime.WordDecoder read encoded words in ISO-8859-1
// spellings it does not know itself.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "latin1", "l1":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(toUTF8(b, "iso-8859-1")), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

var (
	// textURL matches an http(s) URL in plain text; trailing punctuation is
	// trimmed afterwards.
	textURL = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'\x60]+`)
	// hrefAttr matches a quoted or bare href attribute value.
	hrefAttr = regexp.MustCompile(`(?i)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))`)
)

// findTextLinks returns the http(s) URLs in s in order, each with its byte
// range.
func findTextLinks(s string) [][2]int {
	var out [][2]int
	for _, loc := range textURL.FindAllStringIndex(s, -1) {
		u := s[loc[0]:loc[1]]
		end := loc[0] + len(trimURLTail(u))
		if end > loc[0]+len("http://") {
			out = append(out, [2]int{loc[0], end})
		}
	}
	return out
}

// trimURLTail drops the sentence punctuation that follows a URL in prose,
// and a closing bracket that has no opening one inside the URL.
func trimURLTail(u string) string {
	for len(u) > 0 {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?*", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"),
			last == ']' && strings.Count(u, "[") < strings.Count(u, "]"),
			last == '}' && strings.Count(u, "{") < strings.Count(u, "}"):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}

// extractLinks lists the http(s) URLs of the text body, then the hrefs of
// the HTML body that are http(s) and not listed yet.
func extractLinks(text, htmlBody string) []string {
	seen := map[string]bool{}
	var links []string
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			links = append(links, u)
		}
	}
	for _, r := range findTextLinks(text) {
		add(text[r[0]:r[1]])
	}
	for _, m := range hrefAttr.FindAllStringSubmatch(htmlBody, -1) {
		u := strings.TrimSpace(html.UnescapeString(m[1] + m[2] + m[3]))
		if l := strings.ToLower(u); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			add(u)
		}
	}
	return links
}
