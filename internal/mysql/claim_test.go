package mysql_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// claimFixture is a store whose outbox holds rows written straight into
// the table: claims read nothing of bindings or links, and a few thousand
// rows are quick to write that way.
type claimFixture struct {
	t     *testing.T
	ctx   context.Context
	dsn   string
	st    *mysql.Store
	db    *sqlx.DB
	clock *testenv.Clock
	org   int64
	mem   int64
}

func newClaimFixture(t *testing.T) *claimFixture {
	t.Helper()
	f := &claimFixture{t: t, ctx: context.Background(), dsn: testenv.MySQL(t), clock: testenv.NewClock(t0)}
	f.st = testenv.StoreAt(t, f.dsn, mysql.Options{Now: f.clock.Now})
	f.db = f.st.DB()
	org, _, err := f.st.CreateOrganization(f.ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	f.org = org.ID
	res, err := f.db.Exec(`INSERT INTO members (org_id, name, member_type, created_at) VALUES (?, 'M', 'CREATED', ?)`, f.org, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.mem, _ = res.LastInsertId()
	return f
}

// addRows writes n outbox rows of status, due at due, and returns their ids.
func (f *claimFixture) addRows(n int, status string, due time.Time) []int64 {
	f.t.Helper()
	var ids []int64
	for len(ids) < n {
		k := min(500, n-len(ids))
		var args []any
		for range k {
			args = append(args, f.org, f.mem, status, due, t0)
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, 0, NULL, 'x@example.com', UUID(), ?, ?, ?), ", k), ", ")
		res, err := f.db.Exec(`INSERT INTO outbox (org_id, member_id, binding_id, link_id, recipient, message_id, status, next_attempt_at, created_at) VALUES `+values, args...)
		if err != nil {
			f.t.Fatal(err)
		}
		first, _ := res.LastInsertId()
		for i := range int64(k) {
			ids = append(ids, first+i)
		}
	}
	return ids
}

// TestClaimPlan: a claim picks its rows from the due index in order and
// stops after its limit, leases them by primary key, and its read-back finds the leased rows by their
// token, however large the outbox (issue 14; the throughput of mail
// depends on it).
func TestClaimPlan(t *testing.T) {
	testenv.RequireOptimizer(t)
	t.Parallel()
	f := newClaimFixture(t)
	f.addRows(3000, "SENT", t0.Add(-time.Hour))
	f.addRows(300, "QUEUED", t0.Add(-time.Minute))
	f.addRows(100, "RETRYING", t0.Add(-time.Minute))
	if _, err := f.db.Exec(`ANALYZE TABLE outbox`); err != nil {
		t.Fatal(err)
	}
	type plan struct {
		Table string  `db:"table"`
		Type  string  `db:"type"`
		Key   *string `db:"key"`
		Extra *string `db:"Extra"`
	}
	explain := func(query string, args ...any) []plan {
		t.Helper()
		rows, err := f.db.Queryx("EXPLAIN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []plan
		for rows.Next() {
			m := map[string]any{}
			if err := rows.MapScan(m); err != nil {
				t.Fatal(err)
			}
			str := func(k string) *string {
				if b, ok := m[k].([]byte); ok {
					s := string(b)
					return &s
				}
				return nil
			}
			out = append(out, plan{Table: *str("table"), Type: *str("type"), Key: str("key"), Extra: str("Extra")})
		}
		return out
	}
	now := t0
	for _, status := range []string{"QUEUED", "RETRYING"} {
		p := explain(`SELECT id FROM outbox
			WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`, status, now, now, 200)
		if len(p) != 1 || p[0].Key == nil || *p[0].Key != "outbox_due" || (p[0].Extra != nil && strings.Contains(*p[0].Extra, "filesort")) {
			t.Errorf("the %s claim's pick: %+v; want outbox_due in index order, no filesort", status, deref(p))
		}
	}
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprint(3001 + i)
	}
	p := explain(`UPDATE outbox SET leased_by = ?, lease_until = ?, lease_token = ?
		WHERE id IN (`+strings.Join(ids, ", ")+`) AND status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`,
		"w", now.Add(time.Minute), "tok", "QUEUED", now, now)
	if len(p) != 1 || p[0].Key == nil || *p[0].Key != "PRIMARY" || p[0].Type != "range" {
		t.Errorf("the claim's lease: %+v; want a range on the primary key", deref(p))
	}
	p = explain(`SELECT o.id FROM outbox o JOIN organizations g ON g.id = o.org_id JOIN members m ON m.id = o.member_id
		LEFT JOIN signin_links s ON s.id = o.signin_link_id WHERE o.lease_token = ? ORDER BY o.id`, "tok")
	if len(p) == 0 || p[0].Table != "o" || p[0].Key == nil || *p[0].Key != "outbox_lease" {
		t.Errorf("the read-back's plan: %+v; want outbox found by outbox_lease", deref(p))
	}
}

func deref[T any](p []T) string { return fmt.Sprintf("%+v", p) }

// TestClaimPassesOverRowsBeingMarked: while a mark holds another worker's
// rows locked, a claim takes the due rows beside them without waiting for
// it, and never the rows the other worker holds.
func TestClaimPassesOverRowsBeingMarked(t *testing.T) {
	testenv.RequireRowLocks(t)
	t.Parallel()
	f := newClaimFixture(t)
	f.addRows(20, "QUEUED", t0.Add(-time.Minute))
	held, err := f.st.ClaimOutbox(f.ctx, "other", 10, time.Minute)
	if err != nil || len(held) != 10 {
		t.Fatalf("the other worker claimed %d rows (%v), want 10", len(held), err)
	}
	// The other worker marks its rows: they stay locked until its commit.
	mark, err := f.db.BeginTxx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mark.Rollback()
	var locked []int64
	for _, m := range held {
		locked = append(locked, m.ID)
	}
	query, args, err := sqlx.In(`SELECT id FROM outbox WHERE id IN (?) ORDER BY id FOR UPDATE`, locked)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mark.Exec(query, args...); err != nil {
		t.Fatalf("lock the other worker's rows: %v", err)
	}
	// A claim that waited would wait for the lock wait timeout (50s by
	// default), past this deadline.
	ctx, cancel := context.WithTimeout(f.ctx, 20*time.Second)
	defer cancel()
	got, err := f.st.ClaimOutbox(ctx, "w", 100, time.Minute)
	if err != nil {
		t.Fatalf("a claim beside a mark in progress: %v", err)
	}
	if len(got) != 10 {
		t.Fatalf("claimed %d rows, want the 10 nobody holds", len(got))
	}
	for _, m := range got {
		for _, id := range locked {
			if m.ID == id {
				t.Errorf("claimed row %d, which the other worker holds", id)
			}
		}
	}
}

// TestClaimConcurrentWorkers: workers on stores of their own claim side by
// side until nothing is due; every row goes to exactly one of them, none
// of them fails (a lost race is retried), and each claim returns only
// rows leased to its worker.
func TestClaimConcurrentWorkers(t *testing.T) {
	testenv.RequireRowLocks(t)
	t.Parallel()
	f := newClaimFixture(t)
	const n, workers = 600, 4
	f.addRows(n/2, "QUEUED", t0.Add(-time.Minute))
	f.addRows(n/2, "RETRYING", t0.Add(-time.Minute))
	var mu sync.Mutex
	owner := map[int64]string{}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		st := testenv.StoreAt(t, f.dsn, mysql.Options{Now: f.clock.Now})
		name := fmt.Sprintf("w%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msgs, err := st.ClaimOutbox(f.ctx, name, 17, time.Hour)
				if err != nil {
					errs[i] = err
					return
				}
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					if prev, ok := owner[m.ID]; ok {
						errs[i] = fmt.Errorf("row %d claimed by %s and %s", m.ID, prev, name)
					}
					owner[m.ID] = name
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(owner) != n {
		t.Errorf("%d rows claimed, want %d", len(owner), n)
	}
	var wrong int
	if err := f.db.Get(&wrong, `SELECT COUNT(*) FROM outbox WHERE leased_by IS NULL`); err != nil || wrong != 0 {
		t.Errorf("%d rows left unleased (%v)", wrong, err)
	}
	for id, name := range owner {
		var leasedBy string
		if err := f.db.Get(&leasedBy, `SELECT leased_by FROM outbox WHERE id = ?`, id); err != nil || leasedBy != name {
			t.Errorf("row %d: leased by %q in the table, claimed by %s (%v)", id, leasedBy, name, err)
		}
	}
}
