package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
)

const apiKeyFields = `id name prefix createdAt lastUsedAt revokedAt`

// keysOf lists the organization's API keys, newest first.
func (a *api) keys() []map[string]any {
	a.t.Helper()
	data := a.do(`{ organization { apiKeys { `+apiKeyFields+` } } }`, nil)
	var out []map[string]any
	for _, k := range data["organization"].(map[string]any)["apiKeys"].([]any) {
		out = append(out, k.(map[string]any))
	}
	return out
}

// keyPayload is the answer of createApiKey or revokeApiKey.
type keyPayload struct {
	APIKey     map[string]any   `json:"apiKey"`
	Secret     *string          `json:"secret"`
	UserErrors []map[string]any `json:"userErrors"`
}

func (p keyPayload) code() string {
	if len(p.UserErrors) == 0 {
		return ""
	}
	return p.UserErrors[0]["code"].(string)
}

func (a *api) keyMutation(auth, name, input string, vars map[string]any) keyPayload {
	a.t.Helper()
	secret := ""
	if name == "createApiKey" {
		secret = "secret"
	}
	q := `mutation($input: ` + input + `!) { ` + name + `(input: $input) { apiKey { ` + apiKeyFields + ` } ` + secret + ` userErrors { code message field } } }`
	r := a.raw(auth, q, map[string]any{"input": vars})
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		a.t.Fatalf("%s failed (%d): %+v", name, r.Status, r.Errors)
	}
	b, _ := json.Marshal(r.Data[name])
	var p keyPayload
	if err := json.Unmarshal(b, &p); err != nil {
		a.t.Fatal(err)
	}
	return p
}

func (a *api) createKey(name string) keyPayload {
	a.t.Helper()
	return a.keyMutation("Bearer "+a.key, "createApiKey", "CreateApiKeyInput", map[string]any{"name": name})
}

func (a *api) revokeKey(auth, id string) keyPayload {
	a.t.Helper()
	return a.keyMutation(auth, "revokeApiKey", "RevokeApiKeyInput", map[string]any{"id": id})
}

// TestAPIKeyRotation is a rotation through the API: a second key is
// created (its secret shown once) and works at once; the first key's use
// shows; the first key is revoked through the second and is refused from
// its next request on; the last key cannot be revoked; bad names and ids
// get user errors and change nothing; another organization's key is not
// found.
func TestAPIKeyRotation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	other := a.org("Other")

	keys := a.keys()
	if len(keys) != 1 || keys[0]["name"] != "default" || !strings.HasPrefix(a.key, keys[0]["prefix"].(string)) ||
		keys[0]["lastUsedAt"] == nil || keys[0]["revokedAt"] != nil {
		t.Fatalf("a new organization's keys: %v", keys)
	}
	oldID := keys[0]["id"].(string)

	for _, bad := range []string{"", "  ", "a\u200bb", strings.Repeat("x", member.MaxNameLength+1)} {
		p := a.createKey(bad)
		if p.code() != "INVALID_INPUT" || p.APIKey != nil || p.Secret != nil ||
			!strings.Contains(p.UserErrors[0]["message"].(string), "name") || len(p.UserErrors[0]["field"].([]any)) != 2 {
			t.Errorf("createApiKey(%q): %+v, want INVALID_INPUT on [input name]", bad, p)
		}
	}
	if n := a.count("api_keys", "org_id = ?", a.orgID); n != 1 {
		t.Fatalf("refused creates left %d keys", n)
	}

	a.clock.Add(time.Hour)
	created := a.createKey("Deploy 2026-11")
	if created.code() != "" || created.Secret == nil || created.APIKey["name"] != "Deploy 2026-11" || created.APIKey["lastUsedAt"] != nil {
		t.Fatalf("createApiKey: %+v", created)
	}
	secret := *created.Secret
	if len(secret) != 46 || !strings.HasPrefix(secret, "mb_") || !strings.HasPrefix(secret, created.APIKey["prefix"].(string)) {
		t.Errorf("the secret %d characters, prefix %v", len(secret), created.APIKey["prefix"])
	}
	b := *a
	b.key = secret
	if keys := b.keys(); len(keys) != 2 || keys[0]["id"] != created.APIKey["id"] || keys[0]["lastUsedAt"] == nil {
		t.Fatalf("after createApiKey, through the new key: %v", keys)
	}

	if p := other.revokeKey("Bearer "+other.key, oldID); p.code() != "API_KEY_NOT_FOUND" || p.APIKey != nil {
		t.Errorf("revoking another organization's key: %+v", p)
	}
	if p := a.revokeKey("Bearer "+a.key, "not-an-id"); p.code() != "API_KEY_NOT_FOUND" || p.APIKey != nil {
		t.Errorf("revoking a bad id: %+v", p)
	}
	p := b.revokeKey("Bearer "+secret, oldID)
	if p.code() != "" || p.APIKey["id"] != oldID || p.APIKey["revokedAt"] == nil {
		t.Fatalf("revokeApiKey: %+v", p)
	}
	if r := a.raw("Bearer "+a.key, `{ organization { name } }`, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the revoked key answered %d, want 401", r.Status)
	}

	p = b.revokeKey("Bearer "+secret, created.APIKey["id"].(string))
	if p.code() != "LAST_API_KEY" || p.APIKey["revokedAt"] != nil || p.APIKey["id"] != created.APIKey["id"] {
		t.Errorf("revoking the last key: %+v, want LAST_API_KEY and the key as it stands", p)
	}
	if keys := b.keys(); len(keys) != 2 || keys[0]["revokedAt"] != nil || keys[1]["revokedAt"] == nil {
		t.Errorf("keys at the end: %v", keys)
	}
}

// TestRevokeLastTwoKeysThroughAPI: two concurrent revokeApiKey of an
// organization's last two keys, each sent with the key it revokes: one is
// refused with LAST_API_KEY, and the organization keeps a key that works.
func TestRevokeLastTwoKeysThroughAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	second := *a.createKey("second").Secret
	keys := a.keys()
	auth := map[string]string{keys[0]["id"].(string): second, keys[1]["id"].(string): a.key}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes []string
	)
	for id, key := range auth {
		wg.Go(func() {
			p := a.revokeKey("Bearer "+key, id)
			mu.Lock()
			codes = append(codes, p.code())
			mu.Unlock()
		})
	}
	wg.Wait()
	if !(codes[0] == "" && codes[1] == "LAST_API_KEY" || codes[0] == "LAST_API_KEY" && codes[1] == "") {
		t.Fatalf("codes %v, want one revoke and one LAST_API_KEY", codes)
	}
	live := 0
	for _, key := range auth {
		if r := a.raw("Bearer "+key, `{ organization { name } }`, nil); r.Status == http.StatusOK {
			live++
		}
	}
	if live != 1 {
		t.Errorf("%d keys work, want 1", live)
	}
}

// TestCreateAPIKeyIsNotKeptForReplay: createApiKey sent with an
// Idempotency-Key is refused before it executes, however the document
// spells it, since its answer holds the secret; revokeApiKey is kept
// and replayed as any mutation.
func TestCreateAPIKeyIsNotKeptForReplay(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	for _, q := range []string{
		`mutation { createApiKey(input: {name: "ci"}) { secret } }`,
		`mutation M { k: createApiKey(input: {name: "ci"}) { apiKey { id } } }`,
		`mutation { ...F } fragment F on Mutation { ... on Mutation { createApiKey(input: {name: "ci"}) { secret } } }`,
		`mutation { createMember(input: {name: "x"}) { userErrors { code } } createApiKey(input: {name: "ci"}) { secret } }`,
	} {
		body, _ := json.Marshal(map[string]any{"query": q})
		r := send(t, a.srv.URL, a.key, ptr("k-"+q), string(body))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "IDEMPOTENCY_KEY_NOT_ALLOWED") || strings.Contains(r.body, "mb_") {
			t.Errorf("%s with an Idempotency-Key: %+v, want 422 IDEMPOTENCY_KEY_NOT_ALLOWED", q, r)
		}
	}
	if n := a.count("api_keys", "org_id = ?", a.orgID); n != 1 {
		t.Fatalf("the refused requests created keys: %d", n)
	}
	if n := a.count("idempotency_keys", "1=1"); n != 0 {
		t.Fatalf("the refused requests kept %d idempotency keys", n)
	}
	if n := a.count("members", "1=1"); n != 0 {
		t.Fatalf("the refused requests created %d members", n)
	}

	a.createKey("second")
	id := a.keys()[0]["id"].(string)
	body, _ := json.Marshal(map[string]any{"query": `mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } userErrors { code } } }`, "variables": map[string]any{"id": id}})
	first := send(t, a.srv.URL, a.key, ptr("revoke-1"), string(body))
	again := send(t, a.srv.URL, a.key, ptr("revoke-1"), string(body))
	if first.status != http.StatusOK || again.body != first.body || again.replayed != "true" {
		t.Errorf("revokeApiKey with an Idempotency-Key: %+v then %+v", first, again)
	}
}
