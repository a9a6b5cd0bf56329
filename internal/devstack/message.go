package devstack

import "time"

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
	// Size is the decoded size in bytes (of a text part, once converted
	// to UTF-8).
	Size int `json:"size"`
}
