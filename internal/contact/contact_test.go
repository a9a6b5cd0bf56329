package contact_test

import (
	"slices"
	"strings"
	"testing"

	"memberbind/internal/contact"
	"memberbind/internal/member"
)

// maxMessage bounds an error message: the longest fixed text plus an
// excerpt of input.
const maxMessage = 300

// wantError fails t unless err is a *member.Error with the given code and
// field, and a message that is bounded and free of control characters.
func wantError(t *testing.T, err error, code member.Code, field string) {
	t.Helper()
	e, ok := member.AsError(err)
	if !ok {
		t.Fatalf("error = %v (%T), want a *member.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Errorf("code = %s, want %s (message %q)", e.Code, code, e.Message)
	}
	if !slices.Equal(e.Field, []string{field}) {
		t.Errorf("field = %q, want [%q] (message %q)", e.Field, field, e.Message)
	}
	if e.Message == "" || len(e.Message) > maxMessage {
		t.Errorf("message has %d bytes, want 1 to %d: %q", len(e.Message), maxMessage, e.Message)
	}
	if strings.IndexFunc(e.Message, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		t.Errorf("message contains control characters: %q", e.Message)
	}
	if !strings.HasPrefix(e.Message, field+" ") {
		t.Errorf("message %q does not start with the field name %q", e.Message, field)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name               string
		email, code, phone string
		want               member.SecurityInfo
		wantCode           member.Code
		wantField          string
	}{
		{
			name:  "valid",
			email: " Bob@Example.COM ", code: "+86", phone: "138 0013 8000",
			want: member.SecurityInfo{Email: "Bob@example.com", CountryCode: "86", Phone: "+8613800138000"},
		},
		{
			name:  "idn domain and uk mobile",
			email: "bob@Bücher.Example", code: "44", phone: "07400 123456",
			want: member.SecurityInfo{Email: "bob@xn--bcher-kva.example", CountryCode: "44", Phone: "+447400123456"},
		},
		{name: "bad email", email: "bob", code: "86", phone: "13800138000", wantCode: member.CodeInvalidEmail, wantField: "email"},
		{name: "bad country code", email: "bob@example.com", code: "999", phone: "13800138000", wantCode: member.CodeInvalidPhone, wantField: "countryCode"},
		{name: "bad phone", email: "bob@example.com", code: "86", phone: "12345", wantCode: member.CodeInvalidPhone, wantField: "phone"},
		{name: "all empty reports the email first", wantCode: member.CodeInvalidEmail, wantField: "email"},
		{name: "empty code reported before phone", email: "bob@example.com", wantCode: member.CodeInvalidPhone, wantField: "countryCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contact.Parse(tt.email, tt.code, tt.phone)
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, tt.wantField)
				if got != (member.SecurityInfo{}) {
					t.Errorf("got %+v with an error, want the zero value", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %q, %q): %v", tt.email, tt.code, tt.phone, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q, %q, %q) = %+v, want %+v", tt.email, tt.code, tt.phone, got, tt.want)
			}
		})
	}
}

// TestParseEveryField: every field at fault gets its error, the email's
// first, so that a form can mark them all at once.
func TestParseEveryField(t *testing.T) {
	for _, c := range []struct {
		name               string
		email, code, phone string
		want               []string // code/field of each error
	}{
		{"bad email and phone", "bob", "86", "12345", []string{"INVALID_EMAIL/email", "INVALID_PHONE/phone"}},
		{"bad email and country code", "bob@", "999", "13800138000", []string{"INVALID_EMAIL/email", "INVALID_PHONE/countryCode"}},
		{"all empty", "", "", "", []string{"INVALID_EMAIL/email", "INVALID_PHONE/countryCode"}},
		{"bad phone only", "bob@example.com", "86", "12345", []string{"INVALID_PHONE/phone"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := contact.Parse(c.email, c.code, c.phone)
			if got != (member.SecurityInfo{}) {
				t.Errorf("got %+v with errors, want the zero value", got)
			}
			var have []string
			for _, e := range member.AllErrors(err) {
				have = append(have, string(e.Code)+"/"+strings.Join(e.Field, "."))
				wantError(t, e, e.Code, e.Field[0])
			}
			if !slices.Equal(have, c.want) {
				t.Errorf("errors %q, want %q", have, c.want)
			}
		})
	}
}
