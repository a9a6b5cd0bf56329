package devstack

import (
	"html"
	"regexp"
	"strings"
)

// Link extraction is ours, not go-message's: go-message decodes a mail but
// does not look inside its bodies, and which URLs count is a choice of this
// package (http and https only, the sentence punctuation after a URL in prose
// trimmed, the text part's links first) that the mail pages' linkify shares,
// so that the list of links and the linked text agree. A regexp for href
// suffices for the HTML that mailers write; golang.org/x/net/html would be
// exact, at the price of a full HTML parser for one attribute.
var (
	// textURL matches an http(s) URL in plain text; trailing punctuation is
	// trimmed afterwards.
	textURL = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'\x60]+`)
	// hrefAttr matches a quoted or bare href attribute value.
	hrefAttr = regexp.MustCompile(`(?i)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))`)
)

// findTextLinks returns the http(s) URLs in s in order, each with its byte
// range.
func findTextLinks(s string) [][2]int {
	var out [][2]int
	for _, loc := range textURL.FindAllStringIndex(s, -1) {
		u := s[loc[0]:loc[1]]
		end := loc[0] + len(trimURLTail(u))
		if end > loc[0]+len("http://") {
			out = append(out, [2]int{loc[0], end})
		}
	}
	return out
}

// trimURLTail drops the sentence punctuation that follows a URL in prose,
// and a closing bracket that has no opening one inside the URL.
func trimURLTail(u string) string {
	for len(u) > 0 {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?*", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"),
			last == ']' && strings.Count(u, "[") < strings.Count(u, "]"),
			last == '}' && strings.Count(u, "{") < strings.Count(u, "}"):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}

// extractLinks lists the http(s) URLs of the text body, then the hrefs of
// the HTML body that are http(s) and not listed yet.
func extractLinks(text, htmlBody string) []string {
	seen := map[string]bool{}
	var links []string
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			links = append(links, u)
		}
	}
	for _, r := range findTextLinks(text) {
		add(text[r[0]:r[1]])
	}
	for _, m := range hrefAttr.FindAllStringSubmatch(htmlBody, -1) {
		u := strings.TrimSpace(html.UnescapeString(m[1] + m[2] + m[3]))
		if l := strings.ToLower(u); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			add(u)
		}
	}
	return links
}
