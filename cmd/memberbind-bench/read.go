package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/mysql"
)

// read is figure 1: a page of 50 members with their security information
// and its delivery, over HTTP, against two floors, all at -clients: the
// SQL the resolvers issue for it run straight through sqlx, and the same
// SQL and the same JSON answer from a plain net/http handler (plainRead).
// The HTTP load runs in a process of its own (remote), so that this
// process's CPU time is the server's alone.
func (b *bench) read(ctx context.Context) error {
	f, err := b.newFixture(ctx, "read")
	if err != nil {
		return err
	}
	defer f.db.Close()
	if _, err := seed(ctx, f.db, seedSpec{OrgID: f.orgID, Members: b.cfg.ReadMembers, BindEvery: 2, Domain: "read.example"}); err != nil {
		return err
	}
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
	plain, err := serve(plainRead{db: floorDB, policy: benchPolicy()}, benchLogger())
	if err != nil {
		return err
	}
	defer plain.close()
	pc := newClient(plain.URL, f.key, 1)
	defer pc.close()

	const first = 50
	body := gqlBody(membersQuery, map[string]any{"first": first})
	got, err := c.post(ctx, body)
	if err != nil {
		return err
	}
	if _, err := checkPage(got, first, b.cfg.ReadMembers, true); err != nil {
		return err
	}
	// The plain floor must answer what memberbind answers, or it is the
	// floor of something else.
	plainGot, err := pc.post(ctx, body)
	if err != nil {
		return fmt.Errorf("plain-HTTP floor: %w", err)
	}
	diff, err := sameJSON(got, plainGot)
	if err != nil {
		return fmt.Errorf("plain-HTTP floor: %w", err)
	}
	if diff != "" {
		return fmt.Errorf("the plain-HTTP floor's answer is not memberbind's, at %s", diff)
	}
	floor := readFloor(floorDB, f.key, first, 0)
	if err := floor(ctx, 0); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	load := graphqlLoad(srv.URL, f.key, b.cfg.Clients)
	load.Body = string(body)
	plainLoad := graphqlLoad(plain.URL, f.key, b.cfg.Clients)
	plainLoad.Body = string(body)
	res, err := alternate(ctx, b.cfg.Duration, b.cfg.Warmup, b.cfg.Rounds,
		remote(load, nil, 0), local(b.cfg.Clients, floor), remote(plainLoad, nil, 0))
	if err != nil {
		return err
	}
	srvRes, floorRes, plainRes := res[0], res[1], res[2]
	if err := loadFailed(srvRes, floorRes); err != nil {
		return err
	}
	if s := plainRes.failed(); s != "" {
		return fmt.Errorf("plain-HTTP floor: %s", s)
	}
	// Where the memory of such a load goes, in this process: the pages of
	// 100 members the memory figure reads from the real binary.
	body100 := gqlBody(membersQuery, map[string]any{"first": 100})
	page100, err := c.post(ctx, body100)
	if err != nil {
		return err
	}
	load.Body = string(body100)
	stop := make(chan struct{})
	peaks := samplePeaks(stop)
	r100, err := remote(load, nil, 0)(ctx, 0, min(b.cfg.Duration/2, 5*time.Second))
	close(stop)
	p := <-peaks
	if err != nil {
		return fmt.Errorf("pages of 100: %w", err)
	}
	if s := r100.failed(); s != "" {
		return fmt.Errorf("pages of 100: %s", s)
	}
	b.rep.note("Reading pages of 100 members (%.0f KB of JSON each) at %d clients from the in-process server (%.0f req/s, server CPU %s each), this process peaked at "+
		"%d goroutines, %.1f MiB of goroutine stacks and %.1f MiB of heap objects (server and Go runtime; the load generator runs in a process of its own).",
		float64(len(page100))/1000, b.cfg.Clients, r100.rate(), ms(r100.cpuPerOp()), p.Goroutines, float64(p.Stacks)/(1<<20), float64(p.Objects)/(1<<20))
	b.rep.note("Read, the load generator's own CPU (a process of its own, not in Go CPU): %s per request to memberbind, %s per request to the plain-HTTP floor.",
		ms(srvRes.clientCPUPerOp()), ms(plainRes.clientCPUPerOp()))

	what := fmt.Sprintf("`members(first: 50)` with `totalCount`, `securityInfo` and its `delivery` (the console's fields), over HTTP, %d clients", b.cfg.Clients)
	b.rep.add(row{
		Figure: "1 read",
		What:   what + "; floor: its SQL through sqlx",
		Server: throughput(srvRes, "req/s"),
		Floor:  throughput(floorRes, "pages/s"),
		Ratio:  ratio(srvRes.rate(), floorRes.rate()),
		Spread: spread(turnRatios(srvRes, floorRes)),
		Goal:   goal{Op: "≥", Bound: 0.7},
	}, row{
		Figure: "1 read",
		What:   "the same; floor: the same SQL and the same JSON answer from a plain `net/http` handler with `encoding/json`",
		Server: throughput(srvRes, "req/s"),
		Floor:  throughput(plainRes, "req/s"),
		Ratio:  ratio(srvRes.rate(), plainRes.rate()),
		Spread: spread(turnRatios(srvRes, plainRes)),
		Goal:   goal{Op: "≥", Bound: 0.9},
	})
	return nil
}

// readFloor is what the resolvers of membersQuery ask the database, as
// directly as possible: the API key lookup, the total, the page with its
// bindings and their newest mail, and the page's link sends (one batch,
// for nextResendAllowedAt and resendsRemaining). With events above 0 it
// also reads that many of each member's events, as membersEventsQuery
// asks (one batch).
func readFloor(db *sqlx.DB, key string, first, events int) op {
	return func(ctx context.Context, _ int) error {
		var org authRow
		if err := db.GetContext(ctx, &org, sqlAuthenticate, mysql.Hash(key)); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
		var total int
		if err := db.GetContext(ctx, &total, sqlCountMembers, org.ID, 0); err != nil {
			return fmt.Errorf("count members: %w", err)
		}
		var rows []memberRow
		if err := db.SelectContext(ctx, &rows, sqlPageMembers, org.ID, first+1); err != nil {
			return fmt.Errorf("list members: %w", err)
		}
		rows = rows[:min(len(rows), first)]
		var bindings []int64
		for _, r := range rows {
			if r.BID.Valid {
				bindings = append(bindings, r.BID.Int64)
			}
		}
		if len(bindings) > 0 {
			q, args, err := sqlx.In(sqlSends, bindings, org.ID)
			if err != nil {
				return err
			}
			var sends []sendRow
			if err := db.SelectContext(ctx, &sends, q, args...); err != nil {
				return fmt.Errorf("read link sends: %w", err)
			}
		}
		if events == 0 || len(rows) == 0 {
			return nil
		}
		parts := make([]string, len(rows))
		args := make([]any, 0, 3*len(rows))
		for i, r := range rows {
			parts[i] = sqlEventsOf
			args = append(args, r.ID, r.OrgID, events+1)
		}
		var evs []eventRow
		if err := db.SelectContext(ctx, &evs, strings.Join(parts, " UNION ALL "), args...); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		return nil
	}
}

// loadFailed turns failures of either side of a figure into an error: a
// figure measured on failing requests means nothing.
func loadFailed(server, floor result) error {
	if s := server.failed(); s != "" {
		return fmt.Errorf("memberbind side: %s", s)
	}
	if s := floor.failed(); s != "" {
		return fmt.Errorf("floor side: %s", s)
	}
	return nil
}
