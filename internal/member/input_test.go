package member

import (
	"strings"
	"testing"
)

// spoofers are characters that change how text displays without being
// seen (DESIGN.md R11's "no control characters", issue 12.7): each must
// be refused in names, remarks and emails (contact's tests use this list).
var spoofers = []struct {
	name string
	r    rune
}{
	{"LRE", '\u202a'}, {"RLE", '\u202b'}, {"PDF", '\u202c'}, {"LRO", '\u202d'}, {"RLO", '\u202e'},
	{"LRI", '\u2066'}, {"RLI", '\u2067'}, {"FSI", '\u2068'}, {"PDI", '\u2069'},
	{"LRM", '\u200e'}, {"RLM", '\u200f'}, {"ALM", '\u061c'},
	{"zero-width space", '\u200b'}, {"ZWNJ", '\u200c'}, {"ZWJ", '\u200d'},
	{"word joiner", '\u2060'}, {"BOM", '\ufeff'},
	{"line separator", '\u2028'}, {"paragraph separator", '\u2029'},
	{"NUL", '\x00'}, {"bell", '\a'}, {"escape", '\x1b'}, {"DEL", '\x7f'}, {"NEL", '\u0085'},
	{"carriage return", '\r'}, {"soft hyphen", '\u00ad'}, {"replacement character", '\ufffd'},
}

func TestInvisible(t *testing.T) {
	for _, c := range spoofers {
		if !Invisible(c.r) {
			t.Errorf("%s (%U) is not Invisible", c.name, c.r)
		}
	}
	for _, r := range "aZ09 -_.'’,()·李明éالعربيةעִבְרִית😀\u0301" {
		if Invisible(r) {
			t.Errorf("%q (%U) is Invisible", r, r)
		}
	}
}

func TestNewMemberRefusesSpoofing(t *testing.T) {
	for _, c := range spoofers {
		for _, at := range []struct{ where, name, remark, field string }{
			{"name", "Ali" + string(c.r) + "ce", "", "name"},
			{"name end", "Alice" + string(c.r) + "x", "", "name"},
			{"remark", "Alice", "on " + string(c.r) + "leave", "remark"},
		} {
			t.Run(c.name+"/"+at.where, func(t *testing.T) {
				m, err := NewMember(TypeCreated, at.name, at.remark)
				if err == nil {
					t.Fatalf("NewMember(%q, %q) = %+v, want INVALID_INPUT", at.name, at.remark, m)
				}
				if err.Code != CodeInvalidInput || len(err.Field) != 1 || err.Field[0] != at.field {
					t.Errorf("error %+v, want INVALID_INPUT on %q", err, at.field)
				}
				if strings.ContainsRune(err.Message, c.r) {
					t.Errorf("message %q echoes the character", err.Message)
				}
			})
		}
	}
}

func TestNewMember(t *testing.T) {
	for _, c := range []struct {
		name       string
		typ        Type
		in, remark string
		field      string // "" when accepted
	}{
		{"plain", TypeCreated, "Alice", "", ""},
		{"trimmed", TypeInvited, "  Alice \t", " note ", ""},
		{"chinese", TypeCreated, "李明", "财务部", ""},
		{"arabic, no controls", TypeCreated, "علي", "", ""},
		{"combining accent", TypeCreated, "Jose\u0301", "", ""},
		{"remark with new lines and tabs", TypeCreated, "Alice", "line 1\n\tline 2", ""},
		{"longest name", TypeCreated, strings.Repeat("名", MaxNameLength), strings.Repeat("x", MaxRemarkLength), ""},
		{"bad type", Type("ADMIN"), "Alice", "", "memberType"},
		{"empty name", TypeCreated, " \t ", "", "name"},
		{"long name", TypeCreated, strings.Repeat("名", MaxNameLength+1), "", "name"},
		{"new line in name", TypeCreated, "Ali\nce", "", "name"},
		{"tab in name", TypeCreated, "Ali\tce", "", "name"},
		{"bad UTF-8 name", TypeCreated, "Ali\xffce", "", "name"},
		{"long remark", TypeCreated, "Alice", strings.Repeat("x", MaxRemarkLength+1), "remark"},
		{"bad UTF-8 remark", TypeCreated, "Alice", "a\xffb", "remark"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMember(c.typ, c.in, c.remark)
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "":
				if m.Name != strings.TrimSpace(c.in) || m.Remark != strings.TrimSpace(c.remark) || m.Type != c.typ {
					t.Errorf("got %+v", m)
				}
			case err == nil:
				t.Fatalf("accepted %+v, want INVALID_INPUT on %s", m, c.field)
			case err.Code != CodeInvalidInput || len(err.Field) != 1 || err.Field[0] != c.field:
				t.Errorf("error %+v, want INVALID_INPUT on %s", err, c.field)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	for _, c := range spoofers {
		err := CheckName("organization name", "Acme"+string(c.r)+"Corp")
		if err == nil || err.Code != CodeInvalidInput || !strings.Contains(err.Message, "organization name") {
			t.Errorf("%s: CheckName = %v, want INVALID_INPUT naming the organization name", c.name, err)
		}
	}
	if err := CheckName("organization name", "Acme 公司"); err != nil {
		t.Errorf("a plain name is refused: %v", err)
	}
}

func TestSupportedLang(t *testing.T) {
	for lang, want := range map[string]bool{"en": true, "zh-CN": true, "zh": false, "": false, "EN": false} {
		if SupportedLang(lang) != want {
			t.Errorf("SupportedLang(%q) = %v", lang, !want)
		}
	}
}
