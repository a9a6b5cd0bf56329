package member

import (
	"errors"
	"fmt"
	"strings"
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
	// CodeWebhookNotFound: the organization has no webhook endpoint with
	// that id.
	CodeWebhookNotFound Code = "WEBHOOK_ENDPOINT_NOT_FOUND"
	// CodeInvalidWebhookURL: the URL is not one webhooks may be sent to
	// (DESIGN.md §10: https, http only to loopback, no private address).
	CodeInvalidWebhookURL Code = "INVALID_WEBHOOK_URL"
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

// Errors are the business failures of one input, one per field at
// fault, so that a client can mark every field it must correct at once
// instead of learning them one round trip at a time. errors.As finds the
// first of them, so AsError and ErrorCode see that one.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As and errors.Is look at each of them.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// JoinErrors returns the non-nil errs as one error: nil when there are
// none, the *Error itself when there is one, Errors otherwise.
func JoinErrors(errs ...*Error) error {
	var out Errors
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

// AllErrors returns every business *Error err is or holds, in order: the
// Errors of an input with several fields at fault, or the one *Error.
func AllErrors(err error) []*Error {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	if e, ok := AsError(err); ok {
		return []*Error{e}
	}
	return nil
}

// AsError reports whether err is, or wraps, a business *Error; of Errors,
// the first.
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
