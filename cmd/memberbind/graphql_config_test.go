package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestGraphQLConcurrencyConfig: MEMBERBIND_GRAPHQL_CONCURRENCY caps the
// GraphQL operations executed at once, one per CPU unless set; a bad
// value is named in the error.
func TestGraphQLConcurrencyConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || cfg.GraphQLConcurrency != runtime.GOMAXPROCS(0) {
		t.Errorf("default GraphQL concurrency %d, %v; want %d", cfg.GraphQLConcurrency, err, runtime.GOMAXPROCS(0))
	}
	if cfg, err = loadConfig(env(map[string]string{envGraphQLConc: "16"})); err != nil || cfg.GraphQLConcurrency != 16 {
		t.Errorf("%s=16: %d, %v", envGraphQLConc, cfg.GraphQLConcurrency, err)
	}
	for _, bad := range []string{"many", "0", "-2", "1.5"} {
		if _, err := loadConfig(env(map[string]string{envGraphQLConc: bad})); err == nil || !strings.Contains(err.Error(), envGraphQLConc) {
			t.Errorf("%s=%s: %v, want an error naming it", envGraphQLConc, bad, err)
		}
	}
}
