package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"memberbind/graph"
	"memberbind/graph/model"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// liveEnv is two instances of the service on one database: one serves
// subscriptions (its poller driven by the test, through Poll), the other
// takes the mutations.
type liveEnv struct {
	*api             // instance 2: the mutations
	live *graph.Live // instance 1's poller
	url  string      // instance 1's websocket URL
	one  *mysql.Store
}

func newLiveEnv(t *testing.T, o graph.LiveOptions) *liveEnv {
	t.Helper()
	dsn := testenv.MySQL(t)
	return newLiveEnvAt(t, dsn, dsn, o)
}

// newLiveEnvAt is newLiveEnv on the database of dsn, which instance 1
// reaches at dsn1 (the same database, through a FaultProxy, say).
func newLiveEnvAt(t *testing.T, dsn, dsn1 string, o graph.LiveOptions) *liveEnv {
	t.Helper()
	clock := testenv.NewClock(start)
	one := testenv.StoreAt(t, dsn1, mysql.Options{Now: clock.Now})
	two := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	o.Changes = one
	o.Now = clock.Now
	live := graph.NewLive(o)
	srv1 := httptest.NewServer(graph.NewHandler(graph.Options{Service: one, Logger: slog.New(slog.DiscardHandler), Live: live, Origins: []string{"https://app.example"}}))
	t.Cleanup(srv1.Close)
	srv2 := httptest.NewServer(graph.NewHandler(graph.Options{Service: two, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv2.Close)
	org, key, err := two.CreateOrganization(context.Background(), "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	return &liveEnv{
		api:  &api{t: t, srv: srv2, store: two, clock: clock, key: key, orgID: org.ID},
		live: live, url: "ws" + strings.TrimPrefix(srv1.URL, "http"), one: one,
	}
}

// poll runs one poll of instance 1's change log.
func (e *liveEnv) poll() {
	e.t.Helper()
	if err := e.live.Poll(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// waitSubscriptions waits until instance 1 holds n subscriptions: a
// subscribe message is taken in after it was sent.
func (e *liveEnv) waitSubscriptions(n int) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, "subscriptions", func() error {
		if got := e.live.Subscriptions(); got != n {
			return fmt.Errorf("%d subscriptions, want %d", got, n)
		}
		return nil
	})
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

// dialLive opens a graphql-transport-ws connection and sends
// connection_init with payload; it returns the connection and the
// server's first answer (connection_ack), or the error that closed it.
func dialLive(t *testing.T, url string, header http.Header, payload map[string]any) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	w := &wsClient{t: t, c: c}
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		return nil, err
	}
	m, err := w.read(10 * time.Second)
	if err != nil {
		return nil, err
	}
	if m.Type != "connection_ack" {
		return nil, fmt.Errorf("first message %s, want connection_ack", m.Type)
	}
	return w, nil
}

// read returns the next message other than a ping (which it answers), or
// the error that ended the connection, within d.
func (w *wsClient) read(d time.Duration) (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, w.c, &m); err != nil {
			return m, err
		}
		if m.Type == "ping" {
			_ = wsjson.Write(ctx, w.c, map[string]any{"type": "pong"})
			continue
		}
		return m, nil
	}
}

func (w *wsClient) send(m map[string]any) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, w.c, m); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) subscribe(id string) {
	w.t.Helper()
	w.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
		"query": `subscription { memberChanged { id name bindStatus loginEmail removedAt securityInfo { email delivery { status } } } }`}})
}

// next is the member of the next message, which must be a next of
// subscription id.
func (w *wsClient) next(id string) map[string]any {
	w.t.Helper()
	m, err := w.read(10 * time.Second)
	if err != nil {
		w.t.Fatalf("no message: %v", err)
	}
	if m.ID != id || m.Type != "next" {
		w.t.Fatalf("message %s of %q, want next of %q: %s", m.Type, m.ID, id, m.Payload)
	}
	var p struct {
		Data   map[string]map[string]any
		Errors []any
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		w.t.Fatalf("next %s: %v", m.Payload, err)
	}
	return p.Data["memberChanged"]
}

// errorCode is the extensions.code of the next message, which must end
// subscription id with an error.
func (w *wsClient) errorCode(id string) string {
	w.t.Helper()
	m, err := w.read(10 * time.Second)
	if err != nil {
		w.t.Fatalf("no message: %v", err)
	}
	var errs []struct{ Extensions map[string]any }
	switch {
	case m.ID == id && m.Type == "error":
		_ = json.Unmarshal(m.Payload, &errs)
	case m.ID == id && m.Type == "next":
		var p struct {
			Errors []struct{ Extensions map[string]any }
		}
		_ = json.Unmarshal(m.Payload, &p)
		errs = p.Errors
		// A subscription refused when it starts answers next, then
		// complete.
		if c, err := w.read(10 * time.Second); err != nil || c.ID != id || c.Type != "complete" {
			w.t.Fatalf("after the error of %q: %s of %q (%v)", id, c.Type, c.ID, err)
		}
	}
	if len(errs) == 0 {
		w.t.Fatalf("message %s of %q, want an error of %q: %s", m.Type, m.ID, id, m.Payload)
	}
	code, _ := errs[0].Extensions["code"].(string)
	return code
}

func bearerInit(key string) map[string]any { return map[string]any{"Authorization": "Bearer " + key} }

func TestMemberChangedReachesOtherInstances(t *testing.T) {
	e := newLiveEnv(t, graph.LiveOptions{})
	other := e.org("Other")
	w, err := dialLive(t, e.url, nil, bearerInit(e.key))
	if err != nil {
		t.Fatal(err)
	}
	w.subscribe("1")
	e.waitSubscriptions(1)

	id := e.create("Ada")
	e.poll()
	if m := w.next("1"); m["id"] != id || m["bindStatus"] != "UNBOUND" {
		t.Fatalf("created: %v", m)
	}

	// Another organization's change does not reach this one: had it,
	// it would come before the next change of this one.
	other.create("Eve")
	e.poll()
	e.bind(id, "ada@example.com")
	e.poll()
	if m := w.next("1"); m["id"] != id || m["bindStatus"] != "PENDING" || m["securityInfo"].(map[string]any)["delivery"].(map[string]any)["status"] != "QUEUED" {
		t.Fatalf("bound: %v", m)
	}

	// The mail worker's delivery, and the member's activation, made on
	// instance 2 too.
	tokens := e.deliverAll()
	e.poll()
	if m := w.next("1"); m["securityInfo"].(map[string]any)["delivery"].(map[string]any)["status"] != "SENT" {
		t.Fatalf("sent: %v", m)
	}
	if _, err := e.store.Activate(context.Background(), tokens["ada@example.com"][0]); err != nil {
		t.Fatal(err)
	}
	e.poll()
	if m := w.next("1"); m["bindStatus"] != "ACTIVATED" || m["loginEmail"] != "ada@example.com" {
		t.Fatalf("activated: %v", m)
	}
	e.remove(id)
	e.poll()
	if m := w.next("1"); m["removedAt"] == nil {
		t.Fatalf("removed: %v", m)
	}
}

// A change whose id was taken before another's but that commits after it
// is still delivered, once.
func TestMemberChangedOutOfOrderCommits(t *testing.T) {
	// Two transactions open at once: the embedded engine runs one at a
	// time.
	testenv.RequireRowLocks(t)
	e := newLiveEnv(t, graph.LiveOptions{})
	late, early := e.create("Late"), e.create("Early")
	lateID, _ := model.DecodeID(model.KindMember, late)
	w, err := dialLive(t, e.url, nil, bearerInit(e.key))
	if err != nil {
		t.Fatal(err)
	}
	w.subscribe("1")
	e.waitSubscriptions(1)

	// A transaction takes its event id and stays open...
	ctx := context.Background()
	tx, err := e.store.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO member_events (org_id, member_id, kind, actor, occurred_at) VALUES (?, ?, 'SIGNED_IN', 'member', ?)`,
		e.orgID, lateID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// ...while a later one commits and is read.
	e.bind(early, "early@example.com")
	e.poll()
	if m := w.next("1"); m["id"] != early {
		t.Fatalf("first: %v", m)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.poll()
	if m := w.next("1"); m["id"] != late {
		t.Fatalf("the late commit: %v", m)
	}
	// Each change once: the next message is the next change.
	e.poll()
	e.bind(late, "late@example.com")
	e.poll()
	if m := w.next("1"); m["id"] != late || m["bindStatus"] != "PENDING" {
		t.Fatalf("after: %v", m)
	}
}

func TestMemberChangedRefusesBadKeys(t *testing.T) {
	e := newLiveEnv(t, graph.LiveOptions{})
	for name, payload := range map[string]map[string]any{
		"none":      {},
		"malformed": {"Authorization": "Basic abc"},
		"unknown":   bearerInit("mb_" + strings.Repeat("x", 43)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := dialLive(t, e.url, nil, payload)
			if got := websocket.CloseStatus(err); got != 4403 {
				t.Fatalf("closed with %d (%v), want 4403", got, err)
			}
		})
	}
	t.Run("other origin", func(t *testing.T) {
		_, err := dialLive(t, e.url, http.Header{"Origin": {"https://evil.example"}}, bearerInit(e.key))
		if err == nil {
			t.Fatal("a page of another origin opened a websocket")
		}
	})
	t.Run("allowed origin", func(t *testing.T) {
		if _, err := dialLive(t, e.url, http.Header{"Origin": {"https://app.example"}}, bearerInit(e.key)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMemberChangedBoundedPerKey(t *testing.T) {
	e := newLiveEnv(t, graph.LiveOptions{PerKey: 2, Max: 3})
	w, err := dialLive(t, e.url, nil, bearerInit(e.key))
	if err != nil {
		t.Fatal(err)
	}
	w.subscribe("1")
	w.subscribe("2")
	e.waitSubscriptions(2)
	w.subscribe("3")
	if code := w.errorCode("3"); code != "TOO_MANY_SUBSCRIPTIONS" {
		t.Fatalf("third subscription: %s", code)
	}
	// Another key of the organization has a bound of its own, under the
	// instance's.
	_, key2, err := e.store.CreateAPIKey(context.Background(), e.orgID, "second")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := dialLive(t, e.url, nil, bearerInit(key2))
	if err != nil {
		t.Fatal(err)
	}
	w2.subscribe("a")
	e.waitSubscriptions(3)
	w2.subscribe("b")
	if code := w2.errorCode("b"); code != "TOO_MANY_SUBSCRIPTIONS" {
		t.Fatalf("past the instance's bound: %s", code)
	}

	// The socket stays, and its subscriptions go on; one ended frees a
	// place.
	w.send(map[string]any{"id": "1", "type": "complete"})
	if m, err := w.read(10 * time.Second); err != nil || m.ID != "1" || m.Type != "complete" {
		t.Fatalf("after complete: %s of %q (%v)", m.Type, m.ID, err)
	}
	e.waitSubscriptions(2)
	w.subscribe("4")
	e.waitSubscriptions(3)
	id := e.create("Ada")
	e.poll()
	got := map[string]string{}
	for range 2 {
		m, err := w.read(10 * time.Second)
		if err != nil || m.Type != "next" {
			t.Fatalf("%s of %q (%v)", m.Type, m.ID, err)
		}
		got[m.ID] = string(m.Payload)
	}
	for _, sub := range []string{"2", "4"} {
		if !strings.Contains(got[sub], `"id":"`+id+`"`) {
			t.Fatalf("subscription %s: %v", sub, got[sub])
		}
	}
}

func TestMemberChangedEndsWhenKeyRevoked(t *testing.T) {
	e := newLiveEnv(t, graph.LiveOptions{})
	ctx := context.Background()
	k2, key2, err := e.store.CreateAPIKey(ctx, e.orgID, "second")
	if err != nil {
		t.Fatal(err)
	}
	w, err := dialLive(t, e.url, nil, bearerInit(key2))
	if err != nil {
		t.Fatal(err)
	}
	w.subscribe("1")
	e.waitSubscriptions(1)
	if _, err := e.store.RevokeAPIKey(ctx, e.orgID, k2.ID, false); err != nil {
		t.Fatal(err)
	}
	e.poll()
	if code := w.errorCode("1"); code != "UNAUTHENTICATED" {
		t.Fatalf("revoked: %s", code)
	}
	e.waitSubscriptions(0)
	// Nor can the connection open another.
	w.subscribe("2")
	if code := w.errorCode("2"); code != "UNAUTHENTICATED" {
		t.Fatalf("subscribe after revocation: %s", code)
	}
}

var _ member.Changes = (*mysql.Store)(nil)

// A binding that fails by the clock alone writes nothing; its subscribers
// hear of it all the same.
func TestMemberChangedSeesExpiry(t *testing.T) {
	e := newLiveEnv(t, graph.LiveOptions{})
	w, err := dialLive(t, e.url, nil, bearerInit(e.key))
	if err != nil {
		t.Fatal(err)
	}
	w.subscribe("1")
	e.waitSubscriptions(1)
	id := e.create("Ada")
	e.bind(id, "ada@example.com")
	e.deliverAll()
	e.poll()
	if m := w.next("1"); m["bindStatus"] != "PENDING" {
		t.Fatalf("bound: %v", m)
	}
	e.clock.Add(member.DefaultPolicy().ActivationTTL + time.Second)
	e.poll()
	if m := w.next("1"); m["id"] != id || m["bindStatus"] != "FAILED" {
		t.Fatalf("expired: %v", m)
	}
}

// A poll whose connection is lost part way delivers nothing and loses
// nothing: the next poll delivers what it had read.
func TestMemberChangedSurvivesALostConnection(t *testing.T) {
	for _, tc := range []struct{ name, at string }{
		{"reading expiries", "FROM bindings"},
		{"loading members", "AND m.id IN ("},
		{"reading revocations", "FROM api_keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := testenv.MySQL(t)
			proxy := testenv.NewFaultProxy(t, dsn)
			e := newLiveEnvAt(t, dsn, proxy.DSN(), graph.LiveOptions{})
			w, err := dialLive(t, e.url, nil, bearerInit(e.key))
			if err != nil {
				t.Fatal(err)
			}
			w.subscribe("1")
			e.waitSubscriptions(1)
			e.poll()

			id := e.create("Ada")
			proxy.CutAt(testenv.CutRule{At: func(q string) bool { return strings.Contains(q, tc.at) }})
			if err := e.live.Poll(context.Background()); err == nil || proxy.Cuts() != 1 {
				t.Fatalf("the cut poll answered %v (%d cuts), want an error", err, proxy.Cuts())
			}
			e.poll()
			if m := w.next("1"); m["id"] != id || m["bindStatus"] != "UNBOUND" {
				t.Fatalf("after the lost connection: %v", m)
			}
			// Once: the next message is the next change.
			e.poll()
			e.bind(id, "ada@example.com")
			e.poll()
			if m := w.next("1"); m["id"] != id || m["bindStatus"] != "PENDING" {
				t.Fatalf("the next change: %v", m)
			}
		})
	}
}

// A fault of the database while a connection or a subscription opens is
// answered as an internal error with a request id, and nothing of the
// fault's own text; the next try, the database back, opens it.
func TestMemberChangedDatabaseFaults(t *testing.T) {
	dsn := testenv.MySQL(t)
	proxy := testenv.NewFaultProxy(t, dsn)
	e := newLiveEnvAt(t, dsn, proxy.DSN(), graph.LiveOptions{})

	// The API key's check, in connection_init.
	proxy.CutAt(testenv.CutRule{At: func(q string) bool { return strings.Contains(q, "FROM api_keys k JOIN organizations") }})
	_, err := dialLive(t, e.url, nil, bearerInit(e.key))
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusInternalError || !strings.HasPrefix(ce.Reason, "internal error (request id ") || proxy.Cuts() != 1 {
		t.Fatalf("connection_init with the database cut: %v (%d cuts), want close 1011 saying only internal error", err, proxy.Cuts())
	}
	w, err := dialLive(t, e.url, nil, bearerInit(e.key))
	if err != nil {
		t.Fatalf("connection_init with the database back: %v", err)
	}

	// The subscription's own reads, in subscribe.
	proxy.CutAt(testenv.CutRule{At: func(q string) bool { return strings.Contains(q, "FROM api_keys WHERE") }})
	w.subscribe("1")
	m, err := w.read(10 * time.Second)
	if err != nil || proxy.Cuts() != 2 || !strings.Contains(string(m.Payload), `"code":"INTERNAL"`) || !strings.Contains(string(m.Payload), "internal error (request id ") {
		t.Fatalf("subscribe with the database cut: %s %s (%v, %d cuts), want an internal error", m.Type, m.Payload, err, proxy.Cuts())
	}
	if strings.Contains(string(m.Payload), "connection") || strings.Contains(string(m.Payload), "EOF") {
		t.Errorf("the error shows the fault's text: %s", m.Payload)
	}
	if m.Type == "next" {
		if c, err := w.read(10 * time.Second); err != nil || c.Type != "complete" {
			t.Fatalf("after the error: %s (%v), want complete", c.Type, err)
		}
	}
	e.waitSubscriptions(0)
	w.subscribe("2")
	e.waitSubscriptions(1)
	id := e.create("Ada")
	e.poll()
	if m := w.next("2"); m["id"] != id {
		t.Fatalf("after the fault: %v", m)
	}
}
