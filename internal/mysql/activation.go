package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

type linkRow struct {
	ID        int64        `db:"id"`
	OrgID     int64        `db:"org_id"`
	BindingID int64        `db:"binding_id"`
	Email     string       `db:"email"`
	CreatedAt sql.NullTime `db:"created_at"`
	SentAt    sql.NullTime `db:"sent_at"`
	ExpiresAt sql.NullTime `db:"expires_at"`
	KilledAt  sql.NullTime `db:"killed_at"`
	SpentAt   sql.NullTime `db:"spent_at"`
	MemberID  int64        `db:"member_id"`
}

func (r *linkRow) link() *member.Link {
	return &member.Link{
		ID: r.ID, BindingID: r.BindingID, Email: r.Email, CreatedAt: r.CreatedAt.Time.UTC(),
		SentAt: timePtr(r.SentAt), ExpiresAt: timePtr(r.ExpiresAt), KilledAt: timePtr(r.KilledAt), SpentAt: timePtr(r.SpentAt),
	}
}

const linkSelect = `
	SELECT l.id, l.org_id, l.binding_id, l.email, l.created_at, l.sent_at, l.expires_at, l.killed_at, l.spent_at, b.member_id
	FROM activation_links l JOIN bindings b ON b.id = l.binding_id AND b.org_id = l.org_id
	WHERE l.token_hash = ?`

// InspectLink tells what an activation link is worth now, changing
// nothing: mail scanners open links too.
func (s *Store) InspectLink(ctx context.Context, token string) (*member.LinkView, error) {
	if !member.WellFormedToken(token) {
		return &member.LinkView{State: member.LinkUnknown}, nil
	}
	var l linkRow
	err := s.db.GetContext(ctx, &l, linkSelect, Hash(token))
	if errors.Is(err, sql.ErrNoRows) {
		return &member.LinkView{State: member.LinkUnknown}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up link: %w", err)
	}
	var m memberRow
	if err := s.db.GetContext(ctx, &m, memberSelect+` WHERE m.id = ? AND m.org_id = ?`, l.MemberID, l.OrgID); err != nil {
		return nil, fmt.Errorf("member of link %d: %w", l.ID, err)
	}
	b, err := s.binding(ctx, s.db, l.OrgID, l.BindingID, false)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, s.db, m.member(s.Now()), b, l.link())
}

// Activate confirms an activation link (R9): if it is valid, in one
// transaction the binding is ACTIVATED, the email becomes the member's
// login email, every link of the binding is spent and the event recorded.
// It returns what the link was found to be; LinkValid means activated now.
func (s *Store) Activate(ctx context.Context, token string) (*member.LinkView, error) {
	if !member.WellFormedToken(token) {
		return &member.LinkView{State: member.LinkUnknown}, nil
	}
	var view *member.LinkView
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var l linkRow
		err := tx.GetContext(ctx, &l, linkSelect, Hash(token))
		if errors.Is(err, sql.ErrNoRows) {
			view = &member.LinkView{State: member.LinkUnknown}
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up link: %w", err)
		}
		// Lock in the order every mutation does: member, its binding, then
		// the link's own binding.
		var mr memberRow
		if err := tx.GetContext(ctx, &mr, memberSelect+` WHERE m.id = ? AND m.org_id = ? FOR UPDATE`, l.MemberID, l.OrgID); err != nil {
			return fmt.Errorf("lock member of link %d: %w", l.ID, err)
		}
		m := mr.member(s.Now())
		b, err := s.binding(ctx, tx, l.OrgID, l.BindingID, true)
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &l, linkSelect+` FOR UPDATE`, Hash(token)); err != nil {
			return fmt.Errorf("lock link: %w", err)
		}
		link := l.link()
		if view, err = s.view(ctx, tx, m, b, link); err != nil {
			return err
		}
		if view.State != member.LinkValid {
			return nil
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE bindings SET state = 'ACTIVATED', activated_at = ?, unsent_links = 0 WHERE id = ? AND org_id = ?`, now, b.ID, m.OrgID); err != nil {
			return fmt.Errorf("activate binding %d: %w", b.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET login_email = ? WHERE id = ? AND org_id = ?`, b.Email, m.ID, m.OrgID); err != nil {
			return fmt.Errorf("set login email: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE activation_links SET spent_at = ? WHERE binding_id = ? AND org_id = ? AND spent_at IS NULL`, now, b.ID, m.OrgID); err != nil {
			return fmt.Errorf("spend links of binding %d: %w", b.ID, err)
		}
		// Mail not sent yet would carry a link that can no longer be used.
		if _, err := tx.ExecContext(ctx, `
			UPDATE outbox SET status = 'CANCELLED', token = NULL, leased_by = NULL, lease_until = NULL
			WHERE binding_id = ? AND org_id = ? AND status IN ('QUEUED', 'RETRYING')`, b.ID, m.OrgID); err != nil {
			return fmt.Errorf("cancel mail of binding %d: %w", b.ID, err)
		}
		if err := s.record(ctx, tx, m, b.ID, member.EventActivated, member.ActorMember, b.Email, "", now); err != nil {
			return err
		}
		if m.Binding == nil || m.Binding.ID != b.ID {
			return nil // not the member's current binding: its counts stay
		}
		from := classOf(m)
		m.Binding.State = member.StateActivated
		return recount(ctx, tx, m, from, classOf(m))
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// binding reads one binding of an organization, locking it when lock is
// set (then q must be a transaction).
func (s *Store) binding(ctx context.Context, q queryer, orgID, id int64, lock bool) (*member.Binding, error) {
	query := `
		SELECT id, member_id, email, country_code, phone, state, modifications, submitted_at, activated_at,
			link_sent_at, link_expires_at, unsent_links, newest_link_id
		FROM bindings WHERE id = ? AND org_id = ?`
	if lock {
		query += " FOR UPDATE"
	}
	var r struct {
		ID            int64        `db:"id"`
		MemberID      int64        `db:"member_id"`
		Email         string       `db:"email"`
		CountryCode   string       `db:"country_code"`
		Phone         string       `db:"phone"`
		State         string       `db:"state"`
		Modifications int          `db:"modifications"`
		SubmittedAt   sql.NullTime `db:"submitted_at"`
		ActivatedAt   sql.NullTime `db:"activated_at"`
		LinkSentAt    sql.NullTime `db:"link_sent_at"`
		LinkExpiresAt sql.NullTime `db:"link_expires_at"`
		UnsentLinks   int          `db:"unsent_links"`
		NewestLinkID  int64        `db:"newest_link_id"`
	}
	if err := q.GetContext(ctx, &r, query, id, orgID); err != nil {
		return nil, fmt.Errorf("binding %d: %w", id, err)
	}
	return &member.Binding{
		ID: r.ID, MemberID: r.MemberID, Email: r.Email, CountryCode: r.CountryCode, Phone: r.Phone,
		State: member.BindingState(r.State), Modifications: r.Modifications, SubmittedAt: r.SubmittedAt.Time.UTC(),
		ActivatedAt: timePtr(r.ActivatedAt), LinkSentAt: timePtr(r.LinkSentAt), LinkExpiresAt: timePtr(r.LinkExpiresAt),
		UnsentLinks: r.UnsentLinks, NewestLinkID: r.NewestLinkID,
	}, nil
}

// view judges a link and describes it for its page.
func (s *Store) view(ctx context.Context, q queryer, m *member.Member, b *member.Binding, l *member.Link) (*member.LinkView, error) {
	var org orgRow
	if err := q.GetContext(ctx, &org, `SELECT id, name, lang, created_at FROM organizations WHERE id = ?`, m.OrgID); err != nil {
		return nil, fmt.Errorf("organization of member %d: %w", m.ID, err)
	}
	return &member.LinkView{
		State:      member.JudgeLink(m, b, l, m.AsOf),
		OrgName:    org.Name,
		OrgLang:    org.Lang,
		MemberName: m.Name,
		Email:      l.Email,
		Phone:      b.Phone,
		ExpiresAt:  l.ExpiresAt,
	}, nil
}
