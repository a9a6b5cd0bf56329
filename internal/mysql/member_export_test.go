package mysql

import (
	"time"

	"memberbind/internal/member"
)

// MembersStatements exposes to the tests the two statements Store.Members
// runs (the count and the page), as SQL and arguments, so that they can
// ask the server how it plans them.
func MembersStatements(orgID int64, f member.Filter, q member.PageQuery, now time.Time) (countSQL string, countArgs []any, listSQL string, listArgs []any, err error) {
	count, list, err := membersStatements(orgID, f, q, now)
	return count.query, count.args, list.query, list.args, err
}
