package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"memberbind/internal/member"
)

// TestEveryInvalidFieldAtOnce: a mutation whose input has several fields
// at fault answers a user error for each, with its field, and changes
// nothing; a form can mark them all in one round trip.
func TestEveryInvalidFieldAtOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	alice := a.create("Alice")
	bob := a.create("Bob")
	if p := a.bind(bob, "bob@example.com"); p.code() != "" {
		t.Fatalf("bind Bob: %v", p.Errors)
	}
	failed := a.create("Carol")
	if p := a.bind(failed, "carol@example.com"); p.code() != "" {
		t.Fatalf("bind Carol: %v", p.Errors)
	}
	a.deliverAll()
	a.clock.Add(a.store.Policy().ActivationTTL + 1)

	bad := func(id string) map[string]any {
		return map[string]any{"memberId": id, "email": "not an email", "countryCode": "+86", "phone": "12345"}
	}
	for _, c := range []struct {
		mutation, input string
		vars            map[string]any
		want            []string
	}{
		{"bindSecurityInfo", "SecurityInfoInput", bad(alice), []string{"INVALID_EMAIL input.email", "INVALID_PHONE input.phone"}},
		{"updateSecurityInfo", "SecurityInfoInput", bad(bob), []string{"INVALID_EMAIL input.email", "INVALID_PHONE input.phone"}},
		{"rebindSecurityInfo", "SecurityInfoInput", bad(failed), []string{"INVALID_EMAIL input.email", "INVALID_PHONE input.phone"}},
		{"bindSecurityInfo", "SecurityInfoInput", map[string]any{"memberId": alice, "email": "", "countryCode": "999", "phone": ""},
			[]string{"INVALID_EMAIL input.email", "INVALID_PHONE input.countryCode"}},
		{"bindSecurityInfo", "SecurityInfoInput", bad("no such id"), []string{"MEMBER_NOT_FOUND input.memberId", "INVALID_EMAIL input.email", "INVALID_PHONE input.phone"}},
		{"createMember", "CreateMemberInput", map[string]any{"name": " ", "remark": strings.Repeat("x", member.MaxRemarkLength+1)},
			[]string{"INVALID_INPUT input.name", "INVALID_INPUT input.remark"}},
	} {
		t.Run(c.mutation+" "+strings.Join(c.want, ", "), func(t *testing.T) {
			before := a.snapshot()
			q := fmt.Sprintf(`mutation($input: %s!) { %s(input: $input) { member { id bindStatus } userErrors { code message field } } }`, c.input, c.mutation)
			p := a.do(q, map[string]any{"input": c.vars})[c.mutation].(map[string]any)
			var got []string
			for _, e := range p["userErrors"].([]any) {
				e := e.(map[string]any)
				var field []string
				for _, f := range e["field"].([]any) {
					field = append(field, f.(string))
				}
				if e["message"] == "" {
					t.Errorf("%v has no message", e)
				}
				got = append(got, e["code"].(string)+" "+strings.Join(field, "."))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("userErrors %q, want %q", got, c.want)
			}
			if after := a.snapshot(); after != before {
				t.Errorf("a refused mutation changed rows:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if got := a.status(alice); got != "UNBOUND" {
		t.Errorf("Alice is %s, want UNBOUND", got)
	}
}
