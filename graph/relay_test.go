package graph_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// connPage is one page of a connection as a client sees it.
type connPage struct {
	ids                  []string
	cursors              []string
	hasNext, hasPrevious bool
	start, end           string
}

func readPage(t *testing.T, conn map[string]any) connPage {
	t.Helper()
	var p connPage
	for _, e := range conn["edges"].([]any) {
		edge := e.(map[string]any)
		p.ids = append(p.ids, edge["node"].(map[string]any)["id"].(string))
		p.cursors = append(p.cursors, edge["cursor"].(string))
	}
	info := conn["pageInfo"].(map[string]any)
	p.hasNext, p.hasPrevious = info["hasNextPage"].(bool), info["hasPreviousPage"].(bool)
	p.start, _ = info["startCursor"].(string)
	p.end, _ = info["endCursor"].(string)
	// startCursor and endCursor are the cursors of the page's ends.
	if len(p.cursors) > 0 && (p.start != p.cursors[0] || p.end != p.cursors[len(p.cursors)-1]) {
		t.Errorf("page %v: startCursor %q, endCursor %q, want its first and last cursors", p.ids, p.start, p.end)
	}
	if len(p.cursors) == 0 && (p.start != "" || p.end != "") {
		t.Errorf("an empty page has cursors %q, %q", p.start, p.end)
	}
	return p
}

// TestMembersPagingBothWays walks every member of an organization
// forwards (first/after) and backwards (last/before, from the end), in
// pages of several sizes, and meets each member exactly once each way, in
// the list's order, with the page info of a Relay connection at both ends
// and between.
func TestMembersPagingBothWays(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	a.org("Other").create("Not ours")
	var created []string
	for i := 0; i < 57; i++ {
		created = append(created, a.create(fmt.Sprintf("Member %02d", i)))
	}
	a.org("Other").create("Not ours either")
	want := reverse(created) // newest first
	const query = `query($first: Int, $after: String, $last: Int, $before: String) {
		members(first: $first, after: $after, last: $last, before: $before) {
			totalCount edges { cursor node { id } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	page := func(vars map[string]any) connPage {
		t.Helper()
		conn := a.do(query, vars)["members"].(map[string]any)
		if conn["totalCount"] != float64(len(created)) {
			t.Errorf("totalCount = %v, want %d", conn["totalCount"], len(created))
		}
		return readPage(t, conn)
	}
	for _, size := range []int{10, 7, 57, 100} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			pages := (len(want) + size - 1) / size

			// Forwards: the first page has nothing before it, every
			// later page does, and only the last has nothing after.
			var seen []string
			var after any
			for i := 0; ; i++ {
				if i > pages {
					t.Fatal("paging forwards does not end")
				}
				p := page(map[string]any{"first": size, "after": after})
				seen = append(seen, p.ids...)
				if p.hasPrevious != (i > 0) {
					t.Errorf("forwards page %d: hasPreviousPage = %v", i, p.hasPrevious)
				}
				if !p.hasNext {
					if i != pages-1 {
						t.Errorf("forwards: no next page after page %d of %d", i, pages)
					}
					break
				}
				after = p.end
			}
			if !slices.Equal(seen, want) {
				t.Errorf("forwards met %v,\nwant %v", seen, want)
			}

			// Backwards from the end: the first page read is the list's
			// last, with nothing after it; the others have the pages
			// read before them after them; only the list's first page
			// has nothing before it.
			seen = nil
			var before any
			for i := 0; ; i++ {
				if i > pages {
					t.Fatal("paging backwards does not end")
				}
				p := page(map[string]any{"last": size, "before": before})
				if len(p.ids) == 0 || len(p.ids) > size {
					t.Fatalf("backwards page %d holds %d members", i, len(p.ids))
				}
				seen = append(slices.Clone(p.ids), seen...)
				if p.hasNext != (i > 0) {
					t.Errorf("backwards page %d: hasNextPage = %v", i, p.hasNext)
				}
				if !p.hasPrevious {
					if i != pages-1 {
						t.Errorf("backwards: no previous page before page %d of %d", i, pages)
					}
					break
				}
				before = p.start
			}
			if !slices.Equal(seen, want) {
				t.Errorf("backwards met %v,\nwant %v", seen, want)
			}
		})
	}

	// Both cursors bound the range; first and last together are refused,
	// as are sizes past the limit and cursors of another list.
	all := page(map[string]any{"first": 100})
	mid := page(map[string]any{"first": 3, "after": all.cursors[9], "before": all.cursors[20]})
	if !slices.Equal(mid.ids, want[10:13]) || !mid.hasNext || !mid.hasPrevious {
		t.Errorf("first 3 between the 10th and 21st: %+v, want %v with pages on both sides", mid, want[10:13])
	}
	mid = page(map[string]any{"last": 3, "after": all.cursors[9], "before": all.cursors[20]})
	if !slices.Equal(mid.ids, want[17:20]) || !mid.hasNext || !mid.hasPrevious {
		t.Errorf("last 3 between the 10th and 21st: %+v, want %v with pages on both sides", mid, want[17:20])
	}
	if p := page(map[string]any{"last": 0}); len(p.ids) != 0 || p.hasNext || p.hasPrevious {
		t.Errorf("last: 0 = %+v, want an empty page", p)
	}
	for _, tc := range []struct {
		vars  map[string]any
		field string
	}{
		{map[string]any{"first": 2, "last": 2}, "last"},
		{map[string]any{"last": 101}, "last"},
		{map[string]any{"last": -1}, "last"},
		{map[string]any{"last": 2, "before": "bogus"}, "before"},
		{map[string]any{"last": 2, "before": created[0]}, "before"}, // a member id is no cursor
	} {
		r := a.raw("Bearer "+a.key, query, tc.vars)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INVALID_INPUT" || !strings.Contains(r.Errors[0].Message, tc.field) {
			t.Errorf("%v: errors %+v, want one INVALID_INPUT naming %s", tc.vars, r.Errors, tc.field)
		}
	}
}

// TestMemberEventsPagingBothWays pages one member's events backwards and
// forwards, with the EXPIRED event of a binding failed by the clock
// alone, which is not stored, in its place before every stored one.
func TestMemberEventsPagingBothWays(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	failed := a.create("Failed")
	wantCode(t, a.bind(failed, "failed@example.com"), "")
	wantCode(t, a.update(failed, "failed2@example.com"), "")
	wantCode(t, a.update(failed, "failed3@example.com"), "")
	a.deliverAll()
	a.clock.Add(member.DefaultPolicy().ActivationTTL)
	want := []string{"EXPIRED", "LINK_SENT", "MODIFIED", "MODIFIED", "SUBMITTED", "CREATED"}
	const query = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
		member(id: $id) { events(first: $first, after: $after, last: $last, before: $before) {
			edges { cursor node { id kind } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`
	page := func(vars map[string]any) ([]string, connPage) {
		t.Helper()
		vars["id"] = failed
		conn := a.do(query, vars)["member"].(map[string]any)["events"].(map[string]any)
		var kinds []string
		for _, e := range conn["edges"].([]any) {
			kinds = append(kinds, e.(map[string]any)["node"].(map[string]any)["kind"].(string))
		}
		return kinds, readPage(t, conn)
	}
	for _, size := range []int{1, 2, 4, 6} {
		pages := (len(want) + size - 1) / size
		var seen []string
		var before any
		for i := 0; ; i++ {
			if i > pages {
				t.Fatalf("size %d: paging backwards does not end", size)
			}
			kinds, p := page(map[string]any{"last": size, "before": before})
			seen = append(slices.Clone(kinds), seen...)
			if p.hasNext != (i > 0) || p.hasPrevious != (i < pages-1) {
				t.Errorf("size %d, backwards page %d (%v): next %v, previous %v", size, i, kinds, p.hasNext, p.hasPrevious)
			}
			if !p.hasPrevious {
				break
			}
			before = p.start
		}
		if !slices.Equal(seen, want) {
			t.Errorf("size %d: backwards met %v, want %v", size, seen, want)
		}
		seen = nil
		var after any
		for i := 0; ; i++ {
			if i > pages {
				t.Fatalf("size %d: paging forwards does not end", size)
			}
			kinds, p := page(map[string]any{"first": size, "after": after})
			seen = append(seen, kinds...)
			if p.hasPrevious != (i > 0) || p.hasNext != (i < pages-1) {
				t.Errorf("size %d, forwards page %d (%v): next %v, previous %v", size, i, kinds, p.hasNext, p.hasPrevious)
			}
			if !p.hasNext {
				break
			}
			after = p.end
		}
		if !slices.Equal(seen, want) {
			t.Errorf("size %d: forwards met %v, want %v", size, seen, want)
		}
	}
}

// TestNode: node and nodes find the organization, its members (removed
// ones too), their stored events and its API keys by id, and answer null alike for a
// malformed id, an unknown one and another organization's.
func TestNode(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	bob := a.invite("Bob")
	wantCode(t, a.remove(bob), "")
	other := a.org("Other")
	stranger := other.create("Stranger")
	orgAndKey := func(a *api) (string, string) {
		o := a.do(`{ organization { id apiKeys { id } } }`, nil)["organization"].(map[string]any)
		return o["id"].(string), o["apiKeys"].([]any)[0].(map[string]any)["id"].(string)
	}
	org, key := orgAndKey(a)
	otherOrg, otherKey := orgAndKey(other)
	eventOf := func(a *api, id string) string {
		t.Helper()
		data := a.do(`query($id: ID!) { node(id: $id) { ... on Member { events(first: 1) { edges { node { id } } } } } }`, map[string]any{"id": id})
		return data["node"].(map[string]any)["events"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	}
	aliceCreated := eventOf(a, alice)
	strangerCreated := eventOf(other, stranger)
	unknown := base64.RawURLEncoding.EncodeToString([]byte("Member:999999999"))

	const fields = `__typename id ... on Member { name removedAt } ... on MemberEvent { kind } ... on Organization { name } ... on ApiKey { name }`
	ids := []string{alice, bob, org, aliceCreated, stranger, otherOrg, strangerCreated, unknown, "bogus", "", alice,
		base64.RawURLEncoding.EncodeToString([]byte("MemberEvent:0")), base64.RawURLEncoding.EncodeToString([]byte("Thing:1")), key, otherKey}
	data := a.do(`query($ids: [ID!]!) { nodes(ids: $ids) { `+fields+` } }`, map[string]any{"ids": ids})
	got := data["nodes"].([]any)
	if len(got) != len(ids) {
		t.Fatalf("nodes returned %d for %d ids", len(got), len(ids))
	}
	wantKey := "ApiKey " + a.do(`{ organization { apiKeys { name } } }`, nil)["organization"].(map[string]any)["apiKeys"].([]any)[0].(map[string]any)["name"].(string)
	for i, want := range []string{"Member Alice", "Member Bob", "Organization Acme", "MemberEvent CREATED", "", "", "", "", "", "", "Member Alice", "", "", wantKey, ""} {
		var desc string
		if n, ok := got[i].(map[string]any); ok {
			desc = n["__typename"].(string) + " " + fmt.Sprint(n["name"]) + fmt.Sprint(n["kind"])
			desc = strings.ReplaceAll(desc, "<nil>", "")
			if n["id"] != ids[i] {
				t.Errorf("node %d: id %v, asked for %s", i, n["id"], ids[i])
			}
		}
		if desc != want {
			t.Errorf("nodes[%d] (%s) = %q, want %q", i, ids[i], desc, want)
		}
	}
	if n := got[1].(map[string]any); n["removedAt"] == nil {
		t.Errorf("removed Bob shows no removedAt: %v", n)
	}
	for _, id := range ids {
		one := a.do(`query($id: ID!) { node(id: $id) { `+fields+` } }`, map[string]any{"id": id})["node"]
		if (one == nil) != (id != alice && id != bob && id != org && id != aliceCreated && id != key) {
			t.Errorf("node(%q) = %v", id, one)
		}
	}

	many := make([]string, 101)
	for i := range many {
		many[i] = alice
	}
	r := a.raw("Bearer "+a.key, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many})
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INVALID_INPUT" || !strings.Contains(r.Errors[0].Message, "100") {
		t.Errorf("101 ids: errors %+v, want one INVALID_INPUT naming the limit", r.Errors)
	}
	if _, ok := a.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many[:100]})["nodes"].([]any); !ok {
		t.Error("100 ids are refused")
	}
}

// TestNodesQueryCount: nodes costs the same number of statements for 5
// members and events as for 50, the fields of the members read for all of
// them at once.
func TestNodesQueryCount(t *testing.T) {
	t.Parallel()
	testenv.RequireStatusCounters(t)
	a := newAPI(t, member.Policy{})
	var ids []string
	for i := 0; i < 50; i++ {
		id := a.create(fmt.Sprintf("m%d", i))
		wantCode(t, a.bind(id, fmt.Sprintf("m%d@example.com", i)), "")
		ids = append(ids, id)
	}
	a.deliverAll()
	var events []string
	for _, id := range ids {
		data := a.do(`query($id: ID!) { node(id: $id) { ... on Member { events(first: 1) { edges { node { id } } } } } }`, map[string]any{"id": id})
		events = append(events, data["node"].(map[string]any)["events"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string))
	}
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
	cost := func(n int) int {
		before := questions()
		a.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Member { `+memberFields+` events(first: 2) { edges { node { kind } } } } ... on MemberEvent { kind } } }`,
			map[string]any{"ids": append(slices.Clone(ids[:n]), events[:n]...)})
		return questions() - before - 1
	}
	c5, c50 := cost(5), cost(50)
	t.Logf("statements: 5+5 nodes -> %d, 50+50 -> %d", c5, c50)
	if c5 != c50 {
		t.Errorf("statements grow with the nodes: %d -> %d", c5, c50)
	}
}
