package member

import (
	"context"
	"time"
)

// Change is one recorded change of a member: every change of a member
// writes a member event in the transaction that makes it (R12), so the
// events are the changes, in the order of their ids.
type Change struct {
	// Seq is the id of the event that records the change.
	Seq      int64
	OrgID    int64
	MemberID int64
}

// SeqRange is the sequence numbers From to To, both included.
type SeqRange struct{ From, To int64 }

// Changes is what live updates (the memberChanged subscription) read: the
// change log every instance writes, so that a change made through any
// instance sharing the database reaches the subscribers of all of them,
// with no broker between them.
type Changes interface {
	// LastChange is the sequence number of the newest change recorded,
	// 0 when there is none.
	LastChange(ctx context.Context) (int64, error)
	// ChangesAfter returns, in the order of their sequence numbers, at
	// most limit changes that are after seq or within one of ranges (the
	// numbers a reader skipped because they were not committed yet).
	ChangesAfter(ctx context.Context, seq int64, ranges []SeqRange, limit int) ([]Change, error)
	// ExpiredBetween returns the members whose pending binding failed by
	// the clock alone (R7), which writes nothing, after from and at or
	// before to, at most limit of them in the order they failed, with the
	// instant the last of them failed (to when there were fewer than
	// limit). Seq is 0.
	ExpiredBetween(ctx context.Context, from, to time.Time, limit int) ([]Change, time.Time, error)
	// MembersByID is Service.MembersByID: the members as they stand,
	// removed ones included.
	MembersByID(ctx context.Context, orgID int64, ids []int64) (map[int64]*Member, error)
	// RevokedAPIKeys returns which of the API keys of keyIDs are
	// revoked; orgIDs are the organizations they belong to, so that the
	// read names them.
	RevokedAPIKeys(ctx context.Context, orgIDs, keyIDs []int64) (map[int64]bool, error)
}
