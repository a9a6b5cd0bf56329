//go:build !noembed

package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	// Registers every charset of golang.org/x/text with go-message, for
	// bodies and encoded words alike; the standard library knows only
	// UTF-8, US-ASCII and ISO-8859-1.
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
)

// This file is built only with the embedded mail server, the one caller of
// parseMessage, so that go-message stays out of a -tags noembed binary.

// maxMIMEDepth bounds the nesting of multipart bodies that is followed.
const maxMIMEDepth = 8

// parseMessage decodes raw into a Message with github.com/emersion/go-message.
// It never fails: what cannot be decoded is described in ParseError, and the
// rest is kept.
func parseMessage(raw []byte) Message {
	m := Message{Raw: string(raw)}
	var problems []string
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !undecoded(err) {
		m.ParseError = err.Error()
		return m
	}
	if err != nil {
		problems = append(problems, err.Error())
	}

	h := mail.Header{Header: e.Header}
	m.Header = make(map[string][]string, h.Len())
	for f := h.Fields(); f.Next(); {
		// Text decodes RFC 2047 encoded words; in an unknown charset it
		// returns the field as written.
		v, _ := f.Text()
		m.Header[f.Key()] = append(m.Header[f.Key()], v)
	}
	m.Subject, _ = h.Subject()
	m.MessageID = h.Get("Message-Id")
	if addrs, err := h.AddressList("From"); err == nil && len(addrs) > 0 {
		m.From = formatAddress(addrs[0])
	} else {
		m.From, _ = h.Text("From")
	}
	if d, err := h.Date(); err == nil {
		m.Date = d
	}

	err = e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil {
			// Walk passes on only an unknown transfer encoding or charset:
			// the part's body comes as it was written.
			problems = append(problems, err.Error())
		}
		return addPart(&m, part, len(path))
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	m.ParseError = strings.Join(problems, "; ")
	m.Links = extractLinks(m.Text, m.HTML)
	return m
}

// undecoded reports whether err, from go-message, says only that a body
// is left as written because its transfer encoding or charset is unknown.
func undecoded(err error) bool {
	return message.IsUnknownEncoding(err) || message.IsUnknownCharset(err)
}

// formatAddress writes a as "Name <addr>" without the RFC 2047 encoding
// that mail.Address.String applies to non-ASCII names.
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// addPart adds part, at the given multipart depth, to m: as its text or
// HTML body if it is the first of its kind and not an attachment, else as
// an attachment. A multipart part adds nothing; Walk goes on into it.
func addPart(m *Message, part *message.Entity, depth int) error {
	if part.MultipartReader() != nil {
		// Walk goes on into it, and fails on one without a boundary.
		if depth >= maxMIMEDepth {
			return errors.New("multipart nested too deeply")
		}
		return nil
	}
	mediaType, _, err := part.Header.ContentType()
	if err != nil {
		// RFC 2045 §5.2: an unreadable Content-Type means text/plain.
		mediaType = "text/plain"
	}

	body, err := io.ReadAll(part.Body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	disposition, _, _ := part.Header.ContentDisposition()
	attached := disposition == "attachment"
	switch {
	case mediaType == "text/plain" && !attached && m.Text == "":
		m.Text = strings.ToValidUTF8(string(body), "\uFFFD")
	case mediaType == "text/html" && !attached && m.HTML == "":
		m.HTML = strings.ToValidUTF8(string(body), "\uFFFD")
	default:
		name, _ := (&mail.AttachmentHeader{Header: part.Header}).Filename()
		m.Attachments = append(m.Attachments, Attachment{Filename: name, ContentType: mediaType, Size: len(body)})
	}
	return nil
}
