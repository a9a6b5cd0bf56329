package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"memberbind/internal/testenv"
)

// TestTrustedProxiesConfig: MEMBERBIND_TRUSTED_PROXIES is a comma-separated
// list of networks (or single addresses), none by default; a bad entry is
// named in the error with the variable.
func TestTrustedProxiesConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || len(cfg.TrustedProxies) != 0 {
		t.Errorf("default trusted proxies %v, %v; want none", cfg.TrustedProxies, err)
	}
	for in, want := range map[string][]string{
		"10.0.0.0/8":                               {"10.0.0.0/8"},
		" 10.0.0.0/8 , 192.168.1.0/24,fd00::/8 ":   {"10.0.0.0/8", "192.168.1.0/24", "fd00::/8"},
		"10.1.2.3/8,":                              {"10.0.0.0/8"},
		"203.0.113.9, 2001:db8::1":                 {"203.0.113.9/32", "2001:db8::1/128"},
		"::ffff:10.0.0.0/104, ::ffff:198.51.100.7": {"10.0.0.0/8", "198.51.100.7/32"},
		"":    nil,
		" , ": nil,
	} {
		cfg, err := loadConfig(env(map[string]string{envTrustedProxies: in}))
		if err != nil {
			t.Errorf("%s=%q: %v", envTrustedProxies, in, err)
			continue
		}
		var got []string
		for _, p := range cfg.TrustedProxies {
			got = append(got, p.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s=%q: %q, want %q", envTrustedProxies, in, got, want)
		}
	}
	for in, bad := range map[string]string{
		"10.0.0.0/33":               `"10.0.0.0/33"`,
		"10.0.0.0/8, proxy.local":   `"proxy.local"`,
		"10.0.0.0/8;192.168.0.0/16": `"10.0.0.0/8;192.168.0.0/16"`,
		"10.0.0/8":                  `"10.0.0/8"`,
		"fe80::1%eth0":              `"fe80::1%eth0"`,
	} {
		_, err := loadConfig(env(map[string]string{envTrustedProxies: in}))
		if err == nil || !strings.Contains(err.Error(), envTrustedProxies) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%q: %v, want an error naming the variable and %s", envTrustedProxies, in, err, bad)
		}
	}
}

// TestTrustedProxiesServe: with the test's own address trusted, the
// activation page counts misses per X-Forwarded-For client, so one
// client's spent allowance does not hold up another behind the same proxy;
// without the setting the header is ignored.
func TestTrustedProxiesServe(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	miss := func(url, forwardedFor string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url+"/activate?token="+strings.Repeat("B", 43), nil)
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		proxies string
		other   int // what another client behind the proxy gets
	}{
		{"127.0.0.0/8, ::1", http.StatusNotFound},
		{"", http.StatusTooManyRequests},
	} {
		// The clock stands still: however slowly the misses go through,
		// none of the allowance comes back during the test.
		clock := testenv.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
		inst := serveAt(t, map[string]string{"MEMBERBIND_DATABASE_DSN": dsn, "MEMBERBIND_SMTP_URL": "smtp://127.0.0.1:1?tls=none",
			envTrustedProxies: tc.proxies}, clock.Now)
		for i := range 20 {
			if code := miss(inst.URL, "198.51.100.1"); code != http.StatusNotFound {
				t.Fatalf("%s=%q: miss %d = %d, want 404", envTrustedProxies, tc.proxies, i+1, code)
			}
		}
		if code := miss(inst.URL, "198.51.100.1"); code != http.StatusTooManyRequests {
			t.Errorf("%s=%q: 21st miss = %d, want 429", envTrustedProxies, tc.proxies, code)
		}
		if code := miss(inst.URL, "198.51.100.2"); code != tc.other {
			t.Errorf("%s=%q: another client's miss = %d, want %d", envTrustedProxies, tc.proxies, code, tc.other)
		}
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
