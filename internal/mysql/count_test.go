package mysql_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// countedRows is what member_counts must hold: the counts of the members
// as they are, by the query migration 0009 backfills them with.
const countedRows = `
	SELECT org_id, removed, member_type, bind_state, slot, COUNT(*) AS n
	FROM (
	  SELECT m.org_id AS org_id, CASE WHEN m.removed_at IS NULL THEN 0 ELSE 1 END AS removed,
	    m.member_type AS member_type, COALESCE(b.state, 'UNBOUND') AS bind_state, m.id % 16 AS slot
	  FROM members m LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id
	) c
	GROUP BY org_id, removed, member_type, bind_state, slot`

type countRow struct {
	OrgID  int64  `db:"org_id"`
	Remove int    `db:"removed"`
	Type   string `db:"member_type"`
	State  string `db:"bind_state"`
	Slot   int    `db:"slot"`
	N      int64  `db:"n"`
}

// TestMemberCountsStayExact runs a burst of concurrent creates, invites,
// binds, activations and removals in two organizations, then checks that
// member_counts holds exactly what counting the rows gives, and that every
// total Members answers (each filter of removal, type and bind status,
// PENDING and FAILED split by the clock) is the number of members its
// pages list.
func TestMemberCountsStayExact(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	other, _, err := f.st.CreateOrganization(f.ctx, "Other", "en")
	if err != nil {
		t.Fatal(err)
	}
	orgs := []int64{f.org.ID, other.ID}
	const perOrg = 24

	// Round 1: members are created and invited, and half of the created
	// ones bound, all at once.
	var mu sync.Mutex
	created := map[int64][]*member.Member{}
	var wg sync.WaitGroup
	for _, org := range orgs {
		for i := range perOrg {
			wg.Go(func() {
				typ := member.TypeCreated
				if i%4 == 3 {
					typ = member.TypeInvited
				}
				m, err := f.st.CreateMember(f.ctx, org, "test", typ, fmt.Sprintf("M%d", i), "")
				if err != nil {
					t.Error(err)
					return
				}
				if typ == member.TypeCreated && i%2 == 0 {
					if m, err = f.st.BindSecurityInfo(f.ctx, org, "test", m.ID, testenv.SecurityInfo(t, fmt.Sprintf("m%d-%d@example.com", org, i))); err != nil {
						t.Error(err)
						return
					}
				}
				mu.Lock()
				created[org] = append(created[org], m)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	// The first binds' mails go out; then a day passes for half of them:
	// those bound in round 2 stay pending, the rest fail at their expiry.
	tokens := f.deliver()[member.OutboxActivation]
	f.clock.Add(f.st.Policy().ActivationTTL / 2)

	// Round 2, all at once: every other bound member activates (and is
	// then removed), each invited one is removed, the unbound created
	// ones are bound, and more members are created.
	for _, org := range orgs {
		for i, m := range created[org] {
			wg.Go(func() {
				var err error
				switch {
				case m.Type == member.TypeInvited:
					_, err = f.st.RemoveMember(f.ctx, org, "test", m.ID)
				case m.Binding == nil:
					_, err = f.st.BindSecurityInfo(f.ctx, org, "test", m.ID, testenv.SecurityInfo(t, fmt.Sprintf("late%d-%d@example.com", org, i)))
				case i%3 == 0:
					var v *member.LinkView
					if v, err = f.st.Activate(f.ctx, tokens[m.ID][0]); err == nil && v.State != member.LinkValid {
						err = fmt.Errorf("activate member %d: %s", m.ID, v.State)
					}
					if err == nil {
						_, err = f.st.RemoveMember(f.ctx, org, "test", m.ID)
					}
				}
				if err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				if _, err := f.st.CreateMember(f.ctx, org, "test", member.TypeCreated, fmt.Sprintf("N%d", i), ""); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	f.deliver()
	// The first binds' links expire; the later ones' do not.
	f.clock.Add(f.st.Policy().ActivationTTL/2 + time.Hour)

	var want, got []countRow
	if err := f.db.SelectContext(f.ctx, &want, countedRows+` ORDER BY org_id, removed, member_type, bind_state, slot`); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SelectContext(f.ctx, &got, `SELECT org_id, removed, member_type, bind_state, slot, n FROM member_counts WHERE n <> 0 ORDER BY org_id, removed, member_type, bind_state, slot`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("member_counts:\n%v\ncounting the rows:\n%v", got, want)
	}

	seen := map[member.Status]bool{}
	for _, org := range orgs {
		for _, removed := range []bool{false, true} {
			for _, typ := range []member.Type{"", member.TypeCreated, member.TypeInvited} {
				for _, status := range []member.Status{"", member.StatusUnbound, member.StatusPending, member.StatusActivated, member.StatusFailed} {
					filter := member.Filter{Removed: removed, Type: typ, Status: status}
					total, listed := f.total(org, filter), f.listed(org, filter)
					if total != listed {
						t.Errorf("organization %d, %+v: totalCount %d, %d members listed", org, filter, total, listed)
					}
					if listed > 0 {
						seen[status] = true
					}
				}
			}
		}
	}
	// The burst must have left members of every status, or the check
	// above proved less than it says.
	for _, s := range []member.Status{member.StatusUnbound, member.StatusPending, member.StatusActivated, member.StatusFailed} {
		if !seen[s] {
			t.Errorf("no member is %s", s)
		}
	}
}

// total is Members' totalCount of filter.
func (f *signInFixture) total(org int64, filter member.Filter) int {
	f.t.Helper()
	page, err := f.st.Members(f.ctx, org, filter, member.PageQuery{})
	if err != nil {
		f.t.Fatal(err)
	}
	return page.Total
}

// listed is how many members Members lists for filter, page by page.
func (f *signInFixture) listed(org int64, filter member.Filter) int {
	f.t.Helper()
	n := 0
	q := member.PageQuery{Size: 7, SkipTotal: true}
	for {
		page, err := f.st.Members(f.ctx, org, filter, q)
		if err != nil {
			f.t.Fatal(err)
		}
		n += len(page.Members)
		if !page.HasNext {
			return n
		}
		q.After = page.Members[len(page.Members)-1].ID
	}
}

// TestMembersTotalReadsTheCounters: the total of a members page without a
// search is what member_counts holds, not a count of the rows: a counter
// set off by hand shows in it. A search still counts the rows it finds.
func TestMembersTotalReadsTheCounters(t *testing.T) {
	t.Parallel()
	f := newSignInFixture(t)
	for i := range 3 {
		f.bind(fmt.Sprintf("M%d", i), fmt.Sprintf("m%d@example.com", i))
	}
	if got := f.total(f.org.ID, member.Filter{}); got != 3 {
		t.Fatalf("totalCount %d, want 3", got)
	}
	if _, err := f.db.ExecContext(f.ctx, `UPDATE member_counts SET n = n + 1000 WHERE org_id = ? AND bind_state = 'PENDING' LIMIT 1`, f.org.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter member.Filter
		want   int
	}{
		{member.Filter{}, 1003},
		{member.Filter{Type: member.TypeCreated}, 1003},
		{member.Filter{Status: member.StatusFailed}, 1000}, // the counted pending ones that are not live
		{member.Filter{Status: member.StatusPending}, 3},   // counted by the rows
		{member.Filter{Search: "example.com"}, 3},
	} {
		if got := f.total(f.org.ID, tc.filter); got != tc.want {
			t.Errorf("%+v: totalCount %d, want %d", tc.filter, got, tc.want)
		}
	}
}

// TestMembersCountPlan asks the server how it counts: the counters by
// their primary key, the live pending bindings by bindings_pending, and
// no table read whole. The organization has many failed bindings, as an
// old one has (they only accumulate): the count of the live pending ones
// must not read them.
func TestMembersCountPlan(t *testing.T) {
	t.Parallel()
	testenv.RequireOptimizer(t)
	f := newSearchFixture(t)
	expired := f.clock.Now().Add(-time.Hour)
	for batch := range 4 {
		var members, bindings []string
		var memberArgs, bindingArgs []any
		for i := range 500 {
			id := 1<<30 + batch*1000 + i // the member's and its binding's
			email := fmt.Sprintf("failed%d@example.com", id)
			members = append(members, "(?, ?, ?, 'CREATED', ?, ?)")
			memberArgs = append(memberArgs, id, f.org.ID, email, expired, id)
			bindings = append(bindings, "(?, ?, ?, ?, ?, '86', '+8613800138000', 'PENDING', ?, ?, ?, 0, 0)")
			bindingArgs = append(bindingArgs, id, f.org.ID, id, email, email, expired, expired, expired)
		}
		if _, err := f.db.ExecContext(f.ctx, `INSERT INTO members (id, org_id, name, member_type, created_at, binding_id) VALUES `+
			strings.Join(members, ", "), memberArgs...); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ExecContext(f.ctx, `INSERT INTO bindings (id, org_id, member_id, email, email_key, country_code, phone, state,
			submitted_at, link_sent_at, link_expires_at, unsent_links, newest_link_id) VALUES `+strings.Join(bindings, ", "), bindingArgs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.ExecContext(f.ctx, `ANALYZE TABLE bindings, members, member_counts`); err != nil {
		t.Fatal(err)
	}
	for _, filter := range []member.Filter{
		{}, {Removed: true}, {Type: member.TypeCreated, Status: member.StatusActivated},
		{Status: member.StatusPending}, {Status: member.StatusFailed},
	} {
		countSQL, countArgs, _, _, err := f.st.MembersStatements(f.ctx, f.org.ID, filter, member.PageQuery{Size: 50})
		if err != nil {
			t.Fatal(err)
		}
		plan := f.explain(countSQL, countArgs...)
		t.Logf("%+v:\n%s", filter, formatPlan(plan))
		for _, row := range plan {
			switch row["table"] {
			case "member_counts":
				if row["key"] != "PRIMARY" {
					t.Errorf("%+v: member_counts read by %q", filter, row["key"])
				}
			case "b":
				if row["key"] != "bindings_pending" || row["type"] != "range" {
					t.Errorf("%+v: bindings read by %s %q, want a range of bindings_pending", filter, row["type"], row["key"])
				}
			case "m":
				if row["key"] != "PRIMARY" {
					t.Errorf("%+v: members read by %q, want by primary key", filter, row["key"])
				}
			case "":
			default:
				if !strings.HasPrefix(row["table"], "<") {
					t.Errorf("%+v: the count reads %s", filter, row["table"])
				}
			}
			if row["type"] == "ALL" || row["type"] == "index" {
				t.Errorf("%+v: the count reads all of %s", filter, row["table"])
			}
		}
	}
}
