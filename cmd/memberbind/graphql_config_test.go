package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestGraphQLCostConfig: MEMBERBIND_GRAPHQL_COST_IN_FLIGHT bounds the cost
// of the GraphQL operations executed at once, 7000 per CPU unless set; a
// bad value is named in the error.
func TestGraphQLCostConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil || cfg.GraphQLCostInFlight != 7000*runtime.GOMAXPROCS(0) {
		t.Errorf("default GraphQL cost in flight %d, %v; want %d", cfg.GraphQLCostInFlight, err, 7000*runtime.GOMAXPROCS(0))
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

// TestGraphQLCostPerOrgConfig: MEMBERBIND_GRAPHQL_COST_PER_ORG is unset
// (half the budget) by default, a whole number of at least 1, and no more
// than the budget; a bad value is named in the error.
func TestGraphQLCostPerOrgConfig(t *testing.T) {
	if cfg, err := loadConfig(env(map[string]string{})); err != nil || cfg.GraphQLCostPerOrg != 0 {
		t.Errorf("default cost per organization %d, %v; want 0 (half the budget)", cfg.GraphQLCostPerOrg, err)
	}
	ok := map[string]string{envGraphQLCost: "8000", envGraphQLCostOrg: "6000"}
	if cfg, err := loadConfig(env(ok)); err != nil || cfg.GraphQLCostPerOrg != 6000 {
		t.Errorf("%v: %d, %v", ok, cfg.GraphQLCostPerOrg, err)
	}
	for _, bad := range []string{"some", "0", "-1", "8001"} {
		_, err := loadConfig(env(map[string]string{envGraphQLCost: "8000", envGraphQLCostOrg: bad}))
		if err == nil || !strings.Contains(err.Error(), envGraphQLCostOrg) {
			t.Errorf("%s=%s: %v, want an error naming it", envGraphQLCostOrg, bad, err)
		}
	}
}

// TestGraphQLIntrospectionConfig: MEMBERBIND_GRAPHQL_INTROSPECTION is on
// unless set to false; a value that is not a boolean is named in the
// error.
func TestGraphQLIntrospectionConfig(t *testing.T) {
	if cfg, err := loadConfig(env(map[string]string{})); err != nil || !cfg.GraphQLIntrospection {
		t.Errorf("default introspection %v, %v; want on", cfg.GraphQLIntrospection, err)
	}
	for v, want := range map[string]bool{"false": false, "0": false, "FALSE": false, "true": true, "1": true} {
		if cfg, err := loadConfig(env(map[string]string{envIntrospection: v})); err != nil || cfg.GraphQLIntrospection != want {
			t.Errorf("%s=%s: %v, %v; want %v", envIntrospection, v, cfg.GraphQLIntrospection, err, want)
		}
	}
	for _, bad := range []string{"off", "no", "maybe"} {
		if _, err := loadConfig(env(map[string]string{envIntrospection: bad})); err == nil || !strings.Contains(err.Error(), envIntrospection) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%s: %v, want an error naming it", envIntrospection, bad, err)
		}
	}
}
