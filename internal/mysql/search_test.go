package mysql_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// windowFixture is a store whose substring searches examine only the
// newest scope members of a list, over a fresh database.
type windowFixture struct {
	t     *testing.T
	ctx   context.Context
	clock *testenv.Clock
	st    *mysql.Store
	scope int
}

func newWindowFixture(t *testing.T, scope int) *windowFixture {
	t.Helper()
	clock := testenv.NewClock(t0)
	return &windowFixture{t: t, ctx: context.Background(), clock: clock, scope: scope,
		st: testenv.Store(t, mysql.Options{Now: clock.Now, SearchScope: scope})}
}

func (f *windowFixture) org(name string) int64 {
	f.t.Helper()
	org, _, err := f.st.CreateOrganization(f.ctx, name, "en")
	if err != nil {
		f.t.Fatal(err)
	}
	return org.ID
}

func (f *windowFixture) create(orgID int64, typ member.Type, name string) *member.Member {
	f.t.Helper()
	m, err := f.st.CreateMember(f.ctx, orgID, "test", typ, name, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *windowFixture) remove(orgID int64, m *member.Member) {
	f.t.Helper()
	if _, err := f.st.RemoveMember(f.ctx, orgID, "test", m.ID); err != nil {
		f.t.Fatal(err)
	}
}

// searched is what paging through a search found.
type searched struct {
	names  []string // newest first
	total  int
	newest int // SearchedOnlyNewest
}

// search pages through the members of orgID that filter selects, in pages
// of size, forwards by after cursors and then backwards by before
// cursors. Both ways must list the same members, and every page must
// answer the same total and SearchedOnlyNewest; the total must be the
// number listed.
func (f *windowFixture) search(orgID int64, filter member.Filter, size int) searched {
	f.t.Helper()
	var out searched
	pages := 0
	check := func(page *member.MemberPage) {
		f.t.Helper()
		if pages == 0 {
			out.total, out.newest = page.Total, page.SearchedOnlyNewest
		} else if page.Total != out.total || page.SearchedOnlyNewest != out.newest {
			f.t.Errorf("%+v page %d: total %d, searched only the newest %d; the first page said %d, %d",
				filter, pages+1, page.Total, page.SearchedOnlyNewest, out.total, out.newest)
		}
		pages++
	}
	var after int64
	for {
		page, err := f.st.Members(f.ctx, orgID, filter, member.PageQuery{Size: size, After: after})
		if err != nil {
			f.t.Fatalf("Members(%+v): %v", filter, err)
		}
		check(page)
		for _, m := range page.Members {
			out.names = append(out.names, m.Name)
		}
		if !page.HasNext {
			break
		}
		if pages > 100 {
			f.t.Fatalf("Members(%+v): paging does not end", filter)
		}
		after = page.Members[len(page.Members)-1].ID
	}
	if out.total != len(out.names) {
		f.t.Errorf("Members(%+v): totalCount %d, %d listed", filter, out.total, len(out.names))
	}
	var back []string
	var before int64
	for {
		page, err := f.st.Members(f.ctx, orgID, filter, member.PageQuery{Size: size, Backward: true, Before: before})
		if err != nil {
			f.t.Fatalf("Members(%+v) backwards: %v", filter, err)
		}
		check(page)
		var names []string
		for _, m := range page.Members {
			names = append(names, m.Name)
		}
		back = append(names, back...)
		if !page.HasPrevious {
			break
		}
		if pages > 200 {
			f.t.Fatalf("Members(%+v) backwards: paging does not end", filter)
		}
		before = page.Members[0].ID
	}
	if !slices.Equal(back, out.names) {
		f.t.Errorf("Members(%+v): backwards %q, forwards %q", filter, back, out.names)
	}
	return out
}

// TestMembersSearchWindow: a search by a part of a name or an email
// examines the newest members of the list, as many as the store's scope,
// for its pages and its count alike, and says so when the list has more;
// a search by a complete email address and a list without a search are
// not bounded.
func TestMembersSearchWindow(t *testing.T) {
	t.Parallel()
	f := newWindowFixture(t, 3)

	// Oldest first. Ed is removed: the window holds the newest three of
	// the current members, Ann Ng, Ann Wu and Ann Fox.
	acme := f.org("Acme")
	f.create(acme, member.TypeCreated, "Ann Old")
	f.create(acme, member.TypeCreated, "Zed")
	testenv.Bind(t, f.st, acme, "Ann Ray", "annray@example.com")
	f.create(acme, member.TypeCreated, "Bo")
	testenv.Bind(t, f.st, acme, "Ann Fox", "annfox@example.com")
	f.create(acme, member.TypeCreated, "Ann Wu")
	f.remove(acme, f.create(acme, member.TypeInvited, "Ed"))
	f.create(acme, member.TypeCreated, "Ann Ng")

	for _, tc := range []struct {
		filter member.Filter
		want   []string
		newest int
	}{
		{member.Filter{Search: "ann"}, []string{"Ann Ng", "Ann Wu", "Ann Fox"}, 3},
		{member.Filter{Search: " ANN "}, []string{"Ann Ng", "Ann Wu", "Ann Fox"}, 3},
		{member.Filter{Search: "ann", Status: member.StatusPending}, []string{"Ann Fox"}, 3},
		{member.Filter{Search: "ann", Status: member.StatusUnbound}, []string{"Ann Ng", "Ann Wu"}, 3},
		{member.Filter{Search: "ann", Type: member.TypeInvited}, nil, 3},
		{member.Filter{Search: "annfox@"}, []string{"Ann Fox"}, 3},
		// Ann Ray is older than the window: a part of her email does not
		// find her, her complete email does.
		{member.Filter{Search: "annray@"}, nil, 3},
		{member.Filter{Search: "annray@example.com"}, []string{"Ann Ray"}, 0},
		{member.Filter{Search: "AnnRay@Example.com", Status: member.StatusPending}, []string{"Ann Ray"}, 0},
		// No search: the whole list.
		{member.Filter{}, []string{"Ann Ng", "Ann Wu", "Ann Fox", "Bo", "Ann Ray", "Zed", "Ann Old"}, 0},
		{member.Filter{Status: member.StatusUnbound}, []string{"Ann Ng", "Ann Wu", "Bo", "Zed", "Ann Old"}, 0},
	} {
		for _, size := range []int{1, 2, 3, 20} {
			got := f.search(acme, tc.filter, size)
			if !slices.Equal(got.names, tc.want) || got.newest != tc.newest {
				t.Errorf("Members(%+v) in pages of %d = %q, searched only the newest %d; want %q, %d",
					tc.filter, size, got.names, got.newest, tc.want, tc.newest)
			}
		}
	}
	// The total alone, and the page without the total.
	for _, q := range []member.PageQuery{{Size: 0}, {Size: 2, SkipTotal: true}} {
		page, err := f.st.Members(f.ctx, acme, member.Filter{Search: "ann"}, q)
		if err != nil {
			t.Fatal(err)
		}
		wantTotal, wantLen := 3, 0
		if q.SkipTotal {
			wantTotal, wantLen = 0, 2
		}
		if page.Total != wantTotal || len(page.Members) != wantLen || page.SearchedOnlyNewest != 3 {
			t.Errorf("%+v: total %d, %d members, searched only the newest %d; want %d, %d, 3",
				q, page.Total, len(page.Members), page.SearchedOnlyNewest, wantTotal, wantLen)
		}
	}

	// A list as long as the scope is searched whole; one member more and
	// the oldest is left out.
	globex := f.org("Globex")
	for i := 1; i <= 3; i++ {
		f.create(globex, member.TypeCreated, fmt.Sprintf("Cat %d", i))
	}
	if got := f.search(globex, member.Filter{Search: "cat"}, 2); !slices.Equal(got.names, []string{"Cat 3", "Cat 2", "Cat 1"}) || got.newest != 0 {
		t.Errorf("three members, scope 3: %q, searched only the newest %d; want all, 0", got.names, got.newest)
	}
	f.create(globex, member.TypeCreated, "Cat 4")
	if got := f.search(globex, member.Filter{Search: "cat"}, 2); !slices.Equal(got.names, []string{"Cat 4", "Cat 3", "Cat 2"}) || got.newest != 3 {
		t.Errorf("four members, scope 3: %q, searched only the newest %d; want Cat 4 to Cat 2, 3", got.names, got.newest)
	}
	// Another organization's members are not in the window.
	if got := f.search(acme, member.Filter{Search: "cat"}, 20); got.names != nil || got.newest != 3 {
		t.Errorf("Acme's search for Globex's members: %q, %d", got.names, got.newest)
	}
}

// TestMembersSearchWindowRemoved: in the list of removed members, the
// window is the members removed last (by removal time, then id), listed
// newest first as always.
func TestMembersSearchWindowRemoved(t *testing.T) {
	t.Parallel()
	f := newWindowFixture(t, 3)
	org := f.org("Acme")
	rex := map[int]*member.Member{}
	for i := 1; i <= 6; i++ {
		rex[i] = f.create(org, member.TypeInvited, fmt.Sprintf("Rex %d", i))
	}
	f.create(org, member.TypeInvited, "Rex 7") // not removed
	// Removed last first: Rex 6, Rex 4, then Rex 3 and Rex 1 at one
	// instant (Rex 3 has the greater id), Rex 5, Rex 2. The window's
	// bound is Rex 1: Rex 3 is in it, Rex 1 is not.
	for _, step := range []struct {
		i       int
		advance bool
	}{{2, false}, {5, true}, {1, true}, {3, false}, {4, true}, {6, true}} {
		if step.advance {
			f.clock.Add(time.Minute)
		}
		f.remove(org, rex[step.i])
	}
	got := f.search(org, member.Filter{Search: "rex", Removed: true}, 1)
	if want := []string{"Rex 6", "Rex 4", "Rex 3"}; !slices.Equal(got.names, want) || got.newest != 3 {
		t.Errorf("removed: %q, searched only the newest %d; want %q, 3", got.names, got.newest, want)
	}
	for _, size := range []int{2, 20} {
		if again := f.search(org, member.Filter{Search: "rex", Removed: true}, size); !slices.Equal(again.names, got.names) {
			t.Errorf("removed, in pages of %d: %q, in pages of 1: %q", size, again.names, got.names)
		}
	}
	// The current list has one member, searched whole.
	if got := f.search(org, member.Filter{Search: "rex"}, 20); !slices.Equal(got.names, []string{"Rex 7"}) || got.newest != 0 {
		t.Errorf("current: %q, searched only the newest %d; want Rex 7, 0", got.names, got.newest)
	}
}

// TestMembersSearchWindowPlan asks the server how it runs a substring
// search in an organization of 3,000 members with a window of 50: the
// window's bound by a walk of at most 51 entries of members_org, and the
// count and the page, with filters and cursors, by a range of members_org
// that the server expects to hold about 50 rows, whatever the size of the
// organization. Without the window (a store whose scope exceeds the
// organization) the same statements read every member of it.
func TestMembersSearchWindowPlan(t *testing.T) {
	t.Parallel()
	testenv.RequireOptimizer(t)
	testenv.RequireStatusCounters(t)
	const scope, size = 50, 3000
	f := newWindowFixture(t, scope)
	db := f.st.DB()
	org, other := f.org("Big"), f.org("Other")
	created := f.clock.Now().Add(-time.Hour)
	// Ids interleave with another organization's, as they do in a shared
	// table; every other member has a binding, every tenth is removed.
	const base = 1 << 30
	for start := 0; start < size; start += 500 {
		var members, bindings []string
		var memberArgs, bindingArgs []any
		for i := start; i < start+500; i++ {
			id := base + 2*i
			email := fmt.Sprintf("member%d@example.com", id)
			var removed any
			if i%10 == 0 {
				removed = created.Add(time.Duration(i) * time.Second)
			}
			members = append(members, "(?, ?, ?, 'CREATED', ?, ?, ?)", "(?, ?, ?, 'CREATED', ?, NULL, NULL)")
			memberArgs = append(memberArgs, id, org, fmt.Sprintf("Member %d", id), created, removed, id,
				id+1, other, fmt.Sprintf("Member %d", id+1), created)
			bindings = append(bindings, "(?, ?, ?, ?, ?, '86', '+8613800138000', 'PENDING', ?, 0, 0)")
			bindingArgs = append(bindingArgs, id, org, id, email, email, created)
		}
		if _, err := db.ExecContext(f.ctx, `INSERT INTO members (id, org_id, name, member_type, created_at, removed_at, binding_id) VALUES `+
			strings.Join(members, ", "), memberArgs...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(f.ctx, `INSERT INTO bindings (id, org_id, member_id, email, email_key, country_code, phone, state,
			submitted_at, unsent_links, newest_link_id) VALUES `+strings.Join(bindings, ", "), bindingArgs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(f.ctx, `ANALYZE TABLE members, bindings`); err != nil {
		t.Fatal(err)
	}
	whole := mysql.New(db, mysql.Options{Now: f.clock.Now}) // scope 100,000: no window here

	inWindow := int64(base + 2*(size-10)) // a cursor among the newest members
	for _, tc := range []struct {
		filter member.Filter
		q      member.PageQuery
	}{
		{member.Filter{Search: "nobody"}, member.PageQuery{Size: 50}},
		{member.Filter{Search: "member"}, member.PageQuery{Size: 20, After: inWindow}},
		{member.Filter{Search: "example", Status: member.StatusPending, Type: member.TypeCreated}, member.PageQuery{Size: 20, Backward: true, Before: inWindow}},
		{member.Filter{Search: "nobody", Status: member.StatusUnbound}, member.PageQuery{Size: 20}},
		{member.Filter{Search: "nobody", Removed: true}, member.PageQuery{Size: 20, After: inWindow}},
	} {
		countSQL, countArgs, listSQL, listArgs, err := f.st.MembersStatements(f.ctx, org, tc.filter, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []struct {
			name  string
			query string
			args  []any
		}{{"count", countSQL, countArgs}, {"page", listSQL, listArgs}} {
			plan := explain(t, f.ctx, db, st.query, st.args...)
			t.Logf("%+v %s:\n%s", tc.filter, st.name, formatPlan(plan))
			for _, row := range plan {
				switch {
				case row["type"] == "ALL" || row["type"] == "index":
					t.Errorf("%+v %s: reads all of %s", tc.filter, st.name, row["table"])
				case row["table"] != "m":
				case row["key"] != "members_org" || row["type"] != "range":
					t.Errorf("%+v %s: members read by %s %q, want a range of members_org", tc.filter, st.name, row["type"], row["key"])
				case atoi(t, row["rows"]) > 2*scope:
					t.Errorf("%+v %s: the server expects to read %s members, want at most about %d", tc.filter, st.name, row["rows"], scope)
				}
			}
			if n := handlerReads(t, f.ctx, db, st.query, st.args...); n > 3*scope+10 {
				t.Errorf("%+v %s: %d index and row reads, want at most %d (a member, its binding and mail each)", tc.filter, st.name, n, 3*scope+10)
			}
		}
		countSQL, countArgs, _, _, err = whole.MembersStatements(f.ctx, org, tc.filter, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, f.ctx, db, countSQL, countArgs...)
		t.Logf("%+v count without a window:\n%s", tc.filter, formatPlan(plan))
		if len(plan) == 0 || atoi(t, plan[0]["rows"]) < size/20 {
			t.Errorf("%+v: without a window the count does not expect to read the list; the test would not see a plan that reads it all", tc.filter)
		}
	}
	for _, removed := range []bool{false, true} {
		query, args := f.st.SearchWindowStatement(org, removed)
		plan := explain(t, f.ctx, db, query, args...)
		t.Logf("the window's bound (removed %v):\n%s", removed, formatPlan(plan))
		if len(plan) != 1 || plan[0]["key"] != "members_org" || !strings.Contains(plan[0]["Extra"], "Using index") || strings.Contains(plan[0]["Extra"], "filesort") {
			t.Errorf("removed %v: the window's bound is not read from members_org alone, in its order", removed)
		}
		if n := handlerReads(t, f.ctx, db, query, args...); n > scope+2 {
			t.Errorf("removed %v: the window's bound read %d index entries, want at most %d", removed, n, scope+2)
		}
	}
}

// handlerReads runs query on a connection of its own and returns how many
// rows and index entries the server read for it (its Handler_read_*
// status counters), less what reading the counters costs.
func handlerReads(t *testing.T, ctx context.Context, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reads := func() int {
		var rows []struct {
			Name  string `db:"Variable_name"`
			Value int    `db:"Value"`
		}
		if err := conn.SelectContext(ctx, &rows, `SHOW SESSION STATUS LIKE 'Handler_read%'`); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			n += r.Value
		}
		return n
	}
	start := reads()
	idle := reads() - start
	before := reads()
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	return reads() - before - idle
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
