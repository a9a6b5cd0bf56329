package mysql

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/contact"
	"memberbind/internal/member"
)

// memberSelect reads a member with its current binding; memberRow scans it.
const memberSelect = memberColumns + `
	FROM members m LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id
		LEFT JOIN outbox o ON o.link_id = b.newest_link_id AND o.org_id = b.org_id`

// memberColumns are the columns memberRow scans, from members m, its
// current binding b and that binding's newest mail o.
const memberColumns = `
	SELECT m.id, m.org_id, m.name, m.member_type, m.remark, m.created_at, m.removed_at, m.login_email,
		b.id AS b_id, b.member_id AS b_member_id, b.email AS b_email, b.country_code AS b_country_code,
		b.phone AS b_phone, b.state AS b_state, b.modifications AS b_modifications,
		b.submitted_at AS b_submitted_at, b.activated_at AS b_activated_at,
		b.link_sent_at AS b_link_sent_at, b.link_expires_at AS b_link_expires_at,
		b.unsent_links AS b_unsent_links, b.newest_link_id AS b_newest_link_id,
		o.status AS o_status, o.attempts AS o_attempts, o.last_error AS o_last_error, o.sent_at AS o_sent_at`

type memberRow struct {
	ID         int64          `db:"id"`
	OrgID      int64          `db:"org_id"`
	Name       string         `db:"name"`
	Type       string         `db:"member_type"`
	Remark     sql.NullString `db:"remark"`
	CreatedAt  sql.NullTime   `db:"created_at"`
	RemovedAt  sql.NullTime   `db:"removed_at"`
	LoginEmail sql.NullString `db:"login_email"`

	BID            sql.NullInt64  `db:"b_id"`
	BMemberID      sql.NullInt64  `db:"b_member_id"`
	BEmail         sql.NullString `db:"b_email"`
	BCountryCode   sql.NullString `db:"b_country_code"`
	BPhone         sql.NullString `db:"b_phone"`
	BState         sql.NullString `db:"b_state"`
	BModifications sql.NullInt64  `db:"b_modifications"`
	BSubmittedAt   sql.NullTime   `db:"b_submitted_at"`
	BActivatedAt   sql.NullTime   `db:"b_activated_at"`
	BLinkSentAt    sql.NullTime   `db:"b_link_sent_at"`
	BLinkExpiresAt sql.NullTime   `db:"b_link_expires_at"`
	BUnsentLinks   sql.NullInt64  `db:"b_unsent_links"`
	BNewestLinkID  sql.NullInt64  `db:"b_newest_link_id"`

	// The newest link's mail, read in the same statement so that its
	// delivery and the binding's link times agree.
	OStatus    sql.NullString `db:"o_status"`
	OAttempts  sql.NullInt64  `db:"o_attempts"`
	OLastError sql.NullString `db:"o_last_error"`
	OSentAt    sql.NullTime   `db:"o_sent_at"`
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

func (r *memberRow) member(asOf time.Time) *member.Member {
	m := &member.Member{
		ID:         r.ID,
		OrgID:      r.OrgID,
		Name:       r.Name,
		Type:       member.Type(r.Type),
		Remark:     r.Remark.String,
		CreatedAt:  r.CreatedAt.Time.UTC(),
		RemovedAt:  timePtr(r.RemovedAt),
		LoginEmail: r.LoginEmail.String,
		AsOf:       asOf,
	}
	if r.BID.Valid {
		m.Binding = &member.Binding{
			ID:            r.BID.Int64,
			MemberID:      r.BMemberID.Int64,
			Email:         r.BEmail.String,
			CountryCode:   r.BCountryCode.String,
			Phone:         r.BPhone.String,
			State:         member.BindingState(r.BState.String),
			Modifications: int(r.BModifications.Int64),
			SubmittedAt:   r.BSubmittedAt.Time.UTC(),
			ActivatedAt:   timePtr(r.BActivatedAt),
			LinkSentAt:    timePtr(r.BLinkSentAt),
			LinkExpiresAt: timePtr(r.BLinkExpiresAt),
			UnsentLinks:   int(r.BUnsentLinks.Int64),
			NewestLinkID:  r.BNewestLinkID.Int64,
		}
		if r.OStatus.Valid {
			m.Binding.Delivery = &member.Delivery{
				LinkID: r.BNewestLinkID.Int64, Status: member.DeliveryStatus(r.OStatus.String),
				Attempts: int(r.OAttempts.Int64), LastError: r.OLastError.String, SentAt: timePtr(r.OSentAt),
			}
		}
	}
	return m
}

// Member returns a member of the organization that has not been removed.
func (s *Store) Member(ctx context.Context, orgID, memberID int64) (*member.Member, error) {
	var row memberRow
	err := s.db.GetContext(ctx, &row, memberSelect+` WHERE m.id = ? AND m.org_id = ? AND m.removed_at IS NULL`, memberID, orgID)
	if err != nil {
		return nil, FormatError(err)
	}
	return row.member(s.Now()), nil
}

// MembersByID returns the organization's members with these ids, removed
// ones too, by id.
func (s *Store) MembersByID(ctx context.Context, orgID int64, ids []int64) (map[int64]*member.Member, error) {
	out := make(map[int64]*member.Member, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(memberSelect+` WHERE m.org_id = ? AND m.id IN (?)`, orgID, ids)
	if err != nil {
		return nil, err
	}
	var rows []memberRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read %d members by id: %w", len(ids), err)
	}
	now := s.Now()
	for i := range rows {
		out[rows[i].ID] = rows[i].member(now)
	}
	return out, nil
}

// lockMember reads a member and its current binding with both rows locked
// for the rest of tx. Everything a mutation decides on is read here.
func (s *Store) lockMember(ctx context.Context, tx *sqlx.Tx, orgID, memberID int64) (*member.Member, error) {
	var row memberRow
	err := tx.GetContext(ctx, &row, memberSelect+` WHERE m.id = ? AND m.org_id = ? AND m.removed_at IS NULL FOR UPDATE`, memberID, orgID)
	if err != nil {
		return nil, FormatError(err)
	}
	return row.member(s.Now()), nil
}

// Members returns one page of an organization's members, newest first.
func (s *Store) Members(ctx context.Context, orgID int64, f member.Filter, q member.PageQuery) (*member.MemberPage, error) {
	now := s.Now()
	search, err := parseFilter(f)
	if err != nil {
		return nil, err
	}
	if search.pattern != "" {
		if search.window, err = s.findWindow(ctx, orgID, f.Removed); err != nil {
			return nil, err
		}
	}
	count, list := membersStatements(orgID, f, search, q, now)
	page := &member.MemberPage{}
	if search.window.limited {
		page.SearchedOnlyNewest = s.scope
	}
	if !q.SkipTotal {
		if err := s.db.GetContext(ctx, &page.Total, count.query, count.args...); err != nil {
			return nil, fmt.Errorf("count members: %w", err)
		}
	}
	if q.Size == 0 {
		return page, nil
	}
	rows := make([]memberRow, 0, q.Size+2) // scanned into without regrowing
	if err := s.db.SelectContext(ctx, &rows, list.query, list.args...); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	var members []*member.Member
	beyond := false // the probe found a member on the far side of the page's cursor
	for i := range rows {
		if !q.Contains(rows[i].ID) {
			beyond = true
			continue
		}
		members = append(members, rows[i].member(now))
	}
	// A union has no order of its own, and a backward page is read
	// oldest first.
	slices.SortFunc(members, func(a, b *member.Member) int { return cmp.Compare(b.ID, a.ID) })
	var more bool
	page.Members, more = member.Cut(q, members)
	if q.Backward {
		page.HasPrevious, page.HasNext = more, beyond
	} else {
		page.HasNext, page.HasPrevious = more, beyond
	}
	return page, nil
}

// statement is one SQL statement with its arguments.
type statement struct {
	query string
	args  []any
}

// membersStatements are the two statements of Members: the count of the
// members f selects, and the page q asks for. The count reads the
// organization's member_counts (membersCount); only a search counts the
// members it finds: a search by a complete email address by the bindings
// that hold it, a substring search among the members of its window.
//
// The page reads, by the (org_id, removed_at, id) index, one member more
// than q.Size on the page's side, so that the caller knows whether more
// follow, and, when the page starts at a cursor, the nearest member on
// the cursor's other side, if any: whether members come before a page
// read forwards after a cursor (or after one read backwards before a
// cursor) costs one more index seek in the same statement rather than a
// statement of its own.
func membersStatements(orgID int64, f member.Filter, search memberSearch, q member.PageQuery, now time.Time) (count, list statement) {
	from, cond, args := membersMatching(orgID, f, search, now)
	var counted bool
	if count, counted = membersCount(orgID, f, now); !counted {
		count = statement{`SELECT COUNT(*)` + from + ` WHERE ` + cond, args}
	}
	selectFrom := memberColumns + from + ` LEFT JOIN outbox o ON o.link_id = b.newest_link_id AND o.org_id = b.org_id WHERE ` + cond
	page := selectFrom
	list.args = append([]any(nil), args...)
	if q.After > 0 {
		page += " AND m.id < ?"
		list.args = append(list.args, q.After)
	}
	if q.Before > 0 {
		page += " AND m.id > ?"
		list.args = append(list.args, q.Before)
	}
	order, probe, probeOrder, cursor := " DESC", " AND m.id >= ?", " ASC", q.After
	if q.Backward {
		order, probe, probeOrder, cursor = " ASC", " AND m.id <= ?", " DESC", q.Before
	}
	list.query = page + ` ORDER BY m.id` + order + ` LIMIT ?`
	list.args = append(list.args, q.Size+1)
	if cursor > 0 {
		// Each part's ORDER BY and LIMIT hold within its parentheses.
		list.query = "(" + list.query + ") UNION ALL (" + selectFrom + probe + ` ORDER BY m.id` + probeOrder + ` LIMIT 1)`
		list.args = append(append(list.args, args...), cursor)
	}
	return count, list
}

// membersMatching is the FROM clause and WHERE condition (with its
// arguments) of the members of an organization that f selects, as of now,
// with f's search as search reads it. Each member comes with its current
// binding as b; the caller may join more to it.
func membersMatching(orgID int64, f member.Filter, search memberSearch, now time.Time) (from, cond string, args []any) {
	// from is where the members come from: every member of the
	// organization with its current binding, or, for a search by an
	// email address, the bindings that hold it (see searchEmailKey).
	from = ` FROM members m LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id`
	where := []string{"m.org_id = ?", "m.removed_at IS NULL"}
	if f.Removed {
		where[1] = "m.removed_at IS NOT NULL"
	}
	args = []any{orgID}
	switch {
	case search.emailKey != "":
		// Start from the (org_id, email_key) index and keep the
		// bindings that are their member's current one: the member
		// then has that email whatever its state (pending,
		// activated, failed), as the substring search below does.
		// members.login_email needs no branch of its own: it is set
		// at activation to the current binding's email, and an
		// activated binding is never replaced.
		from = ` FROM bindings b JOIN members m ON m.id = b.member_id AND m.org_id = b.org_id AND m.binding_id = b.id`
		where = append([]string{"b.org_id = ?", "b.email_key = ?"}, where...)
		args = append([]any{orgID, search.emailKey}, args...)
	case search.pattern != "":
		// The members of the search's window (see searchWindow), by
		// the members_org index, named: when the window leaves members
		// out, a range of it that holds the window alone. Left to
		// choose, MariaDB 10.11 reads the whole (org_id, removed_at)
		// prefix instead once the window is about half the list or
		// more by its estimates, and scans the table when the
		// organization is most of it.
		from = ` FROM members m FORCE INDEX (members_org) LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id`
		if w := search.window; w.limited {
			if f.Removed {
				where = append(where, "(m.removed_at > ? OR (m.removed_at = ? AND m.id > ?))")
				args = append(args, w.removedAt, w.removedAt, w.id)
			} else {
				where = append(where, "m.id > ?")
				args = append(args, w.id)
			}
		}
		where = append(where, "(LOWER(m.name) LIKE ? OR b.email_key LIKE ? OR LOWER(m.login_email) LIKE ?)")
		args = append(args, search.pattern, search.pattern, search.pattern)
	}
	if f.Type != "" {
		where = append(where, "m.member_type = ?")
		args = append(args, string(f.Type))
	}
	switch f.Status {
	case member.StatusUnbound:
		where = append(where, "m.binding_id IS NULL")
	case member.StatusActivated:
		where = append(where, "b.state = 'ACTIVATED'")
	case member.StatusFailed:
		where = append(where, "(b.state = 'FAILED' OR (b.state = 'PENDING' AND b.unsent_links = 0 AND b.link_expires_at <= ?))")
		args = append(args, now)
	case member.StatusPending:
		where = append(where, "b.state = 'PENDING' AND NOT (b.unsent_links = 0 AND b.link_expires_at IS NOT NULL AND b.link_expires_at <= ?)")
		args = append(args, now)
	}
	return from, strings.Join(where, " AND "), args
}

// memberSearch is a members search as the store runs it: none, a complete
// email address (by its key), or a part of a name or an email (as a LIKE
// pattern), examined among the members of its window.
type memberSearch struct {
	emailKey string
	pattern  string
	window   searchWindow
}

// searchWindow is the members of a list a substring search examines: its
// newest, as many as the store's scope. limited says whether the list has
// more; the window then holds the members after its bound, the newest
// member it leaves out: those with a greater id, or in the list of
// removed members those removed after it (by removed_at, then id).
type searchWindow struct {
	limited   bool
	id        int64
	removedAt time.Time
}

// parseFilter checks f and reads its search.
func parseFilter(f member.Filter) (memberSearch, error) {
	var search memberSearch
	switch f.Status {
	case "", member.StatusUnbound, member.StatusActivated, member.StatusFailed, member.StatusPending:
	default:
		return search, member.FieldErrorf(member.CodeInvalidInput, "filter", "unknown bind status %q", f.Status)
	}
	text := strings.TrimSpace(f.Search)
	switch {
	case text == "":
	case len(text) > member.MaxSearchLength:
		return search, member.FieldErrorf(member.CodeInvalidInput, "filter", "search must be at most %d characters", member.MaxSearchLength)
	default:
		if key, ok := searchEmailKey(text); ok {
			search.emailKey = key
		} else {
			search.pattern = "%" + escapeLike(strings.ToLower(text)) + "%"
		}
	}
	return search, nil
}

// findWindow finds the window of a substring search of an
// organization's members, or of its removed members: the one member of
// the list just past its newest s.scope, by a walk down the members_org
// index that reads no table row and stops there, after at most s.scope + 1
// entries whatever the size of the organization. The count and the page
// then read that range of the index and no more (membersMatching).
func (s *Store) findWindow(ctx context.Context, orgID int64, removed bool) (searchWindow, error) {
	st := windowStatement(orgID, removed, s.scope)
	var bound struct {
		ID        int64        `db:"id"`
		RemovedAt sql.NullTime `db:"removed_at"`
	}
	switch err := s.db.GetContext(ctx, &bound, st.query, st.args...); {
	case errors.Is(err, sql.ErrNoRows): // the list has no more members than the scope
		return searchWindow{}, nil
	case err != nil:
		return searchWindow{}, fmt.Errorf("find the window of a members search: %w", err)
	}
	return searchWindow{limited: true, id: bound.ID, removedAt: bound.RemovedAt.Time}, nil
}

// windowStatement reads the bound of a search window of scope members
// (see searchWindow): the list's newest member beyond them, if any. The
// list's members are in members_org in the window's order, (org_id, NULL,
// id) for the current ones and (org_id, removed_at, id) for the removed
// ones, so the walk needs neither a sort nor a row.
func windowStatement(orgID int64, removed bool, scope int) statement {
	if removed {
		return statement{`SELECT id, removed_at FROM members WHERE org_id = ? AND removed_at IS NOT NULL
			ORDER BY removed_at DESC, id DESC LIMIT 1 OFFSET ?`, []any{orgID, scope}}
	}
	return statement{`SELECT id, removed_at FROM members WHERE org_id = ? AND removed_at IS NULL
		ORDER BY id DESC LIMIT 1 OFFSET ?`, []any{orgID, scope}}
}

// searchEmailKey reports whether a members search is a complete, valid
// email address, and if so its email key, normalized as stored
// (contact.ParseEmail, then member.EmailKey: "Bob@Bücher.Example" finds
// bob@xn--bcher-kva.example).
//
// Such a search finds the members whose current binding holds exactly that
// address, by the bindings (org_id, email_key) index, and nothing else: a
// full address names one mailbox, and whoever types one is looking for its
// account. That is a decision, and it narrows "name or email" (DESIGN.md
// §2) in two ways, both on purpose:
//
//   - Other addresses that merely contain it (malice@example.com for
//     alice@example.com) no longer match; they are other people.
//   - Names are not searched. A name holding a whole email address is
//     rare, and matching names means reading members one by one (there
//     is no index that can find a substring of a name), so that a
//     substring search examines only the newest members of the list
//     (member.SearchScope), where the index finds the address among all
//     of them in milliseconds. Such a member is still found by a part of
//     the address that is not itself an address ("alice@example",
//     "alice@"), if among the newest.
//
// Anything that is not a complete address (a name, a local part, a
// domain) is matched as a substring of the name, the binding's email and
// the login email, among the newest members of the list (searchWindow).
func searchEmailKey(search string) (string, bool) {
	if !strings.Contains(search, "@") {
		return "", false
	}
	email, err := contact.ParseEmail(search)
	if err != nil {
		return "", false
	}
	return member.EmailKey(email), true
}

// escapeLike escapes the LIKE wildcards of s, with \ as the escape.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CreateMember creates a CREATED or INVITED member account.
func (s *Store) CreateMember(ctx context.Context, orgID int64, actor member.Actor, t member.Type, name, remark string) (*member.Member, error) {
	m, verr := member.NewMember(t, name, remark)
	if verr != nil {
		return nil, verr
	}
	m.OrgID, m.CreatedAt, m.AsOf = orgID, s.Now(), s.Now()
	kind := member.EventCreated
	if t == member.TypeInvited {
		kind = member.EventInvited
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO members (org_id, name, member_type, remark, created_at) VALUES (?, ?, ?, ?, ?)`,
			orgID, m.Name, string(m.Type), nullString(m.Remark), m.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if err := s.record(ctx, tx, m, 0, kind, actor, "", "", m.CreatedAt); err != nil {
			return err
		}
		return countNew(ctx, tx, m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember removes a member from its organization (R10). The member
// keeps its binding and login email: removal ends membership, not the
// account.
func (s *Store) RemoveMember(ctx context.Context, orgID int64, actor member.Actor, memberID int64) (*member.Member, error) {
	var m *member.Member
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if m, err = s.lockMember(ctx, tx, orgID, memberID); err != nil {
			return err
		}
		if derr := member.DecideRemove(m); derr != nil {
			return derr
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE members SET removed_at = ? WHERE id = ? AND org_id = ?`, now, m.ID, m.OrgID); err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		from := classOf(m)
		m.RemovedAt = &now
		if err := s.record(ctx, tx, m, 0, member.EventRemoved, actor, m.LoginEmail, "", now); err != nil {
			return err
		}
		return recount(ctx, tx, m, from, classOf(m))
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
