package mysql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// An organization's hourly mail budget (member.Policy.MailsPerOrgHour) is
// held by its org_mail_hours row of the hour, which counts the mails
// reserved by every instance. Counting each mail in its own transaction
// would make that row the one every bind of the organization locks until
// its commit, and so serialise them on the commit's log flush (the bench's
// bind figure, 16 clients in one organization, fell to a fifth). Instead
// an instance reserves a block of mails at once (member.OrgMailBlock) in a
// short transaction that locks the row, reads it, decides
// (member.DecideOrgMail) and adds the block, and then hands the block's
// mails out from memory, one to each change that queues a mail.
//
// What the database holds is thus exact in one direction: no more mails
// are ever queued than the budget, on any number of instances, since each
// was reserved under the row's lock first. A mail reserved but not used
// (an instance stopping, the hour ending, a change that failed after it
// took one) is lost to the hour's budget: the budget errs towards less
// mail. Blocks shrink to one mail as the budget runs out, so the last
// mails of an hour are shared between instances, and a small budget is
// exact.

// errNoReservedMail is returned by a change's transaction when this
// instance holds no reserved mail of the organization's budget: mutate
// rolls back, reserves a block, and runs the change again.
var errNoReservedMail = errors.New("no activation mail of the organization's budget reserved")

// mailTicket is one reserved mail of an organization's budget for an
// hour, held by one call; the zero value holds none.
type mailTicket struct {
	orgID int64
	hour  time.Time
}

// valid reports whether t holds a mail usable at now.
func (t mailTicket) valid(now time.Time) bool {
	return t.orgID != 0 && t.hour.Equal(member.MailHour(now))
}

// orgBudget is what this instance reserved of each organization's budget
// of the current hour and did not hand out yet.
type orgBudget struct {
	mu   sync.Mutex
	left map[int64]mailBlock
}

type mailBlock struct {
	hour  time.Time
	mails int
}

// take hands out one reserved mail of orgID for now's hour into t,
// reporting false when none is left.
func (b *orgBudget) take(orgID int64, now time.Time, t *mailTicket) bool {
	hour := member.MailHour(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	blk, ok := b.left[orgID]
	if !ok || !blk.hour.Equal(hour) || blk.mails == 0 {
		delete(b.left, orgID) // an earlier hour's mails are void
		return false
	}
	blk.mails--
	b.left[orgID] = blk
	*t = mailTicket{orgID: orgID, hour: hour}
	return true
}

// add puts n reserved mails of orgID for hour into the block.
func (b *orgBudget) add(orgID int64, hour time.Time, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == nil {
		b.left = make(map[int64]mailBlock)
	}
	blk := b.left[orgID]
	if !blk.hour.Equal(hour) {
		if blk.hour.After(hour) {
			return // a late reservation of an hour that is over
		}
		blk = mailBlock{hour: hour}
	}
	blk.mails += n
	b.left[orgID] = blk
}

// giveBack returns the unused mail of a failed change to the block.
func (b *orgBudget) giveBack(t mailTicket) {
	if t.orgID != 0 {
		b.add(t.orgID, t.hour, 1)
	}
}

// reserveOrgMail reserves a block of orgID's budget of the current hour in
// a transaction of its own, keeps one mail of it in t and the rest in the
// instance's block; or returns ORGANIZATION_MAIL_LIMIT_REACHED when the
// budget is spent. It must not be called while a transaction of the
// caller's is open.
func (s *Store) reserveOrgMail(ctx context.Context, orgID int64, t *mailTicket) error {
	var hour time.Time
	var n int
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.Now()
		hour = member.MailHour(now)
		// The upsert makes the row exist (waiting for a concurrent
		// first reservation's insert to commit); the locking read holds
		// it and reads what every instance reserved.
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO org_mail_hours (org_id, hour_start, mails) VALUES (?, ?, 0)
			ON DUPLICATE KEY UPDATE mails = mails`, orgID, hour); err != nil {
			return fmt.Errorf("lock organization mail count: %w", err)
		}
		var counted int
		if err := tx.GetContext(ctx, &counted, `SELECT mails FROM org_mail_hours WHERE org_id = ? AND hour_start = ? FOR UPDATE`, orgID, hour); err != nil {
			return fmt.Errorf("read organization mail count: %w", err)
		}
		if derr := member.DecideOrgMail(counted+1, now, s.policy); derr != nil {
			return derr
		}
		n = member.OrgMailBlock(counted, s.policy)
		if _, err := tx.ExecContext(ctx, `UPDATE org_mail_hours SET mails = mails + ? WHERE org_id = ? AND hour_start = ?`, n, orgID, hour); err != nil {
			return fmt.Errorf("reserve organization mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*t = mailTicket{orgID: orgID, hour: hour}
	s.budget.add(orgID, hour, n-1)
	return nil
}
