package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"memberbind/internal/testenv"
)

// get answers the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// metricValue returns the value of the sample of the Prometheus text
// exposition whose name and labels start with series, and whether there
// is one.
func metricValue(exposition, series string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, series) && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestAdminListener: metrics, profiles and health are on the admin
// listener, and the public listener answers none of them. The metrics
// count what happened, labelled by route pattern and operation name,
// never by raw path; the outbox gauges come from the database.
func TestAdminListener(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	// No SMTP server answers: the mail fails temporarily and waits.
	inst := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: "smtp://127.0.0.1:1?tls=none"})
	if inst.Admin == "" {
		t.Fatalf("serve did not say where its admin listener is:\n%s", inst.Output.String())
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/debug/pprof/"} {
		if status, _ := get(t, inst.URL+path); status != http.StatusNotFound {
			t.Errorf("public listener %s: %d, want 404", path, status)
		}
		if status, _ := get(t, inst.Admin+path); status != http.StatusOK {
			t.Errorf("admin listener %s: %d, want 200", path, status)
		}
	}

	bindMember(t, inst.URL, key, "Alice", "alice@example.com")
	get(t, inst.URL+"/activate?token=not-a-token-"+strings.Repeat("x", 40))
	get(t, inst.URL+"/no/such/page/12345")
	body, _ := json.Marshal(map[string]any{"query": `query Whoami { organization { name } }`})
	req, _ := http.NewRequest(http.MethodPost, inst.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}

	var exp string
	eventually(t, 20*time.Second, "a temporary mail failure counted", func() bool {
		_, exp = get(t, inst.Admin+"/metrics")
		v, _ := metricValue(exp, `memberbind_mail_failures_total{kind="temporary"}`)
		return v >= 1
	})
	for _, want := range []struct {
		series string
		min    float64
	}{
		{`memberbind_http_requests_total{code="200",route="/graphql"}`, 3},
		{`memberbind_http_requests_total{code="404",route="/activate"}`, 1},
		{`memberbind_http_requests_total{code="404",route="unmatched"}`, 1},
		{`memberbind_http_request_duration_seconds_count{route="/graphql"}`, 3},
		{`memberbind_graphql_operations_total{operation="Whoami",result="ok"}`, 1},
		{`memberbind_graphql_operations_total{operation="anonymous",result="ok"}`, 2},
		{`memberbind_mail_sent_total`, 0},
		{`memberbind_mail_failures_total{kind="permanent"}`, 0},
		{`memberbind_outbox_pending`, 1},
		{`memberbind_outbox_oldest_age_seconds`, 0},
		{`memberbind_activations_total`, 0},
		{`memberbind_store_transaction_retries_total`, 0},
		{`go_sql_open_connections{db_name="memberbind"}`, 1},
		{`go_goroutines`, 1},
		{`process_resident_memory_bytes`, 1},
	} {
		v, ok := metricValue(exp, want.series)
		if !ok || v < want.min {
			t.Errorf("%s = %v (present %v), want at least %v", want.series, v, ok, want.min)
		}
	}
	for _, raw := range []string{"not-a-token", "12345", "/no/such"} {
		if strings.Contains(exp, raw) {
			t.Errorf("a metric label holds the raw path %q", raw)
		}
	}

	// off: no admin listener at all.
	off := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: "smtp://127.0.0.1:1?tls=none", envAdminListen: "off"})
	if off.Admin != "" || strings.Contains(off.Output.String(), "metrics and health") {
		t.Errorf("with %s=off serve still says it has an admin listener:\n%s", envAdminListen, off.Output.String())
	}
}

// TestShutdownDrains: told to stop (SIGTERM cancels run's context), an
// instance answers 503 on /readyz at once, keeps serving its public
// listener through MEMBERBIND_SHUTDOWN_DELAY, and then stops.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	inst := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: "smtp://127.0.0.1:1?tls=none", envShutdownDelay: "5s"})
	if status, _ := get(t, inst.Admin+"/readyz"); status != http.StatusOK {
		t.Fatalf("readyz before the stop: %d", status)
	}
	inst.Cancel()
	eventually(t, 5*time.Second, "readyz answering 503 once told to stop", func() bool {
		status, _ := get(t, inst.Admin+"/readyz")
		return status == http.StatusServiceUnavailable
	})
	// Within the delay the public listener still serves.
	if status, _ := get(t, inst.URL+"/playground"); status != http.StatusOK {
		t.Errorf("public listener during the shutdown delay: %d, want 200", status)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(inst.URL + "/playground"); err == nil {
		t.Errorf("the public listener still answers after the stop")
	}
}

func TestShutdownDelayConfig(t *testing.T) {
	t.Parallel()
	if cfg, err := loadConfig(env(map[string]string{})); err != nil || cfg.ShutdownDelay != 5*time.Second || cfg.AdminListen != "127.0.0.1:9090" {
		t.Errorf("defaults: delay %s, admin %q, %v", cfg.ShutdownDelay, cfg.AdminListen, err)
	}
	if cfg, err := loadConfig(env(map[string]string{envShutdownDelay: "0s", envAdminListen: "off"})); err != nil || cfg.ShutdownDelay != 0 || cfg.AdminListen != "" {
		t.Errorf("0s and off: delay %s, admin %q, %v", cfg.ShutdownDelay, cfg.AdminListen, err)
	}
	for name, bad := range map[string]string{envShutdownDelay: "-1s", envLogFormat: "xml", envLogLevel: "loud"} {
		if _, err := loadConfig(env(map[string]string{name: bad})); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%s: %v, want an error naming both", name, bad, err)
		}
	}
}

// TestVersion: `memberbind version` prints the version and the Go version
// without needing any configuration.
func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, env(map[string]string{envLogFormat: "nonsense"}), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "memberbind ") || !regexp.MustCompile(`go:\s+go1\.`).MatchString(out.String()) {
		t.Errorf("version printed:\n%s", out.String())
	}
}

// logLines parses JSON log output, one record a line.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, rec)
	}
	return out
}

// TestLogsJoinUpAndKeepSecrets is a full tour (bind, the activation mail,
// activate, sign in with the mail's link, the account page, a wrong key)
// on an instance logging JSON at debug level. Every line of a request
// carries its X-Request-Id, the access line names the route, the
// GraphQL operation and the organization; and no line holds the API key,
// the activation or sign-in token, the session cookie or the member's
// email.
func TestLogsJoinUpAndKeepSecrets(t *testing.T) {
	t.Parallel()
	mp := testenv.Mailpit(t)
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	inst := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: mp.SMTPURL, envLogFormat: "json", envLogLevel: "debug"})
	const email = "carol.secret@example.com"

	// A named operation, and its request id.
	body, _ := json.Marshal(map[string]any{"query": `query Whoami { organization { name } }`})
	req, _ := http.NewRequest(http.MethodPost, inst.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	reqID := res.Header.Get("X-Request-Id")
	if reqID == "" {
		t.Fatal("no X-Request-Id")
	}

	id := activateMember(t, inst, mp, key, "Carol", email)
	activation := activationLink.FindString(waitMail(t, mp, email, "confirm the login email").Text)
	activationToken := activation[strings.Index(activation, "token=")+len("token="):]

	tab := &memberTab{t: t, ctx: testenv.Tab(t, testenv.Browser(t)), dir: testenv.ArtifactDir(t)}
	tab.signIn(inst.URL, mp, email, "")
	session := tab.sessionCookie(inst.URL)
	signIn := signInLink.FindString(waitMail(t, mp, email, "sign in to member account").Text)
	signInToken := signIn[strings.Index(signIn, "token=")+len("token="):]
	if session == "" || signInToken == "" || activationToken == "" {
		t.Fatalf("tour incomplete: session %t, sign-in token %t, activation token %t", session != "", signInToken != "", activationToken != "")
	}
	// A wrong key, and the activation link opened again (spent).
	req, _ = http.NewRequest(http.MethodPost, inst.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key[:len(key)-4]+"AAAA")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	if res, err := http.PostForm(inst.URL+"/activate", url.Values{"token": {activationToken}}); err == nil {
		res.Body.Close()
	}
	memberState(t, inst.URL, key, id)
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}

	logs := inst.Logs.String()
	lines := logLines(t, logs)
	var access map[string]any
	for _, l := range lines {
		if l["request_id"] == reqID && l["msg"] == "request" {
			access = l
		}
	}
	if access == nil {
		t.Fatalf("no access line carries the request id %s:\n%s", reqID, logs)
	}
	for field, want := range map[string]any{"method": "POST", "route": "/graphql", "status": float64(200), "operation": "Whoami"} {
		if access[field] != want {
			t.Errorf("access line %s = %v, want %v: %v", field, access[field], want, access)
		}
	}
	for _, field := range []string{"org_id", "duration", "bytes"} {
		if _, ok := access[field]; !ok {
			t.Errorf("access line lacks %s: %v", field, access)
		}
	}
	routes := map[string]bool{}
	for _, l := range lines {
		if l["msg"] == "request" {
			routes[l["route"].(string)] = true
			if l["request_id"] == nil {
				t.Errorf("access line without request_id: %v", l)
			}
		}
	}
	for _, r := range []string{"/activate", "/signin/", "/account"} {
		if !routes[r] {
			t.Errorf("no access line for %s; routes logged: %v", r, routes)
		}
	}
	for what, secret := range map[string]string{
		"API key": key, "activation token": activationToken, "sign-in token": signInToken,
		"session cookie": session, "member's email": email,
	} {
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, secret) {
				t.Errorf("a log line holds the %s: %s", what, l)
			}
		}
	}
}

// TestAdminListenerBusy: an admin address already in use stops the start
// with an error that says which variable moves it.
func TestAdminListenerBusy(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.WithValue(t.Context(), listenerKey{}, ln)
	err = run(ctx, []string{"serve"}, env(map[string]string{
		envDatabaseDSN: testenv.MySQL(t), envSMTPURL: "smtp://127.0.0.1:1?tls=none", envPublicURL: "http://" + ln.Addr().String(),
		envAdminListen: busy.Addr().String(),
	}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), envAdminListen) {
		t.Errorf("serve with a busy admin address: %v, want an error naming %s", err, envAdminListen)
	}
}
