package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"memberbind/graph"
	"memberbind/internal/member"
)

// consoleMembers is the console's list request (internal/console/assets/api.js);
// cmd/memberbind-bench's TestConsoleQueriesAreTheConsoles checks it is.
const consoleMembers = `query ConsoleMembers($first: Int!, $after: String, $filter: MemberFilter) {
  organization { id name language policy { activationTTLSeconds } }
  members(first: $first, after: $after, filter: $filter) {
    totalCount searchedOnlyNewest
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...MemberFields } }
  }
}
fragment MemberFields on Member {
  id name memberType remark createdAt bindStatus loginEmail
  removal { allowed reasons }
  securityInfo { email countryCode phone status submittedAt activatedAt linkSentAt linkExpiresAt
    modificationsRemaining nextResendAllowedAt
    delivery { status attempts lastError sentAt } }
}`

// BenchmarkConsoleMembersPage is the server's side of the console's list
// request, a page of 50 members half of them bound, handled without a
// network in between: what the handler costs in CPU and allocations on
// top of the database's round trips. cmd/memberbind-bench measures the
// same request over HTTP at load against its floors.
func BenchmarkConsoleMembersPage(b *testing.B) {
	a := newAPI(b, member.Policy{})
	for i := range 50 {
		id := a.create(fmt.Sprintf("Member %d", i))
		if i%2 == 0 {
			wantCode(b, a.bind(id, fmt.Sprintf("m%d@example.com", i)), "")
		}
	}
	a.deliverAll()
	h := graph.NewHandler(graph.Options{Service: a.store, Logger: slog.New(slog.DiscardHandler)})
	body, _ := json.Marshal(map[string]any{"query": consoleMembers, "variables": map[string]any{"first": 50}})
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := serve(); w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
		b.Fatalf("%d: %.300s", w.Code, w.Body)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		serve()
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time this process has used, user and system: the
// handler's own, the database's round trips being waits.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
