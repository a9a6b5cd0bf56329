package mysql_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
	"memberbind/internal/webhook"
)

// webhookStore is a store on dsn with webhooks configured: a fixed key, and
// activation links that live two minutes, a guard under which hooks.example resolves to a public address and
// rebind.example to 127.0.0.1.
func webhookStore(t *testing.T, dsn string, clock *testenv.Clock) *mysql.Store {
	t.Helper()
	st := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now, Policy: shortLinks()})
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	g := &webhook.Guard{LookupNetIP: func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host == "rebind.example" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	}}
	st.Webhooks = mysql.WebhookConfig{Cipher: aead, CheckURL: g.CheckURL}
	return st
}

// TestWebhookEndpoints: a bad URL or event list is refused naming the
// field and stores nothing; an endpoint is kept per organization, and its
// secret is whsec_ and base64, rotated on demand.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	st := webhookStore(t, testenv.MySQL(t), clock)
	org, _, err := st.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	all := []member.WebhookEventType{member.WebhookMemberActivated}
	for _, tc := range []struct {
		url    string
		events []member.WebhookEventType
		code   member.Code
		field  string
	}{
		{"http://hooks.example/x", all, member.CodeInvalidWebhookURL, "url"},
		{"ftp://hooks.example/x", all, member.CodeInvalidWebhookURL, "url"},
		{"https://user:pw@hooks.example/x", all, member.CodeInvalidWebhookURL, "url"},
		{"https://127.0.0.1/x", all, member.CodeInvalidWebhookURL, "url"},
		{"https://10.1.2.3/x", all, member.CodeInvalidWebhookURL, "url"},
		{"https://169.254.169.254/latest", all, member.CodeInvalidWebhookURL, "url"},
		{"https://[fd00:ec2::254]/", all, member.CodeInvalidWebhookURL, "url"},
		{"https://100.64.0.1/", all, member.CodeInvalidWebhookURL, "url"},
		{"https://[::ffff:192.168.1.1]/", all, member.CodeInvalidWebhookURL, "url"},
		{"https://rebind.example/x", all, member.CodeInvalidWebhookURL, "url"},
		{"http://localhost:9/x", all, member.CodeInvalidWebhookURL, "url"},
		{"/relative", all, member.CodeInvalidWebhookURL, "url"},
		{"https://hooks.example/x", nil, member.CodeInvalidInput, "events"},
		{"https://hooks.example/x", []member.WebhookEventType{"NOPE"}, member.CodeInvalidInput, "events"},
	} {
		_, _, err := st.CreateWebhookEndpoint(ctx, org.ID, tc.url, tc.events)
		if e, ok := member.AsError(err); !ok || e.Code != tc.code || len(e.Field) != 1 || e.Field[0] != tc.field {
			t.Errorf("create %q %v: %v, want %s on %s", tc.url, tc.events, err, tc.code, tc.field)
		}
	}
	if n := testenv.Count(t, st.DB(), "webhook_endpoints", "1=1"); n != 0 {
		t.Fatalf("%d endpoints after refusals", n)
	}
	e, secret, err := st.CreateWebhookEndpoint(ctx, org.ID, " https://hooks.example/x ", []member.WebhookEventType{member.WebhookMemberRemoved, member.WebhookMemberActivated, member.WebhookMemberRemoved})
	if err != nil {
		t.Fatal(err)
	}
	if key, err := webhook.SecretKey(secret); err != nil || len(key) != 32 {
		t.Errorf("secret %q: %d bytes, %v", secret[:6], len(key), err)
	}
	if e.URL != "https://hooks.example/x" || len(e.Events) != 2 || e.Events[0] != member.WebhookMemberActivated {
		t.Errorf("endpoint %+v", e)
	}
	other, _, _ := st.CreateOrganization(ctx, "Other", "en")
	if _, err := st.UpdateWebhookEndpoint(ctx, other.ID, e.ID, nil, all); member.ErrorCode(err) != member.CodeWebhookNotFound {
		t.Errorf("another organization's update: %v", err)
	}
	_, again, err := st.RotateWebhookSecret(ctx, org.ID, e.ID)
	if err != nil || again == secret {
		t.Errorf("rotate: %v, same secret %v", err, again == secret)
	}
	if _, err := st.DeleteWebhookEndpoint(ctx, org.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := st.WebhookEndpoints(ctx, org.ID); len(list) != 0 {
		t.Errorf("%d endpoints after delete", len(list))
	}
}

// TestWebhookEvents: activation and removal queue one delivery per
// subscribed endpoint in their own transaction; a binding's failure is
// emitted once, by whichever of two sweeping instances gets there first,
// within one sweep of its expiry instant.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	dsn := testenv.MySQL(t)
	one := webhookStore(t, dsn, clock)
	two := webhookStore(t, dsn, clock)
	org, _, err := one.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	every, _, err := one.CreateWebhookEndpoint(ctx, org.ID, "https://hooks.example/all", member.WebhookEventTypes)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := one.CreateWebhookEndpoint(ctx, org.ID, "https://hooks.example/removed", []member.WebhookEventType{member.WebhookMemberRemoved}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	m := testenv.Bind(t, one, org.ID, "Ann", "ann@example.com")
	failing := testenv.Bind(t, one, org.ID, "Bob", "bob@example.com")
	tokens := testenv.Deliver(t, one, clock.Now())
	if testenv.Count(t, one.DB(), "webhook_deliveries", "1=1") != 0 {
		t.Fatal("deliveries before any event")
	}
	if v, err := one.Activate(ctx, tokens[member.OutboxActivation][m.ID][0]); err != nil || v.State != member.LinkValid {
		t.Fatalf("activate: %v %v", v, err)
	}
	if _, err := one.RemoveMember(ctx, org.ID, "test", m.ID); err != nil {
		t.Fatal(err)
	}
	ds, err := one.WebhookDeliveries(ctx, org.ID, []int64{every.ID}, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := ds[every.ID]
	if len(got) != 2 || got[0].Type != member.WebhookMemberRemoved || got[1].Type != member.WebhookMemberActivated {
		t.Fatalf("deliveries to the catch-all endpoint: %+v", got)
	}
	var body struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			Member struct{ ID string } `json:"member"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(got[1].Payload), &body); err != nil || body.Type != "member.activated" || body.Data.Member.ID != member.PublicMemberID(m.ID) || body.Timestamp.IsZero() {
		t.Errorf("payload %s: %v", got[1].Payload, err)
	}
	if n := testenv.Count(t, one.DB(), "webhook_deliveries", "type = 'MEMBER_REMOVED'"); n != 2 {
		t.Errorf("%d member.removed deliveries, want one per subscribed endpoint (2)", n)
	}

	// A mail that cannot be delivered.
	cy := testenv.Bind(t, one, org.ID, "Cy", "cy@example.com")
	msgs, err := one.ClaimOutbox(ctx, "test", 10, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim Cy's mail: %v %v", msgs, err)
	}
	if err := one.MarkOutboxFailed(ctx, msgs[0].OrgID, msgs[0].ID, "test", "550 no such user", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, one.DB(), "webhook_deliveries", "type = 'MAIL_DELIVERY_FAILED' AND member_id = ?", cy.ID); n != 1 {
		t.Errorf("%d mail.delivery_failed deliveries, want 1", n)
	}

	// Bob's link expires: nothing before the instant, one event after it,
	// whoever sweeps.
	ttl := one.Policy().ActivationTTL
	clock.Set(start.Add(time.Second + ttl - time.Millisecond))
	if n, err := one.SweepBindingFailures(ctx, 100); err != nil || n != 0 {
		t.Fatalf("sweep before the expiry instant: %d, %v", n, err)
	}
	clock.Add(time.Millisecond)
	var wg sync.WaitGroup
	total := make([]int, 8)
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := one
			if i%2 == 1 {
				st = two
			}
			n, err := st.SweepBindingFailures(ctx, 100)
			if err != nil {
				t.Error(err)
			}
			total[i] = n
		}()
	}
	wg.Wait()
	sum := 0
	for _, n := range total {
		sum += n
	}
	if sum != 1 {
		t.Errorf("%d sweeps emitted binding.failed, want 1", sum)
	}
	if n := testenv.Count(t, one.DB(), "webhook_deliveries", "type = 'BINDING_FAILED' AND member_id = ?", failing.ID); n != 1 {
		t.Errorf("%d binding.failed deliveries, want 1", n)
	}
	if n, _ := two.SweepBindingFailures(ctx, 100); n != 0 {
		t.Errorf("a later sweep emitted %d more", n)
	}
}

// shortLinks is the default policy with activation links that live two
// minutes.
func shortLinks() member.Policy {
	p := member.DefaultPolicy()
	p.ActivationTTL = 2 * time.Minute
	return p
}
