package graph_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	cases := []struct{ name, auth string }{
		{"missing", ""},
		{"not bearer", "Basic " + a.key},
		{"wrong key", "Bearer mb_" + strings.Repeat("A", 43)},
		{"malformed", "Bearer nope"},
		{"empty bearer", "Bearer "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.raw(c.auth, `{ organization { name } }`, nil)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", r.Status)
			}
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
				t.Errorf("errors = %+v, want one UNAUTHENTICATED", r.Errors)
			}
		})
	}
	data := a.do(`{ organization { id name language policy { activationTTLSeconds maxModifications resendsPerHour resendsTotal } } }`, nil)
	org := data["organization"].(map[string]any)
	if org["name"] != "Acme" || org["language"] != "en" {
		t.Errorf("organization = %v", org)
	}
	if p := org["policy"].(map[string]any); p["activationTTLSeconds"] != float64(15*24*3600) || p["maxModifications"] != float64(3) ||
		p["resendsPerHour"] != float64(5) || p["resendsTotal"] != float64(20) {
		t.Errorf("policy = %v", p)
	}
}

func TestCreateAndInvite(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	p := a.mutate("createMember", "CreateMemberInput", map[string]any{"name": "  Alice  ", "remark": "finance"})
	wantCode(t, p, "")
	if p.Member["name"] != "Alice" || p.Member["memberType"] != "CREATED" || p.Member["remark"] != "finance" || p.Member["bindStatus"] != "UNBOUND" {
		t.Errorf("created member = %v", p.Member)
	}
	if p.Member["securityInfo"] != nil || p.Member["loginEmail"] != nil {
		t.Errorf("unbound member has security info: %v", p.Member)
	}
	p = a.mutate("inviteMember", "InviteMemberInput", map[string]any{"name": "Bob"})
	wantCode(t, p, "")
	if p.Member["memberType"] != "INVITED" {
		t.Errorf("invited member type = %v", p.Member["memberType"])
	}
	for _, name := range []string{"", "   ", strings.Repeat("x", 201), "a\x00b"} {
		before := a.snapshot()
		p := a.mutate("createMember", "CreateMemberInput", map[string]any{"name": name})
		wantCode(t, p, "INVALID_INPUT")
		if f := p.Errors[0]["field"].([]any); len(f) != 2 || f[1] != "name" {
			t.Errorf("field = %v, want [input name]", f)
		}
		if after := a.snapshot(); after != before {
			t.Errorf("refused createMember changed %s to %s", before, after)
		}
	}
}

// TestSpoofingNamesRefused refuses names and remarks whose characters
// would change how they display (issue 12.7), naming the field, and
// changes nothing.
func TestSpoofingNamesRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	for _, c := range []struct {
		mutation, input, field string
		vars                   map[string]any
	}{
		{"createMember", "CreateMemberInput", "name", map[string]any{"name": "Alice\u202egpj.exe"}},
		{"inviteMember", "InviteMemberInput", "name", map[string]any{"name": "adm\u200bin"}},
		{"createMember", "CreateMemberInput", "name", map[string]any{"name": "Alice\u2028Bob"}},
		{"createMember", "CreateMemberInput", "remark", map[string]any{"name": "Alice", "remark": "ok\u2066hidden\u2069"}},
		{"inviteMember", "InviteMemberInput", "remark", map[string]any{"name": "Bob", "remark": "\ufeffnote"}},
	} {
		before := a.snapshot()
		p := a.mutate(c.mutation, c.input, c.vars)
		wantCode(t, p, "INVALID_INPUT")
		if f, _ := p.Errors[0]["field"].([]any); len(f) != 2 || f[1] != c.field {
			t.Errorf("%s %q: field = %v, want [input %s]", c.mutation, c.vars, f, c.field)
		}
		if p.Member != nil {
			t.Errorf("%s %q: member = %v, want none", c.mutation, c.vars, p.Member)
		}
		if after := a.snapshot(); after != before {
			t.Errorf("refused %s changed %s to %s", c.mutation, before, after)
		}
	}
}

func TestBindRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	p := a.bind(alice, "  Alice@Example.COM ")
	wantCode(t, p, "")
	si := p.Member["securityInfo"].(map[string]any)
	if si["email"] != "Alice@example.com" || si["phone"] != "+8613800138000" || si["countryCode"] != "86" || si["status"] != "PENDING" {
		t.Errorf("security info = %v", si)
	}
	if si["linkSentAt"] != nil || si["linkExpiresAt"] != nil || si["delivery"].(map[string]any)["status"] != "QUEUED" {
		t.Errorf("before any mail went out: %v", si)
	}
	if si["modificationsRemaining"] != float64(3) {
		t.Errorf("modificationsRemaining = %v", si["modificationsRemaining"])
	}
	if n := a.count("outbox", "recipient = ? AND status = 'QUEUED'", "Alice@example.com"); n != 1 {
		t.Errorf("outbox rows for the bind = %d, want 1", n)
	}
	if n := a.count("activation_links", "1=1"); n != 1 {
		t.Errorf("links = %d", n)
	}

	bob := a.create("Bob")
	carol := a.invite("Carol")
	other := a.org("Other")
	dave := other.create("Dave")
	cases := []struct {
		name, id, email, cc, phone, code, field string
	}{
		{"invited member", carol, "carol@example.com", "86", "13800138000", "INVITED_MEMBER", ""},
		{"already bound", alice, "alice2@example.com", "86", "13800138000", "ALREADY_BOUND", ""},
		{"email used, other case and space", bob, " ALICE@example.com", "86", "13800138000", "EMAIL_ALREADY_USED", "email"},
		{"no such member", "TWVtYmVyOjk5OTk5", "x@example.com", "86", "13800138000", "MEMBER_NOT_FOUND", "memberId"},
		{"garbage id", "not-an-id", "x@example.com", "86", "13800138000", "MEMBER_NOT_FOUND", "memberId"},
		{"another org's member", dave, "x@example.com", "86", "13800138000", "MEMBER_NOT_FOUND", ""},
		{"display name", bob, "Bob <bob@example.com>", "86", "13800138000", "INVALID_EMAIL", "email"},
		{"two addresses", bob, "a@example.com, b@example.com", "86", "13800138000", "INVALID_EMAIL", "email"},
		{"no dot in domain", bob, "bob@localhost", "86", "13800138000", "INVALID_EMAIL", "email"},
		{"too long", bob, strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", "86", "13800138000", "INVALID_EMAIL", "email"},
		{"bad country code", bob, "bob@example.com", "999", "13800138000", "INVALID_PHONE", "countryCode"},
		{"fixed line", bob, "bob@example.com", "86", "01012345678", "INVALID_PHONE", "phone"},
		{"letters in phone", bob, "bob@example.com", "86", "1380013800O", "INVALID_PHONE", "phone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.snapshot()
			p := a.mutate("bindSecurityInfo", "SecurityInfoInput", map[string]any{"memberId": c.id, "email": c.email, "countryCode": c.cc, "phone": c.phone})
			wantCode(t, p, c.code)
			if c.field != "" {
				f, _ := p.Errors[0]["field"].([]any)
				if len(f) == 0 || f[len(f)-1] != c.field {
					t.Errorf("field = %v, want it to name %s", f, c.field)
				}
			}
			if msg := p.Errors[0]["message"].(string); msg == "" {
				t.Error("empty message")
			}
			// The member as it stands, whether the input or the rules
			// refused; none for a member this organization cannot see.
			if c.code == "MEMBER_NOT_FOUND" {
				if p.Member != nil {
					t.Errorf("member = %v, want none", p.Member)
				}
			} else if p.Member["id"] != c.id {
				t.Errorf("member = %v, want %s as it stands", p.Member, c.id)
			}
			if after := a.snapshot(); after != before {
				t.Errorf("refused bind changed %s to %s", before, after)
			}
		})
	}
	// An internationalized domain is stored in punycode, and holds the
	// email under that form.
	p = a.bind(bob, "bob@Bücher.example")
	wantCode(t, p, "")
	if got := p.Member["securityInfo"].(map[string]any)["email"]; got != "bob@xn--bcher-kva.example" {
		t.Errorf("IDN email stored as %v", got)
	}
	erin := a.create("Erin")
	wantCode(t, a.bind(erin, "BOB@xn--bcher-kva.example"), "EMAIL_ALREADY_USED")
	// Email uniqueness holds across organizations.
	wantCode(t, other.bind(dave, "alice@example.com"), "EMAIL_ALREADY_USED")
}

func TestModificationLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	bob := a.create("Bob")
	wantCode(t, a.update(alice, "a@example.com"), "NOT_PENDING")
	wantCode(t, a.bind(alice, "a0@example.com"), "")
	a.deliverAll()

	// The same information is no modification and does not count.
	before := a.snapshot()
	wantCode(t, a.update(alice, " A0@EXAMPLE.com"), "SAME_AS_CURRENT")
	if after := a.snapshot(); after != before {
		t.Errorf("SAME_AS_CURRENT changed %s to %s", before, after)
	}
	for i := 1; i <= 3; i++ {
		email := []string{"", "a1@example.com", "a2@example.com", "a3@example.com"}[i]
		p := a.update(alice, email)
		wantCode(t, p, "")
		si := p.Member["securityInfo"].(map[string]any)
		if si["email"] != email || si["modificationsRemaining"] != float64(3-i) {
			t.Errorf("after modification %d: %v", i, si)
		}
		// A modification sends a new link; until it goes out the binding
		// has no sent link.
		if si["linkSentAt"] != nil || si["delivery"].(map[string]any)["status"] != "QUEUED" {
			t.Errorf("after modification %d the new link is not the queued one: %v", i, si)
		}
	}
	// Every earlier link is dead; only the newest lives.
	if n := a.count("activation_links", "killed_at IS NULL"); n != 1 {
		t.Errorf("live links = %d, want 1", n)
	}
	before = a.snapshot()
	wantCode(t, a.update(alice, "a4@example.com"), "MODIFICATION_LIMIT_REACHED")
	if after := a.snapshot(); after != before {
		t.Errorf("refused modification changed %s to %s", before, after)
	}
	// Given-up emails are free again; the current one is not.
	wantCode(t, a.bind(bob, "a1@example.com"), "")
	carol := a.create("Carol")
	wantCode(t, a.bind(carol, "a3@example.com"), "EMAIL_ALREADY_USED")
	// A phone-only change is a modification too.
	dave := a.create("Dave")
	wantCode(t, a.bind(dave, "d@example.com"), "")
	p := a.mutate("updateSecurityInfo", "SecurityInfoInput", map[string]any{"memberId": dave, "email": "d@example.com", "countryCode": "86", "phone": "13900139000"})
	wantCode(t, p, "")
	if p.Member["securityInfo"].(map[string]any)["phone"] != "+8613900139000" {
		t.Errorf("phone not modified: %v", p.Member["securityInfo"])
	}
	// Invited members cannot modify anything.
	erin := a.invite("Erin")
	wantCode(t, a.update(erin, "e@example.com"), "INVITED_MEMBER")
}

func TestResendLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{ActivationTTL: 15 * 24 * time.Hour, MaxModifications: 3, ResendsPerHour: 5, ResendsTotal: 8})
	alice := a.create("Alice")
	wantCode(t, a.resend(alice), "NOT_PENDING")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	a.deliverAll()
	// The bind's own link is the first send of the hour: four more.
	for i := 0; i < 4; i++ {
		a.clock.Add(time.Minute)
		p := a.resend(alice)
		wantCode(t, p, "")
	}
	if n := a.count("outbox", "recipient = 'alice@example.com'"); n != 5 {
		t.Errorf("mails queued = %d, want 5", n)
	}
	m := a.member(alice)
	next, _ := m["securityInfo"].(map[string]any)["nextResendAllowedAt"].(string)
	want := start.Add(time.Hour).Format(time.RFC3339Nano)
	if next != want {
		t.Errorf("nextResendAllowedAt = %q, want %q (an hour after the first send)", next, want)
	}
	if left := m["securityInfo"].(map[string]any)["resendsRemaining"]; left != float64(3) {
		t.Errorf("resendsRemaining = %v, want 3 of 8", left)
	}
	before := a.snapshot()
	p := a.resend(alice)
	wantCode(t, p, "RESEND_LIMIT_REACHED")
	if p.Errors[0]["retryAt"] != want {
		t.Errorf("retryAt = %v, want %v", p.Errors[0]["retryAt"], want)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("refused resend changed %s to %s", before, after)
	}
	// At that instant the first send leaves the window.
	a.clock.Set(start.Add(time.Hour))
	wantCode(t, a.resend(alice), "")
	// Total cap: 8 sends in all, whatever the hour.
	a.clock.Add(2 * time.Hour)
	wantCode(t, a.resend(alice), "")
	wantCode(t, a.resend(alice), "")
	p = a.resend(alice)
	wantCode(t, p, "RESEND_LIMIT_REACHED")
	if p.Errors[0]["retryAt"] != nil {
		t.Errorf("total cap reached but retryAt = %v", p.Errors[0]["retryAt"])
	}
	// Earlier links to the same email stay alive.
	if n := a.count("activation_links", "killed_at IS NULL"); n != 8 {
		t.Errorf("live links = %d, want 8", n)
	}
	bob := a.invite("Bob")
	wantCode(t, a.resend(bob), "INVITED_MEMBER")
}

// TestExpiryBoundary stands the clock one microsecond before a link's
// expiry and at it (R7), and checks what a FAILED binding allows (R8).
func TestExpiryBoundary(t *testing.T) {
	t.Parallel()
	ttl := 15 * 24 * time.Hour
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")

	// Before its mail is accepted a binding cannot fail, however late.
	a.clock.Add(30 * 24 * time.Hour)
	if s := a.status(alice); s != "PENDING" {
		t.Fatalf("unsent binding is %s after 30 days, want PENDING", s)
	}
	sentAt := a.clock.Now()
	a.deliverAll()
	si := a.member(alice)["securityInfo"].(map[string]any)
	if si["linkSentAt"] != sentAt.Format(time.RFC3339Nano) || si["linkExpiresAt"] != sentAt.Add(ttl).Format(time.RFC3339Nano) {
		t.Errorf("link times = %v / %v, want %v + 15 days", si["linkSentAt"], si["linkExpiresAt"], sentAt)
	}
	wantCode(t, a.rebind(alice, "alice2@example.com"), "NOT_FAILED")

	a.clock.Set(sentAt.Add(ttl - time.Microsecond))
	if s := a.status(alice); s != "PENDING" {
		t.Fatalf("1µs before expiry: %s, want PENDING", s)
	}
	a.clock.Set(sentAt.Add(ttl))
	if s := a.status(alice); s != "FAILED" {
		t.Fatalf("at expiry: %s, want FAILED", s)
	}
	data := a.do(`{ members(filter: {bindStatus: FAILED}) { totalCount } }`, nil)
	if n := data["members"].(map[string]any)["totalCount"]; n != float64(1) {
		t.Errorf("FAILED filter counts %v", n)
	}
	// Nothing ran at the expiry, yet the history shows it.
	if kinds := a.eventKinds(alice); kinds != "EXPIRED LINK_SENT SUBMITTED CREATED" {
		t.Errorf("events of the failed member = %s", kinds)
	}
	wantCode(t, a.resend(alice), "LINK_EXPIRED")
	wantCode(t, a.update(alice, "alice3@example.com"), "LINK_EXPIRED")

	// The failed email is burned, for this member and any other.
	bob := a.create("Bob")
	wantCode(t, a.bind(bob, "ALICE@example.com"), "EMAIL_PREVIOUSLY_FAILED")
	wantCode(t, a.rebind(alice, "alice@example.com"), "EMAIL_PREVIOUSLY_FAILED")
	other := a.org("Other")
	wantCode(t, other.bind(other.create("Olga"), "alice@example.com"), "EMAIL_PREVIOUSLY_FAILED")

	// Rebind: a fresh pending binding with a fresh modification count.
	p := a.rebind(alice, "alice.new@example.com")
	wantCode(t, p, "")
	si = p.Member["securityInfo"].(map[string]any)
	if p.Member["bindStatus"] != "PENDING" || si["email"] != "alice.new@example.com" || si["modificationsRemaining"] != float64(3) {
		t.Errorf("after rebind: %v", p.Member)
	}
	// bindSecurityInfo on a FAILED member does the same as a rebind.
	carol := a.create("Carol")
	wantCode(t, a.bind(carol, "carol@example.com"), "")
	a.deliverAll()
	a.clock.Add(ttl)
	if s := a.status(carol); s != "FAILED" {
		t.Fatalf("carol is %s", s)
	}
	wantCode(t, a.bind(carol, "carol.new@example.com"), "")
	if s := a.status(carol); s != "PENDING" {
		t.Errorf("after bind on FAILED: %s", s)
	}
	kinds := a.eventKinds(carol)
	if want := "REBOUND EXPIRED LINK_SENT SUBMITTED CREATED"; kinds != want {
		t.Errorf("events = %s, want %s", kinds, want)
	}
}

// TestResendKeepsBindingAliveUntilNewestExpires: each send has its own
// days; the binding fails only when the last one's are over.
func TestResendKeepsBindingAliveUntilNewestExpires(t *testing.T) {
	t.Parallel()
	ttl := 15 * 24 * time.Hour
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	a.deliverAll()
	a.clock.Add(10 * 24 * time.Hour)
	wantCode(t, a.resend(alice), "")
	second := a.clock.Now()
	a.deliverAll()
	a.clock.Set(start.Add(ttl))
	if s := a.status(alice); s != "PENDING" {
		t.Errorf("first link expired but the second lives: %s, want PENDING", s)
	}
	a.clock.Set(second.Add(ttl))
	if s := a.status(alice); s != "FAILED" {
		t.Errorf("both links expired: %s, want FAILED", s)
	}
}

func TestRemoval(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	m := a.member(alice)
	removal := m["removal"].(map[string]any)
	if removal["allowed"] != false || len(removal["reasons"].([]any)) == 0 {
		t.Errorf("unbound created member removal = %v", removal)
	}
	wantCode(t, a.remove(alice), "NOT_REMOVABLE")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	wantCode(t, a.remove(alice), "NOT_REMOVABLE")
	tokens := a.deliverAll()
	view, err := a.store.Activate(t.Context(), tokens["alice@example.com"][0])
	if err != nil || view.State != member.LinkValid {
		t.Fatalf("activate: %v %v", view, err)
	}
	m = a.member(alice)
	if m["bindStatus"] != "ACTIVATED" || m["loginEmail"] != "alice@example.com" || m["removal"].(map[string]any)["allowed"] != true {
		t.Errorf("activated member = %v", m)
	}
	wantCode(t, a.update(alice, "x@example.com"), "NOT_PENDING")
	wantCode(t, a.resend(alice), "NOT_PENDING")
	if m["removedAt"] != nil {
		t.Errorf("a member's removedAt = %v, want null", m["removedAt"])
	}
	p := a.remove(alice)
	wantCode(t, p, "")
	if p.Member["removedAt"] != start.Format(time.RFC3339Nano) || p.Member["removal"].(map[string]any)["allowed"] != false {
		t.Errorf("removeMember answers %v, want removedAt %s and removal not allowed", p.Member, start.Format(time.RFC3339Nano))
	}
	if a.member(alice) != nil {
		t.Error("removed member still in the organization")
	}
	// The removed member and its history are listed apart.
	const list = `query($removed: Boolean) { members(filter: {removed: $removed}) { totalCount
		edges { node { id loginEmail removedAt events(first: 1) { edges { node { kind } } } } } } }`
	current := a.do(list, nil)["members"].(map[string]any)
	for _, e := range current["edges"].([]any) {
		if e.(map[string]any)["node"].(map[string]any)["id"] == alice {
			t.Error("a removed member is listed among the current ones")
		}
	}
	gone := a.do(list, map[string]any{"removed": true})["members"].(map[string]any)
	edges := gone["edges"].([]any)
	if gone["totalCount"] != float64(1) || len(edges) != 1 {
		t.Fatalf("removed members = %v, want Alice alone", gone)
	}
	node := edges[0].(map[string]any)["node"].(map[string]any)
	kinds := node["events"].(map[string]any)["edges"].([]any)
	if node["id"] != alice || node["loginEmail"] != "alice@example.com" || node["removedAt"] == nil ||
		len(kinds) != 1 || kinds[0].(map[string]any)["node"].(map[string]any)["kind"] != "REMOVED" {
		t.Errorf("removed member = %v, want Alice with her login email, removedAt and the REMOVED event first", node)
	}
	wantCode(t, a.remove(alice), "MEMBER_NOT_FOUND")
	// The removed member keeps its email.
	wantCode(t, a.bind(a.create("Bob"), "alice@example.com"), "EMAIL_ALREADY_USED")
	// Invited members can be removed at any time.
	carol := a.invite("Carol")
	wantCode(t, a.remove(carol), "")
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	b := a.org("Intruder")
	before := a.snapshot()
	if m := b.member(alice); m != nil {
		t.Errorf("other org reads member: %v", m)
	}
	data := b.do(`{ members { totalCount edges { node { id } } } }`, nil)
	if n := data["members"].(map[string]any)["totalCount"]; n != float64(0) {
		t.Errorf("other org lists %v members", n)
	}
	wantCode(t, b.update(alice, "mine@example.com"), "MEMBER_NOT_FOUND")
	wantCode(t, b.resend(alice), "MEMBER_NOT_FOUND")
	wantCode(t, b.remove(alice), "MEMBER_NOT_FOUND")
	wantCode(t, b.bind(alice, "mine@example.com"), "MEMBER_NOT_FOUND")
	wantCode(t, b.rebind(alice, "mine@example.com"), "MEMBER_NOT_FOUND")
	if p := b.update(alice, "mine@example.com"); p.Member != nil {
		t.Errorf("refused mutation shows another org's member: %v", p.Member)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("other org changed %s to %s", before, after)
	}
}

func (a *api) eventKinds(id string) string {
	a.t.Helper()
	data := a.do(`query($id: ID!) { member(id: $id) { events(first: 50) { edges { node { kind actor occurredAt } } } } }`, map[string]any{"id": id})
	var kinds []string
	for _, e := range data["member"].(map[string]any)["events"].(map[string]any)["edges"].([]any) {
		kinds = append(kinds, e.(map[string]any)["node"].(map[string]any)["kind"].(string))
	}
	return strings.Join(kinds, " ")
}

// TestActivationCancelsQueuedMail: a mail still queued when the member
// activates through an earlier link is never sent, and says so.
func TestActivationCancelsQueuedMail(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	wantCode(t, a.bind(alice, "alice@example.com"), "")
	tokens := a.deliverAll()
	wantCode(t, a.resend(alice), "")
	if view, err := a.store.Activate(t.Context(), tokens["alice@example.com"][0]); err != nil || view.State != member.LinkValid {
		t.Fatalf("activate: %v %v", view, err)
	}
	m := a.member(alice)
	d := m["securityInfo"].(map[string]any)["delivery"].(map[string]any)
	if m["bindStatus"] != "ACTIVATED" || d["status"] != "CANCELLED" || d["attempts"] != float64(0) {
		t.Errorf("after activating with a resend queued: %v, delivery %v", m["bindStatus"], d)
	}
	if n := a.count("outbox", "token IS NOT NULL"); n != 0 {
		t.Errorf("%d outbox rows keep a token after activation", n)
	}
}
