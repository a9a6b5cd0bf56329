package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/contact"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// What the store-level tests of several packages do the same way: make a
// binding, deliver its mail as an SMTP server would accept it, and compare
// the database before and after a request that must change nothing.

// SecurityInfo is email with a Chinese mobile number, as the store takes
// it; t fails if email is not a valid address.
func SecurityInfo(t testing.TB, email string) member.SecurityInfo {
	t.Helper()
	info, err := contact.Parse(email, "86", "13800138000")
	if err != nil {
		t.Fatalf("security information for %s: %v", email, err)
	}
	return info
}

// Bind creates a member of the organization and binds email (with a
// Chinese mobile number) to it, as the actor "test". Its activation mail
// is queued, not sent (see Deliver).
func Bind(t testing.TB, st *mysql.Store, orgID int64, name, email string) *member.Member {
	t.Helper()
	ctx := context.Background()
	m, err := st.CreateMember(ctx, orgID, "test", member.TypeCreated, name, "")
	if err != nil {
		t.Fatalf("create member %q: %v", name, err)
	}
	if m, err = st.BindSecurityInfo(ctx, orgID, "test", m.ID, SecurityInfo(t, email)); err != nil {
		t.Fatalf("bind %s to %q: %v", email, name, err)
	}
	return m
}

// Deliver claims every due mail of the outbox and marks it sent at at, as
// if the SMTP server had accepted it then (an activation link's days
// start), and returns the raw tokens by kind and member id, oldest first.
func Deliver(t testing.TB, st *mysql.Store, at time.Time) map[member.OutboxKind]map[int64][]string {
	t.Helper()
	ctx := context.Background()
	msgs, err := st.ClaimOutbox(ctx, "test", 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	out := map[member.OutboxKind]map[int64][]string{}
	for _, m := range msgs {
		if m.Token == "" {
			t.Fatalf("outbox row %d has no token", m.ID)
		}
		kind := m.Kind
		if kind == "" {
			kind = member.OutboxActivation
		}
		if out[kind] == nil {
			out[kind] = map[int64][]string{}
		}
		out[kind][m.MemberID] = append(out[kind][m.MemberID], m.Token)
		if err := st.MarkOutboxSent(ctx, m.OrgID, m.ID, "test", at); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Count is how many rows of table match cond.
func Count(t testing.TB, db *sqlx.DB, table, cond string, args ...any) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, "SELECT COUNT(*) FROM "+table+" WHERE "+cond, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// Snapshot dumps tables, every row and column, for comparing the database
// before and after a request that must change nothing.
func Snapshot(t testing.TB, db *sqlx.DB, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table+" ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "%s %v\n", table, cols)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if v == nil {
					b.WriteString(" NULL")
				} else {
					fmt.Fprintf(&b, " %q", v)
				}
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}
