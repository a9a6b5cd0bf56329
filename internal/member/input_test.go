package member

import (
	"errors"
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
				m, merr := NewMember(TypeCreated, at.name, at.remark)
				if merr == nil {
					t.Fatalf("NewMember(%q, %q) = %+v, want INVALID_INPUT", at.name, at.remark, m)
				}
				err, _ := AsError(merr)
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
			default:
				if errs := AllErrors(err); len(errs) != 1 || errs[0].Code != CodeInvalidInput || len(errs[0].Field) != 1 || errs[0].Field[0] != c.field {
					t.Errorf("error %+v, want one INVALID_INPUT on %s", err, c.field)
				}
			}
		})
	}
}

// TestNewMemberEveryField: an input with several fields at fault gets an
// error for each, in the order of the fields, and no member.
func TestNewMemberEveryField(t *testing.T) {
	for _, c := range []struct {
		name       string
		typ        Type
		in, remark string
		fields     []string
	}{
		{"name and remark", TypeCreated, "", strings.Repeat("x", MaxRemarkLength+1), []string{"name", "remark"}},
		{"type and name", Type("ADMIN"), "Ali\u202ece", "", []string{"memberType", "name"}},
		{"all three", Type(""), "\t", "a\x00b", []string{"memberType", "name", "remark"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMember(c.typ, c.in, c.remark)
			if m != nil {
				t.Errorf("got a member %+v with errors", m)
			}
			errs := AllErrors(err)
			var fields []string
			for _, e := range errs {
				if e.Code != CodeInvalidInput || len(e.Field) != 1 {
					t.Errorf("error %+v, want INVALID_INPUT on one field", e)
					continue
				}
				fields = append(fields, e.Field[0])
			}
			if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
				t.Errorf("errors on %q, want %q (%v)", fields, c.fields, err)
			}
			if first, ok := AsError(err); !ok || first != errs[0] {
				t.Errorf("AsError = %v, want the first error", first)
			}
		})
	}
}

func TestJoinErrors(t *testing.T) {
	a, b := Errorf(CodeInvalidEmail, "a"), Errorf(CodeInvalidPhone, "b")
	if err := JoinErrors(nil, nil); err != nil {
		t.Errorf("JoinErrors(nil, nil) = %v", err)
	}
	if err := JoinErrors(nil, a); err != error(a) {
		t.Errorf("JoinErrors(nil, a) = %#v, want a itself", err)
	}
	err := JoinErrors(a, nil, b)
	if got := AllErrors(err); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("AllErrors = %v", got)
	}
	if ErrorCode(err) != CodeInvalidEmail || !errors.Is(err, b) {
		t.Errorf("ErrorCode %s, Is(b) %v", ErrorCode(err), errors.Is(err, b))
	}
	if AllErrors(errors.New("x")) != nil || AllErrors(nil) != nil {
		t.Error("AllErrors of a non-business error is not empty")
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
