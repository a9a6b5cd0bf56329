package contact

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"memberbind/internal/member"
)

// Bounds on raw phone input, checked before the number is parsed.
const (
	maxPhoneInput  = 64 // bytes, separators included
	maxPhoneDigits = 20 // room for a trunk or international prefix around E.164's 15
)

// nonGeographic is the region phonenumbers gives calling codes that belong
// to no country (international freephone 800, satellite 870, …).
const nonGeographic = "001"

// ParsePhone validates a country calling code and a mobile number of that
// country and returns the code without "+" ("86") and the number in E.164
// ("+8613800138000").
//
// The code may be written "86" or "+86". The number may use spaces,
// hyphens, dots and parentheses as separators, may keep its national trunk
// prefix (the 0 of UK "07400 123456"), and may start with "+" and its
// country code, which must then agree with countryCode. It must be a valid
// mobile number of the country per github.com/nyaruka/phonenumbers: MOBILE,
// or FIXED_LINE_OR_MOBILE where the numbering plan cannot tell (the US and
// Canada). Where one calling code serves several regions (1, 7, 44, …) a
// mobile number of any of them is accepted.
//
// A bad code gets a *member.Error with code INVALID_PHONE and Field
// ["countryCode"]; a bad number gets INVALID_PHONE with Field ["phone"].
func ParsePhone(countryCode, national string) (cc string, e164 string, err error) {
	cc, e164, perr := parsePhone(countryCode, national)
	if perr != nil {
		return "", "", perr
	}
	return cc, e164, nil
}

// parsePhone is ParsePhone with the concrete error type, which Parse
// joins with the email's.
func parsePhone(countryCode, national string) (string, string, *member.Error) {
	code, region, err := parseCountryCode(countryCode)
	if err != nil {
		return "", "", err
	}
	e164, err := parseNational(code, region, national)
	if err != nil {
		return "", "", err
	}
	return strconv.Itoa(code), e164, nil
}

func countryCodeError(format string, args ...any) *member.Error {
	return member.FieldErrorf(member.CodeInvalidPhone, "countryCode", format, args...)
}

func phoneError(format string, args ...any) *member.Error {
	return member.FieldErrorf(member.CodeInvalidPhone, "phone", format, args...)
}

// parseCountryCode returns the calling code and its main region, the one
// national numbers are parsed in.
func parseCountryCode(s string) (int, string, *member.Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "", countryCodeError("countryCode is required")
	}
	digits := strings.TrimSpace(strings.TrimPrefix(s, "+"))
	if digits == "" || len(digits) > 3 || !allDigits(digits) {
		return 0, "", countryCodeError("countryCode must be 1 to 3 digits, optionally after a +, not %s", excerpt(s))
	}
	code, _ := strconv.Atoi(digits)
	regions := phonenumbers.GetRegionCodesForCountryCode(code)
	switch {
	case digits[0] == '0' || len(regions) == 0:
		// No calling code starts with 0; "086" is a typo, not 86.
		return 0, "", countryCodeError("countryCode +%s is not a known country calling code", digits)
	case regions[0] == nonGeographic:
		return 0, "", countryCodeError("countryCode +%s belongs to no country (international or satellite service): give the calling code of the mobile number's country", digits)
	}
	return code, phonenumbers.GetRegionCodeForCountryCode(code), nil
}

// phoneSeparator reports the characters a number may be written with
// between its digits.
func phoneSeparator(r rune) bool {
	return r == '-' || r == '.' || r == '(' || r == ')' || unicode.Is(unicode.Zs, r)
}

func parseNational(code int, region, s string) (string, *member.Error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", phoneError("phone is required")
	case len(s) > maxPhoneInput:
		return "", phoneError("phone must be at most %d characters", maxPhoneInput)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case '0' <= r && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '+':
			return "", phoneError("phone may contain a + only at its start")
		case phoneSeparator(r):
		default:
			return "", phoneError("phone may contain only digits and the separators space, hyphen, dot and parentheses")
		}
	}
	number := b.String()
	digits := strings.TrimPrefix(number, "+")
	switch {
	case digits == "":
		return "", phoneError("phone must contain digits")
	case len(digits) > maxPhoneDigits:
		return "", phoneError("phone must have at most %d digits", maxPhoneDigits)
	}

	// phonenumbers works on the digits alone, so our separator rules
	// decide what it sees: it cannot read letters as a vanity number or
	// find an extension.
	num, err := phonenumbers.Parse(number, region)
	if err != nil {
		return "", phoneError("phone %s is not a valid mobile number for country code +%d", number, code)
	}
	if got := int(num.GetCountryCode()); got != code {
		return "", phoneError("phone %s has country code +%d, which does not match countryCode +%d", number, got, code)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", phoneError("phone %s is not a valid mobile number for country code +%d", number, code)
	}
	switch t := phonenumbers.GetNumberType(num); t {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", phoneError("phone %s is %s number, not a mobile number, for country code +%d", number, numberKind(t), code)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// numberKind names a number type with its article, for messages.
func numberKind(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.FIXED_LINE:
		return "a fixed-line"
	case phonenumbers.TOLL_FREE:
		return "a toll-free"
	case phonenumbers.PREMIUM_RATE:
		return "a premium-rate"
	case phonenumbers.SHARED_COST:
		return "a shared-cost"
	case phonenumbers.VOIP:
		return "a VoIP"
	case phonenumbers.PERSONAL_NUMBER:
		return "a personal"
	case phonenumbers.PAGER:
		return "a pager"
	case phonenumbers.UAN:
		return "a universal access"
	case phonenumbers.VOICEMAIL:
		return "a voicemail"
	}
	return "an unrecognized"
}
