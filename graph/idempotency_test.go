package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"memberbind/graph"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// answer is one HTTP answer, as the client got it.
type answer struct {
	status   int
	body     string
	replayed string
}

// bindRequest is a bindSecurityInfo request body for member id and email.
func bindRequest(id, email string) string {
	b, _ := json.Marshal(map[string]any{
		"query":     `mutation($input: SecurityInfoInput!) { bindSecurityInfo(input: $input) { member { id bindStatus securityInfo { email } } userErrors { code message } } }`,
		"variables": map[string]any{"input": info(id, email)},
	})
	return string(b)
}

// send posts body with an Idempotency-Key header (none when key is nil)
// under the API key apiKey.
func send(t testing.TB, url, apiKey string, key *string, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if key != nil {
		req.Header.Set(graph.IdempotencyKeyHeader, *key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, body: string(b), replayed: res.Header.Get(graph.IdempotentReplayedHeader)}
}

func ptr(s string) *string { return &s }

// TestIdempotencyKey: a mutation sent again with the same Idempotency-Key
// gets the first answer again and executes once; another request under
// the key gets 422; bad keys get 400; queries ignore the header; a key is
// per API key, and is forgotten after 24 hours.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	a, rec := newAPI(t, member.Policy{}).logged(graph.Options{})
	id := a.create("Alice")
	key := ptr("bind-alice-1")
	body := bindRequest(id, "alice@example.com")

	first := send(t, a.srv.URL, a.key, key, body)
	if first.status != http.StatusOK || first.replayed != "" || !strings.Contains(first.body, `"PENDING"`) {
		t.Fatalf("first bind: %+v", first)
	}
	again := send(t, a.srv.URL, a.key, key, body)
	if again.status != first.status || again.body != first.body || again.replayed != "true" {
		t.Errorf("the retry answered %+v, want the first answer %+v replayed", again, first)
	}
	// The same request encoded otherwise is the same request.
	var v map[string]any
	_ = json.Unmarshal([]byte(body), &v)
	reordered, _ := json.MarshalIndent(map[string]any{"variables": v["variables"], "query": v["query"]}, "", "  ")
	if r := send(t, a.srv.URL, a.key, key, string(reordered)); r.body != first.body || r.replayed != "true" {
		t.Errorf("the retry re-encoded answered %+v", r)
	}
	if n := a.count("outbox", "1=1"); n != 1 {
		t.Errorf("%d mails queued, want 1", n)
	}
	if n := a.count("bindings", "1=1"); n != 1 {
		t.Errorf("%d bindings, want 1", n)
	}

	// Another request under the same key.
	if r := send(t, a.srv.URL, a.key, key, bindRequest(id, "other@example.com")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "IDEMPOTENCY_KEY_REUSED") {
		t.Errorf("another body under the key: %+v, want 422", r)
	}
	// Without the header, the bind executes again.
	if r := send(t, a.srv.URL, a.key, nil, body); !strings.Contains(r.body, "ALREADY_BOUND") {
		t.Errorf("the bind without a key answered %+v, want ALREADY_BOUND", r)
	}

	// Bad keys, for mutations only.
	bob := a.create("Bob")
	for _, bad := range []struct{ key, want string }{
		{"", "is empty"},
		{"   ", "is empty"},
		{strings.Repeat("k", member.MaxIdempotencyKeyLen+1), "at most 255"},
	} {
		if r := send(t, a.srv.URL, a.key, ptr(bad.key), bindRequest(bob, "bob@example.com")); r.status != http.StatusBadRequest || !strings.Contains(r.body, bad.want) {
			t.Errorf("Idempotency-Key %.10q: %+v, want 400 saying %q", bad.key, r, bad.want)
		}
	}
	if a.status(bob) != "UNBOUND" {
		t.Fatalf("a refused key bound Bob")
	}
	if r := send(t, a.srv.URL, a.key, ptr(strings.Repeat("k", member.MaxIdempotencyKeyLen)), bindRequest(bob, "bob@example.com")); r.status != http.StatusOK || !strings.Contains(r.body, "PENDING") {
		t.Errorf("a key of 255 characters: %+v", r)
	}
	query, _ := json.Marshal(map[string]any{"query": "{ organization { name } }"})
	for _, k := range []string{"", strings.Repeat("q", 300), "bind-alice-1"} {
		if r := send(t, a.srv.URL, a.key, ptr(k), string(query)); r.status != http.StatusOK || r.replayed != "" || !strings.Contains(r.body, "Acme") {
			t.Errorf("a query with Idempotency-Key %.10q: %+v", k, r)
		}
	}

	// A request refused before it executed gives its key back.
	carol := a.create("Carol")
	badQuery, _ := json.Marshal(map[string]any{"query": `mutation { bindSecurityInfo(input: {memberId: "x"}) { userErrors { code } } }`})
	if r := send(t, a.srv.URL, a.key, ptr("carol"), string(badQuery)); r.status != http.StatusBadRequest {
		t.Fatalf("an invalid mutation: %+v", r)
	}
	if r := send(t, a.srv.URL, a.key, ptr("carol"), bindRequest(carol, "carol@example.com")); r.status != http.StatusOK || !strings.Contains(r.body, "PENDING") {
		t.Errorf("the key of a refused request, reused: %+v", r)
	}

	// Keys are per API key.
	_, second, err := a.store.CreateAPIKey(context.Background(), a.orgID, "second")
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, a.srv.URL, second, key, body); r.replayed != "" || !strings.Contains(r.body, "ALREADY_BOUND") {
		t.Errorf("the key under another API key: %+v, want a new execution", r)
	}

	// 24 hours on, the key executes anew.
	a.clock.Add(member.IdempotencyTTL - time.Microsecond)
	if r := send(t, a.srv.URL, a.key, key, body); r.replayed != "true" {
		t.Errorf("just before 24 hours: %+v, want the replay", r)
	}
	a.clock.Add(time.Microsecond)
	if r := send(t, a.srv.URL, a.key, key, body); r.replayed != "" || !strings.Contains(r.body, "ALREADY_BOUND") {
		t.Errorf("after 24 hours: %+v, want a new execution", r)
	}
	if r := send(t, a.srv.URL, a.key, key, body); r.replayed != "true" || !strings.Contains(r.body, "ALREADY_BOUND") {
		t.Errorf("the retry of the new execution: %+v, want its replay", r)
	}
	// A new key prunes the expired ones.
	a.clock.Add(member.IdempotencyTTL)
	if r := send(t, a.srv.URL, a.key, ptr("late"), bindRequest(a.create("Dan"), "dan@example.com")); r.status != http.StatusOK {
		t.Errorf("a late key: %+v", r)
	}
	if n := a.count("idempotency_keys", "1=1"); n != 1 {
		t.Errorf("%d idempotency keys kept, want only the live one", n)
	}
	if errs := rec.errors(); len(errs) > 0 {
		t.Errorf("logged errors: %q", errs)
	}
}

// gatedStore holds the first bindSecurityInfo until the test lets it go;
// the others run at once.
type gatedStore struct {
	*mysql.Store
	first            atomic.Bool
	entered, release chan struct{}
}

func (g *gatedStore) BindSecurityInfo(ctx context.Context, orgID int64, actor member.Actor, memberID int64, info member.SecurityInfo) (*member.Member, error) {
	if g.first.CompareAndSwap(false, true) {
		close(g.entered)
		<-g.release
	}
	return g.Store.BindSecurityInfo(ctx, orgID, actor, memberID, info)
}

// TestIdempotencyKeyConcurrent: of requests with one key at once, exactly
// one executes; a retry while it executes gets 409, one after it the
// first answer.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	gate := &gatedStore{Store: a.store, entered: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Service: gate, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)

	id := a.create("Alice")
	body := bindRequest(id, "alice@example.com")
	done := make(chan answer)
	go func() { done <- send(t, srv.URL, a.key, ptr("k1"), body) }()
	<-gate.entered // the first request executes
	if r := send(t, srv.URL, a.key, ptr("k1"), body); r.status != http.StatusConflict || !strings.Contains(r.body, "IDEMPOTENCY_KEY_IN_USE") {
		t.Errorf("a retry while the first executes: %+v, want 409", r)
	}
	close(gate.release)
	first := <-done
	if first.status != http.StatusOK || !strings.Contains(first.body, "PENDING") {
		t.Fatalf("first: %+v", first)
	}
	if r := send(t, srv.URL, a.key, ptr("k1"), body); r.body != first.body || r.replayed != "true" {
		t.Errorf("a retry after the first answered: %+v", r)
	}

	// A burst, ungated: one executes, the others wait their turn (409) or
	// get its answer.
	bob := a.create("Bob")
	body = bindRequest(bob, "bob@example.com")
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = send(t, a.srv.URL, a.key, ptr("k2"), body) })
	}
	wg.Wait()
	var executed, replayed, conflicts int
	var ok string
	for _, r := range answers {
		switch {
		case r.status == http.StatusConflict:
			conflicts++
		case r.status == http.StatusOK && r.replayed == "true":
			replayed++
		case r.status == http.StatusOK:
			executed++
			ok = r.body
		default:
			t.Errorf("burst answer %+v", r)
		}
	}
	for _, r := range answers {
		if r.status == http.StatusOK && r.body != ok {
			t.Errorf("burst answers differ: %s / %s", r.body, ok)
		}
	}
	if executed != 1 || strings.Contains(ok, "ALREADY_BOUND") {
		t.Errorf("%d of the burst executed (%d replayed, %d conflicts), want 1: %s", executed, replayed, conflicts, ok)
	}
	if n := a.count("outbox", "1=1"); n != 2 {
		t.Errorf("%d mails queued for Alice and Bob, want 2", n)
	}
}

// TestIdempotencyKeyAfterAFault: a mutation whose transaction is cut
// before its COMMIT answers an internal error and changed nothing, so it
// keeps no answer: its retry under the same key executes.
func TestIdempotencyKeyAfterAFault(t *testing.T) {
	t.Parallel()
	proxy := testenv.NewFaultProxy(t, testenv.MySQL(t))
	st := testenv.StoreAt(t, proxy.DSN(), mysql.Options{})
	srv := httptest.NewServer(graph.NewHandler(graph.Options{Service: st, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	a := &api{t: t, srv: srv, store: st}
	var err error
	if _, a.key, err = st.CreateOrganization(context.Background(), "Acme", "en"); err != nil {
		t.Fatal(err)
	}
	id := a.create("Alice")

	proxy.CutAt(testenv.CutRule{
		After: func(q string) bool { return strings.Contains(q, "INSERT INTO bindings") },
		At:    func(q string) bool { return q == "COMMIT" },
	})
	body := bindRequest(id, "alice@example.com")
	if r := send(t, srv.URL, a.key, ptr("k"), body); !strings.Contains(r.body, "INTERNAL") || proxy.Cuts() != 1 {
		t.Fatalf("the cut bind answered %+v (%d cuts), want an internal error", r, proxy.Cuts())
	}
	if n := a.count("bindings", "1=1"); n != 0 {
		t.Fatalf("the cut bind left %d bindings", n)
	}
	r := send(t, srv.URL, a.key, ptr("k"), body)
	if r.status != http.StatusOK || r.replayed != "" || !strings.Contains(r.body, `"PENDING"`) {
		t.Errorf("the retry after the fault: %+v, want the bind executed", r)
	}
	if n := a.count("outbox", "1=1"); n != 1 {
		t.Errorf("%d mails queued, want 1", n)
	}
}

// hungClaims is a database that does not answer a claim of an
// idempotency key until the request's time is out.
type hungClaims struct{ member.Idempotency }

func (hungClaims) ClaimIdempotent(ctx context.Context, _ member.IdempotentRequest) (*member.IdempotentResponse, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("claim idempotency key: %w", ctx.Err())
}

// TestIdempotencyKeyDatabaseHung: a request whose key's claim runs out of
// the request's time is told so (503, TIMEOUT), as every request out of
// time is, and nothing executes.
func TestIdempotencyKeyDatabaseHung(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	h := graph.NewHandler(graph.Options{Service: a.store, Idempotency: hungClaims{a.store}, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The public listener's request timeout, short.
		ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	id := a.create("Alice")
	r := send(t, srv.URL, a.key, ptr("k"), bindRequest(id, "alice@example.com"))
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"code":"TIMEOUT"`) || strings.Contains(r.body, "deadline") {
		t.Errorf("a claim out of time: %+v, want 503 TIMEOUT without the fault's text", r)
	}
	if s := a.status(id); s != "UNBOUND" {
		t.Errorf("the bind executed: %s", s)
	}
}
