package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// RequestSignIn mails a sign-in link to email if it is the login email of
// a member whose binding is ACTIVATED (removed members included), in one
// transaction with the link's record: no link without its mail. For any
// other address — unknown, pending, failed, given up by a modification —
// it writes nothing and mails nothing, and returns nil all the same: the
// caller must not be able to tell the two apart. A member that already has
// p.MaxLiveLinks live links gets no more until one is used or expires, and
// an email that was sent p.MailsPerHour sign-in mails within the last hour
// gets no more until the oldest leaves that hour, however many clients
// ask.
//
// email is compared as member.EmailKey of its normal form (see
// contact.ParseEmail); the mail goes to the login email as stored.
func (s *Store) RequestSignIn(ctx context.Context, email string, p member.SignInPolicy) error {
	p = p.WithDefaults()
	key := member.EmailKey(email)
	if key == "" {
		return nil
	}
	// The claim table is the service-wide index of emails (R3): its row
	// leads to the binding that holds the email, if any.
	var owner struct {
		OrgID    int64 `db:"org_id"`
		MemberID int64 `db:"member_id"`
	}
	err := s.db.GetContext(ctx, &owner, `
		SELECT c.org_id, c.member_id FROM email_claims c JOIN bindings b ON b.id = c.binding_id AND b.org_id = c.org_id
		WHERE c.email_key = ? AND b.state = 'ACTIVATED'`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("request sign-in: look up login email: %w", err)
	}
	queued := false
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		queued = false
		// The member's row serializes its sign-in requests, and every
		// read below is a locking read: a plain one sees the
		// transaction's snapshot, which on TiDB is taken at its start,
		// before the lock wait, and would miss the links that an earlier
		// request committed meanwhile: the count of live links holds only
		// so.
		var row memberRow
		if err := tx.GetContext(ctx, &row, memberSelect+` WHERE m.id = ? AND m.org_id = ? FOR UPDATE`, owner.MemberID, owner.OrgID); err != nil {
			return fmt.Errorf("read member %d: %w", owner.MemberID, err)
		}
		now := s.Now()
		m := row.member(now)
		var live int
		if err := tx.GetContext(ctx, &live, `
			SELECT COUNT(*) FROM signin_links WHERE member_id = ? AND org_id = ? AND used_at IS NULL AND expires_at > ? FOR UPDATE`, m.ID, m.OrgID, now); err != nil {
			return fmt.Errorf("count live sign-in links: %w", err)
		}
		// DecideSignInLink decides below; this early answer only spares
		// the address's row a lock for a request that could mail nothing.
		if !member.MaySignIn(m, key) || live >= p.MaxLiveLinks {
			return nil
		}
		// The email's sign-in mails of the last hour, read from its
		// locked mail_recipients row (after the member's, the order
		// activation mail takes too): the bound on what a flood of
		// requests from many clients can mail, held by the database.
		sends, err := lockMailRecipient(ctx, tx, key, "recent_signins")
		if err != nil {
			return err
		}
		if !member.DecideSignInLink(m, key, live, sends, now, p) {
			return nil
		}
		if err := setMailRecipient(ctx, tx, key, "recent_signins", append(member.RecentSignInMails(sends, now, p), now)); err != nil {
			return err
		}
		if err := s.newSignInLink(ctx, tx, m, now, p); err != nil {
			return err
		}
		// The cap holds by the member's lock; on Galera, where locks do
		// not cross nodes, by this write (migration 0008).
		if _, err := tx.ExecContext(ctx, `UPDATE members SET signin_links_issued = signin_links_issued + 1 WHERE id = ? AND org_id = ?`, m.ID, m.OrgID); err != nil {
			return fmt.Errorf("count sign-in link of member %d: %w", m.ID, err)
		}
		queued = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("request sign-in: %w", err)
	}
	if queued {
		s.notifyOutbox()
	}
	return nil
}

// newSignInLink mints a sign-in link for m's login email and queues its
// mail in tx. The raw token lives only in the outbox row.
func (s *Store) newSignInLink(ctx context.Context, tx *sqlx.Tx, m *member.Member, now time.Time, p member.SignInPolicy) error {
	token, err := s.secret()
	if err != nil {
		return err
	}
	expires := now.Add(p.LinkTTL)
	res, err := tx.ExecContext(ctx, `
		INSERT INTO signin_links (org_id, member_id, binding_id, token_hash, email, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.OrgID, m.ID, m.Binding.ID, Hash(token), m.LoginEmail, now, expires)
	if err != nil {
		return fmt.Errorf("insert sign-in link: %w", err)
	}
	linkID, err := res.LastInsertId()
	if err != nil {
		return err
	}
	nonce, err := s.randomHex(8)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO outbox (kind, org_id, member_id, binding_id, signin_link_id, recipient, token, message_id, status, next_attempt_at, created_at, traceparent)
		VALUES ('signin', ?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?, ?, ?)`,
		m.OrgID, m.ID, m.Binding.ID, linkID, m.LoginEmail, token, fmt.Sprintf("signin.%d.%s@memberbind", linkID, nonce), now, now, traceParent(ctx))
	if err != nil {
		return fmt.Errorf("queue sign-in mail: %w", err)
	}
	return nil
}

type signInLinkRow struct {
	ID        int64        `db:"id"`
	OrgID     int64        `db:"org_id"`
	MemberID  int64        `db:"member_id"`
	BindingID int64        `db:"binding_id"`
	Email     string       `db:"email"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	UsedAt    sql.NullTime `db:"used_at"`
}

func (r *signInLinkRow) link() *member.SignInLink {
	return &member.SignInLink{
		ID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, BindingID: r.BindingID, Email: r.Email,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UsedAt: timePtr(r.UsedAt),
	}
}

const signInLinkSelect = `
	SELECT id, org_id, member_id, binding_id, email, created_at, expires_at, used_at
	FROM signin_links WHERE token_hash = ?`

// InspectSignIn tells what a sign-in link is worth now, changing nothing:
// mail scanners open links too.
func (s *Store) InspectSignIn(ctx context.Context, token string) (*member.SignInView, error) {
	if !member.WellFormedToken(token) {
		return &member.SignInView{State: member.SignInUnknown}, nil
	}
	var r signInLinkRow
	err := s.db.GetContext(ctx, &r, signInLinkSelect, Hash(token))
	if errors.Is(err, sql.ErrNoRows) {
		return &member.SignInView{State: member.SignInUnknown}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up sign-in link: %w", err)
	}
	return s.signInView(ctx, s.db, r.link(), s.Now())
}

// SignIn confirms a sign-in link: if it is valid, in one transaction the
// link is used, a session is started and the sign-in recorded as a member
// event (R12). It returns what the link was found to be (SignInValid
// means signed in now) and, then, the new session's raw id, which only
// the member's cookie keeps: the store keeps its hash. Of concurrent
// confirmations of one link exactly one signs in; the others find it
// USED.
func (s *Store) SignIn(ctx context.Context, token string, p member.SignInPolicy) (*member.SignInView, string, error) {
	if !member.WellFormedToken(token) {
		return &member.SignInView{State: member.SignInUnknown}, "", nil
	}
	var view *member.SignInView
	var session string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		session = ""
		var r signInLinkRow
		err := tx.GetContext(ctx, &r, signInLinkSelect+` FOR UPDATE`, Hash(token))
		if errors.Is(err, sql.ErrNoRows) {
			view = &member.SignInView{State: member.SignInUnknown}
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock sign-in link: %w", err)
		}
		now := s.Now()
		l := r.link()
		if view, err = s.signInView(ctx, tx, l, now); err != nil {
			return err
		}
		if view.State != member.SignInValid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signin_links SET used_at = ? WHERE id = ? AND org_id = ?`, now, l.ID, l.OrgID); err != nil {
			return fmt.Errorf("use sign-in link %d: %w", l.ID, err)
		}
		if session, err = s.secret(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO member_sessions (org_id, member_id, token_hash, signin_link_id, created_at, last_seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, l.OrgID, l.MemberID, Hash(session), l.ID, now, now, now.Add(p.AbsoluteTimeout))
		if err != nil {
			return fmt.Errorf("start session: %w", err)
		}
		return s.record(ctx, tx, &member.Member{ID: l.MemberID, OrgID: l.OrgID}, l.BindingID, member.EventSignedIn,
			member.ActorMember, l.Email, "signed in with a link mailed to the login email", now)
	})
	if err != nil {
		if mysqlErrorNumber(err) == errDuplicateKey {
			// Only the session of another confirmation of this link can
			// collide (the row lock makes that all but impossible): this
			// one lost.
			return &member.SignInView{State: member.SignInUsed}, "", nil
		}
		return nil, "", fmt.Errorf("sign in: %w", err)
	}
	return view, session, nil
}

// signInView judges a sign-in link at now and describes it for its page.
func (s *Store) signInView(ctx context.Context, q queryer, l *member.SignInLink, now time.Time) (*member.SignInView, error) {
	var r struct {
		MemberName string `db:"member_name"`
		OrgName    string `db:"org_name"`
		OrgLang    string `db:"org_lang"`
	}
	err := q.GetContext(ctx, &r, `
		SELECT m.name AS member_name, g.name AS org_name, g.lang AS org_lang
		FROM members m JOIN organizations g ON g.id = m.org_id WHERE m.id = ? AND m.org_id = ?`, l.MemberID, l.OrgID)
	if err != nil {
		return nil, fmt.Errorf("member of sign-in link %d: %w", l.ID, err)
	}
	return &member.SignInView{
		State: member.JudgeSignInLink(l, now), OrgName: r.OrgName, OrgLang: r.OrgLang,
		MemberName: r.MemberName, Email: l.Email, ExpiresAt: l.ExpiresAt,
	}, nil
}

// Session returns the live session whose raw id is token and records
// that it was used now, which keeps it from idling out. It returns nil
// (and no error) for an unknown, malformed, signed-out, idle or expired
// session.
func (s *Store) Session(ctx context.Context, token string, p member.SignInPolicy) (*member.Session, error) {
	if !member.WellFormedToken(token) {
		return nil, nil
	}
	var r struct {
		ID         int64        `db:"id"`
		OrgID      int64        `db:"org_id"`
		MemberID   int64        `db:"member_id"`
		CreatedAt  time.Time    `db:"created_at"`
		LastSeenAt time.Time    `db:"last_seen_at"`
		ExpiresAt  time.Time    `db:"expires_at"`
		EndedAt    sql.NullTime `db:"ended_at"`
	}
	err := s.db.GetContext(ctx, &r, `
		SELECT id, org_id, member_id, created_at, last_seen_at, expires_at, ended_at
		FROM member_sessions WHERE token_hash = ?`, Hash(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	sess := &member.Session{
		ID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, CreatedAt: r.CreatedAt.UTC(),
		LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), EndedAt: timePtr(r.EndedAt),
	}
	now := s.Now()
	if !sess.Live(now, p) {
		return nil, nil
	}
	// Keeping it alive never revives it: the statement checks again. (A
	// request that races a sign-out may be served; every later one is
	// not.) An instance with a late clock does not move the time back.
	if _, err := s.db.ExecContext(ctx, `
		UPDATE member_sessions SET last_seen_at = ?
		WHERE id = ? AND org_id = ? AND ended_at IS NULL AND expires_at > ? AND last_seen_at > ? AND last_seen_at < ?`,
		now, sess.ID, sess.OrgID, now, now.Add(-p.IdleTimeout), now); err != nil {
		return nil, fmt.Errorf("touch session %d: %w", sess.ID, err)
	}
	sess.LastSeenAt = now
	return sess, nil
}

// SignOut ends the session whose raw id is token, for good: the cookie
// that holds it no longer signs anybody in. Ending a session that is
// unknown or already ended does nothing.
func (s *Store) SignOut(ctx context.Context, token string) error {
	if !member.WellFormedToken(token) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE member_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL`,
		s.Now(), Hash(token)); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// Account returns what the member of a session sees of its account, with
// its recent sign-ins (at most recent of them), newest first.
func (s *Store) Account(ctx context.Context, sess *member.Session, recent int) (*member.Account, error) {
	var row memberRow
	if err := s.db.GetContext(ctx, &row, memberSelect+` WHERE m.id = ? AND m.org_id = ?`, sess.MemberID, sess.OrgID); err != nil {
		return nil, fmt.Errorf("member %d of session %d: %w", sess.MemberID, sess.ID, err)
	}
	m := row.member(s.Now())
	org, err := s.Organization(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	a := &member.Account{
		MemberID: m.ID, Name: m.Name, OrgName: org.Name, OrgLang: org.Lang,
		LoginEmail: m.LoginEmail, RemovedAt: m.RemovedAt,
	}
	if m.Binding != nil {
		a.ActivatedAt = m.Binding.ActivatedAt
	}
	var signIns []struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := s.db.SelectContext(ctx, &signIns, `
		SELECT id, created_at FROM member_sessions WHERE member_id = ? AND org_id = ? ORDER BY id DESC LIMIT ?`, m.ID, m.OrgID, recent); err != nil {
		return nil, fmt.Errorf("recent sign-ins of member %d: %w", m.ID, err)
	}
	for _, si := range signIns {
		a.SignIns = append(a.SignIns, member.SignIn{At: si.CreatedAt.UTC(), Current: si.ID == sess.ID})
	}
	return a, nil
}
