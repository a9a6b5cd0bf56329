package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/testenv"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// instance is a running `memberbind serve`.
type instance struct {
	URL    string
	Admin  string      // the admin listener's URL
	Output *syncBuffer // what it printed to stdout
	Logs   *syncBuffer // what it logged (stderr)
	// Cancel tells it to stop, as SIGTERM does, and returns at once;
	// Stop does that and waits until it has stopped.
	Cancel func()
	Stop   func() error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveFor starts the real program on a free loopback port and waits
// until it says where it listens. A configured instance (one given a
// database or an SMTP server) that was given no public URL gets that of
// its port.
func serveFor(t *testing.T, vars map[string]string) *instance {
	t.Helper()
	return serveAt(t, vars, time.Now)
}

// serveAt is serveFor on the clock now.
func serveAt(t *testing.T, vars map[string]string, now func() time.Time) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // serve closes it, unless it failed first
	configured := vars[envDatabaseDSN] != "" || vars[envSMTPURL] != ""
	if _, ok := vars[envPublicURL]; !ok && configured {
		vars[envPublicURL] = "http://" + ln.Addr().String()
	}
	if _, ok := vars[envAdminListen]; !ok {
		vars[envAdminListen] = "127.0.0.1:0" // tests run in parallel
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), listenerKey{}, ln))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		err := runAt(ctx, now, []string{"serve"}, env(vars), pw, logs)
		pw.CloseWithError(fmt.Errorf("serve ended: %v", err))
		done <- err
	}()
	out := &syncBuffer{}
	lines := bufio.NewScanner(pr)
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	adminAt := regexp.MustCompile(`metrics and health:\s+(http://[^/\s]+)`)
	inst := &instance{Output: out, Logs: logs, Cancel: cancel}
	for lines.Scan() {
		out.Write([]byte(lines.Text() + "\n"))
		if m := adminAt.FindStringSubmatch(lines.Text()); m != nil {
			inst.Admin = m[1]
		}
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			inst.URL = m[1]
			break
		}
	}
	if inst.URL == "" {
		cancel()
		t.Fatalf("serve did not start: %v\nlogs:\n%s", <-done, logs.String())
	}
	go func() {
		for lines.Scan() {
			out.Write([]byte(lines.Text() + "\n"))
		}
	}()
	var once sync.Once
	var stopErr error
	inst.Stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 30s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Errorf("serve: %v\nlogs:\n%s", err, logs.String())
		}
	})
	return inst
}

// graphql posts a query with an API key and decodes the answer.
func graphql(t *testing.T, url, key, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["errors"] != nil {
		t.Fatalf("GraphQL errors: %v", out["errors"])
	}
	return out["data"].(map[string]any)
}

var apiKey = regexp.MustCompile(`^mb_[A-Za-z0-9_-]{43,}$`)

// orgCreate runs `memberbind org create` and returns the last line it
// printed, which must be the key.
func orgCreate(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"org", "create"}, args...), env(map[string]string{"MEMBERBIND_DATABASE_DSN": dsn}), &out, io.Discard)
	if err != nil {
		t.Fatalf("org create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	key := lines[len(lines)-1]
	if !apiKey.MatchString(key) {
		t.Fatalf("last line of org create is %q, not an API key", key)
	}
	return key
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "--lang", "zh-CN", "Acme", "Corp")
	inst := serveFor(t, map[string]string{"MEMBERBIND_DATABASE_DSN": dsn, "MEMBERBIND_SMTP_URL": "smtp://127.0.0.1:1?tls=none"})

	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(inst.Admin + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("admin %s: %d", path, res.StatusCode)
		}
	}
	data := graphql(t, inst.URL, key, `{ organization { name language } }`, nil)
	if org := data["organization"].(map[string]any); org["name"] != "Acme Corp" || org["language"] != "zh-CN" {
		t.Errorf("organization = %v", org)
	}
	data = graphql(t, inst.URL, key, `mutation { createMember(input: {name: "Alice"}) { member { id } } }`, nil)
	id := data["createMember"].(map[string]any)["member"].(map[string]any)["id"]
	data = graphql(t, inst.URL, key, `mutation($id: ID!) { bindSecurityInfo(input: {memberId: $id, email: "alice@example.com", countryCode: "86", phone: "13800138000"}) {
		member { bindStatus } userErrors { code } } }`, map[string]any{"id": id})
	if got := data["bindSecurityInfo"].(map[string]any)["member"].(map[string]any)["bindStatus"]; got != "PENDING" {
		t.Errorf("bindStatus = %v", got)
	}
	res, err := http.Get(inst.URL + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("playground: %d %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	if err := inst.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

// TestInstancesStartTogether: several instances migrating one empty
// database at once all come up.
func TestInstancesStartTogether(t *testing.T) {
	t.Parallel()
	// The migration lock needs a server of its own: the embedded engine is
	// only ever used by the process that started it.
	testenv.RequireRowLocks(t)
	dsn := testenv.MySQL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(context.Background(), []string{"migrate"}, env(map[string]string{"MEMBERBIND_DATABASE_DSN": dsn}), io.Discard, io.Discard)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	orgCreate(t, dsn, "After")
}

func TestCommandLineAndConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"org without name", []string{"org", "create"}, map[string]string{"MEMBERBIND_DATABASE_DSN": "root@tcp(127.0.0.1:1)/x"}, "needs the organization's name"},
		{"org bad lang", []string{"org", "create", "X", "--lang", "fr"}, map[string]string{"MEMBERBIND_DATABASE_DSN": testenv.MySQL(t)}, `language "fr" is not supported`},
		{"bad ttl", []string{"serve"}, map[string]string{"MEMBERBIND_ACTIVATION_TTL": "soon"}, "MEMBERBIND_ACTIVATION_TTL"},
		{"negative modifications", []string{"serve"}, map[string]string{"MEMBERBIND_MAX_MODIFICATIONS": "-1"}, "MEMBERBIND_MAX_MODIFICATIONS"},
		{"bad from", []string{"serve"}, map[string]string{"MEMBERBIND_MAIL_FROM": "not an address"}, "MEMBERBIND_MAIL_FROM"},
		{"bad public url", []string{"serve"}, map[string]string{"MEMBERBIND_PUBLIC_URL": "ftp://x"}, "MEMBERBIND_PUBLIC_URL"},
		{"bad dsn", []string{"migrate"}, map[string]string{"MEMBERBIND_DATABASE_DSN": "::nonsense::"}, "database DSN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, env(c.vars), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to say %q", err, c.want)
			}
		})
	}
}
