package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// TestServeRefusesPartialConfig: the embedded servers (and the open
// mailbox at /dev/mail) are only for the zero-configuration start; any
// other configuration that lacks the database, the SMTP server or the
// public URL refuses to start, naming what is missing, before it opens
// anything. (ctx is cancelled already: were anything started, it would
// fail with another error.)
func TestServeRefusesPartialConfig(t *testing.T) {
	t.Parallel()
	const dsn, smtp = "root@tcp(127.0.0.1:1)/x", "smtp://127.0.0.1:1?tls=none"
	cases := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"database without SMTP", map[string]string{envDatabaseDSN: dsn}, envSMTPURL + " is not"},
		{"database and public URL without SMTP", map[string]string{envDatabaseDSN: dsn, envPublicURL: "https://m.example.com"}, envSMTPURL + " is not"},
		{"SMTP without database", map[string]string{envSMTPURL: smtp}, envDatabaseDSN + " is not"},
		{"no public URL", map[string]string{envDatabaseDSN: dsn, envSMTPURL: smtp}, envPublicURL + " is not set"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(ctx, []string{"serve"}, env(c.vars), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to say %q", err, c.want)
			}
			if err != nil && strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
}

// TestListenDefaults: with nothing configured memberbind listens on
// loopback only; a configured deployment on every interface, unless
// MEMBERBIND_LISTEN says otherwise.
func TestListenDefaults(t *testing.T) {
	t.Parallel()
	configured := map[string]string{envDatabaseDSN: "root@tcp(db:3306)/mb", envSMTPURL: "smtp://mail:25", envPublicURL: "https://m.example.com"}
	for _, c := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"nothing configured", map[string]string{}, "127.0.0.1:8080"},
		{"nothing configured but the address", map[string]string{envListen: "0.0.0.0:9000"}, "0.0.0.0:9000"},
		{"configured", configured, ":8080"},
	} {
		cfg, err := loadConfig(env(c.vars))
		if err != nil || cfg.Listen != c.want {
			t.Errorf("%s: listen on %q (%v), want %q", c.name, cfg.Listen, err, c.want)
		}
	}
}

// TestRequestTimeoutConfig: MEMBERBIND_REQUEST_TIMEOUT is 10s unless set;
// a bad value is named in the error.
func TestRequestTimeoutConfig(t *testing.T) {
	t.Parallel()
	if cfg, err := loadConfig(env(map[string]string{})); err != nil || cfg.RequestTimeout != 10*time.Second {
		t.Errorf("default request timeout %s, %v", cfg.RequestTimeout, err)
	}
	if cfg, err := loadConfig(env(map[string]string{envRequestTimeout: "3s"})); err != nil || cfg.RequestTimeout != 3*time.Second {
		t.Errorf("%s=3s: %s, %v", envRequestTimeout, cfg.RequestTimeout, err)
	}
	for _, bad := range []string{"soon", "0", "-1s", "10"} {
		if _, err := loadConfig(env(map[string]string{envRequestTimeout: bad})); err == nil || !strings.Contains(err.Error(), envRequestTimeout) {
			t.Errorf("%s=%s: %v, want an error naming it", envRequestTimeout, bad, err)
		}
	}
}

// TestStrictTransportSecurity: with an https public URL every answer of
// the public listener carries HSTS, whatever answered it; with an http
// one, none does. A configured instance has no /dev/mail.
func TestStrictTransportSecurity(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	smtp := "smtp://127.0.0.1:1?tls=none"
	for _, c := range []struct {
		publicURL string
		want      string
	}{
		{"https://members.example.com", "max-age=31536000"},
		{"http://members.example.com", ""},
	} {
		inst := serveFor(t, map[string]string{envDatabaseDSN: dsn, envSMTPURL: smtp, envPublicURL: c.publicURL})
		for _, r := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/playground", http.StatusOK},
			{"POST", "/graphql", http.StatusUnauthorized},
			{"GET", "/activate?token=nonsense", http.StatusNotFound},
			{"GET", "/console", http.StatusOK},
			{"GET", "/no-such-page", http.StatusNotFound},
			{"GET", "/dev/mail", http.StatusNotFound},
		} {
			req, _ := http.NewRequest(r.method, inst.URL+r.path, strings.NewReader(`{"query":"{ organization { name } }"}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != r.status {
				t.Errorf("%s %s %s: %d, want %d", c.publicURL, r.method, r.path, res.StatusCode, r.status)
			}
			if got := res.Header.Get("Strict-Transport-Security"); got != c.want {
				t.Errorf("%s %s %s: Strict-Transport-Security %q, want %q", c.publicURL, r.method, r.path, got, c.want)
			}
		}
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRequestTimeout: with the database silent (a proxy that stops
// forwarding without closing), a GraphQL request ends at its deadline
// with a clear error, and once the database answers again so do requests,
// on the same instance.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	proxy := testenv.NewFaultProxy(t, dsn)
	inst := serveFor(t, map[string]string{
		envDatabaseDSN:    proxy.DSN(),
		envSMTPURL:        "smtp://127.0.0.1:1?tls=none",
		envRequestTimeout: "2s",
	})
	client := &http.Client{Timeout: 30 * time.Second} // far past the deadline: a hang fails the test
	post := func() (int, map[string]any, error) {
		body, _ := json.Marshal(map[string]any{"query": `{ organization { name } }`})
		req, _ := http.NewRequest(http.MethodPost, inst.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			return res.StatusCode, nil, err
		}
		return res.StatusCode, out, nil
	}
	if status, out, err := post(); err != nil || status != http.StatusOK || out["errors"] != nil {
		t.Fatalf("before the stall: %d %v %v", status, out, err)
	}

	proxy.Stall()
	status, out, err := post()
	if err != nil {
		t.Fatalf("with the database silent: %v", err)
	}
	errs, _ := out["errors"].([]any)
	if status != http.StatusServiceUnavailable || len(errs) != 1 {
		t.Fatalf("with the database silent: %d %v, want 503 and one error", status, out)
	}
	e := errs[0].(map[string]any)
	if code := e["extensions"].(map[string]any)["code"]; code != "TIMEOUT" || !strings.Contains(e["message"].(string), "did not finish in time") {
		t.Errorf("with the database silent: error %v", e)
	}

	// The activation page, too, ends at the deadline, and says to come back.
	res, err := client.Get(inst.URL + "/activate?token=" + strings.Repeat("A", member.TokenLength))
	if err != nil {
		t.Fatalf("activation page with the database silent: %v", err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(page), "again in a few minutes") {
		t.Errorf("activation page with the database silent: %d\n%s", res.StatusCode, page)
	}

	proxy.Resume()
	testenv.Eventually(t, 20*time.Second, "a request after the database answers again", func() error {
		status, out, err := post()
		if err == nil && (status != http.StatusOK || out["errors"] != nil) {
			return &statusError{status, out}
		}
		return err
	})
}

type statusError struct {
	status int
	body   map[string]any
}

func (e *statusError) Error() string {
	b, _ := json.Marshal(e.body)
	return http.StatusText(e.status) + ": " + string(b)
}
