package graph_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"memberbind/graph"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

func TestMembersPagingAndFilters(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	var created []string
	for i := 0; i < 7; i++ {
		created = append(created, a.create(fmt.Sprintf("Member %d", i)))
	}
	invited := a.invite("Guest")
	wantCode(t, a.bind(created[2], "Findme@Example.com"), "")
	wantCode(t, a.bind(created[3], "other@example.com"), "")
	a.deliverAll()
	tokens := a.deliverAll()
	_ = tokens

	// Newest first, in pages of 3, by cursor.
	var seen []string
	var after any
	for page := 0; ; page++ {
		data := a.do(`query($after: String) { members(first: 3, after: $after) {
			totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }`, map[string]any{"after": after})
		conn := data["members"].(map[string]any)
		if conn["totalCount"] != float64(8) {
			t.Fatalf("totalCount = %v", conn["totalCount"])
		}
		for _, e := range conn["edges"].([]any) {
			seen = append(seen, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		info := conn["pageInfo"].(map[string]any)
		if info["hasNextPage"] != true {
			break
		}
		after = info["endCursor"]
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	want := append([]string{invited}, reverse(created)...)
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("paged ids = %v, want %v", seen, want)
	}

	count := func(filter string) float64 {
		data := a.do(`{ members(filter: `+filter+`) { totalCount edges { node { id } } } }`, nil)
		conn := data["members"].(map[string]any)
		if n := float64(len(conn["edges"].([]any))); n != conn["totalCount"] {
			t.Errorf("filter %s: %v edges but totalCount %v", filter, n, conn["totalCount"])
		}
		return conn["totalCount"].(float64)
	}
	for filter, want := range map[string]float64{
		`{memberType: INVITED}`:                       1,
		`{memberType: CREATED}`:                       7,
		`{bindStatus: UNBOUND}`:                       6,
		`{bindStatus: PENDING}`:                       2,
		`{bindStatus: ACTIVATED}`:                     0,
		`{bindStatus: FAILED}`:                        0,
		`{search: "findme@EXAMPLE"}`:                  1,
		`{search: "member 1"}`:                        1,
		`{search: "MEMBER"}`:                          7,
		`{search: "%"}`:                               0,
		`{search: "_"}`:                               0,
		`{memberType: CREATED, bindStatus: UNBOUND}`:  5,
		`{memberType: INVITED, bindStatus: PENDING}`:  0,
		`{bindStatus: PENDING, search: "other@exam"}`: 1,
	} {
		if got := count(filter); got != want {
			t.Errorf("filter %s: %v members, want %v", filter, got, want)
		}
	}

	for _, q := range []string{
		`{ members(first: 101) { totalCount } }`,
		`{ members(first: -1) { totalCount } }`,
		`{ members(after: "bogus") { totalCount } }`,
	} {
		r := a.raw("Bearer "+a.key, q, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INVALID_INPUT" {
			t.Errorf("%s: errors %+v, want one INVALID_INPUT", q, r.Errors)
		}
	}
}

// TestMembersSearchedOnlyNewest: a search by a part of a name or an email
// in a list longer than the store's search scope says that it examined
// only the newest members, whether or not totalCount is asked for; a
// search by a complete email address, a list without a search and a list
// no longer than the scope say nothing.
func TestMembersSearchedOnlyNewest(t *testing.T) {
	t.Parallel()
	a := newAPIStore(t, mysql.Options{SearchScope: 3})
	var ids []string
	for i := 1; i <= 5; i++ {
		ids = append(ids, a.create(fmt.Sprintf("Ann %d", i)))
	}
	wantCode(t, a.bind(ids[0], "ann1@example.com"), "")
	small := a.org("Small")
	small.create("Ann Small")

	for _, tc := range []struct {
		api    *api
		filter string
		fields string
		want   string // the names and what searchedOnlyNewest and totalCount answer
	}{
		{a, `{search: "ann"}`, "totalCount searchedOnlyNewest", "Ann 5,Ann 4,Ann 3 newest=3 total=3"},
		{a, `{search: "ann"}`, "searchedOnlyNewest", "Ann 5,Ann 4,Ann 3 newest=3 total=<nil>"},
		{a, `{search: "ann1@"}`, "totalCount searchedOnlyNewest", " newest=3 total=0"},
		{a, `{search: "ANN1@example.com"}`, "totalCount searchedOnlyNewest", "Ann 1 newest=<nil> total=1"},
		{a, `{}`, "totalCount searchedOnlyNewest", "Ann 5,Ann 4,Ann 3,Ann 2,Ann 1 newest=<nil> total=5"},
		{a, `{search: "ann", removed: true}`, "totalCount searchedOnlyNewest", " newest=<nil> total=0"},
		{small, `{search: "ann"}`, "totalCount searchedOnlyNewest", "Ann Small newest=<nil> total=1"},
	} {
		data := tc.api.do(`{ members(filter: `+tc.filter+`) { `+tc.fields+` edges { node { name } } } }`, nil)
		conn := data["members"].(map[string]any)
		var names []string
		for _, e := range conn["edges"].([]any) {
			names = append(names, e.(map[string]any)["node"].(map[string]any)["name"].(string))
		}
		got := fmt.Sprintf("%s newest=%v total=%v", strings.Join(names, ","), conn["searchedOnlyNewest"], conn["totalCount"])
		if got != tc.want {
			t.Errorf("filter %s: %s, want %s", tc.filter, got, tc.want)
		}
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// TestMembersPageQueryCount counts the SQL statements a members page
// costs: the same for 10, 50 and 100 members, with and without each
// member's events, since what the member read does not bring (the link
// sends, the events) is loaded for the whole page at once.
func TestMembersPageQueryCount(t *testing.T) {
	t.Parallel()
	testenv.RequireStatusCounters(t)
	a := newAPI(t, member.Policy{})
	for i := 0; i < 100; i++ {
		id := a.create(fmt.Sprintf("m%d", i))
		if i%2 == 0 {
			wantCode(t, a.bind(id, fmt.Sprintf("m%d@example.com", i)), "")
		}
	}
	a.deliverAll()
	// One connection, so the session's statement counter sees every
	// statement the page runs.
	db := a.store.DB()
	db.SetMaxOpenConns(1)
	questions := func() int {
		var name string
		var n int
		if err := db.QueryRowx("SHOW SESSION STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		fields string
		max    int
	}{
		{"members", memberFields, 6},
		// The README's example query.
		{"members with events", memberFields + ` events(first: 5) { edges { node { id kind actor occurredAt } } pageInfo { hasNextPage } }`, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cost := func(first int) int {
				before := questions()
				a.do(fmt.Sprintf(`{ members(first: %d) { totalCount edges { node { %s } } } }`, first, tc.fields), nil)
				return questions() - before - 1 // the status query itself counts once
			}
			c10, c50, c100 := cost(10), cost(50), cost(100)
			t.Logf("statements per page: 10 -> %d, 50 -> %d, 100 -> %d", c10, c50, c100)
			if c10 != c50 || c50 != c100 {
				t.Errorf("statements grow with the page: 10 -> %d, 50 -> %d, 100 -> %d", c10, c50, c100)
			}
			if c100 > tc.max {
				t.Errorf("a page costs %d statements, want at most %d", c100, tc.max)
			}
		})
	}
}

// TestMembersPageEvents: the events of a page of members, read for all of
// them at once, are each member's own, paged per member, with a binding
// that failed by the clock alone showing its EXPIRED event first.
func TestMembersPageEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	failed := a.create("Failed")
	wantCode(t, a.bind(failed, "failed@example.com"), "")
	a.deliverAll()
	a.clock.Add(member.DefaultPolicy().ActivationTTL)
	modified := a.create("Modified")
	wantCode(t, a.bind(modified, "modified@example.com"), "")
	wantCode(t, a.update(modified, "modified2@example.com"), "")
	a.create("Fresh")
	a.org("Other").create("Other")

	type page struct {
		kinds   string
		hasNext bool
		end     string
	}
	read := func(args string) map[string]page {
		t.Helper()
		data := a.do(`{ members(first: 10) { edges { node { name events(`+args+`) {
			edges { node { kind } } pageInfo { hasNextPage endCursor } } } } } }`, nil)
		out := map[string]page{}
		for _, e := range data["members"].(map[string]any)["edges"].([]any) {
			node := e.(map[string]any)["node"].(map[string]any)
			events := node["events"].(map[string]any)
			var kinds []string
			for _, ee := range events["edges"].([]any) {
				kinds = append(kinds, ee.(map[string]any)["node"].(map[string]any)["kind"].(string))
			}
			info := events["pageInfo"].(map[string]any)
			end, _ := info["endCursor"].(string)
			out[node["name"].(string)] = page{strings.Join(kinds, " "), info["hasNextPage"].(bool), end}
		}
		return out
	}
	got := read("first: 2")
	want := map[string]page{
		"Failed":   {kinds: "EXPIRED LINK_SENT", hasNext: true},
		"Modified": {kinds: "MODIFIED SUBMITTED", hasNext: true},
		"Fresh":    {kinds: "CREATED"},
	}
	if len(got) != len(want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	for name, w := range want {
		if g := got[name]; g.kinds != w.kinds || g.hasNext != w.hasNext {
			t.Errorf("%s: events %q (next %v), want %q (next %v)", name, g.kinds, g.hasNext, w.kinds, w.hasNext)
		}
	}
	// The next page of one member, by its cursor: the others have
	// nothing after it, since cursors are ids across members.
	next := read(fmt.Sprintf("first: 5, after: %q", got["Failed"].end))
	if g := next["Failed"]; g.kinds != "SUBMITTED CREATED" || g.hasNext {
		t.Errorf("Failed after %s: %q (next %v), want SUBMITTED CREATED", got["Failed"].end, g.kinds, g.hasNext)
	}
	if g := read("first: 0")["Modified"]; g.kinds != "" || !g.hasNext {
		t.Errorf("first: 0 = %q (next %v), want none and a next page", g.kinds, g.hasNext)
	}
	r := a.raw("Bearer "+a.key, `{ members(first: 1) { edges { node { events(first: 101) { edges { node { kind } } } } } } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "INVALID_INPUT" {
		t.Errorf("events(first: 101) errors = %+v, want INVALID_INPUT", r.Errors)
	}
}

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	r := a.raw("Bearer "+a.key, `{ members(first: 100) { edges { node { events(first: 100) { edges { node { id kind actor occurredAt } } } } } } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Errorf("too complex query: %+v", r.Errors)
	}
	r = a.raw("Bearer "+a.key, `{ members(first: 100) { edges { node { `+memberFields+` } } } }`, nil)
	if len(r.Errors) != 0 {
		t.Errorf("a full page of members is refused: %+v", r.Errors)
	}
}

// TestInternalErrorsHidden: a fault below the transport reaches the client
// as "internal error" with a request id, never as driver or SQL text.
func TestInternalErrorsHidden(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	var logs strings.Builder
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Service: a.store, Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	defer srv.Close()
	b := *a
	b.srv = srv
	// Break the schema under the running service.
	if _, err := a.store.DB().Exec("ALTER TABLE bindings RENAME COLUMN phone TO phone_gone"); err != nil {
		t.Fatal(err)
	}
	r := b.raw("Bearer "+a.key, `query($id: ID!) { member(id: $id) { name } }`, map[string]any{"id": alice})
	if len(r.Errors) != 1 {
		t.Fatalf("errors = %+v", r.Errors)
	}
	e := r.Errors[0]
	if !strings.HasPrefix(e.Message, "internal error") || e.Extensions["code"] != "INTERNAL" || e.Extensions["requestId"] == "" {
		t.Errorf("error = %+v", e)
	}
	if strings.Contains(strings.ToLower(e.Message), "phone") || strings.Contains(e.Message, "Error 1054") {
		t.Errorf("error leaks SQL: %q", e.Message)
	}
}

// TestTransports: queries over GET, mutations only over POST, bodies capped.
func TestTransports(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	get := func(query string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"?query="+url.QueryEscape(query), nil)
		req.Header.Set("Authorization", "Bearer "+a.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get(`{ organization { name } }`); status != http.StatusOK || !strings.Contains(body, `"Acme"`) {
		t.Errorf("GET query: %d %s", status, body)
	}
	before := a.snapshot()
	if _, body := get(`mutation { createMember(input: {name: "x"}) { member { id } } }`); !strings.Contains(body, "errors") {
		t.Errorf("GET mutation was not refused: %s", body)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("GET mutation changed %s to %s", before, after)
	}
	big := `{"query": "{ organization { name } }", "variables": {"pad": "` + strings.Repeat("x", graph.MaxBodyBytes) + `"}}`
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL, strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Errorf("a body over %d bytes was accepted", graph.MaxBodyBytes)
	}
}

// TestSendFieldsThroughFragments asks for the fields derived from link
// sends through a named fragment, an inline fragment and an alias, in a
// list, a member and a payload: wherever they are asked for, the sends are
// loaded, and the answer is the same.
func TestSendFieldsThroughFragments(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{ActivationTTL: 15 * 24 * time.Hour, MaxModifications: 3, ResendsPerHour: 5, ResendsTotal: 20})
	id := a.create("Alice")
	wantCode(t, a.bind(id, "alice@example.com"), "")
	a.deliverAll()
	const frag = `fragment Sends on SecurityInfo { left: resendsRemaining ... on SecurityInfo { nextResendAllowedAt } }`
	remaining := func(where string, si any) {
		t.Helper()
		m, _ := si.(map[string]any)
		if m == nil || m["left"] != float64(19) {
			t.Errorf("%s: securityInfo = %v, want left = 19 (20 sends, 1 made)", where, si)
		}
	}
	list := a.do(`{ members(first: 5) { edges { node { securityInfo { ...Sends } } } } } `+frag, nil)
	edges := list["members"].(map[string]any)["edges"].([]any)
	remaining("members", edges[0].(map[string]any)["node"].(map[string]any)["securityInfo"])

	one := a.do(`query($id: ID!) { member(id: $id) { ... on Member { securityInfo { ...Sends } } } } `+frag, map[string]any{"id": id})
	remaining("member", one["member"].(map[string]any)["securityInfo"])

	p := a.do(`mutation($in: MemberInput!) { resendActivationLink(input: $in) { member { securityInfo { ...Sends } } userErrors { code } } } `+frag,
		map[string]any{"in": map[string]any{"memberId": id}})
	si := p["resendActivationLink"].(map[string]any)["member"].(map[string]any)["securityInfo"].(map[string]any)
	if si["left"] != float64(18) {
		t.Errorf("resendActivationLink: securityInfo = %v, want left = 18", si)
	}

	// Skipped by a directive, the fields are not asked for, and the
	// rest still resolves.
	skip := a.do(`{ members(first: 5) { edges { node { securityInfo { status resendsRemaining @include(if: false) } } } } }`, nil)
	node := skip["members"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
	if got := node["securityInfo"].(map[string]any); got["status"] != "PENDING" || len(got) != 1 {
		t.Errorf("with resendsRemaining skipped: securityInfo = %v, want only status PENDING", got)
	}
}
