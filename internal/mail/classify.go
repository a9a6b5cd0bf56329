package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// maxReason bounds the length of a classified reason.
const maxReason = 300

// Classify says whether a failure to deliver a mail is temporary (try again
// later) or permanent (give up on this message), with a short reason that
// carries the server's reply code and text where there is one. It takes
// anything go-mail or a Sender returns, wrapped or not:
//
//   - a reply to MAIL FROM, RCPT TO or DATA (inside a *gomail.SendError):
//     4xx is temporary, 5xx permanent. 530 (authentication required) is the
//     exception: it is about this client's configuration, not the message.
//   - a reply while setting up the connection (greeting, EHLO, STARTTLS,
//     AUTH; a bare *textproto.Error): 4xx is temporary, and so is 5xx. A
//     5xx there refuses this client (bad password, blocked address), says
//     nothing about the message, and would otherwise fail every queued mail
//     at once; retrying until the operator fixes it is bounded by the
//     worker's retry budget.
//   - network failures (refused, reset, dropped mid-DATA, timeouts),
//     cancellation, TLS failures and anything unrecognized are temporary.
//
// Only reasons produced here are meant for SecurityInfo.delivery.lastError;
// they hold no credentials (go-mail's errors never contain the password).
func Classify(err error) (temporary bool, reason string) {
	if err == nil {
		return false, ""
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		return classifySendError(se)
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		stage := "connect"
		if strings.Contains(err.Error(), "SMTP AUTH failed") {
			stage = "AUTH"
		}
		return true, clip(fmt.Sprintf("%s: %03d %s", stage, tp.Code, tp.Msg))
	}
	return true, clip(describeNetError(err))
}

// sendStage names the SMTP step a SendError reason stands for.
func sendStage(r gomail.SendErrReason) string {
	switch r {
	case gomail.ErrSMTPMailFrom:
		return "MAIL FROM"
	case gomail.ErrSMTPRcptTo:
		return "RCPT TO"
	case gomail.ErrSMTPData:
		return "DATA"
	case gomail.ErrSMTPDataClose:
		return "end of DATA"
	case gomail.ErrWriteContent:
		return "message content"
	case gomail.ErrSMTPReset:
		return "RSET"
	case gomail.ErrConnCheck:
		return "connection check"
	}
	return r.String()
}

func classifySendError(se *gomail.SendError) (bool, string) {
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		// The message itself cannot be sent as written.
		return false, clip("message: " + se.Error())
	}
	// SendError does not unwrap to the server's reply; its text is
	// "<reason>: <errors>[, affected recipient(s): …][, affected message ID: …]".
	detail := strings.TrimPrefix(se.Error(), se.Reason.String())
	detail = strings.TrimPrefix(detail, ":")
	for _, tail := range []string{", affected recipient(s): ", ", affected message ID: "} {
		if i := strings.Index(detail, tail); i >= 0 {
			detail = detail[:i]
		}
	}
	detail = unquoteReplies(strings.TrimSpace(detail))
	reason := sendStage(se.Reason) + ": " + detail

	code := se.ErrorCode()
	switch {
	case code >= 500 && code != 530:
		return false, clip(reason)
	case code >= 400:
		return true, clip(reason)
	}
	// No reply code: the connection broke (EOF, reset, timeout) before the
	// server answered, so the message was not accepted.
	if detail == "" || strings.EqualFold(detail, io.EOF.Error()) {
		reason = sendStage(se.Reason) + ": connection closed by the server"
	}
	return true, clip(reason)
}

// replyRE finds a server reply as textproto.Error prints it since Go 1.26:
// the code and the quoted text, e.g. `550 "5.1.1 unknown user"`.
var replyRE = regexp.MustCompile(`\b[2-5][0-9][0-9] "`)

// unquoteReplies turns `550 "5.1.1 unknown user"` into
// `550 5.1.1 unknown user` wherever it occurs in s.
func unquoteReplies(s string) string {
	var b strings.Builder
	for {
		loc := replyRE.FindStringIndex(s)
		if loc == nil {
			b.WriteString(s)
			return b.String()
		}
		quoteAt := loc[1] - 1
		q, err := strconv.QuotedPrefix(s[quoteAt:])
		if err != nil {
			b.WriteString(s[:loc[1]])
			s = s[loc[1]:]
			continue
		}
		text, _ := strconv.Unquote(q)
		b.WriteString(s[:quoteAt])
		b.WriteString(text)
		s = s[quoteAt+len(q):]
	}
}

// describeNetError words a failure that carries no SMTP reply.
func describeNetError(err error) string {
	var (
		netErr  net.Error
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		unkAuth x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	addr := ""
	if errors.As(err, &opErr) && opErr.Addr != nil {
		addr = " (" + opErr.Addr.String() + ")"
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out waiting for the SMTP server" + addr
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused" + addr
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the SMTP server" + addr
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the SMTP server" + addr
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &host):
		return "TLS certificate of the SMTP server not accepted: " + err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve the SMTP server: " + dnsErr.Error()
	}
	if opErr != nil {
		return "network error: " + opErr.Error()
	}
	return err.Error()
}

// clip makes a reason one line of at most maxReason bytes, cut at a rune
// boundary.
func clip(s string) string {
	s = oneLine(s)
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
