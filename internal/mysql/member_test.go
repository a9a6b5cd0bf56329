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
	"memberbind/internal/testenv"
)

// searchFixture is an organization whose members hold emails in every
// way a member can (signInFixture's store and helpers), and a second
// organization that must never show in the first one's searches.
type searchFixture struct {
	*signInFixture
	other  *member.Organization
	byName map[string]*member.Member
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	f := &searchFixture{signInFixture: newSignInFixture(t), byName: map[string]*member.Member{}}
	ttl := f.st.Policy().ActivationTTL

	// Failed: their only links expired unused. Hope is then bound again
	// with another email, so her failed binding is no longer current.
	f.byName["Hank"] = f.bind("Hank", "hank@example.com")
	hope := f.bind("Hope", "hope@example.com")
	f.deliver()
	f.clock.Add(ttl + time.Hour)
	f.byName["Hope"] = f.rebind(hope, "hope2@example.com")

	// Pending, its mail not sent yet.
	f.byName["Alice"] = f.bind("Alice", "alice@example.com")
	// Other addresses that contain alice@example.com, and a name that is it.
	f.byName["Carol"] = f.bind("Carol", "malice@example.com")
	f.byName["Cid"] = f.bind("Cid", "alice@example.com.cn")
	f.byName["alice@example.com"] = f.create("alice@example.com", member.TypeCreated)
	// Activated: the email is the login email too, as typed before the @.
	f.byName["Bob"] = f.activate("Bob", "Bob.Smith@Example.COM")
	// An internationalized domain, stored in punycode.
	f.byName["Eve"] = f.bind("Eve", "eve@Bücher.Example")
	// Modified away before activation.
	gina := f.bind("Gina", "gina.old@example.com")
	var err error
	if f.byName["Gina"], err = f.st.UpdateSecurityInfo(f.ctx, f.org.ID, "test", gina.ID, testenv.SecurityInfo(t, "gina@example.com")); err != nil {
		t.Fatal(err)
	}
	// Activated, then removed from the organization.
	ivy := f.activate("Ivy", "ivy@example.com")
	if _, err := f.st.RemoveMember(f.ctx, f.org.ID, "test", ivy.ID); err != nil {
		t.Fatal(err)
	}
	f.byName["Ivan"] = f.create("Ivan", member.TypeInvited)

	// Another organization's member.
	if f.other, _, err = f.st.CreateOrganization(f.ctx, "Globex", "en"); err != nil {
		t.Fatal(err)
	}
	f.byName["Frank"] = testenv.Bind(t, f.st, f.other.ID, "Frank", "frank@example.com")
	return f
}

func (f *searchFixture) create(name string, typ member.Type) *member.Member {
	f.t.Helper()
	m, err := f.st.CreateMember(f.ctx, f.org.ID, "test", typ, name, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *searchFixture) rebind(m *member.Member, email string) *member.Member {
	f.t.Helper()
	var err error
	if m, err = f.st.RebindSecurityInfo(f.ctx, f.org.ID, "test", m.ID, testenv.SecurityInfo(f.t, email)); err != nil {
		f.t.Fatalf("rebind %s: %v", email, err)
	}
	return m
}

// members lists the names of every member of org that the filter selects,
// page by page, and checks that each page's total is the number listed.
func (f *searchFixture) members(orgID int64, filter member.Filter, pageSize int) []string {
	f.t.Helper()
	var names []string
	var after int64
	for range 100 {
		page, err := f.st.Members(f.ctx, orgID, filter, member.PageQuery{Size: pageSize, After: after})
		if err != nil {
			f.t.Fatalf("Members(%+v): %v", filter, err)
		}
		for _, m := range page.Members {
			names = append(names, m.Name)
		}
		if !page.HasNext {
			if page.Total != len(names) {
				f.t.Errorf("Members(%+v): totalCount %d, %d listed", filter, page.Total, len(names))
			}
			return names
		}
		after = page.Members[len(page.Members)-1].ID
	}
	f.t.Fatalf("Members(%+v): paging does not end", filter)
	return nil
}

// TestMembersSearchByEmail: a search that is a complete email address
// finds the members whose current binding holds it, whatever its state
// and however the address is written, and nothing else (see
// searchEmailKey); anything else is still a substring search.
func TestMembersSearchByEmail(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	for _, tc := range []struct {
		filter member.Filter
		want   []string // newest first
	}{
		// Pending, not a substring match of malice@ or alice@….cn, and
		// not the member whose name is the address.
		{member.Filter{Search: "alice@example.com"}, []string{"Alice"}},
		{member.Filter{Search: "  ALICE@Example.Com "}, []string{"Alice"}},
		{member.Filter{Search: "alice@example.com", Status: member.StatusPending}, []string{"Alice"}},
		{member.Filter{Search: "alice@example.com", Status: member.StatusUnbound}, nil},
		{member.Filter{Search: "alice@example.com", Type: member.TypeInvited}, nil},
		{member.Filter{Search: "malice@example.com"}, []string{"Carol"}},
		// Not a complete address: the substring search of names and emails.
		{member.Filter{Search: "alice@example"}, []string{"alice@example.com", "Cid", "Carol", "Alice"}},
		{member.Filter{Search: "alice@"}, []string{"alice@example.com", "Cid", "Carol", "Alice"}},
		{member.Filter{Search: "@example.com"}, []string{"Gina", "Bob", "alice@example.com", "Cid", "Carol", "Alice", "Hope", "Hank"}},
		// Activated, found in any case of the local part.
		{member.Filter{Search: "bob.smith@example.com"}, []string{"Bob"}},
		{member.Filter{Search: "Bob.Smith@Example.COM", Status: member.StatusActivated}, []string{"Bob"}},
		{member.Filter{Search: "bob.smith@example.com", Status: member.StatusPending}, nil},
		// An internationalized domain, typed either way.
		{member.Filter{Search: "EVE@bücher.example"}, []string{"Eve"}},
		{member.Filter{Search: "eve@xn--bcher-kva.example"}, []string{"Eve"}},
		// Failed and still current; failed and replaced by a rebind.
		{member.Filter{Search: "hank@example.com"}, []string{"Hank"}},
		{member.Filter{Search: "hank@example.com", Status: member.StatusFailed}, []string{"Hank"}},
		{member.Filter{Search: "hope@example.com"}, nil},
		{member.Filter{Search: "hope2@example.com", Status: member.StatusPending}, []string{"Hope"}},
		// Modified away, and the modification.
		{member.Filter{Search: "gina.old@example.com"}, nil},
		{member.Filter{Search: "gina@example.com"}, []string{"Gina"}},
		// A removed member, and another organization's.
		{member.Filter{Search: "ivy@example.com"}, nil},
		{member.Filter{Search: "frank@example.com"}, nil},
		{member.Filter{Search: "nobody@example.com"}, nil},
	} {
		for _, size := range []int{1, 2, 100} {
			if got := f.members(f.org.ID, tc.filter, size); !slices.Equal(got, tc.want) {
				t.Errorf("Members(%+v) in pages of %d = %q, want %q", tc.filter, size, got, tc.want)
			}
		}
	}
	if got := f.members(f.other.ID, member.Filter{Search: "Frank@Example.com"}, 20); !slices.Equal(got, []string{"Frank"}) {
		t.Errorf("the other organization's search = %q, want Frank", got)
	}
}

// TestMembersSearchByEmailPaging: the exact match keeps the page contract:
// the total without a page, the cursor, and the total skipped when not
// asked for.
func TestMembersSearchByEmailPaging(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	alice := f.byName["Alice"]
	search := member.Filter{Search: "alice@example.com"}
	for _, tc := range []struct {
		name  string
		q     member.PageQuery
		total int
		want  []int64
	}{
		{"only the total", member.PageQuery{Size: 0}, 1, nil},
		{"a page of one", member.PageQuery{Size: 1}, 1, []int64{alice.ID}},
		{"after a newer member", member.PageQuery{Size: 20, After: alice.ID + 1}, 1, []int64{alice.ID}},
		{"after the match", member.PageQuery{Size: 20, After: alice.ID}, 1, nil},
		{"without the total", member.PageQuery{Size: 20, SkipTotal: true}, 0, []int64{alice.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.st.Members(f.ctx, f.org.ID, search, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, m := range page.Members {
				got = append(got, m.ID)
				if m.Binding == nil || m.Binding.Email != "alice@example.com" {
					t.Errorf("member %d has binding %+v, want alice@example.com", m.ID, m.Binding)
				}
			}
			if page.Total != tc.total || page.HasNext || !slices.Equal(got, tc.want) {
				t.Errorf("total %d, next %v, ids %v; want total %d, no next, ids %v", page.Total, page.HasNext, got, tc.total, tc.want)
			}
		})
	}
	if _, err := f.st.Members(f.ctx, f.org.ID, member.Filter{Search: "a@" + strings.Repeat("x", 250) + ".com"}, member.PageQuery{Size: 1}); member.ErrorCode(err) != member.CodeInvalidInput {
		t.Errorf("an over-long search: %v, want INVALID_INPUT", err)
	}
}

// TestMembersSearchByEmailPlan asks the server how it runs both statements
// of a search by a complete email: from the bindings (org_id, email_key)
// index, then the member by its primary key, and no table scanned.
func TestMembersSearchByEmailPlan(t *testing.T) {
	t.Parallel()
	testenv.RequireOptimizer(t)
	f := newSearchFixture(t)
	for _, filter := range []member.Filter{
		{Search: "alice@example.com"},
		{Search: "alice@example.com", Status: member.StatusPending, Type: member.TypeCreated},
		{Search: "hank@example.com", Status: member.StatusFailed},
	} {
		countSQL, countArgs, listSQL, listArgs, err := f.st.MembersStatements(f.ctx, f.org.ID, filter, member.PageQuery{Size: 20, After: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []struct {
			query string
			args  []any
		}{{countSQL, countArgs}, {listSQL, listArgs}} {
			plan := f.explain(st.query, st.args...)
			t.Logf("%+v:\n%s", filter, formatPlan(plan))
			if len(plan) == 0 || plan[0]["table"] != "b" || plan[0]["key"] != "bindings_org_email" {
				t.Errorf("%+v: plan does not start from bindings_org_email:\n%s", filter, formatPlan(plan))
			}
			for _, row := range plan {
				if row["type"] == "ALL" || row["type"] == "index" || row["key"] == "" {
					t.Errorf("%+v: plan reads %s without a key:\n%s", filter, row["table"], formatPlan(plan))
				}
			}
		}
	}
}

// explain returns the server's EXPLAIN of query, one map per row.
func (f *searchFixture) explain(query string, args ...any) []map[string]string {
	f.t.Helper()
	return explain(f.t, f.ctx, f.db, query, args...)
}

// explain returns the server's EXPLAIN of query on db, one map per row.
func explain(t *testing.T, ctx context.Context, db *sqlx.DB, query string, args ...any) []map[string]string {
	t.Helper()
	rows, err := db.QueryxContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []map[string]string
	for rows.Next() {
		row := map[string]any{}
		if err := rows.MapScan(row); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, v := range row {
			switch v := v.(type) {
			case []byte:
				out[k] = string(v)
			case nil:
				out[k] = ""
			default:
				out[k] = fmt.Sprint(v)
			}
		}
		plan = append(plan, out)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

func formatPlan(plan []map[string]string) string {
	var b strings.Builder
	for _, row := range plan {
		b.WriteString("  table=" + row["table"] + " type=" + row["type"] + " key=" + row["key"] + " rows=" + row["rows"] + " extra=" + row["Extra"] + "\n")
	}
	return b.String()
}
