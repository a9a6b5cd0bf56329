package model

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Ids and cursors are opaque to clients: a kind and a number, base64url
// encoded. Clients must not build them; they only pass back what they got.

// EncodeID returns the opaque id or cursor of kind for the number id.
func EncodeID(kind string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
}

// DecodeID returns the number inside an id of kind, or false when s is not
// one.
func DecodeID(kind, s string) (int64, bool) {
	k, id, ok := ParseID(s)
	if !ok || k != kind {
		return 0, false
	}
	return id, true
}

// ParseID returns the kind and the number of an id or cursor, or false
// when s is not one.
func ParseID(s string) (kind string, id int64, ok bool) {
	if len(s) > 64 {
		return "", 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", 0, false
	}
	kind, rest, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", 0, false
	}
	id, err = strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return "", 0, false
	}
	return kind, id, true
}

// Kinds of ids and cursors.
const (
	KindMember       = "Member"
	KindOrganization = "Organization"
	KindAPIKey       = "ApiKey"
	KindWebhook      = "WebhookEndpoint"
	KindEvent        = "MemberEvent"
	KindMemberCursor = "members"
	KindEventCursor  = "events"
)
