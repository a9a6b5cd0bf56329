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

// CheckName checks a trimmed display name: not empty, not too long, no
// control characters. what names the field in the message.
func CheckName(what, name string) *Error {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return Errorf(CodeInvalidInput, "%s must be valid UTF-8", what)
	case n == 0:
		return Errorf(CodeInvalidInput, "%s must not be empty", what)
	case n > MaxNameLength:
		return Errorf(CodeInvalidInput, "%s must be at most %d characters, got %d", what, MaxNameLength, n)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return Errorf(CodeInvalidInput, "%s must not contain control characters", what)
	}
	return nil
}

// NewMember checks the input of createMember and inviteMember and returns
// the member to store.
func NewMember(t Type, name, remark string) (*Member, *Error) {
	if !t.Valid() {
		return nil, FieldErrorf(CodeInvalidInput, "memberType", "member type %q is not CREATED or INVITED", t)
	}
	name = strings.TrimSpace(name)
	if err := CheckName("name", name); err != nil {
		err.Field = []string{"name"}
		return nil, err
	}
	remark = strings.TrimSpace(remark)
	if n := utf8.RuneCountInString(remark); n > MaxRemarkLength {
		return nil, FieldErrorf(CodeInvalidInput, "remark", "remark must be at most %d characters, got %d", MaxRemarkLength, n)
	}
	if !utf8.ValidString(remark) {
		return nil, FieldErrorf(CodeInvalidInput, "remark", "remark must be valid UTF-8")
	}
	if strings.IndexFunc(remark, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return nil, FieldErrorf(CodeInvalidInput, "remark", "remark must not contain control characters other than new lines and tabs")
	}
	return &Member{Type: t, Name: name, Remark: remark}, nil
}
