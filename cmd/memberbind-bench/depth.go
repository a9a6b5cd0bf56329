package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// depth is figure 2: one organization with -depth-members members. The
// page near the end of the list, reached by cursor, against the first
// page; the first page with its total; a search by exact email.
func (b *bench) depth(ctx context.Context) error {
	f, err := b.newFixture(ctx, "depth")
	if err != nil {
		return err
	}
	defer f.db.Close()
	every := 0
	if b.cfg.DepthBound > 0 {
		every = max(1, int(math.Round(1/b.cfg.DepthBound)))
	}
	t0 := time.Now()
	s, err := seed(ctx, f.db, seedSpec{OrgID: f.orgID, Members: b.cfg.DepthMembers, BindEvery: every, Domain: "depth.example"})
	if err != nil {
		return err
	}
	took := time.Since(t0)
	b.log.Info("depth organization seeded", "members", b.cfg.DepthMembers, "bound", s.Bound, "took", took.Round(time.Millisecond))
	b.rep.note("The depth figure's %d members (%d bound, each with its link, mail and email claim) were seeded with multi-row INSERTs in %s.",
		b.cfg.DepthMembers, s.Bound, took.Round(time.Second))

	srv, err := startInProcess(f.st)
	if err != nil {
		return err
	}
	defer srv.close()
	c := newClient(srv.URL, f.key, 1)
	defer c.close()
	floorDB, err := f.pool(ctx)
	if err != nil {
		return err
	}
	defer floorDB.Close()

	// The last full page but one: the 50 members after the 100th oldest.
	const first = 50
	firstPage := gqlBody(pageQuery, map[string]any{"first": first})
	deepPage := gqlBody(pageQuery, map[string]any{"first": first, "after": memberCursor(s.FirstID + 100)})
	for _, body := range [][]byte{firstPage, deepPage} {
		got, err := c.post(ctx, body)
		if err != nil {
			return err
		}
		if _, err := checkPage(got, first, 0, every > 0 && every <= 10); err != nil {
			return err
		}
	}
	timeIt := func(body []byte) (time.Duration, error) {
		t0 := time.Now()
		_, err := c.post(ctx, body)
		return time.Since(t0), err
	}
	// Take turns, so that both pages see the same machine.
	var top, deep []time.Duration
	for range b.cfg.DepthSamples {
		d, err := timeIt(firstPage)
		if err != nil {
			return err
		}
		top = append(top, d)
		if d, err = timeIt(deepPage); err != nil {
			return err
		}
		deep = append(deep, d)
	}
	pTop, pDeep := percentile(top, 50), percentile(deep, 50)
	b.rep.add(row{
		Figure: "2 depth",
		What: fmt.Sprintf("a page of 50 near the end of %d members, reached by cursor, against the first page (p50 of %d each, 1 client, without `totalCount`)",
			b.cfg.DepthMembers, b.cfg.DepthSamples),
		Server: fmt.Sprintf("%s (p99 %s)", ms(pDeep), ms(percentile(deep, 99))),
		Floor:  fmt.Sprintf("first page: %s (p99 %s)", ms(pTop), ms(percentile(top, 99))),
		Ratio:  ratio(float64(pDeep), float64(pTop)),
		Goal:   goal{Op: "≤", Bound: 1.3},
	})

	// What a total costs at this size: the same first page with
	// totalCount, against the count statement alone.
	samples := min(b.cfg.DepthSamples, 5)
	counted := gqlBody(membersQuery, map[string]any{"first": first})
	var withTotal, countOnly []time.Duration
	for range samples {
		d, err := timeIt(counted)
		if err != nil {
			return err
		}
		withTotal = append(withTotal, d)
		t0 := time.Now()
		var n int
		if err := floorDB.GetContext(ctx, &n, sqlCountMembers, f.orgID, 0); err != nil {
			return err
		}
		countOnly = append(countOnly, time.Since(t0))
	}
	b.rep.add(row{
		Figure: "2 depth",
		What:   fmt.Sprintf("the first page with `totalCount` of %d members (p50 of %d)", b.cfg.DepthMembers, samples),
		Server: ms(percentile(withTotal, 50)),
		Floor:  "the count statement alone (member_counts): " + ms(percentile(countOnly, 50)),
		Ratio:  ratio(float64(percentile(withTotal, 50)), float64(percentile(countOnly, 50))),
	})

	// The console's own list request, which asks totalCount on every
	// page, against the same request without it (issue 16: the total
	// costs at most 0.3 of a page).
	console := gqlBody(consoleMembersQuery, map[string]any{"first": first})
	consoleBare := gqlBody(strings.Replace(consoleMembersQuery, "totalCount", "", 1), map[string]any{"first": first})
	for _, body := range [][]byte{console, consoleBare} {
		if _, err := c.post(ctx, body); err != nil {
			return err
		}
	}
	var withCount, without []time.Duration
	for range b.cfg.DepthSamples {
		d, err := timeIt(console)
		if err != nil {
			return err
		}
		withCount = append(withCount, d)
		if d, err = timeIt(consoleBare); err != nil {
			return err
		}
		without = append(without, d)
	}
	b.rep.add(row{
		Figure: "2 depth",
		What: fmt.Sprintf("the console's first page (`ConsoleMembers`, internal/console/assets/api.js) with `totalCount` of %d members (p50 of %d each, 1 client)",
			b.cfg.DepthMembers, b.cfg.DepthSamples),
		Server: fmt.Sprintf("%s (p99 %s)", ms(percentile(withCount, 50)), ms(percentile(withCount, 99))),
		Floor:  fmt.Sprintf("the same without `totalCount`: %s (p99 %s)", ms(percentile(without, 50)), ms(percentile(without, 99))),
		Ratio:  ratio(float64(percentile(withCount, 50)), float64(percentile(without, 50))),
		Goal:   goal{Op: "≤", Bound: 1.3},
	})

	if every == 0 {
		return nil
	}
	// Search by a full email: one of the oldest bound members, so that a
	// scan of the members, newest first, would meet it last. memberbind
	// finds it through the bindings (org_id, email_key) index.
	email := fmt.Sprintf("m%d@depth.example", s.FirstID)
	search := gqlBody(membersQuery, map[string]any{"first": first, "filter": map[string]any{"search": email}})
	got, err := c.post(ctx, search)
	if err != nil {
		return err
	}
	if _, err := checkPage(got, 1, 1, true); err != nil {
		return fmt.Errorf("search %s: %w", email, err)
	}
	var viaAPI, sameSQL, byIndex []time.Duration
	for range samples {
		d, err := timeIt(search)
		if err != nil {
			return err
		}
		viaAPI = append(viaAPI, d)
		if d, err = timeSQL(ctx, func() error { return searchFloor(ctx, floorDB, f.orgID, email, first) }); err != nil {
			return err
		}
		sameSQL = append(sameSQL, d)
		if d, err = timeSQL(ctx, func() error { return exactFloor(ctx, floorDB, f.orgID, email) }); err != nil {
			return err
		}
		byIndex = append(byIndex, d)
	}
	b.rep.add(row{
		Figure: "2 depth",
		What:   fmt.Sprintf("`members(filter: {search: <a full email>})` with `totalCount`, %d members (p50 of %d)", b.cfg.DepthMembers, samples),
		Server: ms(percentile(viaAPI, 50)),
		Floor: fmt.Sprintf("the exact match by index: %s; the same SQL as memberbind, directly: %s",
			ms(percentile(byIndex, 50)), ms(percentile(sameSQL, 50))),
		Ratio: ratio(float64(percentile(viaAPI, 50)), float64(percentile(byIndex, 50))),
	})
	return nil
}

func timeSQL(ctx context.Context, fn func() error) (time.Duration, error) {
	t0 := time.Now()
	err := fn()
	return time.Since(t0), err
}

// searchFloor is what internal/mysql/member.go Members runs for a search
// that is a complete email address: the count and the page, both from the
// bindings (org_id, email_key) index to the members whose current binding
// holds the email key (the lower-cased address; the bench's addresses are
// already in normal form).
func searchFloor(ctx context.Context, db *sqlx.DB, orgID int64, search string, first int) error {
	const from = ` FROM bindings b JOIN members m ON m.id = b.member_id AND m.binding_id = b.id`
	const cond = ` WHERE b.org_id = ? AND b.email_key = ? AND m.org_id = ? AND m.removed_at IS NULL`
	key := strings.ToLower(search)
	var n int
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*)`+from+cond, orgID, key, orgID); err != nil {
		return err
	}
	columns := memberSelect[:strings.Index(memberSelect, "FROM")]
	var rows []memberRow
	return db.SelectContext(ctx, &rows, columns+from+` LEFT JOIN outbox o ON o.link_id = b.newest_link_id`+cond+` ORDER BY m.id DESC LIMIT ?`,
		orgID, key, orgID, first+1)
}

// exactFloor is the most direct way to the same answer for a full email:
// the binding that holds it through the bindings (org_id, email_key)
// index, its member by primary key (and still bound to it), and the count
// of them, checked to be one. It is the plan searchFloor's statements
// take too; the row's ratio is what memberbind adds around them.
func exactFloor(ctx context.Context, db *sqlx.DB, orgID int64, email string) error {
	const from = ` FROM bindings b JOIN members m ON m.id = b.member_id AND m.binding_id = b.id
		LEFT JOIN outbox o ON o.link_id = b.newest_link_id
		WHERE b.org_id = ? AND b.email_key = ? AND m.org_id = ? AND m.removed_at IS NULL`
	var n int
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*)`+from, orgID, email, orgID); err != nil {
		return err
	}
	columns := memberSelect[:strings.Index(memberSelect, "FROM")]
	var rows []memberRow
	if err := db.SelectContext(ctx, &rows, columns+from+` ORDER BY m.id DESC LIMIT 51`, orgID, email, orgID); err != nil {
		return err
	}
	if n != 1 || len(rows) != 1 {
		return fmt.Errorf("exact match of %s: count %d, %d rows, want 1", email, n, len(rows))
	}
	return nil
}
