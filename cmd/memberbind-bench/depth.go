package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// depth is figure 2: one organization with -depth-members members. The
// page near the end of the list, reached by cursor, against the first
// page; the console's first page with its total against the same page
// without it, and the plans of the totals; a search by exact email.
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

	// The console's own list request, which asks totalCount on every
	// page, against the same request without it (issue 16: the total
	// costs at most 0.3 of a page). The total must be the organization's
	// size: the counters (migration 0009) are what the seed wrote.
	console := gqlBody(consoleMembersQuery, map[string]any{"first": first})
	consoleBare := gqlBody(strings.Replace(consoleMembersQuery, "totalCount", "", 1), map[string]any{"first": first})
	for _, req := range []struct {
		body  []byte
		total int // 0: not asked
	}{{console, b.cfg.DepthMembers}, {consoleBare, 0}} {
		got, err := c.post(ctx, req.body)
		if err != nil {
			return err
		}
		if _, err := checkPage(got, first, req.total, every > 0 && every <= 10); err != nil {
			return fmt.Errorf("ConsoleMembers: %w", err)
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
	samples := min(b.cfg.DepthSamples, 5)
	if err := b.explainCounts(ctx, f, floorDB, s, every, samples); err != nil {
		return err
	}

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

// explainCounts notes how the store counts a members total at this size:
// without a filter (the console's list, from the member_counts counters of
// migration 0009), by status, and with a search by a full email and by a
// part of a name, which only rows can answer. The statements are the
// store's own, recorded at the driver under a store of their own (a page
// of size 0 runs the count alone), then EXPLAINed through the floors'
// pool; the one without a filter is also timed alone.
func (b *bench) explainCounts(ctx context.Context, f *fixture, floorDB *sqlx.DB, s seeded, every, samples int) error {
	rec := &recorder{}
	db, err := openRecording(ctx, f.dsn, rec)
	if err != nil {
		return err
	}
	defer db.Close()
	st := mysql.New(db, mysql.Options{Policy: benchPolicy()})
	pending := (s.Bound + 1) / 2 // the seed's bound members alternate, PENDING first
	type countCase struct {
		what   string
		filter member.Filter
		total  int  // -1: not checked
		window bool // a substring search, within the newest members
	}
	cases := []countCase{
		{"no filter (the console's list)", member.Filter{}, b.cfg.DepthMembers, false},
		{"status PENDING", member.Filter{Status: member.StatusPending}, pending, false},
	}
	if every > 0 {
		email := fmt.Sprintf("m%d@depth.example", s.FirstID)
		cases = append(cases, countCase{"a search by a full email", member.Filter{Search: email}, 1, false})
	}
	cases = append(cases, countCase{"a search by a part of a name (`Member 000012`)", member.Filter{Search: "Member 000012"}, -1, true})

	var parts []string
	for i, c := range cases {
		rec.take()
		t0 := time.Now()
		page, err := st.Members(ctx, f.orgID, c.filter, member.PageQuery{})
		took := time.Since(t0)
		if err != nil {
			return fmt.Errorf("count members, %s: %w", c.what, err)
		}
		stmts := rec.take()
		// A search by a part of a name or an email first finds where the
		// newest member.SearchScope members begin, then counts within
		// them: two statements.
		want := 1
		if c.window {
			want = 2
		}
		if len(stmts) != want {
			return fmt.Errorf("count members, %s: the store ran %d statements, want %d", c.what, len(stmts), want)
		}
		if c.total >= 0 && page.Total != c.total {
			return fmt.Errorf("count members, %s: %d, want %d", c.what, page.Total, c.total)
		}
		count := stmts[len(stmts)-1]
		p, err := explain(ctx, floorDB, count)
		if err != nil {
			return err
		}
		part := fmt.Sprintf("%s, %d: %s", c.what, page.Total, p)
		if c.window {
			w, err := explain(ctx, floorDB, stmts[0])
			if err != nil {
				return err
			}
			part = fmt.Sprintf("%s, %d (among the newest %d members: %v): finding where they begin %s, then counting %s", c.what, page.Total, member.SearchScope, page.SearchedOnlyNewest > 0, w, p)
		}
		if i == 0 {
			// The total the console asks on every page: the statement
			// itself, whether it reads the counters only, and what it
			// costs alone.
			var alone []time.Duration
			for range samples {
				var n int
				d, err := timeSQL(ctx, func() error { return floorDB.GetContext(ctx, &n, stmts[0].Query, stmts[0].Args...) })
				if err != nil {
					return err
				}
				alone = append(alone, d)
			}
			only := slices.Equal(p.tables(), []string{"member_counts"})
			part = fmt.Sprintf("%s, %d: `%s` — %s; it reads member_counts only: %s; p50 alone %s",
				c.what, page.Total, strings.Join(strings.Fields(stmts[0].Query), " "), p, yesNo(only), ms(percentile(alone, 50)))
		} else {
			part += fmt.Sprintf(" (the count took %s)", ms(took))
		}
		parts = append(parts, part)
	}
	b.rep.note("How the store counts a members total at %d members (its statements recorded at the driver, EXPLAINed; rows are the optimizer's estimates): %s.",
		b.cfg.DepthMembers, strings.Join(parts, "; "))
	return nil
}
