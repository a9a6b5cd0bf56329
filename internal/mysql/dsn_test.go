package mysql_test

import (
	"strings"
	"testing"

	"memberbind/internal/mysql"
)

func TestNormalizeDSN(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want []string // parameters the normalized DSN must hold
		not  []string // and must not
	}{
		{"root@tcp(127.0.0.1:3306)/app", []string{"parseTime=true", "interpolateParams=true", "time_zone=%27%2B00%3A00%27"}, nil},
		{"root@tcp(127.0.0.1:3306)/app?interpolateParams=false", []string{"parseTime=true"}, []string{"interpolateParams=true"}},
		{"root@tcp(127.0.0.1:3306)/app?time_zone=%27Asia%2FShanghai%27", []string{"time_zone=%27Asia%2FShanghai%27"}, []string{"%2B00%3A00"}},
		// A server that hangs must not hold a statement for ever.
		{"root@tcp(127.0.0.1:3306)/app", []string{"timeout=10s", "readTimeout=1m0s", "writeTimeout=30s"}, nil},
		{"root@tcp(127.0.0.1:3306)/app?readTimeout=5m&timeout=2s", []string{"readTimeout=5m0s", "timeout=2s", "writeTimeout=30s"}, []string{"readTimeout=1m0s", "timeout=10s"}},
		{"root@tcp(127.0.0.1:3306)/app?readTimeout=0", []string{"timeout=10s"}, []string{"readTimeout="}},
		// A "?" in the password is not where the parameters start.
		{"root:pa?ss@tcp(127.0.0.1:3306)/app?readTimeout=0&interpolateParams=false", []string{"timeout=10s"}, []string{"readTimeout=", "interpolateParams=true"}},
		{"root:pa/ss?@tcp(127.0.0.1:3306)/app?timeout=2s", []string{"timeout=2s"}, []string{"timeout=10s"}},
	} {
		got, err := mysql.NormalizeDSN(c.dsn)
		if err != nil {
			t.Errorf("NormalizeDSN(%q): %v", c.dsn, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("NormalizeDSN(%q) = %q, want %s in it", c.dsn, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("NormalizeDSN(%q) = %q, want no %s in it", c.dsn, got, n)
			}
		}
	}
	if _, err := mysql.NormalizeDSN("not a dsn"); err == nil || !strings.Contains(err.Error(), "database DSN") {
		t.Errorf("NormalizeDSN of a bad DSN: %v, want an error naming the database DSN", err)
	}
}
