package mail_test

// Real faults inside the worker's claim: the database connection cut at
// the claim's COMMIT (testenv.FaultProxy), and a real deadlock (1213) that
// MariaDB resolves by rolling the claim back. Either way every mail goes
// out exactly once, as Mailpit counts them by Message-ID.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/mail"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// checkEachOnce fails the test unless Mailpit holds exactly one message
// for each of the n mails.
func checkEachOnce(t *testing.T, mp *testenv.MailpitServer, n int) {
	t.Helper()
	list := waitMailCount(t, mp, n, 10*time.Second)
	_, byMessageID := tally(list)
	if len(byMessageID) != n {
		t.Errorf("%d distinct Message-IDs for %d mails: %v", len(byMessageID), n, byMessageID)
	}
	for id, k := range byMessageID {
		if k != 1 {
			t.Errorf("Message-ID %s received %d times, want once", id, k)
		}
	}
}

// isClaimLease reports whether a statement is a claim's lease: the UPDATE
// that writes the worker's name into leased_by (a release writes NULL).
func isClaimLease(q string) bool {
	q = strings.TrimSpace(q)
	return strings.HasPrefix(q, "UPDATE outbox SET leased_by = ") && !strings.HasPrefix(q, "UPDATE outbox SET leased_by = NULL")
}

// TestDeliveryClaimCommitCut: the connection of the worker's claim is cut
// at its COMMIT, before the server sees it (the lease rolls back) or after
// the server committed it (the lease holds, but the worker never hears
// so). The claim returns an error and no rows, the worker sends none of
// them on that claim, and each mail goes out once: at once when the lease
// rolled back, once the lease runs out when it held (issue 12 item 9).
func TestDeliveryClaimCommitCut(t *testing.T) {
	testenv.RequireRowLocks(t) // the embedded engine is reached in-process, not over TCP
	t.Parallel()
	for _, tc := range []struct {
		name      string
		delivered bool
	}{
		{"commit never reaches the server", false},
		{"commit's answer lost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 30
			clock := testenv.NewClock(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
			f := newFixture(t, fixtureOptions{Clock: clock})
			mp := testenv.Mailpit(t)
			f.bindMany(n, 3, "cut.example.com")

			proxy := testenv.NewFaultProxy(t, f.dsn)
			st := testenv.StoreAt(t, proxy.DSN(), mysql.Options{Now: clock.Now})
			proxy.CutAt(testenv.CutRule{After: isClaimLease, At: func(q string) bool { return q == "COMMIT" }, Delivered: tc.delivered})
			counting := &countingOutbox{Outbox: st}
			const lease = 30 * time.Second
			w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Owner: "w", Lease: lease})
			runWorker(t, w, 10*time.Second)

			testenv.Eventually(t, 10*time.Second, "the claim's COMMIT cut", func() error {
				if proxy.Cuts() == 0 {
					return errors.New("no cut yet")
				}
				return nil
			})
			if tc.delivered {
				// The lease held: its rows are the worker's, unsent, until
				// it runs out; the worker claims on and finds nothing.
				waitClaims(t, counting, 3)
				if got := f.count("outbox", "status = 'QUEUED' AND leased_by = 'w'"); got != n {
					t.Fatalf("%d rows leased by the cut claim, want all %d", got, n)
				}
				if got := len(mp.Messages(t)); got != 0 {
					t.Fatalf("Mailpit holds %d messages sent on a claim that failed, want none", got)
				}
				clock.Add(lease)
			}
			f.waitDelivered(20 * time.Second)
			checkEachOnce(t, mp, n)
			if got := f.count("outbox", "status = 'SENT' AND attempts = 1"); got != n {
				t.Errorf("%d rows SENT on their first attempt, want %d", got, n)
			}
			if !strings.Contains(f.logs.String(), "claim outbox") {
				t.Errorf("the worker did not log the failed claim")
			}
		})
	}
}

// TestDeliveryClaimDeadlock: a transaction of the test's locks two of the
// due rows in the opposite order to the worker's claim, so that MariaDB
// finds a deadlock and rolls the claim back (the test's transaction has
// written more, so the claim is the cheaper victim). Meanwhile the rows
// stop being due, so the claim's retry finds none: it must not return the
// rows of the attempt that rolled back. Once they are due again each mail
// goes out once (issue 12 item 9, issue 14 item 1).
func TestDeliveryClaimDeadlock(t *testing.T) {
	testenv.RequireRowLocks(t)
	t.Parallel()
	const n = 10
	clock := testenv.NewClock(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	f := newFixture(t, fixtureOptions{Clock: clock})
	mp := testenv.Mailpit(t)
	f.bindMany(n, 1, "deadlock.example.com")
	rows := f.outbox()
	first, middle := rows[0].ID, rows[n/2].ID

	ctx := context.Background()
	var dbName string
	if err := f.db.Get(&dbName, "SELECT DATABASE()"); err != nil {
		t.Fatal(err)
	}
	var wsrep sql.NullString
	if err := f.db.QueryRow(`SELECT @@GLOBAL.wsrep_on`).Scan(&wsrep); err == nil && (wsrep.String == "1" || wsrep.String == "ON") {
		// Seen in CI: on a Galera node the claim waited out its timeout
		// while information_schema showed no transaction in LOCK WAIT,
		// so the test cannot tell when to close the cycle. The 1213
		// retry is the store's, the same on every engine, and is tested
		// here on MariaDB; claims across nodes are TestGaleraInstances'.
		t.Skip("a Galera node does not show the claim's lock wait in information_schema reliably; the deadlock is forced on plain MariaDB")
	}
	if _, err := f.db.Exec(`CREATE TABLE ballast (id INT NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	conn, err := f.db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Weight: InnoDB rolls back the transaction that wrote less.
	values := strings.TrimSuffix(strings.Repeat("(?), ", 1000), ", ")
	args := make([]any, 1000)
	for i := range args {
		args[i] = i
	}
	if _, err := tx.Exec(`INSERT INTO ballast (id) VALUES `+values, args...); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT id FROM outbox WHERE id = ? FOR UPDATE`, middle); err != nil {
		t.Fatal(err)
	}

	st := testenv.StoreAt(t, f.dsn, mysql.Options{Now: clock.Now})
	var mu sync.Mutex
	var retried []error
	st.OnRetry = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		retried = append(retried, err)
	}
	counting := &countingOutbox{Outbox: st}
	w := f.newWorker(mp.SMTPURL, mail.WorkerOptions{Outbox: counting, Owner: "w"})
	runWorker(t, w, 10*time.Second)

	// The claim leased the rows before the middle one and waits for it.
	// It does once the first row is locked by someone other than this
	// test while a lease statement runs: the claim cannot finish without
	// the middle row, so it holds the first and waits. A probe asks for
	// the first row without waiting (information_schema was no guide:
	// MariaDB did not always list the waiting claim in innodb_trx).
	testenv.Eventually(t, 20*time.Second, "the claim holding the first row and waiting for the middle one", func() error {
		var running int
		if err := f.db.Get(&running, `
			SELECT COUNT(*) FROM information_schema.processlist
			WHERE db = ? AND id <> CONNECTION_ID() AND command = 'Query' AND info LIKE '%UPDATE outbox SET leased_by = %'`, dbName); err != nil {
			return err
		}
		if running == 0 {
			return errors.New("no lease statement runs")
		}
		probe, err := f.db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer probe.Rollback()
		if _, err := probe.Exec(`SELECT id FROM outbox WHERE id = ? FOR UPDATE NOWAIT`, first); err == nil {
			return errors.New("the first row is free: the claim does not hold it yet")
		}
		return nil
	})
	// Close the cycle: the claim holds the first row.
	lockCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := tx.ExecContext(lockCtx, `SELECT id FROM outbox WHERE id = ? FOR UPDATE`, first); err != nil {
		t.Fatalf("the test's transaction, not the claim, lost the deadlock: %v", err)
	}
	// The rows stop being due before the claim runs again.
	later := clock.Now().Add(time.Hour)
	if _, err := tx.Exec(`UPDATE outbox SET next_attempt_at = ? WHERE status = 'QUEUED'`, later); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitClaims(t, counting, 3)
	mu.Lock()
	var deadlocks int
	for _, err := range retried {
		if strings.Contains(err.Error(), "lease QUEUED outbox rows") && strings.Contains(err.Error(), "1213") {
			deadlocks++
		}
	}
	mu.Unlock()
	if deadlocks == 0 {
		t.Fatalf("no claim retried after a deadlock (1213); retries: %v", retried)
	}
	if got := len(mp.Messages(t)); got != 0 {
		t.Fatalf("Mailpit holds %d messages, want none: no row was due after the deadlock", got)
	}
	if got := f.count("outbox", "leased_by IS NOT NULL"); got != 0 {
		t.Fatalf("%d rows leased after the retried claim, want none", got)
	}

	clock.Set(later)
	f.waitDelivered(20 * time.Second)
	checkEachOnce(t, mp, n)
	if got := f.count("outbox", "status = 'SENT' AND attempts = 1"); got != n {
		t.Errorf("%d rows SENT on their first attempt, want %d", got, n)
	}
	t.Logf("claim attempts rolled back by a deadlock and retried: %d", deadlocks)
}
