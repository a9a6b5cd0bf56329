package contact_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"memberbind/internal/contact"
	"memberbind/internal/member"
)

// goodEmails maps raw input to its normal form.
var goodEmails = []struct {
	name, in, want string
}{
	{"plain", "bob@example.com", "bob@example.com"},
	{"shortest", "a@b.co", "a@b.co"},
	{"local case kept, domain lower-cased", "Bob.Smith@Example.COM", "Bob.Smith@example.com"},
	{"surrounding space trimmed", " \t bob@example.com \r\n", "bob@example.com"},
	{"plus tag", "bob+news@example.com", "bob+news@example.com"},
	{"every atext character", "a!#$%&'*+/=?^_`{|}~-b@example.com", "a!#$%&'*+/=?^_`{|}~-b@example.com"},
	{"dots inside local part", "b.o.b@example.com", "b.o.b@example.com"},
	{"subdomains", "bob@mail.example.co.uk", "bob@mail.example.co.uk"},
	{"hyphen and digits in labels", "bob@my-host.123.example", "bob@my-host.123.example"},
	{"idn domain", "bob@Bücher.Example", "bob@xn--bcher-kva.example"},
	{"idn domain non-transitional sharp s", "bob@faß.de", "bob@xn--fa-hia.de"},
	{"chinese idn domain", "user@例子.中国", "user@xn--fsqu00a.xn--fiqs8s"},
	{"right-to-left idn domain", "a@\u05d0\u05d1.com", "a@xn--4dbc.com"},
	{"ideographic full stop", "user@例子。中国", "user@xn--fsqu00a.xn--fiqs8s"},
	{"punycode given upper-case", "bob@XN--BCHER-KVA.Example", "bob@xn--bcher-kva.example"},
	{"full-width domain mapped", "bob@ＥＸＡＭＰＬＥ.com", "bob@example.com"},
	{"64-char local part", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
	{"254 chars", email(254), email(254)},
}

// badEmails are refused with INVALID_EMAIL.
var badEmails = []struct {
	name, in string
}{
	{"empty", ""},
	{"only space", " \t "},
	{"no at", "bob.example.com"},
	{"no domain", "bob@"},
	{"no local part", "@example.com"},
	{"display name quoted", `"Bob" <bob@example.com>`},
	{"display name bare", "Bob <bob@example.com>"},
	{"angle brackets", "<bob@example.com>"},
	{"display name without brackets", "Bob Smith bob@example.com"},
	{"two addresses comma", "a@example.com, b@example.com"},
	{"two addresses semicolon", "a@example.com;b@example.com"},
	{"two addresses space", "a@example.com b@example.com"},
	{"two at signs", "a@b@example.com"},
	{"nul", "bob\x00@example.com"},
	{"newline inside", "bob@exam\nple.com"},
	{"delete char", "\x7fbob@example.com"},
	{"escape in domain", "bob@example.com\x1b[0m.x"},
	{"zero-width space", "bob\u200b@example.com"},
	{"soft hyphen in domain", "bob@exa\u00admple.com"},
	{"bidi override", "bob@\u202eexample.com"},
	{"space inside local", "bob smith@example.com"},
	{"space inside domain", "bob@exam ple.com"},
	{"no-break space inside", "bob\u00a0@example.com"},
	{"comment", "bob(work)@example.com"},
	{"quoted local part", `"bob"@example.com`},
	{"quoted local part with space", `"bob smith"@example.com`},
	{"quoted local part with at", `"bob@home"@example.com`},
	{"stray quote", `bo"b@example.com`},
	{"255 chars", email(255)},
	{"65-char local part", strings.Repeat("a", 65) + "@example.com"},
	{"huge input", strings.Repeat("a", 5000) + "@example.com"},
	{"huge idn input", "bob@" + strings.Repeat("ü", 2000) + ".com"},
	{"single-label domain", "a@localhost"},
	{"ipv4 as domain", "a@1.2.3.4"},
	{"ipv4 literal", "a@[1.2.3.4]"},
	{"ipv6 literal", "a@[IPv6:::1]"},
	{"numeric tld", "a@example.123"},
	{"double dot in local", "a..b@x.com"},
	{"leading dot in local", ".a@x.com"},
	{"trailing dot in local", "a.@x.com"},
	{"backslash in local", `a\b@x.com`},
	{"non-ascii local part", "josé@example.com"},
	{"chinese local part", "用户@例子.中国"},
	{"full-width at sign", "bob＠example.com"},
	{"double dot in domain", "a@x..com"},
	{"leading dot in domain", "a@.x.com"},
	{"trailing dot in domain", "a@x.com."},
	{"hyphen leads label", "a@-x.com"},
	{"hyphen ends label", "a@x-.com"},
	{"underscore in domain", "a@x_y.com"},
	{"bang in domain", "a@x!.com"},
	{"64-char label", "a@" + strings.Repeat("b", 64) + ".com"},
	{"invalid punycode", "a@xn--abc.com"},
	{"punycode of ascii", "a@xn--abc-.com"},
	{"hyphens in third and fourth place", "a@ab--cd.com"},
	{"disallowed idn character", "a@x\u2488.com"},
	{"idn label breaking the bidi rule", "a@a\u05d0.com"},
	{"idn label starting with combining mark", "a@\u0301x.com"},
	{"invalid utf-8", "a\xff@x.com"},
}

// email returns a valid address of exactly n characters (70 <= n <= 254):
// a 64-character local part and labels of at most 63.
func email(n int) string {
	domain := n - 65 - len(".com")
	var labels []string
	for domain > 0 {
		l := min(domain, 63)
		if domain-l == 1 { // leave room for a label after the dot
			l--
		}
		labels = append(labels, strings.Repeat("d", l))
		domain -= l + 1
	}
	return strings.Repeat("l", 64) + "@" + strings.Join(labels, ".") + ".com"
}

func TestEmailHelper(t *testing.T) {
	for _, n := range []int{70, 128, 254, 255} {
		if got := len(email(n)); got != n {
			t.Errorf("len(email(%d)) = %d", n, got)
		}
	}
}

func TestParseEmail(t *testing.T) {
	for _, tt := range goodEmails {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contact.ParseEmail(tt.in)
			if err != nil {
				t.Fatalf("ParseEmail(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, tt := range badEmails {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contact.ParseEmail(tt.in)
			wantError(t, err, member.CodeInvalidEmail, "email")
			if got != "" {
				t.Errorf("ParseEmail(%q) = %q with an error, want \"\"", tt.in, got)
			}
		})
	}
}

// TestParseEmailSameKey checks that inputs R3 treats as one email
// normalize to one key.
func TestParseEmailSameKey(t *testing.T) {
	variants := []string{"Bob@Bücher.example", " bob@BÜCHER.EXAMPLE", "BOB@xn--bcher-kva.example"}
	want := "bob@xn--bcher-kva.example"
	for _, in := range variants {
		e, err := contact.ParseEmail(in)
		if err != nil {
			t.Fatalf("ParseEmail(%q): %v", in, err)
		}
		if got := member.EmailKey(e); got != want {
			t.Errorf("EmailKey(ParseEmail(%q)) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, tt := range goodEmails {
		f.Add(tt.in)
	}
	for _, tt := range badEmails {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := contact.ParseEmail(in)
		if err != nil {
			wantError(t, err, member.CodeInvalidEmail, "email")
			return
		}
		if len(got) > contact.MaxEmailLength {
			t.Errorf("ParseEmail(%q) = %q: %d characters", in, got, len(got))
		}
		for _, r := range got {
			if r >= utf8.RuneSelf || unicode.IsSpace(r) || unicode.IsControl(r) {
				t.Errorf("ParseEmail(%q) = %q: contains %U", in, got, r)
			}
		}
		if strings.Count(got, "@") != 1 {
			t.Errorf("ParseEmail(%q) = %q: not exactly one @", in, got)
		}
		again, err := contact.ParseEmail(got)
		if err != nil {
			t.Fatalf("ParseEmail(%q) = %q, which does not parse again: %v", in, got, err)
		}
		if again != got {
			t.Errorf("ParseEmail(%q) = %q, which parses again to %q", in, got, again)
		}
	})
}

// TestEmailRefusesSpoofing refuses, wherever they stand in an address,
// the characters that change how text displays (issue 12.7): the email
// check is member.Invisible, the one that names and remarks get too.
func TestEmailRefusesSpoofing(t *testing.T) {
	named := [][2]rune{ // the bidi, zero-width and separator ranges, each to be refused
		{0x202a, 0x202e}, {0x2066, 0x2069}, {0x200e, 0x200f}, {0x061c, 0x061c},
		{0x200b, 0x200d}, {0x2060, 0x2060}, {0xfeff, 0xfeff}, {0x2028, 0x2029},
	}
	var runes []rune
	for _, rg := range named {
		for r := rg[0]; r <= rg[1]; r++ {
			if !member.Invisible(r) {
				t.Errorf("member.Invisible(%U) = false", r)
			}
			runes = append(runes, r)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if member.Invisible(r) {
			runes = append(runes, r) // and every other one
		}
	}
	for _, r := range runes {
		for _, in := range []string{"bo" + string(r) + "b@example.com", "bob@exa" + string(r) + "mple.com", "bob@example.com" + string(r) + "x"} {
			_, err := contact.ParseEmail(in)
			if err == nil {
				t.Errorf("%U in %+q: accepted", r, in)
				continue
			}
			wantError(t, err, member.CodeInvalidEmail, "email")
			if e, _ := member.AsError(err); !strings.Contains(e.Message, "invisible") {
				t.Errorf("%U in %+q: %q, want the message about invisible characters", r, in, e.Message)
			}
		}
	}
}
