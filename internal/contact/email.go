package contact

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"memberbind/internal/member"
)

// Email length limits of RFC 5321 §4.5.3.1, in characters of the normal
// form (which is ASCII, so characters and bytes agree).
const (
	MaxEmailLength = 254
	MaxLocalLength = 64
	maxLabelLength = 63
)

// maxEmailInput bounds the raw input, in bytes, before any work is done on
// it. IDNA mapping can shrink a domain (a 4-byte mathematical letter maps
// to one ASCII letter), so anything longer than 4 bytes per character of
// the limit cannot normalize to MaxEmailLength characters.
const maxEmailInput = 4 * MaxEmailLength

// ParseEmail validates one email address and returns its normal form: white
// space trimmed, the local part (before the @) as typed, and the domain in
// lower-case ASCII with internationalized labels in punycode
// ("bob@Bücher.Example" → "bob@xn--bcher-kva.example"). A bad address gets a
// *member.Error with code INVALID_EMAIL and Field ["email"].
//
// Accepted are plain addresses only: a dot-atom local part of ASCII
// characters and a domain name with at least one dot. Display names, angle
// brackets, lists, comments, quoted local parts, IP address literals and
// non-ASCII local parts are refused, each with its own message.
func ParseEmail(s string) (string, error) {
	e, err := parseEmail(s)
	if err != nil {
		return "", err
	}
	return e, nil
}

func emailError(format string, args ...any) *member.Error {
	return member.FieldErrorf(member.CodeInvalidEmail, "email", format, args...)
}

func parseEmail(s string) (string, *member.Error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", emailError("email is required")
	case len(s) > maxEmailInput:
		return "", emailError("email must be at most %d characters", MaxEmailLength)
	case !utf8.ValidString(s):
		return "", emailError("email must be valid UTF-8 text")
	}
	if err := checkShape(s); err != nil {
		return "", err
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return "", err
	}
	ascii, err := domainToASCII(domain)
	if err != nil {
		return "", err
	}
	e := local + "@" + ascii
	if len(e) > MaxEmailLength {
		return "", emailError("email must be at most %d characters, got %d", MaxEmailLength, len(e))
	}
	return e, nil
}

// checkShape refuses what is not a single bare address, before the parts
// are looked at, so that a pasted `"Bob" <bob@example.com>` or a list gets
// a message about that rather than about a stray character.
func checkShape(s string) *member.Error {
	if strings.IndexFunc(s, member.Invisible) >= 0 {
		return emailError("email must not contain control characters or invisible formatting characters")
	}
	if strings.ContainsAny(s, "<>") {
		return emailError("email must be a single address without a display name or angle brackets")
	}
	if strings.ContainsAny(s, ",;") {
		return emailError("email must be a single address, not a list")
	}
	if strings.Contains(s, `"`) {
		if local := s[:max(strings.LastIndexByte(s, '@'), 0)]; len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
			return emailError("email must not have a quoted local part: use an address without quotation marks")
		}
		return emailError("email must be a single address without a display name or quotation marks")
	}
	if i := strings.IndexFunc(s, space); i >= 0 {
		switch {
		case strings.Count(s, "@") > 1:
			return emailError("email must be a single address, not a list")
		case strings.Contains(s[i:], "@"):
			// Words before the address: "Bob Smith bob@example.com".
			return emailError("email must be a single address without a display name")
		}
		return emailError("email must not contain spaces")
	}
	if strings.ContainsAny(s, "()") {
		return emailError("email must not contain comments in parentheses")
	}
	switch n := strings.Count(s, "@"); {
	case n == 0:
		return emailError("email must contain an @ followed by a domain")
	case n > 1:
		return emailError("email must contain exactly one @")
	}
	return nil
}

func space(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) }

// atext reports the characters RFC 5322 §3.2.3 allows in a dot-atom besides
// the dot.
func atext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+/=?^_`{|}~-", c) >= 0
}

// checkLocal checks the part before the @. It must be ASCII: a non-ASCII
// local part needs SMTPUTF8 (RFC 6531) end to end, has no ASCII form to
// fall back on (unlike a domain's punycode), and would need Unicode
// normalization and case folding for the service-wide uniqueness of R3,
// which member.EmailKey does not do.
func checkLocal(local string) *member.Error {
	switch {
	case local == "":
		return emailError("email is missing the part before the @")
	case strings.IndexFunc(local, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0:
		return emailError("email must use only ASCII letters, digits and punctuation before the @ (internationalized domains are accepted after it)")
	case len(local) > MaxLocalLength:
		return emailError("email part before the @ must be at most %d characters, got %d", MaxLocalLength, len(local))
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return emailError("email part before the @ must not start or end with a dot or contain two dots in a row")
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c != '.' && !atext(c) {
			return emailError("email part before the @ must not contain %q", c)
		}
	}
	return nil
}

// domainToASCII checks the part after the @ and returns it in lower-case
// ASCII. An ASCII domain is checked by the rules below first, for precise
// messages; every domain then goes through the IDNA lookup profile (UTS 46
// mapping, RFC 5891 validation, bidi and joiner rules, xn-- labels checked
// to decode), and its result is checked again.
func domainToASCII(domain string) (string, *member.Error) {
	switch {
	case domain == "":
		return "", emailError("email is missing the domain after the @")
	case strings.ContainsAny(domain, "[]"):
		return "", emailError("email domain must be a name, not an IP address literal")
	}
	if isASCII(domain) {
		if err := checkDomain(strings.ToLower(domain)); err != nil {
			return "", err
		}
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", emailError("email domain %s is not a valid domain name", excerpt(domain))
	}
	if err := checkDomain(ascii); err != nil {
		return "", err
	}
	return ascii, nil
}

// checkDomain checks a lower-case ASCII domain: at least two labels of
// letters, digits and hyphens, none starting or ending with a hyphen, none
// longer than 63 characters, and a top-level label that is not a number.
func checkDomain(d string) *member.Error {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return emailError("email domain must contain a dot")
	}
	for _, l := range labels {
		switch {
		case l == "":
			return emailError("email domain must not start or end with a dot or contain two dots in a row")
		case len(l) > maxLabelLength:
			return emailError("email domain must not have a part between dots longer than %d characters", maxLabelLength)
		case l[0] == '-' || l[len(l)-1] == '-':
			return emailError("email domain must not have a part that starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return emailError("email domain must contain only letters, digits, hyphens and dots, not %q", c)
			}
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return emailError("email domain must be a name, not an IP address")
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
