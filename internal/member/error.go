package member

import (
	"errors"
	"fmt"
	"time"
)

// Code is a business error code. The schema's UserErrorCode enum binds to
// these constants (gqlgen.yml's enum_values), so a code travels to a client
// unchanged; a new code needs its value in schema.graphqls and its line in
// gqlgen.yml, or graph's TestEnumsAreTheDomains fails.
type Code string

// The error codes of DESIGN.md §1, §2 and §9.
const (
	CodeMemberNotFound           Code = "MEMBER_NOT_FOUND"
	CodeInvitedMember            Code = "INVITED_MEMBER"
	CodeAlreadyBound             Code = "ALREADY_BOUND"
	CodeNotPending               Code = "NOT_PENDING"
	CodeNotFailed                Code = "NOT_FAILED"
	CodeEmailAlreadyUsed         Code = "EMAIL_ALREADY_USED"
	CodeEmailPreviouslyFailed    Code = "EMAIL_PREVIOUSLY_FAILED"
	CodeSameAsCurrent            Code = "SAME_AS_CURRENT"
	CodeInvalidEmail             Code = "INVALID_EMAIL"
	CodeInvalidPhone             Code = "INVALID_PHONE"
	CodeInvalidInput             Code = "INVALID_INPUT"
	CodeModificationLimitReached Code = "MODIFICATION_LIMIT_REACHED"
	CodeResendLimitReached       Code = "RESEND_LIMIT_REACHED"
	CodeRecipientLimitReached    Code = "RECIPIENT_LIMIT_REACHED"
	CodeOrgMailLimitReached      Code = "ORGANIZATION_MAIL_LIMIT_REACHED"
	CodeLinkExpired              Code = "LINK_EXPIRED"
	CodeNotRemovable             Code = "NOT_REMOVABLE"
	// CodeAPIKeyNotFound: the organization has no API key with that id.
	CodeAPIKeyNotFound Code = "API_KEY_NOT_FOUND"
	// CodeLastAPIKey: the key is the organization's last unrevoked one
	// (DESIGN.md §9).
	CodeLastAPIKey Code = "LAST_API_KEY"
)

// Error is a business failure: a decision of the domain rules that a client
// is meant to read. Its Message is public; nothing else is.
type Error struct {
	Code    Code
	Message string
	// Field is the path of the input field at fault, e.g. ["email"].
	Field []string
	// RetryAt is when the refused operation will next be allowed, where
	// that is known (RESEND_LIMIT_REACHED, RECIPIENT_LIMIT_REACHED,
	// ORGANIZATION_MAIL_LIMIT_REACHED).
	RetryAt *time.Time
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted public message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error that names the input field at fault.
func FieldErrorf(code Code, field string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Field: []string{field}}
}

// AsError reports whether err is, or wraps, a business *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// ErrorCode returns the code of a business error, or "" for any other error.
func ErrorCode(err error) Code {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return ""
}
