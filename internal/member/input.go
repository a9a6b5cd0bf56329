package member

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Langs are the languages mail and pages are written in.
var Langs = []string{"en", "zh-CN"}

// SupportedLang reports whether lang is one of Langs.
func SupportedLang(lang string) bool {
	for _, l := range Langs {
		if l == lang {
			return true
		}
	}
	return false
}

// Length limits of free-text input, in characters.
const (
	MaxNameLength   = 200
	MaxRemarkLength = 1000
	MaxSearchLength = 254
)

// Invisible reports characters that change how text is displayed without
// being seen: control characters, format characters (the bidi controls
// U+202A–U+202E, U+2066–U+2069, U+200E, U+200F and U+061C; the zero-width
// U+200B–U+200D, U+2060 and U+FEFF; the soft hyphen), the line and paragraph
// separators U+2028 and U+2029, and U+FFFD, which stands for broken UTF-8.
// A name or email holding one can pass for another ("admin" and
// "adm\u200bin"), or reorder the text around it where it is shown (a
// right-to-left override makes "txt.exe" read "exe.txt"). The one
// definition serves names, remarks and emails (package contact).
func Invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}

// CheckName checks a trimmed display name: not empty, not too long, no
// Invisible characters. what names the field in the message.
func CheckName(what, name string) *Error {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return Errorf(CodeInvalidInput, "%s must be valid UTF-8", what)
	case n == 0:
		return Errorf(CodeInvalidInput, "%s must not be empty", what)
	case n > MaxNameLength:
		return Errorf(CodeInvalidInput, "%s must be at most %d characters, got %d", what, MaxNameLength, n)
	case strings.IndexFunc(name, Invisible) >= 0:
		return Errorf(CodeInvalidInput, "%s must not contain control characters or invisible formatting characters (bidi controls, zero-width characters, line separators)", what)
	}
	return nil
}

// NewMember checks the input of createMember and inviteMember and returns
// the member to store, or an error for every field at fault (Errors when
// there are several).
func NewMember(t Type, name, remark string) (*Member, error) {
	var typeErr, nameErr, remarkErr *Error
	if !t.Valid() {
		typeErr = FieldErrorf(CodeInvalidInput, "memberType", "member type %q is not CREATED or INVITED", t)
	}
	name = strings.TrimSpace(name)
	if nameErr = CheckName("name", name); nameErr != nil {
		nameErr.Field = []string{"name"}
	}
	remark = strings.TrimSpace(remark)
	switch n := utf8.RuneCountInString(remark); {
	case n > MaxRemarkLength:
		remarkErr = FieldErrorf(CodeInvalidInput, "remark", "remark must be at most %d characters, got %d", MaxRemarkLength, n)
	case !utf8.ValidString(remark):
		remarkErr = FieldErrorf(CodeInvalidInput, "remark", "remark must be valid UTF-8")
	case strings.IndexFunc(remark, func(r rune) bool { return Invisible(r) && r != '\n' && r != '\t' }) >= 0:
		remarkErr = FieldErrorf(CodeInvalidInput, "remark", "remark must not contain control characters other than new lines and tabs, or invisible formatting characters (bidi controls, zero-width characters, line separators)")
	}
	if err := JoinErrors(typeErr, nameErr, remarkErr); err != nil {
		return nil, err
	}
	return &Member{Type: t, Name: name, Remark: remark}, nil
}
