package mysql_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestOrgMailBudgetAcrossInstances: two instances (stores with budgets of
// their own in memory) on one database bind concurrently in one
// organization. The mails queued never exceed the hourly budget, however
// the reserved blocks fell, and the count in the database covers them.
func TestOrgMailBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	clock := testenv.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	p := member.DefaultPolicy()
	p.MailsPerOrgHour = 40
	a := testenv.Store(t, mysql.Options{Policy: p, Now: clock.Now})
	b := mysql.New(a.DB(), mysql.Options{Policy: p, Now: clock.Now})
	ctx := context.Background()
	org, _, err := a.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	ids := make([]int64, n)
	for i := range ids {
		m, err := a.CreateMember(ctx, org.ID, "test", member.TypeCreated, fmt.Sprintf("m%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = m.ID
	}
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for i, id := range ids {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			_, err := st.BindSecurityInfo(ctx, org.ID, "test", id, testenv.SecurityInfo(t, fmt.Sprintf("m%d@example.com", i)))
			switch member.ErrorCode(err) {
			case "":
				if err != nil {
					t.Errorf("bind %d: %v", i, err)
					return
				}
				accepted.Add(1)
			case member.CodeOrgMailLimitReached:
				refused.Add(1)
			default:
				t.Errorf("bind %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	queued := testenv.Count(t, a.DB(), "outbox", "org_id = ?", org.ID)
	var reserved int
	if err := a.DB().Get(&reserved, `SELECT mails FROM org_mail_hours WHERE org_id = ?`, org.ID); err != nil {
		t.Fatal(err)
	}
	if int64(queued) != accepted.Load() || accepted.Load()+refused.Load() != n {
		t.Errorf("accepted %d, refused %d, queued %d", accepted.Load(), refused.Load(), queued)
	}
	if queued > p.MailsPerOrgHour || reserved > p.MailsPerOrgHour || queued > reserved {
		t.Errorf("queued %d, reserved %d: want both at most the budget of %d, and no mail unreserved", queued, reserved, p.MailsPerOrgHour)
	}
	if reserved != p.MailsPerOrgHour {
		t.Errorf("reserved %d with binds refused: want the whole budget of %d reserved", reserved, p.MailsPerOrgHour)
	}
}
