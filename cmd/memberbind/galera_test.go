package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// galeraMails is how many binds, and so activation mails, the multi-node
// test makes.
const galeraMails = 1020

// TestGaleraInstances: three instances of the real binary, each writing
// through its own node of a Galera cluster, create and bind members spread
// across them (each member bound through another node than the one that
// created it) and deliver every activation mail to a real Mailpit exactly
// once: none lost, none twice, counted by Message-ID.
func TestGaleraInstances(t *testing.T) {
	dsns := testenv.Galera(t)
	mp := testenv.Mailpit(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "memberbind")
	build := exec.Command("go", "build", "-tags", "noembed", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	environ := func(dsn string) []string {
		env := []string{
			"MEMBERBIND_DATABASE_DSN=" + dsn,
			"MEMBERBIND_SMTP_URL=" + mp.SMTPURL,
			"MEMBERBIND_LISTEN=127.0.0.1:0",
			// Three instances on one machine: no admin listeners (they
			// would share a port); the links are never opened; the test
			// binds more than an organization's default hourly budget.
			"MEMBERBIND_PUBLIC_URL=http://galera.invalid",
			"MEMBERBIND_ADMIN_LISTEN=off",
			"MEMBERBIND_MAILS_PER_ORG_HOUR=100000",
		}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "MEMBERBIND_") {
				env = append(env, kv)
			}
		}
		return env
	}

	// `org create` migrates the database, through node 1.
	orgCmd := exec.Command(bin, "org", "create", "Acme")
	orgCmd.Env = environ(dsns[0])
	out, err := orgCmd.Output()
	if err != nil {
		t.Fatalf("org create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := lines[len(lines)-1]

	var urls []string
	var stops []func()
	for i, dsn := range dsns {
		url, stop := startProcess(t, bin, environ(dsn), filepath.Join(dir, fmt.Sprintf("node%d.log", i+1)))
		urls, stops = append(urls, url), append(stops, stop)
	}

	const clients = 12
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= galeraMails {
					return
				}
				from, to := urls[i%len(urls)], urls[(i+1)%len(urls)]
				var created struct {
					CreateMember struct{ Member struct{ ID string } }
				}
				if err := postGraphQL(from, key, `mutation($n: String!) { createMember(input: {name: $n}) { member { id } userErrors { code message } } }`,
					map[string]any{"n": fmt.Sprintf("m%d", i)}, &created); err != nil {
					errs <- fmt.Errorf("create member %d through %s: %w", i, from, err)
					return
				}
				var bound struct {
					BindSecurityInfo struct {
						UserErrors []struct{ Code, Message string }
					}
				}
				if err := postGraphQL(to, key, `mutation($id: ID!, $e: String!) { bindSecurityInfo(input: {memberId: $id, email: $e, countryCode: "86", phone: "13800138000"}) { userErrors { code message } } }`,
					map[string]any{"id": created.CreateMember.Member.ID, "e": fmt.Sprintf("m%d@example.com", i)}, &bound); err != nil {
					errs <- fmt.Errorf("bind member %d through %s: %w", i, to, err)
					return
				}
				if ue := bound.BindSecurityInfo.UserErrors; len(ue) > 0 {
					errs <- fmt.Errorf("bind member %d through %s, created through %s: %s %s", i, to, from, ue[0].Code, ue[0].Message)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	db, err := mysql.Open(context.Background(), dsns[0])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testenv.Eventually(t, 5*time.Minute, "every mail sent", func() error {
		var waiting int
		if err := db.Get(&waiting, `SELECT COUNT(*) FROM outbox WHERE status <> 'SENT'`); err != nil {
			return err
		}
		if waiting > 0 {
			return fmt.Errorf("%d mails not sent yet", waiting)
		}
		return nil
	})
	// A send in flight ends before its process does: after the stop,
	// Mailpit holds everything that will ever arrive.
	for _, stop := range stops {
		stop()
	}
	checkEveryMailOnce(t, db, mp)
}

// checkEveryMailOnce compares Mailpit's messages with the outbox, by
// Message-ID.
func checkEveryMailOnce(t *testing.T, db *sqlx.DB, mp *testenv.MailpitServer) {
	t.Helper()
	var ids []string
	if err := db.Select(&ids, `SELECT message_id FROM outbox`); err != nil {
		t.Fatal(err)
	}
	if len(ids) != galeraMails {
		t.Errorf("%d outbox rows, want %d", len(ids), galeraMails)
	}
	got := map[string]int{}
	for _, m := range mp.Messages(t) {
		got[m.MessageID]++
	}
	lost, twice := 0, 0
	for _, id := range ids {
		switch n := got[id]; {
		case n == 0:
			lost++
		case n > 1:
			twice++
		}
		delete(got, id)
	}
	t.Logf("%d mails in the outbox, %d messages in Mailpit: %d lost, %d sent more than once, %d unknown", len(ids), len(mp.Messages(t)), lost, twice, len(got))
	if lost > 0 || twice > 0 || len(got) > 0 {
		t.Errorf("%d mails lost, %d sent more than once, %d messages no outbox row sent", lost, twice, len(got))
	}
}

// startProcess starts `bin serve` with env, logging to logPath, and
// returns its URL once it listens, and a stop that sends SIGTERM and waits
// for it to end, which cleanup calls too.
func startProcess(t *testing.T, bin string, env []string, logPath string) (string, func()) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", filepath.Base(logPath), err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("%s: did not stop within 30s of SIGTERM", filepath.Base(logPath))
			}
			logFile.Close()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s (tail):\n%s", filepath.Base(logPath), b)
		}
	})

	listening := regexp.MustCompile(`listening on (http://\S+)`)
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if m := listening.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case url := <-found:
		return url, stop
	case <-time.After(time.Minute):
		t.Fatalf("%s serve did not say where it listens within a minute", filepath.Base(logPath))
		return "", nil
	}
}

// postGraphQL posts a query and decodes its data into out; GraphQL errors
// are an error.
func postGraphQL(url, key, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("HTTP %d: %w", res.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, r.Errors[0].Message)
	}
	return json.Unmarshal(r.Data, out)
}
