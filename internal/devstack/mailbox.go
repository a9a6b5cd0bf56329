package devstack

import (
	"context"
	"net/http"
	"strconv"
	"sync"
)

// Limits on the mail a MailServer keeps in memory.
const (
	// MaxMessageBytes is the largest message the SMTP server accepts; a
	// larger one is refused with 552.
	MaxMessageBytes = 10 << 20
	// maxMessages is how many messages are kept; older ones are forgotten.
	maxMessages = 1000
	// maxStoredBytes bounds the memory the kept messages take (raw plus
	// decoded bodies); older ones are forgotten to stay under it.
	maxStoredBytes = 200 << 20
)

// MailServer is an SMTP server on a loopback port of this process that
// accepts any mail, keeps the newest of it in memory (1000 messages, at most
// [MaxMessageBytes] each) and shows it through [MailServer.Handler].
type MailServer struct {
	url   string
	box   *mailbox
	close func() error
}

// URL returns the address to send mail to in the form of
// MEMBERBIND_SMTP_URL: smtp://127.0.0.1:PORT?tls=none. The server needs no
// authentication; it accepts AUTH PLAIN with any credentials all the same.
func (s *MailServer) URL() string { return s.url }

// Messages returns the messages received and still kept, newest first.
func (s *MailServer) Messages() []Message { return s.box.list() }

// Wait returns the newest kept message for which match returns true,
// waiting for one to arrive if there is none yet, until ctx is done. A nil
// match matches any message. match is called with the server's mailbox
// locked: it must not call back into the MailServer.
func (s *MailServer) Wait(ctx context.Context, match func(Message) bool) (Message, error) {
	return s.box.wait(ctx, match)
}

// Handler returns the web pages that show the received mail; see
// [MailPath] for where it expects to be mounted.
func (s *MailServer) Handler() http.Handler { return &mailPages{box: s.box, smtpURL: s.url} }

// Close stops the server and closes its connections. The messages stay
// readable through Messages and Handler. It is safe to call more than once.
func (s *MailServer) Close() error { return s.close() }

// mailbox holds the received messages, oldest first.
type mailbox struct {
	mu      sync.Mutex
	lastID  int
	msgs    []Message
	size    int
	changed chan struct{} // closed and replaced when a message arrives
}

func newMailbox() *mailbox {
	return &mailbox{changed: make(chan struct{})}
}

// messageSize is what m counts against maxStoredBytes.
func messageSize(m *Message) int { return len(m.Raw) + len(m.Text) + len(m.HTML) }

// add stores m under the next ID, forgetting the oldest messages beyond the
// limits, and returns it as stored.
func (b *mailbox) add(m Message) Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastID++
	m.ID = strconv.Itoa(b.lastID)
	b.msgs = append(b.msgs, m)
	b.size += messageSize(&m)
	drop := 0
	for len(b.msgs)-drop > 1 && (len(b.msgs)-drop > maxMessages || b.size > maxStoredBytes) {
		b.size -= messageSize(&b.msgs[drop])
		drop++
	}
	if drop > 0 {
		// Copy rather than reslice so the forgotten messages can be freed.
		b.msgs = append([]Message(nil), b.msgs[drop:]...)
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return m
}

// list returns the messages newest first.
func (b *mailbox) list() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Message, len(b.msgs))
	for i, m := range b.msgs {
		out[len(b.msgs)-1-i] = m
	}
	return out
}

// get returns the message with the given ID.
func (b *mailbox) get(id string) (Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.msgs) - 1; i >= 0; i-- {
		if b.msgs[i].ID == id {
			return b.msgs[i], true
		}
	}
	return Message{}, false
}

func (b *mailbox) wait(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		b.mu.Lock()
		for i := len(b.msgs) - 1; i >= 0; i-- {
			if match == nil || match(b.msgs[i]) {
				m := b.msgs[i]
				b.mu.Unlock()
				return m, nil
			}
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}
