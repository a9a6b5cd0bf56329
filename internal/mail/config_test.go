package mail

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	def := func(c SMTPConfig) SMTPConfig {
		if c.ConnectTimeout == 0 {
			c.ConnectTimeout = DefaultConnectTimeout
		}
		if c.CommandTimeout == 0 {
			c.CommandTimeout = DefaultCommandTimeout
		}
		return c
	}
	tests := []struct {
		raw     string
		want    SMTPConfig
		wantErr string // substring of the error; "" for success
	}{
		{raw: "smtp://mail.example.com?tls=none", want: def(SMTPConfig{Host: "mail.example.com", Port: 25, TLS: TLSNone})},
		{raw: "smtp://mail.example.com?tls=starttls", want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS})},
		{raw: "smtp://mail.example.com?tls=tls", want: def(SMTPConfig{Host: "mail.example.com", Port: 465, TLS: TLSImplicit})},
		{raw: "smtp://mail.example.com?tls=STARTTLS", want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS})},
		{raw: "smtp://mail.example.com", want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS})},
		{raw: "smtp://mail.example.com:465", want: def(SMTPConfig{Host: "mail.example.com", Port: 465, TLS: TLSImplicit})},
		{raw: "smtp://mail.example.com:2525?tls=none", want: def(SMTPConfig{Host: "mail.example.com", Port: 2525, TLS: TLSNone})},
		{raw: "smtps://mail.example.com", want: def(SMTPConfig{Host: "mail.example.com", Port: 465, TLS: TLSImplicit})},
		{raw: "SMTPS://mail.example.com:4650?tls=tls", want: def(SMTPConfig{Host: "mail.example.com", Port: 4650, TLS: TLSImplicit})},
		{raw: "  smtp://127.0.0.1:1025/?tls=none  ", want: def(SMTPConfig{Host: "127.0.0.1", Port: 1025, TLS: TLSNone})},
		{raw: "smtp://[::1]:1025?tls=none", want: def(SMTPConfig{Host: "::1", Port: 1025, TLS: TLSNone})},
		{
			raw:  "smtp://user:s3cret@mail.example.com:587?tls=starttls",
			want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, Username: "user", Password: "s3cret"}),
		},
		{
			raw:  "smtp://apikey%40example.com:p%2Fw%3Fd%23x@mail.example.com",
			want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, Username: "apikey@example.com", Password: "p/w?d#x"}),
		},
		{raw: "smtp://user@mail.example.com", want: def(SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSStartTLS, Username: "user"})},
		{
			raw:  "smtp://mail.example.com?tls=none&timeout=5s&connect_timeout=2&helo=app.example.com",
			want: SMTPConfig{Host: "mail.example.com", Port: 25, TLS: TLSNone, HELO: "app.example.com", ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second},
		},

		{raw: "", wantErr: "empty"},
		{raw: "http://mail.example.com", wantErr: `scheme "http" is not supported`},
		{raw: "mail.example.com:25", wantErr: "scheme"},
		{raw: "smtp:mail.example.com", wantErr: "two slashes"},
		{raw: "smtp://", wantErr: "no host"},
		{raw: "smtp://:25", wantErr: "no host"},
		{raw: "smtp://mail.example.com:0", wantErr: `port "0"`},
		{raw: "smtp://mail.example.com:70000", wantErr: `port "70000"`},
		{raw: "smtp://mail.example.com:abc", wantErr: `malformed: invalid port ":abc"`},
		{raw: "smtp://u:p@mail.example.com:abc", wantErr: "malformed; percent-encode"},
		{raw: "smtp://mail.example.com/path", wantErr: "path"},
		{raw: "smtp://mail.example.com?tls=ssl", wantErr: `tls="ssl"`},
		{raw: "smtp://mail.example.com?tls=none&tls=tls", wantErr: `"tls" is given 2 times`},
		{raw: "smtps://mail.example.com?tls=starttls", wantErr: "smtps:// means implicit TLS"},
		{raw: "smtp://mail.example.com?timeout=soon", wantErr: `timeout="soon"`},
		{raw: "smtp://mail.example.com?timeout=-1s", wantErr: "must be positive"},
		{raw: "smtp://mail.example.com?connect_timeout=0", wantErr: "connect_timeout"},
		{raw: "smtp://mail.example.com?port=25", wantErr: `parameter "port" is unknown`},
		{raw: "smtp://mail.example.com?helo=two+words", wantErr: "one word"},
		{raw: "smtp://:pw@mail.example.com", wantErr: "without a user name"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSMTPURL(%q) = %+v, want error containing %q", tt.raw, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSMTPURL(%q) error = %q, want it to contain %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.raw, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSMTPURL(%q)\n got %+v\nwant %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseSMTPURLErrorsHidePassword(t *testing.T) {
	for _, raw := range []string{
		"smtp://user:hunter2@mail.example.com:abc",
		"smtp://user:hunter2@mail.example.com?tls=bogus",
		"smtp://user:hunter2@mail.example.com/x",
		"smtp://user:hunter2@bad host",
		"smtp://user:hunter2@mail.example.com?%zz",
		// An unencoded '#' cuts the URL; the rest looks like a bad port.
		"smtp://user:hunter2#x@mail.example.com",
		"smtp://user:hunter2/x@mail.example.com",
	} {
		_, err := ParseSMTPURL(raw)
		if err == nil {
			t.Fatalf("ParseSMTPURL(%q) succeeded, want an error", raw)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseSMTPURL(%q) error %q shows the password", raw, err)
		}
	}
}

func TestSMTPConfigNeverShowsPassword(t *testing.T) {
	c, err := ParseSMTPURL("smtp://user:hunter2@mail.example.com?tls=starttls")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("smtp", "config", c)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), buf.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%q shows the password", s)
		}
		if !strings.Contains(s, "user") || !strings.Contains(s, "mail.example.com:587") {
			t.Errorf("%q lacks the user or address", s)
		}
	}
	// The redacted form parses back to the same server.
	back, err := ParseSMTPURL(c.String())
	if err != nil {
		t.Fatalf("parse %q: %v", c.String(), err)
	}
	if back.Addr() != c.Addr() || back.TLS != c.TLS || back.Username != c.Username {
		t.Errorf("round trip: got %+v, want %+v", back, c)
	}
}
