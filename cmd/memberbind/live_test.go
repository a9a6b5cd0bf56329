package main

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"memberbind/internal/testenv"
)

// TestLiveAcrossInstances: two real instances on one database; a
// subscription on the first sees a member activated through the second's
// landing page, past the public listener's request timeout.
func TestLiveAcrossInstances(t *testing.T) {
	mp := testenv.Mailpit(t)
	dsn := testenv.MySQL(t)
	key := orgCreate(t, dsn, "Acme")
	vars := map[string]string{envDatabaseDSN: dsn, envSMTPURL: mp.SMTPURL, envRequestTimeout: "1s"}
	one, two := serveFor(t, maps.Clone(vars)), serveFor(t, maps.Clone(vars))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A page of the instance's own origin may open the websocket.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(one.URL, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {one.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	opened := time.Now()
	send := func(m map[string]any) {
		t.Helper()
		if err := wsjson.Write(ctx, c, m); err != nil {
			t.Fatal(err)
		}
	}
	type message struct {
		ID, Type string
		Payload  json.RawMessage
	}
	// One reader: a read that times out would close the connection
	// (github.com/coder/websocket), so waits are on this channel.
	messages := make(chan message, 100)
	go func() {
		defer close(messages)
		for {
			var m message
			if err := wsjson.Read(ctx, c, &m); err != nil {
				return
			}
			if m.Type == "ping" {
				_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
				continue
			}
			messages <- m
		}
	}()
	read := func(within time.Duration) (message, error) {
		select {
		case m, ok := <-messages:
			if !ok {
				return m, errors.New("the connection closed")
			}
			return m, nil
		case <-time.After(within):
			return message{}, errors.New("no message within " + within.String())
		}
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + key}})
	if m, err := read(10 * time.Second); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %s %v", m.Type, err)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { memberChanged { name bindStatus loginEmail } }`}})
	// next reads until a change of the member named name with status.
	next := func(name, status string) {
		t.Helper()
		for {
			m, err := read(15 * time.Second)
			if err != nil {
				t.Fatalf("waiting for %s %s: %v", name, status, err)
			}
			var p struct {
				Data struct{ MemberChanged map[string]any }
			}
			if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
				t.Fatalf("waiting for %s %s: %s %s", name, status, m.Type, m.Payload)
			}
			if got := p.Data.MemberChanged; got["name"] == name && got["bindStatus"] == status {
				return
			}
		}
	}
	// The subscription starts once the server has read it: a change made
	// through the other instance before then is not news to it.
	eventually(t, 30*time.Second, "a member created through the other instance", func() bool {
		graphql(t, two.URL, key, `mutation { createMember(input: {name: "Probe"}) { userErrors { code } } }`, nil)
		m, err := read(2 * time.Second)
		return err == nil && m.Type == "next" && strings.Contains(string(m.Payload), `"Probe"`)
	})

	// The one wait on the real clock: the subscription must outlive the
	// request timeout (1s here), which is real time.
	eventually(t, 10*time.Second, "the request timeout to pass", func() bool { return time.Since(opened) > 2*time.Second })
	activateMember(t, two, mp, key, "Ada", "ada@example.com")
	next("Ada", "ACTIVATED")
}
