package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/member"
)

// Languages of the activation mail. An organization with any other
// language gets LangEnglish.
const (
	LangEnglish = "en"
	LangChinese = "zh-CN"
)

// ExpiryLayout is how the mail prints a link's expiry: an absolute date and
// time in UTC, e.g. "2026-12-12 14:03 UTC".
const ExpiryLayout = "2006-01-02 15:04 UTC"

// ActivationPath is the path of the activation landing page (DESIGN.md §3).
const ActivationPath = "/activate"

// SignInPath is the path of the page a sign-in link opens (internal/signin).
const SignInPath = "/signin/confirm"

//go:embed templates
var templateFS embed.FS

// mailTemplates are the three templates of one mail in one language.
type mailTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// templates are the activation mail's, by language; signInTemplates the
// sign-in mail's.
var (
	templates = map[string]mailTemplates{
		LangEnglish: mustParse(LangEnglish, "activation"),
		LangChinese: mustParse(LangChinese, "activation"),
	}
	signInTemplates = map[string]mailTemplates{
		LangEnglish: mustParse(LangEnglish, "signin"),
		LangChinese: mustParse(LangChinese, "signin"),
	}
)

func mustParse(lang, name string) mailTemplates {
	dir := "templates/" + lang + "/"
	return mailTemplates{
		subject: texttemplate.Must(texttemplate.ParseFS(templateFS, dir+name+".subject.txt")),
		text:    texttemplate.Must(texttemplate.ParseFS(templateFS, dir+name+".txt")),
		html:    htmltemplate.Must(htmltemplate.ParseFS(templateFS, dir+name+".html")),
	}
}

// RenderOptions is what Render needs besides the outbox row.
type RenderOptions struct {
	// PublicURL is where the service is reached from outside, e.g.
	// "https://bind.example.com"; the link is PublicURL + "/activate?token=…"
	// (a sign-in mail's: PublicURL + "/signin/confirm?token=…").
	PublicURL string
	// From is the sender, e.g. "Example <noreply@example.com>".
	From string
	// ExpiresAt is the link's expiry as printed in the mail, in UTC to the
	// minute (seconds are cut, so the printed time is never later than the
	// real one).
	ExpiresAt time.Time
	// Now is the mail's Date; zero means time.Now().
	Now time.Time
}

// mailData is what the templates see.
type mailData struct {
	OrgName    string
	MemberName string
	Email      string
	Link       string
	ExpiresAt  string
}

// Lang returns the mail language for an organization's language setting:
// LangChinese for "zh-CN" (and its spellings "zh", "zh_CN", "zh-Hans"),
// LangEnglish for anything else.
func Lang(orgLang string) string {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(orgLang), "_", "-")) {
	case "zh-cn", "zh", "zh-hans", "zh-hans-cn":
		return LangChinese
	}
	return LangEnglish
}

// ActivationURL returns the activation link for a raw token:
// publicURL + "/activate?token=" + the query-escaped token.
func ActivationURL(publicURL, token string) (string, error) {
	return linkURL(publicURL, ActivationPath, token)
}

// SignInURL returns the sign-in link for a raw token:
// publicURL + "/signin/confirm?token=" + the query-escaped token.
func SignInURL(publicURL, token string) (string, error) {
	return linkURL(publicURL, SignInPath, token)
}

func linkURL(publicURL, path, token string) (string, error) {
	base, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil {
		return "", fmt.Errorf("public URL is malformed: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("public URL %q must be an absolute http or https URL", publicURL)
	}
	if base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return "", fmt.Errorf("public URL %q must not have a query, fragment or user information", publicURL)
	}
	if token == "" {
		return "", errors.New("link token is empty")
	}
	return strings.TrimSuffix(base.String(), "/") + path + "?token=" + url.QueryEscape(token), nil
}

// Render writes the mail of an outbox row: multipart/alternative with a
// plain-text and an HTML part that both hold the link and say which
// organization asks, for which member account, when the link expires and
// to ignore the mail if unexpected. A row of kind member.OutboxSignIn gets
// the sign-in mail and link; any other, the activation mail and link. The Message-ID is the row's
// (so a retried row keeps it), plus Date, From, To, Subject and
// Auto-Submitted: auto-generated.
//
// Names are printed as text: escaped in HTML, and with control characters
// (CR, LF, …) turned into spaces everywhere, so no name can add a header
// or a line. Errors never contain the token.
func Render(m member.OutboxMessage, r RenderOptions) (*gomail.Msg, error) {
	path, set := ActivationPath, templates
	if m.Kind == member.OutboxSignIn {
		path, set = SignInPath, signInTemplates
	}
	link, err := linkURL(r.PublicURL, path, m.Token)
	if err != nil {
		return nil, fmt.Errorf("render outbox message %d: %w", m.ID, err)
	}
	msgID, err := messageID(m.MessageID)
	if err != nil {
		return nil, fmt.Errorf("render outbox message %d: %w", m.ID, err)
	}
	if r.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("render outbox message %d: link expiry is not set", m.ID)
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}

	lang := Lang(m.OrgLang)
	t := set[lang]
	data := mailData{
		OrgName:    oneLine(m.OrgName),
		MemberName: oneLine(m.MemberName),
		Email:      oneLine(m.Recipient),
		Link:       link,
		ExpiresAt:  r.ExpiresAt.UTC().Format(ExpiryLayout),
	}
	var subject, text, html bytes.Buffer
	if err := t.subject.Execute(&subject, data); err != nil {
		return nil, fmt.Errorf("render outbox message %d subject: %w", m.ID, err)
	}
	if err := t.text.Execute(&text, data); err != nil {
		return nil, fmt.Errorf("render outbox message %d text: %w", m.ID, err)
	}
	if err := t.html.Execute(&html, data); err != nil {
		return nil, fmt.Errorf("render outbox message %d HTML: %w", m.ID, err)
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(r.From); err != nil {
		return nil, fmt.Errorf("render outbox message %d: sender %q: %w", m.ID, r.From, err)
	}
	if err := msg.To(m.Recipient); err != nil {
		return nil, fmt.Errorf("render outbox message %d: recipient %q: %w", m.ID, m.Recipient, err)
	}
	msg.SetMessageIDWithValue(msgID)
	msg.SetDateWithValue(now.UTC())
	msg.Subject(oneLine(subject.String()))
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	// Exchange's own flag for "do not send out-of-office replies".
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader(gomail.HeaderContentLang, lang)
	msg.SetBodyString(gomail.TypeTextPlain, text.String())
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return msg, nil
}

// messageID returns the store's Message-ID without angle brackets, checked
// to be one dot-atom-ish "left@right" token that is safe in a header.
func messageID(id string) (string, error) {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || strings.Contains(right, "@") {
		return "", fmt.Errorf("message ID %q is not of the form left@right", id)
	}
	for _, c := range id {
		if c <= ' ' || c > '~' || strings.ContainsRune(`<>()[]\,;:"`, c) {
			return "", fmt.Errorf("message ID %q holds a character not allowed in a Message-ID", id)
		}
	}
	return id, nil
}

// oneLine turns control characters (CR, LF, tab, …) and Unicode line
// separators into spaces, collapses runs of spaces and trims, so a value can
// neither start a new header nor a new line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
