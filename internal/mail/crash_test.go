package mail_test

// The crash window: a worker process killed with SIGKILL mid-run forgets
// the mails the SMTP server accepted that it had not recorded yet, and
// the next worker sends them again. The worker bounds them; this test
// kills a real worker process five times and counts, in a real Mailpit,
// what went out twice (issue 12 item 12).

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// The crash worker process's settings, from the test that starts it.
const (
	envCrashDSN         = "MEMBERBIND_CRASH_WORKER_DSN"
	envCrashSMTP        = "MEMBERBIND_CRASH_WORKER_SMTP"
	envCrashOwner       = "MEMBERBIND_CRASH_WORKER_OWNER"
	envCrashConcurrency = "MEMBERBIND_CRASH_WORKER_CONCURRENCY"
)

// TestCrashWorkerProcess is not a test: it is the worker process that
// TestDeliveryCrashWindow starts (this test binary, run again) and kills.
// It runs a mail.Worker as `memberbind worker` does until it is killed.
func TestCrashWorkerProcess(t *testing.T) {
	dsn := os.Getenv(envCrashDSN)
	if dsn == "" {
		t.Skip("the worker process of TestDeliveryCrashWindow")
	}
	ctx := context.Background()
	db, err := mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	concurrency, err := strconv.Atoi(os.Getenv(envCrashConcurrency))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mail.ParseSMTPURL(os.Getenv(envCrashSMTP))
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(cfg, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	w, err := mail.NewWorker(mail.WorkerOptions{
		Outbox: mysql.New(db, mysql.Options{}), Sender: sender, From: testFrom, PublicURL: testPublicURL,
		Concurrency: concurrency, Owner: os.Getenv(envCrashOwner), PollInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(w.Run(ctx)) // until killed
}

// startCrashWorker starts the worker process as owner.
func startCrashWorker(t *testing.T, dsn, smtpURL, owner string, concurrency int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWorkerProcess$")
	cmd.Env = append(os.Environ(), envCrashDSN+"="+dsn, envCrashSMTP+"="+smtpURL, envCrashOwner+"="+owner,
		envCrashConcurrency+"="+strconv.Itoa(concurrency))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker %s:\n%s", owner, stderr.String())
		}
	})
	return cmd
}

// TestDeliveryCrashWindow: a worker process is killed with SIGKILL five
// times while it delivers a backlog, and another takes over each time.
// What went out twice after a kill is at most what the worker may hold
// unsettled: the sends in progress (Concurrency) and the accepted mails
// not yet recorded (mail.MaxUnrecorded). Every mail goes out at least
// once.
func TestDeliveryCrashWindow(t *testing.T) {
	testenv.RequireRowLocks(t) // the worker process reaches the database over TCP
	t.Parallel()
	const n, kills, concurrency = 1200, 5, 4
	bound := concurrency + mail.MaxUnrecorded(concurrency)
	// A backlog above the organization's default hourly mail budget.
	policy := member.DefaultPolicy()
	policy.MailsPerOrgHour = 2 * n
	f := newFixture(t, fixtureOptions{Policy: policy})
	mp := testenv.Mailpit(t)
	f.bindMany(n, 4, "crash.example.com")

	received := map[string]int{} // Mailpit's count per Message-ID at the last kill
	var perKill []int
	for i := range kills {
		owner := fmt.Sprintf("crash-%d", i)
		cmd := startCrashWorker(t, f.dsn, mp.SMTPURL, owner, concurrency)
		// Kill it mid-run, at a different point each time.
		target := f.count("outbox", "status = 'SENT'") + 120 + 40*i
		testenv.Eventually(t, 60*time.Second, owner+" delivering", func() error {
			if got := f.count("outbox", "status = 'SENT'"); got < target {
				return fmt.Errorf("%d mails recorded, waiting for %d", got, target)
			}
			return nil
		})
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		// What the dead worker got accepted and never recorded: sent in
		// this round, and not SENT in the outbox.
		var sentIDs []string
		if err := f.db.Select(&sentIDs, `SELECT message_id FROM outbox WHERE status = 'SENT'`); err != nil {
			t.Fatal(err)
		}
		sent := map[string]bool{}
		for _, id := range sentIDs {
			sent[id] = true
		}
		_, now := tally(mp.Messages(t))
		unrecorded := 0
		for id, k := range now {
			if !sent[id] && k > received[id] {
				unrecorded++
			}
		}
		received = now
		perKill = append(perKill, unrecorded)
		if unrecorded > bound {
			t.Errorf("kill %d: %d mails accepted and not recorded, want at most %d (%d in progress and %d unrecorded)",
				i+1, unrecorded, bound, concurrency, mail.MaxUnrecorded(concurrency))
		}
		// Stand in for waiting out the dead worker's lease (2 minutes).
		if _, err := f.db.Exec(`UPDATE outbox SET lease_until = ? WHERE leased_by = ?`, time.Now().UTC().Add(-time.Second), owner); err != nil {
			t.Fatal(err)
		}
	}
	startCrashWorker(t, f.dsn, mp.SMTPURL, "last", concurrency)
	f.waitDelivered(120 * time.Second)

	list := mp.Messages(t)
	_, byMessageID := tally(list)
	if len(byMessageID) != n {
		t.Errorf("%d distinct mails received, want %d", len(byMessageID), n)
	}
	dup := len(list) - len(byMessageID)
	for id, k := range byMessageID {
		if k > 2 {
			t.Errorf("Message-ID %s received %d times", id, k)
		}
	}
	// A send in progress at a kill may reach Mailpit after the count
	// above: those are within Concurrency per kill.
	if dup > kills*bound {
		t.Errorf("%d mails sent twice over %d kills, want at most %d per kill", dup, kills, bound)
	}
	t.Logf("%d mails, %d kills: accepted and not recorded at each kill %v (bound %d each: %d in progress + %d unrecorded); %d sent twice in all",
		n, kills, perKill, bound, concurrency, mail.MaxUnrecorded(concurrency), dup)
}
