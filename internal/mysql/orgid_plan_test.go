package mysql_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestOrgIDKeepsPlans asks the server how it runs the hot statements now
// that they name org_id (TestEveryStatementNamesOrgID): each still finds
// its rows by the key it used before (a primary key lookup stays one, with
// org_id checked on the row it finds), and none reads a table without a
// key.
func TestOrgIDKeepsPlans(t *testing.T) {
	t.Parallel()
	testenv.RequireOptimizer(t)
	f := newSearchFixture(t)
	org := f.org.ID
	m := f.byName["Alice"]
	in := func(query string, args ...any) (string, []any) {
		t.Helper()
		q, a, err := sqlx.In(query, args...)
		if err != nil {
			t.Fatal(err)
		}
		return q, a
	}
	_, _, pageSQL, pageArgs, err := f.st.MembersStatements(f.ctx, org, member.Filter{}, member.PageQuery{Size: 50})
	if err != nil {
		t.Fatal(err)
	}
	leaseSQL, leaseArgs := in(strings.ReplaceAll(mysql.PackageStatement(t, "UPDATE outbox SET leased_by = ?, lease_until = ?, lease_token = ?"), "<?>", ""),
		"w", f.clock.Now(), "t", []int64{1, 2, 3}, "QUEUED", f.clock.Now(), f.clock.Now())
	markSQL, markArgs := in(mysql.PackageStatement(t, "SELECT id FROM bindings WHERE id IN (?) AND org_id IN (?)"), []int64{m.Binding.ID}, []int64{org})
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		// first is the table (alias) and key the plan must start from.
		first, key string
	}{
		{"the members page", pageSQL, pageArgs, "m", "PRIMARY"},
		{"lock a member (bind)", mysql.PackageStatement(t, "WHERE m.id = ? AND m.org_id = ? AND m.removed_at IS NULL FOR UPDATE"), []any{m.ID, org}, "m", "PRIMARY"},
		{"attach a binding (bind)", mysql.PackageStatement(t, "UPDATE members SET binding_id = ?"), []any{1, m.ID, org}, "members", "PRIMARY"},
		{"count a link (bind)", mysql.PackageStatement(t, "UPDATE bindings SET unsent_links = unsent_links + 1"), []any{1, m.Binding.ID, org}, "bindings", "PRIMARY"},
		{"kill links (modify)", mysql.PackageStatement(t, "UPDATE activation_links SET killed_at = ? WHERE binding_id = ?"), []any{f.clock.Now(), m.Binding.ID, org}, "activation_links", "activation_links_binding"},
		{"cancel mail (modify)", mysql.PackageStatement(t, "UPDATE outbox SET status = 'CANCELLED'"), []any{m.Binding.ID, org}, "outbox", "outbox_binding"},
		{"look up a link (activate)", mysql.PackageStatement(t, "WHERE l.token_hash = ?"), []any{make([]byte, 32)}, "l", "activation_links_token"},
		{"lease picked rows (claim)", leaseSQL, leaseArgs, "outbox", "outbox_due"},
		{"lock bindings (mark sent)", markSQL, markArgs, "bindings", "PRIMARY"},
		{"a member's events", mysql.PackageStatement(t, "FROM member_events WHERE member_id = ? AND org_id = ?") + " ORDER BY id DESC LIMIT 6", []any{m.ID, org}, "member_events", "member_events_member"},
	} {
		plan := f.explain(tc.query, tc.args...)
		before := f.explain(withoutOrgID(tc.query), tc.args...)
		t.Logf("%s:\n%s without org_id:\n%s", tc.name, formatPlan(plan), formatPlan(before))
		if got, want := planKeys(plan), planKeys(before); got != want {
			t.Errorf("%s: plan %s, without org_id %s", tc.name, got, want)
		}
		if len(plan) == 0 || plan[0]["table"] != tc.first || plan[0]["key"] != tc.key {
			// "Impossible WHERE" (no such row) is a key lookup too.
			if len(plan) == 0 || !strings.Contains(plan[0]["Extra"], "Impossible WHERE") {
				t.Errorf("%s: plan does not start from %s by %s", tc.name, tc.first, tc.key)
			}
		}
		for _, row := range plan {
			if row["type"] == "ALL" {
				t.Errorf("%s: plan reads all of %s", tc.name, row["table"])
			}
		}
	}
}

// orgIDCondition is a condition on org_id that the statements add.
var orgIDCondition = regexp.MustCompile(`\bAND\s+(\w+\.)?org_id\s*(=\s*\?|IN\s*\(\?(,\s*\?)*\)|=\s*\w+\.org_id)`)

// withoutOrgID is query as it was before it named org_id, with the same
// arguments: each condition on org_id becomes one that holds whatever its
// arguments.
func withoutOrgID(query string) string {
	return orgIDCondition.ReplaceAllStringFunc(query, func(c string) string {
		n := strings.Count(c, "?")
		if n == 0 {
			return "AND TRUE"
		}
		return "AND COALESCE(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ", 0) IS NOT NULL"
	})
}

// planKeys is the tables and keys of a plan, in order.
func planKeys(plan []map[string]string) string {
	var b strings.Builder
	for _, row := range plan {
		b.WriteString(row["table"] + ":" + row["key"] + " ")
	}
	return b.String()
}
