package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"memberbind/graph"
	"memberbind/internal/landing"
	"memberbind/internal/middleware"
	"memberbind/internal/mysql"
	"memberbind/internal/requestid"
)

// inProcess is memberbind's HTTP server as cmd/memberbind wires it (the
// GraphQL handler at /graphql and the landing pages at /activate, behind
// the request-id and request-deadline middleware, with the same server
// timeouts), over a
// mysql.Store, on a loopback port of this process. Logs are formatted as
// the real server formats them, then discarded.
type inProcess struct {
	URL string
	srv *http.Server
}

// benchLogger formats every record like memberbind's logger and drops it.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// requestTimeout is memberbind's default MEMBERBIND_REQUEST_TIMEOUT.
const requestTimeout = 10 * time.Second

func startInProcess(st *mysql.Store) (*inProcess, error) {
	log := benchLogger()
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Options{Service: st, Logger: log, Introspection: true}))
	mux.Handle(landing.Path, landing.New(landing.Options{Activator: st, Logger: log}))
	return serve(mux, log)
}

// serve serves h on a loopback port of this process as cmd/memberbind
// serves its routes: behind the request-id and request-deadline
// middleware, with the same server timeouts.
func serve(h http.Handler, log *slog.Logger) (*inProcess, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           requestid.Middleware(middleware.Timeout(requestTimeout)(h)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { _ = srv.Serve(ln) }()
	return &inProcess{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (s *inProcess) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// client is the load's HTTP side: keep-alive connections, one or more per
// load client, so that no request pays for a connection.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(base, key string, clients int) *client {
	tr := &http.Transport{
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{base: base, key: key, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// gqlBody encodes a GraphQL request.
func gqlBody(query string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // only literal queries and plain values are encoded
	}
	return b
}

// post sends a GraphQL request body and returns the response body. A
// status other than 200, or any GraphQL error, is an error: checking for
// the "errors" key spares the load from decoding every response (the
// figures check a decoded response once, see checkPage).
func (c *client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors":`)) {
		return nil, fmt.Errorf("graphql: %s: %.300s", res.Status, b)
	}
	return b, nil
}

// mutate sends a mutation whose payload must come back without userErrors.
func (c *client) mutate(ctx context.Context, body []byte) ([]byte, error) {
	b, err := c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte(`"userErrors":[]`)) {
		return nil, fmt.Errorf("graphql: user error: %.300s", b)
	}
	return b, nil
}

// activate confirms a link the way the landing page's Confirm button
// does: a form POST of the token, answered with the HTML success page.
func (c *client) activate(ctx context.Context, token string) error {
	body := strings.NewReader(activationBody(token))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+landing.Path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %.300s", landing.Path, res.Status, b)
	}
	return nil
}

// graphqlLoad is the load of one GraphQL request after another to the
// server at base, with the API key key: an answer with errors fails. The
// caller sets the body or bodies.
func graphqlLoad(base, key string, clients int) loadSpec {
	return loadSpec{
		URL:     base + "/graphql",
		Header:  map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + key},
		Refuse:  `"errors":`,
		Clients: clients,
	}
}

// mutationLoad is graphqlLoad of mutations whose payloads must come back
// without userErrors.
func mutationLoad(base, key string, clients int) loadSpec {
	s := graphqlLoad(base, key, clients)
	s.Need = `"userErrors":[]`
	return s
}

// activationLoad is the load of the landing page's Confirm form, one
// link's token a request (activationBody), each answered with the HTML
// success page.
func activationLoad(base string, clients int) loadSpec {
	return loadSpec{
		URL:     base + landing.Path,
		Header:  map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
		Clients: clients,
	}
}

// activationBody is the form the Confirm button posts for a token.
func activationBody(token string) string { return url.Values{"token": {token}}.Encode() }

// page is the part of a members response the figures check.
type page struct {
	Data struct {
		Members struct {
			TotalCount int `json:"totalCount"`
			PageInfo   struct {
				HasNextPage bool   `json:"hasNextPage"`
				EndCursor   string `json:"endCursor"`
			} `json:"pageInfo"`
			Edges []struct {
				Node struct {
					ID           string          `json:"id"`
					BindStatus   string          `json:"bindStatus"`
					SecurityInfo json.RawMessage `json:"securityInfo"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"members"`
	} `json:"data"`
}

// checkPage decodes a members response and checks that it holds want
// members (and, when total > 0, that totalCount says total, and when
// bound, that some of them have security information).
func checkPage(b []byte, want, total int, bound bool) (*page, error) {
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("members response is not JSON: %w", err)
	}
	m := p.Data.Members
	if len(m.Edges) != want {
		return nil, fmt.Errorf("members page holds %d members, want %d: %.300s", len(m.Edges), want, b)
	}
	if total > 0 && m.TotalCount != total {
		return nil, fmt.Errorf("members totalCount = %d, want %d", m.TotalCount, total)
	}
	n := 0
	for _, e := range m.Edges {
		if string(e.Node.SecurityInfo) != "null" {
			n++
		}
	}
	if bound && n == 0 && want > 0 {
		return nil, errors.New("members page holds no member with securityInfo: the seed is not what the figure needs")
	}
	return &p, nil
}
