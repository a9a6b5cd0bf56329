package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestGraphQLCostConfig: MEMBERBIND_GRAPHQL_COST_IN_FLIGHT bounds the cost
// of the GraphQL operations executed at once, 2500 per CPU unless set; a
// bad value is named in the error.
func TestGraphQLCostConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || cfg.GraphQLCostInFlight != 2500*runtime.GOMAXPROCS(0) {
		t.Errorf("default GraphQL cost in flight %d, %v; want %d", cfg.GraphQLCostInFlight, err, 2500*runtime.GOMAXPROCS(0))
	}
	if cfg, err = loadConfig(env(map[string]string{envGraphQLCost: "8000"})); err != nil || cfg.GraphQLCostInFlight != 8000 {
		t.Errorf("%s=8000: %d, %v", envGraphQLCost, cfg.GraphQLCostInFlight, err)
	}
	for _, bad := range []string{"many", "0", "-2", "1.5"} {
		if _, err := loadConfig(env(map[string]string{envGraphQLCost: bad})); err == nil || !strings.Contains(err.Error(), envGraphQLCost) {
			t.Errorf("%s=%s: %v, want an error naming it", envGraphQLCost, bad, err)
		}
	}
}
