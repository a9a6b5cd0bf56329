package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// seedSpec is a bulk load of one organization's members, written with
// multi-row INSERTs straight into the tables, in the shape the store
// leaves them in: what the store does one request at a time would take
// hours for a million members.
type seedSpec struct {
	OrgID   int64
	Members int
	// BindEvery gives every BindEvery-th member a binding (0: none). Bound
	// members alternate between PENDING with its link's mail accepted and
	// ACTIVATED; each has its activation link, its sent outbox row and its
	// email claim. Events are not written: the one figure that reads
	// them (queries) counts statements, which are the same without.
	BindEvery int
	// Domain is the domain of the bound members' emails,
	// m<memberID>@<Domain>.
	Domain string
}

// seeded is what a seed wrote.
type seeded struct {
	FirstID, LastID int64 // member ids, FirstID..LastID
	Bound           int
}

// seedBatch is how many rows one INSERT carries (well under the default
// max_allowed_packet of 16 MB).
const seedBatch = 2000

// seedAge is how long before the run seeded members were created, member
// i a millisecond after member i-1: recent enough that a PENDING
// binding's link (15 days) is live, as the read figure means it to be.
// A fixed date let every one of them fail 15 days after it, and the page
// read then skipped what a pending member costs (its link sends).
const seedAge = time.Hour

// seed writes s into db. Ids continue from what the tables already hold.
func seed(ctx context.Context, db *sqlx.DB, s seedSpec) (seeded, error) {
	next := func(table string) (int64, error) {
		var id int64
		err := db.GetContext(ctx, &id, "SELECT COALESCE(MAX(id), 0) + 1 FROM "+table)
		return id, err
	}
	memberID, err := next("members")
	if err != nil {
		return seeded{}, err
	}
	bindingID, err := next("bindings")
	if err != nil {
		return seeded{}, err
	}
	linkID, err := next("activation_links")
	if err != nil {
		return seeded{}, err
	}
	outboxID, err := next("outbox")
	if err != nil {
		return seeded{}, err
	}

	stmts := make(chan string, 8)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	// Two writers keep the server busy on both cores while this goroutine
	// builds the next statements.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range stmts {
				if _, err := db.ExecContext(ctx, q); err != nil {
					select {
					case errc <- err:
					default:
					}
					// Drain, so the producer does not block.
					for range stmts {
					}
					return
				}
			}
		}()
	}

	out := seeded{FirstID: memberID, LastID: memberID + int64(s.Members) - 1}
	var members, bindings, claims, links, outbox strings.Builder
	rows := 0
	flush := func() {
		for _, t := range []struct {
			b    *strings.Builder
			head string
		}{
			{&members, "INSERT INTO members (id, org_id, name, member_type, created_at, login_email, binding_id) VALUES "},
			{&bindings, "INSERT INTO bindings (id, org_id, member_id, email, email_key, country_code, phone, state, submitted_at, activated_at, link_sent_at, link_expires_at, unsent_links, newest_link_id) VALUES "},
			{&claims, "INSERT INTO email_claims (email_key, binding_id, org_id, member_id, claimed_at) VALUES "},
			{&links, "INSERT INTO activation_links (id, org_id, binding_id, token_hash, kind, email, created_at, sent_at, expires_at, spent_at) VALUES "},
			{&outbox, "INSERT INTO outbox (id, org_id, member_id, binding_id, link_id, recipient, message_id, status, attempts, next_attempt_at, created_at, sent_at) VALUES "},
		} {
			if t.b.Len() > 0 {
				stmts <- t.head + t.b.String()
				t.b.Reset()
			}
		}
		rows = 0
	}
	add := func(b *strings.Builder, format string, args ...any) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, format, args...)
	}
	ts := func(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05.000000") + "'" }

	// The members' counts (migration 0009), as the store keeps them: by
	// current binding state and slot (the member id modulo 16).
	type countKey struct {
		state string
		slot  int64
	}
	counts := map[countKey]int{}
	seedStart := time.Now().UTC().Add(-seedAge).Truncate(time.Second)
	for i := range s.Members {
		if ctx.Err() != nil {
			break
		}
		id := memberID + int64(i)
		created := seedStart.Add(time.Duration(i) * time.Millisecond)
		name := fmt.Sprintf("Member %07d", i)
		if s.BindEvery == 0 || i%s.BindEvery != 0 {
			add(&members, "(%d,%d,'%s','CREATED',%s,NULL,NULL)", id, s.OrgID, name, ts(created))
			counts[countKey{"UNBOUND", id % 16}]++
		} else {
			email := fmt.Sprintf("m%d@%s", id, s.Domain)
			submitted := created.Add(time.Second)
			sent := submitted.Add(2 * time.Second)
			expires := sent.Add(member.DefaultPolicy().ActivationTTL)
			activated, state, login, spent := "NULL", "PENDING", "NULL", "NULL"
			if out.Bound%2 == 1 {
				at := ts(sent.Add(time.Minute))
				activated, state, login, spent = at, "ACTIVATED", "'"+email+"'", at
			}
			add(&members, "(%d,%d,'%s','CREATED',%s,%s,%d)", id, s.OrgID, name, ts(created), login, bindingID)
			counts[countKey{state, id % 16}]++
			add(&bindings, "(%d,%d,%d,'%s','%s','86','+8613800138000','%s',%s,%s,%s,%s,0,%d)",
				bindingID, s.OrgID, id, email, email, state, ts(submitted), activated, ts(sent), ts(expires), linkID)
			add(&claims, "('%s',%d,%d,%d,%s)", email, bindingID, s.OrgID, id, ts(submitted))
			hash := sha256.Sum256(fmt.Appendf(nil, "seeded link %d", linkID))
			add(&links, "(%d,%d,%d,X'%s','SUBMITTED','%s',%s,%s,%s,%s)",
				linkID, s.OrgID, bindingID, hex.EncodeToString(hash[:]), email, ts(submitted), ts(sent), ts(expires), spent)
			add(&outbox, "(%d,%d,%d,%d,%d,'%s','activation.%d.seed@memberbind','SENT',1,%s,%s,%s)",
				outboxID, s.OrgID, id, bindingID, linkID, email, linkID, ts(submitted), ts(submitted), ts(sent))
			bindingID++
			linkID++
			outboxID++
			out.Bound++
		}
		if rows++; rows == seedBatch {
			flush()
		}
	}
	flush()
	close(stmts)
	wg.Wait()
	select {
	case err := <-errc:
		return out, fmt.Errorf("seed members: %w", err)
	default:
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	for k, n := range counts {
		if _, err := db.ExecContext(ctx, `
			INSERT INTO member_counts (org_id, removed, member_type, bind_state, slot, n) VALUES (?, 0, 'CREATED', ?, ?, ?)
			ON DUPLICATE KEY UPDATE n = n + ?`, s.OrgID, k.state, k.slot, n, n); err != nil {
			return out, fmt.Errorf("seed member counts: %w", err)
		}
	}
	// Fresh statistics, so the optimizer plans for the tables as they are.
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE members, bindings, email_claims, activation_links, outbox, member_counts"); err != nil {
		return out, fmt.Errorf("analyze seeded tables: %w", err)
	}
	return out, nil
}
