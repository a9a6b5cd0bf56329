package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// countSlots is how many rows each count of an organization is spread
// over (migration 0009): a member counts in the slot of its id.
const countSlots = 16

// unbound is the bind_state of a member with no binding in member_counts.
const unbound = "UNBOUND"

// memberClass is what member_counts counts a member under: removed or not,
// and its current binding's state as stored (unbound without one). A
// binding FAILED by the clock alone is stored PENDING (R7), and counted so.
type memberClass struct {
	removed bool
	state   string
}

// classOf is the class m is counted under, as it was read.
func classOf(m *member.Member) memberClass {
	c := memberClass{removed: m.RemovedAt != nil, state: unbound}
	if m.Binding != nil {
		c.state = string(m.Binding.State)
	}
	return c
}

// less orders classes, so that a change that moves a member between two
// locks their counter rows in one order, the same in every transaction.
func (c memberClass) less(d memberClass) bool {
	if c.removed != d.removed {
		return !c.removed
	}
	return c.state < d.state
}

// recount moves m from class from to class to in member_counts, in tx.
// It is the last thing a change writes, so that a transaction that waits
// for a counter row holds every other lock it needs already, and counter
// rows are locked in one order (memberClass.less): two changes cannot
// deadlock on them.
func recount(ctx context.Context, tx *sqlx.Tx, m *member.Member, from, to memberClass) error {
	if from == to {
		return nil
	}
	steps := []struct {
		c     memberClass
		delta int
	}{{from, -1}, {to, +1}}
	if to.less(from) {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, st := range steps {
		if err := addCount(ctx, tx, m, st.c, st.delta); err != nil {
			return err
		}
	}
	return nil
}

// countNew counts a member just created.
func countNew(ctx context.Context, tx *sqlx.Tx, m *member.Member) error {
	return addCount(ctx, tx, m, memberClass{state: unbound}, +1)
}

// createCounts makes an organization's counter rows, every class of every
// type in every slot at zero, in the transaction that creates it: an
// UPDATE that finds its row locks that row alone, where one that finds
// none would lock the gap it would be in, and concurrent first members of
// a class would deadlock inserting into each other's gaps.
func createCounts(ctx context.Context, tx *sqlx.Tx, orgID int64) error {
	var values []string
	var args []any
	for _, removed := range []int{0, 1} {
		for _, typ := range []member.Type{member.TypeCreated, member.TypeInvited} {
			for _, state := range []string{unbound, string(member.StatePending), string(member.StateActivated)} {
				for slot := range countSlots {
					values = append(values, "(?, ?, ?, ?, ?, 0)")
					args = append(args, orgID, removed, string(typ), state, slot)
				}
			}
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT IGNORE INTO member_counts (org_id, removed, member_type, bind_state, slot, n) VALUES `+
		strings.Join(values, ", "), args...)
	if err != nil {
		return fmt.Errorf("create member counts of organization %d: %w", orgID, err)
	}
	return nil
}

// addCount adds delta to m's count of class c. Its row exists
// (createCounts, migration 0009) and the UPDATE locks it alone; should it
// not, the INSERT makes it.
func addCount(ctx context.Context, tx *sqlx.Tx, m *member.Member, c memberClass, delta int) error {
	removed, slot := 0, m.ID%countSlots
	if c.removed {
		removed = 1
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE member_counts SET n = n + ?
		WHERE org_id = ? AND removed = ? AND member_type = ? AND bind_state = ? AND slot = ?`,
		delta, m.OrgID, removed, string(m.Type), c.state, slot)
	if err != nil {
		return fmt.Errorf("count member %d: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO member_counts (org_id, removed, member_type, bind_state, slot, n) VALUES (?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE n = n + ?`,
		m.OrgID, removed, string(m.Type), c.state, slot, delta, delta); err != nil {
		return fmt.Errorf("count member %d: %w", m.ID, err)
	}
	return nil
}

// membersCount is the statement that counts the members f selects, as of
// now, without a search: from member_counts, a read of at most a few
// hundred rows of the organization whatever its size. PENDING and FAILED
// are one count there (see memberClass); the live pending bindings are
// counted by the bindings_pending index, a range that holds the bindings
// whose newest link has not expired or whose mail is not out yet, never
// the failed ones, which only accumulate. It reports false when f has a
// search, which only rows can answer.
func membersCount(orgID int64, f member.Filter, now time.Time) (statement, bool) {
	if strings.TrimSpace(f.Search) != "" {
		return statement{}, false
	}
	removed := 0
	if f.Removed {
		removed = 1
	}
	counted := `SELECT CAST(COALESCE(SUM(n), 0) AS SIGNED) FROM member_counts WHERE org_id = ? AND removed = ?`
	countedArgs := []any{orgID, removed}
	if f.Type != "" {
		counted += ` AND member_type = ?`
		countedArgs = append(countedArgs, string(f.Type))
	}
	// The members whose current binding is pending and not failed by the
	// clock: unsent_links > 0 (a mail not out yet) or a newest link that
	// has not expired (or none sent yet), as member.Binding.Status says.
	live := `SELECT COUNT(*) FROM bindings b JOIN members m ON m.id = b.member_id AND m.org_id = b.org_id AND m.binding_id = b.id
		WHERE b.org_id = ? AND b.state = 'PENDING'
			AND (b.unsent_links > 0 OR (b.unsent_links = 0 AND (b.link_expires_at IS NULL OR b.link_expires_at > ?)))`
	liveArgs := []any{orgID, now}
	if f.Removed {
		live += ` AND m.removed_at IS NOT NULL`
	} else {
		live += ` AND m.removed_at IS NULL`
	}
	if f.Type != "" {
		live += ` AND m.member_type = ?`
		liveArgs = append(liveArgs, string(f.Type))
	}
	switch f.Status {
	case "":
		return statement{counted, countedArgs}, true
	case member.StatusUnbound, member.StatusActivated:
		return statement{counted + ` AND bind_state = ?`, append(countedArgs, string(f.Status))}, true
	case member.StatusPending:
		return statement{live, liveArgs}, true
	case member.StatusFailed:
		return statement{`SELECT (` + counted + ` AND bind_state IN ('PENDING', 'FAILED')) - (` + live + `)`,
			append(countedArgs, liveArgs...)}, true
	}
	return statement{}, false
}
