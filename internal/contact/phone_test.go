package contact_test

import (
	"strings"
	"testing"

	"memberbind/internal/contact"
	"memberbind/internal/member"
)

var goodPhones = []struct {
	name, code, phone string
	wantCode, want    string
}{
	{"chinese mobile", "86", "13800138000", "86", "+8613800138000"},
	{"chinese mobile with plus code", "+86", "13800138000", "86", "+8613800138000"},
	{"code with surrounding space", " +86 ", " 13800138000 ", "86", "+8613800138000"},
	{"code with space after plus", "+ 86", "13800138000", "86", "+8613800138000"},
	{"hyphens", "86", "138-0013-8000", "86", "+8613800138000"},
	{"dots and parentheses", "86", "(138) 0013.8000", "86", "+8613800138000"},
	{"no-break space separator", "86", "138\u00a00013\u00a08000", "86", "+8613800138000"},
	{"number in international form", "86", "+86 138 0013 8000", "86", "+8613800138000"},
	{"international prefix 00", "86", "0086 138 0013 8000", "86", "+8613800138000"},
	{"us mobile", "1", "(201) 555-0123", "1", "+12015550123"},
	{"us mobile international form", "+1", "+1 201 555 0123", "1", "+12015550123"},
	{"canadian mobile via 1", "1", "416 555 0123", "1", "+14165550123"},
	{"uk mobile with trunk prefix", "44", "07400 123456", "44", "+447400123456"},
	{"uk mobile without trunk prefix", "44", "7400 123456", "44", "+447400123456"},
	{"uk mobile international form", "44", "+44 7400 123456", "44", "+447400123456"},
	{"isle of man mobile via 44", "44", "07624 123456", "44", "+447624123456"},
	{"russian mobile", "7", "912 345-67-89", "7", "+79123456789"},
	{"russian mobile with trunk prefix 8", "7", "8 912 345 67 89", "7", "+79123456789"},
	{"kazakh mobile via 7", "7", "8 701 123 4567", "7", "+77011234567"},
	{"german mobile", "49", "01512 3456789", "49", "+4915123456789"},
	{"french mobile", "33", "06 12 34 56 78", "33", "+33612345678"},
}

var badCountryCodes = []struct {
	name, code string
}{
	{"empty", ""},
	{"only space", "  "},
	{"only plus", "+"},
	{"double plus", "++86"},
	{"letters", "86a"},
	{"negative", "-86"},
	{"four digits", "1234"},
	{"international prefix", "0086"},
	{"leading zero", "086"},
	{"zero", "0"},
	{"unknown", "999"},
	{"unknown with plus", "+999"},
	{"non-geographic freephone", "800"},
	{"non-geographic satellite", "870"},
	{"full-width digits", "８６"},
	{"control character", "8\x006"},
}

var badPhones = []struct {
	name, code, phone string
}{
	{"empty", "86", ""},
	{"only space", "86", "   "},
	{"only separators", "86", "(--)"},
	{"too short", "86", "12345"},
	{"one digit short", "86", "1380013800"},
	{"one digit long", "86", "138001380001"},
	{"chinese fixed line", "86", "010 1234 5678"},
	{"chinese fixed line international form", "86", "+86 10 1234 5678"},
	{"uk fixed line", "44", "020 7946 0000"},
	{"us toll free", "1", "800 555 0123"},
	{"letters", "86", "1380013800O"},
	{"vanity number", "1", "1-800-FLOWERS"},
	{"extension", "86", "13800138000 ext 12"},
	{"hash", "86", "13800138000#"},
	{"slash", "86", "138/0013/8000"},
	{"tab", "86", "138\t0013\t8000"},
	{"full-width digits", "86", "１３８００１３８０００"},
	{"plus inside", "86", "138+00138000"},
	{"international form for another country", "86", "+1 201 555 0123"},
	{"international prefix for another country", "86", "001 201 555 0123"},
	{"us number under 44", "44", "+1 201 555 0123"},
	{"chinese number under 1", "1", "13800138000"},
	{"plus only", "86", "+"},
	{"too many digits", "86", strings.Repeat("1", 21)},
	{"too long", "86", "138" + strings.Repeat(" ", 100) + "00138000"},
	{"control character", "86", "138\x0000138000"},
}

func TestParsePhone(t *testing.T) {
	for _, tt := range goodPhones {
		t.Run(tt.name, func(t *testing.T) {
			code, phone, err := contact.ParsePhone(tt.code, tt.phone)
			if err != nil {
				t.Fatalf("ParsePhone(%q, %q): %v", tt.code, tt.phone, err)
			}
			if code != tt.wantCode || phone != tt.want {
				t.Errorf("ParsePhone(%q, %q) = %q, %q, want %q, %q", tt.code, tt.phone, code, phone, tt.wantCode, tt.want)
			}
		})
	}
	for _, tt := range badCountryCodes {
		t.Run("countryCode "+tt.name, func(t *testing.T) {
			code, phone, err := contact.ParsePhone(tt.code, "13800138000")
			wantError(t, err, member.CodeInvalidPhone, "countryCode")
			if code != "" || phone != "" {
				t.Errorf("ParsePhone(%q, ...) = %q, %q with an error, want empty", tt.code, code, phone)
			}
		})
	}
	for _, tt := range badPhones {
		t.Run("phone "+tt.name, func(t *testing.T) {
			code, phone, err := contact.ParsePhone(tt.code, tt.phone)
			wantError(t, err, member.CodeInvalidPhone, "phone")
			if code != "" || phone != "" {
				t.Errorf("ParsePhone(%q, %q) = %q, %q with an error, want empty", tt.code, tt.phone, code, phone)
			}
		})
	}
}

func FuzzParsePhone(f *testing.F) {
	for _, tt := range goodPhones {
		f.Add(tt.code, tt.phone)
	}
	for _, tt := range badCountryCodes {
		f.Add(tt.code, "13800138000")
	}
	for _, tt := range badPhones {
		f.Add(tt.code, tt.phone)
	}
	f.Fuzz(func(t *testing.T, countryCode, national string) {
		code, phone, err := contact.ParsePhone(countryCode, national)
		if err != nil {
			e, ok := member.AsError(err)
			if !ok || e.Code != member.CodeInvalidPhone || len(e.Field) != 1 {
				t.Fatalf("ParsePhone(%q, %q): error %v, want INVALID_PHONE naming one field", countryCode, national, err)
			}
			wantError(t, err, member.CodeInvalidPhone, e.Field[0])
			return
		}
		if !strings.HasPrefix(phone, "+"+code) || len(phone) > 16 || strings.Trim(phone[1:], "0123456789") != "" {
			t.Errorf("ParsePhone(%q, %q) = %q, %q: not E.164 with that code", countryCode, national, code, phone)
		}
		for _, cc := range []string{code, "+" + code} {
			code2, phone2, err := contact.ParsePhone(cc, phone)
			if err != nil || code2 != code || phone2 != phone {
				t.Errorf("ParsePhone(%q, %q) = %q, %q, %v; want it to give itself back", cc, phone, code2, phone2, err)
			}
		}
	})
}
