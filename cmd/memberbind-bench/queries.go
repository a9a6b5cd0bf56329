package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/contact"
	"memberbind/internal/mysql"
)

// statements counts, on the server, what one connection sent it.
type statements struct {
	Executed int // statements run (MariaDB's and MySQL's Questions)
	Prepared int // of which prepared first, a round trip of its own
}

func (s statements) String() string {
	return fmt.Sprintf("%d (%d prepared)", s.Executed, s.Prepared)
}

// sessionCounters reads the session's statement counters. The SHOW
// counts itself.
func sessionCounters(ctx context.Context, db *sqlx.DB) (statements, error) {
	rows, err := db.QueryContext(ctx, `SHOW SESSION STATUS WHERE Variable_name IN ('Questions', 'Com_stmt_prepare')`)
	if err != nil {
		return statements{}, err
	}
	defer rows.Close()
	var s statements
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return s, err
		}
		n, _ := strconv.Atoi(value)
		switch strings.ToLower(name) {
		case "questions":
			s.Executed = n
		case "com_stmt_prepare":
			s.Prepared = n
		}
	}
	return s, rows.Err()
}

// count runs fn and returns what the one connection of db ran for it. db
// must be a pool of one connection that fn uses, so that the session is
// the one fn ran on.
func count(ctx context.Context, db *sqlx.DB, fn func() error) (statements, error) {
	before, err := sessionCounters(ctx, db)
	if err != nil {
		return statements{}, err
	}
	if err := fn(); err != nil {
		return statements{}, err
	}
	after, err := sessionCounters(ctx, db)
	if err != nil {
		return statements{}, err
	}
	return statements{Executed: after.Executed - before.Executed - 1, Prepared: after.Prepared - before.Prepared}, nil
}

// queries is figure 7: the SQL statements of a members page of 10, 50 and
// 100, without and with each member's events, counted by the server on a
// pool of one connection, next to the floor's. The same count for bind and
// activate checks that their floors replay what the store runs; the
// console's bind has a row of its own, its floor running every statement
// memberbind runs for it.
func (b *bench) queries(ctx context.Context) error {
	f, err := b.newFixture(ctx, "queries")
	if err != nil {
		return err
	}
	defer f.db.Close()
	s, err := seed(ctx, f.db, seedSpec{OrgID: f.orgID, Members: 300, BindEvery: 2, Domain: "queries.example"})
	if err != nil {
		return err
	}
	// One connection for memberbind and the floor alike: every statement
	// of a request runs in the session the counters are read from.
	db, err := f.pool(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	st := mysql.New(db, mysql.Options{Policy: benchPolicy()})
	srv, err := startInProcess(st)
	if err != nil {
		return err
	}
	defer srv.close()
	c := newClient(srv.URL, f.key, 1)
	defer c.close()

	join := func(ns []statements) string {
		var parts []string
		for _, n := range ns {
			parts = append(parts, strconv.Itoa(n.Executed))
		}
		return strings.Join(parts, " / ")
	}
	sizes := []int{10, 50, 100}
	// pages counts the statements of query for each page size, on both
	// sides, and adds its row.
	pages := func(figure, what, query string, events int) (server, floor []statements, err error) {
		for _, first := range sizes {
			body := gqlBody(query, map[string]any{"first": first})
			var got []byte
			n, err := count(ctx, db, func() error {
				var err error
				got, err = c.post(ctx, body)
				return err
			})
			if err != nil {
				return nil, nil, err
			}
			if _, err := checkPage(got, first, 300, true); err != nil {
				return nil, nil, err
			}
			server = append(server, n)
			fl := readFloor(db, f.key, first, events)
			if n, err = count(ctx, db, func() error { return fl(ctx, 0) }); err != nil {
				return nil, nil, err
			}
			floor = append(floor, n)
		}
		same := true
		for _, n := range server {
			same = same && n.Executed == server[0].Executed
		}
		b.rep.add(row{
			Figure: figure,
			What:   what,
			Server: join(server),
			Floor:  join(floor),
			Ratio:  ratio(float64(server[len(server)-1].Executed), float64(floor[len(floor)-1].Executed)),
			Goal:   goal{Text: "the same for each", Met: same},
		})
		return server, floor, nil
	}
	server, floor, err := pages("7 queries", "SQL statements for a members page of 10 / 50 / 100 (the read figure's request, counted by the server)", membersQuery, 0)
	if err != nil {
		return err
	}
	evServer, evFloor, err := pages("7 queries, events", "the same with each member's `events(first: 5)` (the README's example query)", membersEventsQuery, 5)
	if err != nil {
		return err
	}

	// Bind and activate: memberbind over HTTP, then the floor, each on a
	// fresh member and link.
	members := newIDPool(s.FirstID, s.LastID)
	unbound := func() (int64, error) {
		for {
			id, err := members.take()
			if err != nil || (id-s.FirstID)%2 == 1 {
				return id, err
			}
		}
	}
	info, err := contact.Parse("x@queries.example", "+86", "138 0013 8000")
	if err != nil {
		return err
	}
	// One bind first, not counted: the first of an organization also
	// reserves a block of its mail budget, in a transaction of its own
	// (internal/mysql/budget.go), one bind in 64.
	id0, err := unbound()
	if err != nil {
		return err
	}
	if _, err := c.mutate(ctx, gqlBody(bindMutation, bindInput(id0, bindEmail(id0, "queries.example")))); err != nil {
		return err
	}
	id1, err := unbound()
	if err != nil {
		return err
	}
	bindSrv, err := count(ctx, db, func() error {
		_, err := c.mutate(ctx, gqlBody(bindMutation, bindInput(id1, bindEmail(id1, "queries.example"))))
		return err
	})
	if err != nil {
		return err
	}
	id2, err := unbound()
	if err != nil {
		return err
	}
	bindFlr, err := count(ctx, db, func() error {
		_, err := floorBindTx(ctx, db, f.orgID, id2, f.actor, bindEmail(id2, "queries.example"), info.CountryCode, info.Phone)
		return err
	})
	if err != nil {
		return err
	}
	msgs, err := st.ClaimOutbox(ctx, "memberbind-bench", 2, time.Hour)
	if err != nil {
		return err
	}
	if len(msgs) != 2 {
		return fmt.Errorf("the two binds queued %d mails, want 2", len(msgs))
	}
	for _, m := range msgs {
		if err := st.MarkOutboxSent(ctx, m.OrgID, m.ID, "memberbind-bench", time.Now()); err != nil {
			return err
		}
	}
	actSrv, err := count(ctx, db, func() error { return c.activate(ctx, msgs[0].Token) })
	if err != nil {
		return err
	}
	actFlr, err := count(ctx, db, func() error { return floorActivateTx(ctx, db, msgs[1].Token) })
	if err != nil {
		return err
	}
	// The console's bind, whose floor runs every statement memberbind
	// runs for it.
	id3, err := unbound()
	if err != nil {
		return err
	}
	consoleSrv, err := count(ctx, db, func() error {
		_, err := c.mutate(ctx, gqlBody(consoleBindMutation, bindInput(id3, bindEmail(id3, "queries.example"))))
		return err
	})
	if err != nil {
		return err
	}
	id4, err := unbound()
	if err != nil {
		return err
	}
	consoleFlr, err := count(ctx, db, func() error {
		return floorConsoleBind(ctx, db, f, id4, bindEmail(id4, "queries.example"), info.CountryCode, info.Phone)
	})
	if err != nil {
		return err
	}
	b.rep.add(row{
		Figure: "7 queries, console bind",
		What:   "SQL statements of the console's `bindSecurityInfo` (`Console_bindSecurityInfo`, counted by the server), against its floor's (the bind figure's console row)",
		Server: consoleSrv.String(),
		Floor:  consoleFlr.String(),
		Ratio:  ratio(float64(consoleSrv.Executed), float64(consoleFlr.Executed)),
		Goal:   goal{Text: "the same", Met: consoleSrv == consoleFlr},
	})
	b.rep.note("SQL statements per request, memberbind against its floor (prepared = sent with arguments: a prepare round trip, then the execution): "+
		"members page of 10 / 50 / 100: %s / %s / %s against %s / %s / %s; "+
		"with events: %s / %s / %s against %s / %s / %s; "+
		"bindSecurityInfo: %s, of which 1 is the API key lookup, against the transaction's %s; "+
		"the console's bindSecurityInfo: %s against %s; "+
		"POST /activate: %s against %s.",
		server[0], server[1], server[2], floor[0], floor[1], floor[2],
		evServer[0], evServer[1], evServer[2], evFloor[0], evFloor[1], evFloor[2], bindSrv, bindFlr, consoleSrv, consoleFlr, actSrv, actFlr)
	return nil
}
