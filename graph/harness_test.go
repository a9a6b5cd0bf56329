package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"memberbind/graph"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// api is memberbind's GraphQL handler over HTTP, on a fresh database with
// a clock the test holds.
type api struct {
	t     testing.TB
	srv   *httptest.Server
	store *mysql.Store
	clock *testenv.Clock
	key   string // the API key of the test's organization
	orgID int64
}

// start is the instant every test's clock starts at.
var start = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func newAPI(t testing.TB, policy member.Policy) *api {
	t.Helper()
	if policy == (member.Policy{}) {
		policy = member.DefaultPolicy()
	}
	return newAPIStore(t, mysql.Options{Policy: policy})
}

// newAPIStore is newAPI over a store with the options o, but for its
// clock, which is the test's.
func newAPIStore(t testing.TB, o mysql.Options) *api {
	t.Helper()
	clock := testenv.NewClock(start)
	o.Now = clock.Now
	st := testenv.Store(t, o)
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Service: st, Logger: slog.New(slog.DiscardHandler), Introspection: true}))
	t.Cleanup(srv.Close)
	org, key, err := st.CreateOrganization(context.Background(), "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, srv: srv, store: st, clock: clock, key: key, orgID: org.ID}
}

// org returns a second organization on the same service, with its own key.
func (a *api) org(name string) *api {
	a.t.Helper()
	org, key, err := a.store.CreateOrganization(context.Background(), name, "en")
	if err != nil {
		a.t.Fatal(err)
	}
	b := *a
	b.key, b.orgID = key, org.ID
	return &b
}

// response is a GraphQL response.
type response struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
}

// raw posts a GraphQL request with the given Authorization header.
func (a *api) raw(auth, query string, vars map[string]any) response {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		a.t.Fatalf("response %d is not JSON: %s", res.StatusCode, b)
	}
	r.Status = res.StatusCode
	return r
}

// do runs a query that must succeed at the protocol level.
func (a *api) do(query string, vars map[string]any) map[string]any {
	a.t.Helper()
	r := a.raw("Bearer "+a.key, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		a.t.Fatalf("query failed (%d): %+v", r.Status, r.Errors)
	}
	return r.Data
}

const memberFields = `id name memberType remark bindStatus loginEmail removedAt
	removal { allowed reasons }
	securityInfo { email countryCode phone status submittedAt activatedAt linkSentAt linkExpiresAt
		modificationsRemaining nextResendAllowedAt resendsRemaining delivery { status attempts lastError sentAt } }`

// payload is a mutation's result.
type payload struct {
	Member map[string]any
	Errors []map[string]any
}

// code is the code of the payload's only user error, or "" for none.
func (p payload) code() string {
	if len(p.Errors) == 0 {
		return ""
	}
	return p.Errors[0]["code"].(string)
}

func (a *api) mutate(name, input string, vars map[string]any) payload {
	a.t.Helper()
	q := fmt.Sprintf(`mutation($input: %s!) { %s(input: $input) { member { %s } userErrors { code message field retryAt } } }`, input, name, memberFields)
	data := a.do(q, map[string]any{"input": vars})
	p := data[name].(map[string]any)
	out := payload{}
	if m, ok := p["member"].(map[string]any); ok {
		out.Member = m
	}
	for _, e := range p["userErrors"].([]any) {
		out.Errors = append(out.Errors, e.(map[string]any))
	}
	if len(out.Errors) > 1 {
		a.t.Fatalf("%s: more than one user error: %v", name, out.Errors)
	}
	return out
}

func (a *api) create(name string) string {
	a.t.Helper()
	p := a.mutate("createMember", "CreateMemberInput", map[string]any{"name": name})
	if p.code() != "" {
		a.t.Fatalf("createMember: %v", p.Errors)
	}
	return p.Member["id"].(string)
}

func (a *api) invite(name string) string {
	a.t.Helper()
	p := a.mutate("inviteMember", "InviteMemberInput", map[string]any{"name": name})
	if p.code() != "" {
		a.t.Fatalf("inviteMember: %v", p.Errors)
	}
	return p.Member["id"].(string)
}

// info is a SecurityInfoInput.
func info(id, email string) map[string]any {
	return map[string]any{"memberId": id, "email": email, "countryCode": "+86", "phone": "13800138000"}
}

func (a *api) bind(id, email string) payload {
	a.t.Helper()
	return a.mutate("bindSecurityInfo", "SecurityInfoInput", info(id, email))
}

func (a *api) update(id, email string) payload {
	a.t.Helper()
	return a.mutate("updateSecurityInfo", "SecurityInfoInput", info(id, email))
}

func (a *api) rebind(id, email string) payload {
	a.t.Helper()
	return a.mutate("rebindSecurityInfo", "SecurityInfoInput", info(id, email))
}

func (a *api) resend(id string) payload {
	a.t.Helper()
	return a.mutate("resendActivationLink", "MemberInput", map[string]any{"memberId": id})
}

func (a *api) remove(id string) payload {
	a.t.Helper()
	return a.mutate("removeMember", "MemberInput", map[string]any{"memberId": id})
}

// member reads one member, nil when the organization has none with id.
func (a *api) member(id string) map[string]any {
	a.t.Helper()
	data := a.do(`query($id: ID!) { member(id: $id) { `+memberFields+` } }`, map[string]any{"id": id})
	m, _ := data["member"].(map[string]any)
	return m
}

func (a *api) status(id string) string {
	a.t.Helper()
	m := a.member(id)
	if m == nil {
		a.t.Fatalf("member %s not found", id)
	}
	return m["bindStatus"].(string)
}

// deliverAll marks every queued activation mail as accepted by the mail
// server now, the way the mail worker does, and returns the raw tokens by
// recipient.
func (a *api) deliverAll() map[string][]string {
	a.t.Helper()
	ctx := context.Background()
	msgs, err := a.store.ClaimOutbox(ctx, "test", 1000, time.Minute)
	if err != nil {
		a.t.Fatal(err)
	}
	tokens := map[string][]string{}
	for _, m := range msgs {
		if err := a.store.MarkOutboxSent(ctx, m.OrgID, m.ID, "test", a.clock.Now()); err != nil {
			a.t.Fatal(err)
		}
		tokens[m.Recipient] = append(tokens[m.Recipient], m.Token)
	}
	return tokens
}

// count returns the number of rows of a table matching a condition.
func (a *api) count(table, cond string, args ...any) int {
	a.t.Helper()
	var n int
	if err := a.store.DB().Get(&n, "SELECT COUNT(*) FROM "+table+" WHERE "+cond, args...); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// snapshot counts the rows a mutation may write, to prove a refused one
// wrote nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var parts []string
	for _, table := range []string{"members", "bindings", "email_claims", "activation_links", "outbox", "member_events",
		"mail_recipients", "org_mail_hours"} {
		parts = append(parts, fmt.Sprintf("%s=%d", table, a.count(table, "1=1")))
	}
	var mods, orgMails int
	var recipients string
	_ = a.store.DB().Get(&mods, "SELECT COALESCE(SUM(modifications), 0) FROM bindings")
	_ = a.store.DB().Get(&orgMails, "SELECT COALESCE(SUM(mails), 0) FROM org_mail_hours")
	_ = a.store.DB().Get(&recipients, "SELECT COALESCE(GROUP_CONCAT(recent_mails ORDER BY email_key SEPARATOR '|'), '') FROM mail_recipients")
	parts = append(parts, fmt.Sprintf("modifications=%d org_mails=%d recipients=%q", mods, orgMails, recipients))
	return strings.Join(parts, " ")
}

func wantCode(t testing.TB, p payload, code string) {
	t.Helper()
	if got := p.code(); got != code {
		t.Fatalf("user error code = %q, want %q (errors %v)", got, code, p.Errors)
	}
}
