package mysql

import (
	"context"

	"memberbind/internal/member"
)

// MembersStatements exposes to the tests the two statements Store.Members
// runs (the count and the page), as SQL and arguments, so that they can
// ask the server how it plans them. For a substring search it finds the
// search's window first, as Members does.
func (s *Store) MembersStatements(ctx context.Context, orgID int64, f member.Filter, q member.PageQuery) (countSQL string, countArgs []any, listSQL string, listArgs []any, err error) {
	search, err := parseFilter(f)
	if err != nil {
		return "", nil, "", nil, err
	}
	if search.pattern != "" {
		if search.window, err = s.findWindow(ctx, orgID, f.Removed); err != nil {
			return "", nil, "", nil, err
		}
	}
	count, list := membersStatements(orgID, f, search, q, s.Now())
	return count.query, count.args, list.query, list.args, nil
}

// SearchWindowStatement exposes the statement that finds the window of a
// substring search of orgID's members (or removed members), as the store
// runs it.
func (s *Store) SearchWindowStatement(orgID int64, removed bool) (query string, args []any) {
	st := windowStatement(orgID, removed, s.scope)
	return st.query, st.args
}
