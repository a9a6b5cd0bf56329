package graph_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/webhook"
)

// withWebhooks configures the api's store for webhooks, with a resolver
// under which every name is a public address.
func (a *api) withWebhooks() *api {
	a.t.Helper()
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		a.t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		a.t.Fatal(err)
	}
	g := &webhook.Guard{LookupNetIP: func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	}}
	a.store.Webhooks = mysql.WebhookConfig{Cipher: aead, CheckURL: g.CheckURL}
	return a
}

const endpointFields = `id url events enabled disabledAt failingSince deliveries(first: 5) { webhookId type status attempts payload nextAttemptAt lastError responseCode }`

// webhookMutation runs a mutation on an endpoint and returns its payload.
func (a *api) webhookMutation(name, input string, vars map[string]any) map[string]any {
	a.t.Helper()
	secret := ""
	if name == "createWebhookEndpoint" || name == "rotateWebhookSecret" {
		secret = "secret"
	}
	data := a.do(`mutation($input: `+input+`!) { `+name+`(input: $input) { endpoint { `+endpointFields+` } `+secret+` userErrors { code message field } } }`, map[string]any{"input": vars})
	return data[name].(map[string]any)
}

func userErrorOf(p map[string]any) (code string, field string) {
	ues := p["userErrors"].([]any)
	if len(ues) == 0 {
		return "", ""
	}
	ue := ues[0].(map[string]any)
	f, _ := json.Marshal(ue["field"])
	return ue["code"].(string), string(f)
}

// TestWebhookEndpoints: the webhook mutations of DESIGN.md §10 with their
// userErrors, and an endpoint's deliveries in the organization.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{}).withWebhooks()

	before := a.count("webhook_endpoints", "1=1")
	for _, tc := range []struct {
		url    string
		events []string
		code   string
		field  string
	}{
		{"http://hooks.example/x", []string{"MEMBER_REMOVED"}, "INVALID_WEBHOOK_URL", `["input","url"]`},
		{"https://10.0.0.1/x", []string{"MEMBER_REMOVED"}, "INVALID_WEBHOOK_URL", `["input","url"]`},
		{"https://hooks.example/x", []string{}, "INVALID_INPUT", `["input","events"]`},
	} {
		p := a.webhookMutation("createWebhookEndpoint", "CreateWebhookEndpointInput", map[string]any{"url": tc.url, "events": tc.events})
		if code, field := userErrorOf(p); code != tc.code || field != tc.field || p["endpoint"] != nil || p["secret"] != nil {
			t.Errorf("create %s %v: %v", tc.url, tc.events, p)
		}
	}
	if after := a.count("webhook_endpoints", "1=1"); after != before {
		t.Errorf("refused creations made %d endpoints", after-before)
	}

	p := a.webhookMutation("createWebhookEndpoint", "CreateWebhookEndpointInput", map[string]any{"url": "https://hooks.example/x", "events": []string{"MEMBER_REMOVED", "MEMBER_ACTIVATED"}})
	secret, _ := p["secret"].(string)
	e, _ := p["endpoint"].(map[string]any)
	if !strings.HasPrefix(secret, "whsec_") || e == nil || e["enabled"] != true {
		t.Fatalf("create: %v", p)
	}
	if ev, _ := json.Marshal(e["events"]); string(ev) != `["MEMBER_ACTIVATED","MEMBER_REMOVED"]` {
		t.Errorf("events %s", ev)
	}
	id := e["id"].(string)

	a.remove(a.invite("Ann"))
	data := a.do(`{ organization { webhookEndpoints { `+endpointFields+` } } }`, nil)
	list := data["organization"].(map[string]any)["webhookEndpoints"].([]any)
	ds := list[0].(map[string]any)["deliveries"].([]any)
	if len(ds) != 1 {
		t.Fatalf("deliveries %v", ds)
	}
	d := ds[0].(map[string]any)
	if d["type"] != "MEMBER_REMOVED" || d["status"] != "QUEUED" || d["attempts"] != float64(0) || d["nextAttemptAt"] == nil ||
		d["lastError"] != nil || d["responseCode"] != nil || !strings.HasPrefix(d["webhookId"].(string), "msg_") ||
		!strings.Contains(d["payload"].(string), `"type":"member.removed"`) {
		t.Errorf("delivery %v", d)
	}

	p = a.webhookMutation("updateWebhookEndpoint", "UpdateWebhookEndpointInput", map[string]any{"id": id, "events": []string{}})
	if code, field := userErrorOf(p); code != "INVALID_INPUT" || field != `["input","events"]` || p["endpoint"].(map[string]any)["id"] != id {
		t.Errorf("update with no events: %v", p)
	}
	p = a.webhookMutation("updateWebhookEndpoint", "UpdateWebhookEndpointInput", map[string]any{"id": id, "url": "https://hooks.example/y"})
	if code, _ := userErrorOf(p); code != "" || p["endpoint"].(map[string]any)["url"] != "https://hooks.example/y" {
		t.Errorf("update url: %v", p)
	}
	p = a.webhookMutation("rotateWebhookSecret", "WebhookEndpointInput", map[string]any{"id": id})
	if s, _ := p["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Errorf("rotate: %v", p)
	}
	other := a.org("Other")
	p = other.webhookMutation("deleteWebhookEndpoint", "WebhookEndpointInput", map[string]any{"id": id})
	if code, field := userErrorOf(p); code != "WEBHOOK_ENDPOINT_NOT_FOUND" || field != `["input","id"]` || p["endpoint"] != nil {
		t.Errorf("another organization's delete: %v", p)
	}
	p = a.webhookMutation("deleteWebhookEndpoint", "WebhookEndpointInput", map[string]any{"id": id})
	if code, _ := userErrorOf(p); code != "" || p["endpoint"].(map[string]any)["id"] != id {
		t.Errorf("delete: %v", p)
	}
	if n := a.count("webhook_deliveries", "1=1"); n != 0 {
		t.Errorf("%d deliveries left after the endpoint's delete", n)
	}
}
