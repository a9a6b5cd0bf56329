// Package contact validates and normalizes the security information of a
// member account (DESIGN.md R11): a login email and a verification mobile
// number. It turns raw client input into a member.SecurityInfo, or into a
// *member.Error with code INVALID_EMAIL or INVALID_PHONE that names the
// field at fault.
//
// Normal forms:
//
//   - email: trimmed; the part before the @ exactly as typed (case kept);
//     the domain in lower-case ASCII, internationalized labels in their
//     punycode (xn--) form. Uniqueness (R3) is decided on
//     member.EmailKey of this form.
//   - country code: the calling code's digits without "+", e.g. "86".
//   - phone: E.164, e.g. "+8613800138000".
//
// Error messages are public (they reach clients), so they say what is wrong
// and echo at most a short, quoted excerpt of the input.
package contact

import (
	"fmt"
	"unicode/utf8"

	"memberbind/internal/member"
)

// Parse validates raw security information and returns it normalized, or
// every problem found: INVALID_EMAIL with Field ["email"], and
// INVALID_PHONE with Field ["countryCode"] or, once the country code is
// known, ["phone"]. One problem is a *member.Error; two are member.Errors,
// the email's first, so that a client marks both fields at once.
func Parse(email, countryCode, phone string) (member.SecurityInfo, error) {
	e, emailErr := parseEmail(email)
	cc, e164, phoneErr := parsePhone(countryCode, phone)
	if err := member.JoinErrors(emailErr, phoneErr); err != nil {
		return member.SecurityInfo{}, err
	}
	return member.SecurityInfo{Email: e, CountryCode: cc, Phone: e164}, nil
}

// maxExcerpt is the most characters of client input an error message echoes.
const maxExcerpt = 40

// excerpt returns s quoted for an error message, cut to maxExcerpt
// characters. Quoting escapes control and invisible characters, so a
// message never carries them.
func excerpt(s string) string {
	if utf8.RuneCountInString(s) <= maxExcerpt {
		return fmt.Sprintf("%q", s)
	}
	n := 0
	for i := range s {
		if n == maxExcerpt {
			return fmt.Sprintf("%q…", s[:i])
		}
		n++
	}
	return fmt.Sprintf("%q", s)
}
