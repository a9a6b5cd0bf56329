package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every endpoint secret, as Standard Webhooks' secrets
// are written: whsec_ and the key in standard base64.
const SecretPrefix = "whsec_"

// SecretKey returns the HMAC key of a whsec_ secret.
func SecretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret starts with " + SecretPrefix)
	}
	return base64.StdEncoding.DecodeString(raw)
}

// Sign returns the webhook-signature header of a message: v1, and the
// base64 HMAC-SHA256, under the secret's key, of its id, its
// webhook-timestamp (Unix seconds) and its body joined by dots.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
