package devstack

import (
	"strings"
	"testing"
)

func TestTrimURLTail(t *testing.T) {
	tests := map[string]string{
		"https://a.test/x.":      "https://a.test/x",
		"https://a.test/x),":     "https://a.test/x",
		"https://a.test/(x)":     "https://a.test/(x)",
		"https://a.test/x?y=1&z": "https://a.test/x?y=1&z",
		"https://a.test/x]":      "https://a.test/x",
	}
	for in, want := range tests {
		if got := trimURLTail(in); got != want {
			t.Errorf("trimURLTail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMailboxLimits(t *testing.T) {
	b := newMailbox()
	for i := 0; i < maxMessages+5; i++ {
		b.add(Message{Subject: "m"})
	}
	msgs := b.list()
	if len(msgs) != maxMessages {
		t.Fatalf("kept %d messages, want %d", len(msgs), maxMessages)
	}
	if msgs[0].ID != "1005" || msgs[len(msgs)-1].ID != "6" {
		t.Errorf("kept %s..%s, want 1005..6", msgs[0].ID, msgs[len(msgs)-1].ID)
	}
	if _, ok := b.get("5"); ok {
		t.Errorf("message 5 still kept")
	}

	big := strings.Repeat("x", maxStoredBytes/3+1)
	for range 4 {
		b.add(Message{Raw: big})
	}
	if b.size > maxStoredBytes {
		t.Errorf("stored %d bytes, limit %d", b.size, maxStoredBytes)
	}
	if n := len(b.list()); n != 2 {
		t.Errorf("kept %d messages after big ones, want 2", n)
	}
}
