package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/contact"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// bindRate is the most binds a second the bind figure provides members
// for, on every side; a side that binds faster runs out and says so.
const bindRate = 4000

// bindAndActivate runs figure 3 (bind) and then figure 5 (activate) on
// the links the binds queued, in one database.
func (b *bench) bindAndActivate(ctx context.Context) error {
	f, err := b.newFixture(ctx, "bind")
	if err != nil {
		return err
	}
	defer f.db.Close()
	floorDB, err := f.pool(ctx)
	if err != nil {
		return err
	}
	defer floorDB.Close()
	// Enough unbound members for the bind figure's four sides at
	// bindRate.
	turns := 4 * (b.cfg.Duration + time.Duration(b.cfg.Rounds)*b.cfg.Warmup)
	n := max(1000, int(bindRate*turns.Seconds()))
	s, err := seed(ctx, f.db, seedSpec{OrgID: f.orgID, Members: n})
	if err != nil {
		return err
	}
	members := newIDPool(s.FirstID, s.LastID)

	rate := 0.0
	if b.cfg.runs("bind") {
		if rate, err = b.bind(ctx, f, floorDB, members); err != nil {
			return err
		}
	}
	if b.cfg.runs("activate") {
		return b.activate(ctx, f, floorDB, members, rate)
	}
	return nil
}

// bind is figure 3: bindSecurityInfo over HTTP at -clients, each on a
// fresh member, against its transaction's SQL run straight through sqlx;
// and the console's own bindSecurityInfo, which asks for more, against
// the same statements as memberbind runs for it. The HTTP load runs in a
// process of its own (remote). It returns the fastest side's rate.
func (b *bench) bind(ctx context.Context, f *fixture, floorDB *sqlx.DB, members *idPool) (float64, error) {
	srv, err := startInProcess(f.st)
	if err != nil {
		return 0, err
	}
	defer srv.close()
	c := newClient(srv.URL, f.key, 1)
	defer c.close()

	// bodies hands out a mutation's request on fresh members.
	bodies := func(mutation string) bodySource {
		return func(n int) ([]string, func(int)) {
			first, k := members.reserve(n)
			out := make([]string, k)
			for i := range out {
				id := first + int64(i)
				out[i] = string(gqlBody(mutation, bindInput(id, bindEmail(id, "bind.example"))))
			}
			return out, func(used int) { members.putBack(first+int64(used), first+int64(k)) }
		}
	}
	floor, err := bindFloor(floorDB, f, members, false)
	if err != nil {
		return 0, err
	}
	consoleFloor, err := bindFloor(floorDB, f, members, true)
	if err != nil {
		return 0, err
	}
	// Each side once, before anything is timed: a failure here is
	// clearer than fifty.
	for _, mutation := range []string{bindMutation, consoleBindMutation} {
		id, err := members.take()
		if err != nil {
			return 0, err
		}
		if _, err := c.mutate(ctx, gqlBody(mutation, bindInput(id, bindEmail(id, "bind.example")))); err != nil {
			return 0, err
		}
	}
	if err := floor(ctx, 0); err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	if err := consoleFloor(ctx, 0); err != nil {
		return 0, fmt.Errorf("console's floor: %w", err)
	}
	load := mutationLoad(srv.URL, f.key, b.cfg.Clients)
	res, err := alternate(ctx, b.cfg.Duration, b.cfg.Warmup, b.cfg.Rounds,
		remote(load, bodies(bindMutation), bindRate), local(b.cfg.Clients, floor),
		remote(load, bodies(consoleBindMutation), bindRate), local(b.cfg.Clients, consoleFloor))
	if err != nil {
		return 0, err
	}
	srvRes, floorRes, consoleRes, consoleFloorRes := res[0], res[1], res[2], res[3]
	if err := loadFailed(srvRes, floorRes); err != nil {
		return 0, err
	}
	if err := loadFailed(consoleRes, consoleFloorRes); err != nil {
		return 0, fmt.Errorf("console's bind: %w", err)
	}
	b.rep.note("Bind, the load generator's own CPU (a process of its own, not in Go CPU): %s per `bindSecurityInfo`, %s per the console's.",
		ms(srvRes.clientCPUPerOp()), ms(consoleRes.clientCPUPerOp()))
	b.rep.add(row{
		Figure: "3 bind",
		What:   fmt.Sprintf("`bindSecurityInfo` over HTTP, %d clients, each on a fresh member (mail queued, not sent); floor: its transaction's SQL", b.cfg.Clients),
		Server: throughput(srvRes, "binds/s"),
		Floor:  throughput(floorRes, "tx/s"),
		Ratio:  ratio(srvRes.rate(), floorRes.rate()),
		Spread: spread(turnRatios(srvRes, floorRes)),
		Goal:   goal{Op: "≥", Bound: 0.6},
	}, row{
		Figure: "3 bind, console",
		What: "the console's `bindSecurityInfo` (`Console_bindSecurityInfo` in api.js: the whole member back, with `nextResendAllowedAt`), the same way; " +
			"floor: the statements memberbind runs for it (the API key lookup, the transaction, the link sends)",
		Server: throughput(consoleRes, "binds/s"),
		Floor:  throughput(consoleFloorRes, "req/s"),
		Ratio:  ratio(consoleRes.rate(), consoleFloorRes.rate()),
		Spread: spread(turnRatios(consoleRes, consoleFloorRes)),
		Goal:   goal{Op: "≥", Bound: 0.6},
	})
	return max(srvRes.rate(), floorRes.rate(), consoleRes.rate(), consoleFloorRes.rate()), nil
}

// bindFloor returns the floor of a bind: the statements of
// mysql.Store.BindSecurityInfo on an unbound member, in one transaction,
// with the values it would write (the same random token and nonce sizes,
// the same hash). It skips what is Go and not SQL: input validation and
// the domain's decision. With console, it runs what memberbind runs for
// the console's mutation (consoleBindMutation) around the transaction:
// the API key lookup before, and the binding's link sends after, for
// nextResendAllowedAt.
func bindFloor(db *sqlx.DB, f *fixture, members *idPool, console bool) (op, error) {
	info, err := contact.Parse("x@bind.example", "+86", "138 0013 8000")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ int) error {
		id, err := members.take()
		if err != nil {
			return err
		}
		email := bindEmail(id, "bind.example")
		if !console {
			_, err := floorBindTx(ctx, db, f.orgID, id, f.actor, email, info.CountryCode, info.Phone)
			return err
		}
		return floorConsoleBind(ctx, db, f, id, email, info.CountryCode, info.Phone)
	}, nil
}

// floorConsoleBind is the floor of the console's bind: the API key
// lookup, the bind's transaction, and the read of the binding's link
// sends that its payload's nextResendAllowedAt costs.
func floorConsoleBind(ctx context.Context, db *sqlx.DB, f *fixture, memberID int64, email, cc, phone string) error {
	var org authRow
	if err := db.GetContext(ctx, &org, sqlAuthenticate, mysql.Hash(f.key)); err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	bindingID, err := floorBindTx(ctx, db, org.ID, memberID, f.actor, email, cc, phone)
	if err != nil {
		return err
	}
	q, args, err := sqlx.In(sqlSends, []int64{bindingID}, org.ID)
	if err != nil {
		return err
	}
	var sends []sendRow
	if err := db.SelectContext(ctx, &sends, q, args...); err != nil {
		return fmt.Errorf("read link sends: %w", err)
	}
	return nil
}

// floorBindTx is the transaction of a bind; it returns the new binding's
// id.
func floorBindTx(ctx context.Context, db *sqlx.DB, orgID, memberID int64, actor member.Actor, email, cc, phone string) (int64, error) {
	tok := make([]byte, 32+8)
	if _, err := rand.Read(tok); err != nil {
		return 0, err
	}
	token := base64.RawURLEncoding.EncodeToString(tok[:32])
	nonce := hex.EncodeToString(tok[32:])
	now := time.Now().UTC().Truncate(time.Microsecond)
	key := member.EmailKey(email)

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var m memberRow
	if err := tx.GetContext(ctx, &m, sqlLockMember, memberID, orgID); err != nil {
		return 0, fmt.Errorf("lock member %d: %w", memberID, err)
	}
	res, err := tx.ExecContext(ctx, sqlInsertBinding, orgID, memberID, email, key, cc, phone, now)
	if err != nil {
		return 0, err
	}
	bindingID, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlLockRecipient, key); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlClaimEmail, key, bindingID, orgID, memberID, now); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlAttachBinding, bindingID, memberID, orgID); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlRecordEvent, orgID, memberID, bindingID, string(member.EventSubmitted), string(actor),
		email, sql.NullString{}, now); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlLockRecipient, key); err != nil {
		return 0, err
	}
	var recent string
	if err := tx.GetContext(ctx, &recent, sqlReadRecipient, key); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlSetRecipient, strconv.FormatInt(now.UnixMicro(), 10), key); err != nil {
		return 0, err
	}
	res, err = tx.ExecContext(ctx, sqlInsertLink, orgID, bindingID, mysql.Hash(token), string(member.LinkSubmitted), email, now)
	if err != nil {
		return 0, err
	}
	linkID, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlQueueMail, orgID, memberID, bindingID, linkID, email, token,
		fmt.Sprintf("activation.%d.%s@memberbind", linkID, nonce), now, now); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlCountLink, linkID, bindingID, orgID); err != nil {
		return 0, err
	}
	if err := floorRecount(ctx, tx, orgID, memberID, "UNBOUND", "PENDING"); err != nil {
		return 0, err
	}
	// The organization's mail budget is reserved in blocks of 64 in a
	// transaction of its own (internal/mysql/budget.go), one bind in 64:
	// the floor leaves it out.
	return bindingID, tx.Commit()
}

// activate is figure 5: POST /activate at -clients, each on a fresh link,
// against its transaction's SQL run straight through sqlx. The links are
// those the bind figure queued, made usable as the mail worker makes them:
// ClaimOutbox, then MarkOutboxSent, which starts their days. The HTTP
// load runs in a process of its own (remote).
func (b *bench) activate(ctx context.Context, f *fixture, floorDB *sqlx.DB, members *idPool, fastest float64) error {
	// Links for both sides at up to 1.5 times the fastest bind (activation
	// does about as much), or at 1000/s when the bind figure did not run.
	turns := 2 * (b.cfg.Duration + time.Duration(b.cfg.Rounds)*b.cfg.Warmup)
	if fastest == 0 {
		fastest = 1000
	}
	linkRate := 1.5 * fastest
	want := max(500, int(linkRate*turns.Seconds()))
	t0 := time.Now()
	tokens, err := b.links(ctx, f, members, want)
	if err != nil {
		return err
	}
	b.log.Info("activation links ready", "links", len(tokens), "took", time.Since(t0).Round(time.Millisecond))
	pool := &tokenPool{tokens: tokens}

	srv, err := startInProcess(f.st)
	if err != nil {
		return err
	}
	defer srv.close()
	c := newClient(srv.URL, f.key, 1)
	defer c.close()
	bodies := func(n int) ([]string, func(int)) {
		first, k := pool.reserve(n)
		out := make([]string, k)
		for i := range out {
			out[i] = activationBody(pool.tokens[first+i])
		}
		return out, func(used int) { pool.putBack(first+used, first+k) }
	}
	floor := func(ctx context.Context, _ int) error {
		token, err := pool.take()
		if err != nil {
			return err
		}
		return floorActivateTx(ctx, floorDB, token)
	}
	// Each side once, before anything is timed.
	token, err := pool.take()
	if err != nil {
		return err
	}
	if err := c.activate(ctx, token); err != nil {
		return err
	}
	if err := floor(ctx, 0); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	// A side that confirms links faster than twice linkRate runs out of
	// them in a turn, and says so.
	res, err := alternate(ctx, b.cfg.Duration, b.cfg.Warmup, b.cfg.Rounds,
		remote(activationLoad(srv.URL, b.cfg.Clients), bodies, 2*linkRate), local(b.cfg.Clients, floor))
	if err != nil {
		return err
	}
	srvRes, floorRes := res[0], res[1]
	if err := loadFailed(srvRes, floorRes); err != nil {
		return err
	}
	// Both sides must have done the real thing: every confirmed link an
	// activated binding (the two before the timing, the warm-ups and the
	// turns).
	activated := int64(2 + srvRes.N + srvRes.Warm + floorRes.N + floorRes.Warm)
	var n int64
	if err := f.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM bindings WHERE state = 'ACTIVATED'`); err != nil {
		return err
	}
	if n != activated {
		return fmt.Errorf("%d links confirmed but %d bindings activated", activated, n)
	}
	b.rep.note("Activate, the load generator's own CPU (a process of its own, not in Go CPU): %s per `POST /activate`.", ms(srvRes.clientCPUPerOp()))
	b.rep.add(row{
		Figure: "5 activate",
		What:   fmt.Sprintf("`POST /activate` (the Confirm form, HTML answer), %d clients, each on a fresh link; floor: its transaction's SQL", b.cfg.Clients),
		Server: throughput(srvRes, "activations/s"),
		Floor:  throughput(floorRes, "tx/s"),
		Ratio:  ratio(srvRes.rate(), floorRes.rate()),
		Spread: spread(turnRatios(srvRes, floorRes)),
		Goal:   goal{Op: "≥", Bound: 0.7},
	})
	return nil
}

// links returns the raw tokens of up to want activation links whose mail
// counts as accepted, claimed from the outbox and marked sent the way the
// mail worker does it. Short of queued mail, it binds more members first.
func (b *bench) links(ctx context.Context, f *fixture, members *idPool, want int) ([]string, error) {
	var queued int
	if err := f.db.GetContext(ctx, &queued, `SELECT COUNT(*) FROM outbox WHERE status = 'QUEUED'`); err != nil {
		return nil, err
	}
	if short := want - queued; short > 0 {
		if err := bindMany(ctx, f, members, short, b.cfg.Clients); err != nil {
			return nil, err
		}
	}
	const owner = "memberbind-bench"
	var msgs []member.OutboxMessage
	for len(msgs) < want {
		got, err := f.st.ClaimOutbox(ctx, owner, min(1000, want-len(msgs)), time.Hour)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break
		}
		msgs = append(msgs, got...)
	}
	tokens := make([]string, len(msgs))
	var next atomic.Int64
	res := runLoad(ctx, b.cfg.Clients, time.Hour, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		if i >= int64(len(msgs)) {
			return errExhausted
		}
		m := msgs[i]
		if err := f.st.MarkOutboxSent(ctx, m.OrgID, m.ID, owner, time.Now()); err != nil {
			return err
		}
		tokens[i] = m.Token
		return nil
	})
	if res.Errors > 0 {
		return nil, fmt.Errorf("mark links sent: %s", res.failed())
	}
	return tokens, ctx.Err()
}

// bindMany binds n fresh members through the store, from `clients`
// goroutines: setup, not measured.
func bindMany(ctx context.Context, f *fixture, members *idPool, n, clients int) error {
	if int64(n) > members.left() {
		return fmt.Errorf("need %d unbound members, %d left", n, members.left())
	}
	info, err := contact.Parse("x@bind.example", "+86", "138 0013 8000")
	if err != nil {
		return err
	}
	var done atomic.Int64
	res := runLoad(ctx, clients, time.Hour, func(ctx context.Context, _ int) error {
		if done.Add(1) > int64(n) {
			return errExhausted
		}
		id, err := members.take()
		if err != nil {
			return err
		}
		in := info
		in.Email = bindEmail(id, "bind.example")
		_, err = f.st.BindSecurityInfo(ctx, f.orgID, f.actor, id, in)
		return err
	})
	if res.Errors > 0 {
		return fmt.Errorf("bind members: %s", res.failed())
	}
	return ctx.Err()
}

// floorRecount moves a member's count from one state to another, as
// internal/mysql recount does: the two rows in memberClass order.
func floorRecount(ctx context.Context, tx *sqlx.Tx, orgID, memberID int64, from, to string) error {
	first, second := from, to
	deltas := [2]int{-1, +1}
	if to < from {
		first, second, deltas = to, from, [2]int{+1, -1}
	}
	for i, state := range []string{first, second} {
		res, err := tx.ExecContext(ctx, sqlRecount, deltas[i], orgID, 0, "CREATED", state, memberID%16)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			continue
		}
		if _, err := tx.ExecContext(ctx, sqlRecountFirst, orgID, 0, "CREATED", state, memberID%16, deltas[i], deltas[i]); err != nil {
			return err
		}
	}
	return nil
}

// sqlWebhookEndpoints is internal/mysql/webhook.go enqueueWebhook, which
// an activation's event runs to find the endpoints to tell (none here).
const sqlWebhookEndpoints = `
		SELECT id FROM webhook_endpoints
		WHERE org_id = ? AND disabled_at IS NULL AND FIND_IN_SET(?, events) > 0 AND created_at <= ?`

// floorActivateTx is the floor of an activation: the statements of
// mysql.Store.Activate on a valid link, in one transaction. It skips what
// is Go and not SQL: judging the link (it is valid) and the page.
func floorActivateTx(ctx context.Context, db *sqlx.DB, token string) error {
	hash := mysql.Hash(token)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var l linkRow
	if err := tx.GetContext(ctx, &l, linkSelect, hash); err != nil {
		return fmt.Errorf("look up link: %w", err)
	}
	var m memberRow
	if err := tx.GetContext(ctx, &m, sqlLockLinkMember, l.MemberID, l.OrgID); err != nil {
		return err
	}
	var bd bindingRow
	if err := tx.GetContext(ctx, &bd, sqlLockBinding, l.BindingID, l.OrgID); err != nil {
		return err
	}
	if err := tx.GetContext(ctx, &l, sqlLockLink, hash); err != nil {
		return err
	}
	var org orgRow
	if err := tx.GetContext(ctx, &org, sqlOrganization, m.OrgID); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := tx.ExecContext(ctx, sqlActivateBinding, now, bd.ID, m.OrgID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlSetLoginEmail, bd.Email, m.ID, m.OrgID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlSpendLinks, now, bd.ID, m.OrgID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlCancelMail, bd.ID, m.OrgID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlRecordEvent, m.OrgID, m.ID, bd.ID, string(member.EventActivated), string(member.ActorMember),
		bd.Email, sql.NullString{}, now); err != nil {
		return err
	}
	var endpoints []int64
	if err := tx.SelectContext(ctx, &endpoints, sqlWebhookEndpoints, m.OrgID, string(member.WebhookMemberActivated), now); err != nil {
		return err
	}
	if err := floorRecount(ctx, tx, m.OrgID, m.ID, "PENDING", "ACTIVATED"); err != nil {
		return err
	}
	return tx.Commit()
}
