package graph_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"memberbind/internal/member"
)

// The variables of TestGraphQLOverHTTPAudit.
const (
	// envAudit set to 1 makes the audit a requirement: the test fails,
	// rather than skips, without node or the graphql-http package, as
	// .ci/run sets it.
	envAudit = "MEMBERBIND_GRAPHQL_AUDIT"
	// envAuditModules is a node_modules directory holding graphql-http
	// and graphql (npm install graphql-http@1.23.1 graphql@16.15.0);
	// without it they must resolve from NODE_PATH.
	envAuditModules = "MEMBERBIND_GRAPHQL_AUDIT_MODULES"
)

// TestGraphQLOverHTTPAudit runs the audit suite of the GraphQL-over-HTTP
// specification (npm's graphql-http, its serverAudits: every MUST, SHOULD
// and MAY it checks) against the handler, with an API key, and fails on
// every audit that does not pass.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	required := os.Getenv(envAudit) == "1"
	skip := func(why string) {
		t.Helper()
		if required {
			t.Fatalf("%s, and %s=1 requires the audit", why, envAudit)
		}
		t.Skipf("%s: skipping the GraphQL-over-HTTP audit (install it with npm install graphql-http@1.23.1 graphql@16.15.0 and set %s to its node_modules)", why, envAuditModules)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("no node on PATH")
	}
	env := os.Environ()
	if dir := os.Getenv(envAuditModules); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "NODE_PATH="+abs)
	}
	probe := exec.Command(node, "-e", "require.resolve('graphql-http'); require.resolve('graphql')")
	probe.Env = env
	if out, err := probe.CombinedOutput(); err != nil {
		skip("node cannot find the graphql-http package (" + strings.TrimSpace(cannotFind(out)) + ")")
	}

	a := newAPI(t, member.Policy{})
	cmd := exec.Command(node, filepath.Join("testdata", "audit.mjs"), a.srv.URL, a.key)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the audit did not run: %v\n%s", err, stderr.String())
	}
	type result struct {
		ID, Name, Status, Reason string
		Response                 *struct {
			Status      int
			ContentType string
			Body        string
		}
	}
	n := 0
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		var r result
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("audit output %q: %v", lines.Text(), err)
		}
		n++
		if r.Status == "ok" {
			continue
		}
		got := ""
		if r.Response != nil {
			got = " (answered " + r.Response.ContentType + " " + string(mustJSON(r.Response.Status)) + ": " + r.Response.Body + ")"
		}
		t.Errorf("%s %s %q: %s%s", r.Status, r.ID, r.Name, r.Reason, got)
	}
	// graphql-http 1.23.1 has 60 server audits; far fewer means it did
	// not run them.
	if n < 50 {
		t.Fatalf("the audit reported %d results, want all of them:\n%s\n%s", n, out, stderr.String())
	}
	t.Logf("%d audits", n)
}

// cannotFind is the line of node's error that says which module it
// could not find.
func cannotFind(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, "Cannot find module") {
			return line
		}
	}
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
