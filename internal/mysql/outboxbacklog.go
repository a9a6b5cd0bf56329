package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OutboxBacklog returns how many mails wait to be sent (QUEUED, or
// RETRYING after a temporary failure) and when the oldest of them was
// queued, zero if none waits: the outbox gauges of the metrics, read at
// scrape time. It reads through the outbox_due index (status first), and
// locks nothing.
func (s *Store) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var row struct {
		N      int          `db:"n"`
		Oldest sql.NullTime `db:"oldest"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status IN ('QUEUED', 'RETRYING')`)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read outbox backlog: %w", err)
	}
	return row.N, row.Oldest.Time, nil
}
