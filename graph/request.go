package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
)

// gqlRequest is the body of a GraphQL-over-HTTP POST request.
type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

type requestKey struct{}

// requestOf returns the request body checkBody read, nil for a request it
// did not read (a GET).
func requestOf(ctx context.Context) (*gqlRequest, []byte) {
	r, _ := ctx.Value(requestKey{}).(*readRequest)
	if r == nil {
		return nil, nil
	}
	return &r.req, r.body
}

// documentOf is the GraphQL document a request read by checkBody asks to
// run: its query, or that of the persisted query it names by hash.
func documentOf(ctx context.Context) string {
	r, _ := ctx.Value(requestKey{}).(*readRequest)
	if r == nil {
		return ""
	}
	if r.req.Query == "" {
		return r.resolved
	}
	return r.req.Query
}

type readRequest struct {
	req  gqlRequest
	body []byte
	// resolved is the document of a request that sent only a persisted
	// query's hash, "" when the hash is unknown.
	resolved string
}

// checkBody answers a POST whose body is not one GraphQL request with a 400
// that says what is wrong with it, and passes the others on with the body
// read (requestOf). gqlgen would answer them itself, but through its
// response middleware without an operation, quoting the whole body back,
// and without saying that a JSON array is a batch it does not take.
//
// A request that names a persisted query by its hash alone gets its
// document from persisted, when it is there, so that the middleware after
// this one (idempotent) sees what the request asks whichever way it was
// sent; gqlgen's extension looks it up again and answers
// PERSISTED_QUERY_NOT_FOUND when it is not.
func checkBody(persisted graphql.Cache[string], next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || media != "application/json" {
			next.ServeHTTP(w, r) // a GET; negotiate refused other content types
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeErrors(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes), codeBadRequest)
				return
			}
			writeErrors(w, http.StatusBadRequest, "the request body could not be read to its end", codeBadRequest)
			return
		}
		req, msg := parseRequest(body)
		if msg != "" {
			writeErrors(w, http.StatusBadRequest, msg, codeBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := r.Context()
		read := &readRequest{req: req, body: body}
		if h := persistedQueryHash(req.Extensions); req.Query == "" && h != "" {
			read.resolved, _ = persisted.Get(ctx, h)
		}
		ctx = context.WithValue(ctx, requestKey{}, read)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// parseRequest reads a GraphQL-over-HTTP request body, or says what is
// wrong with it.
func parseRequest(body []byte) (gqlRequest, string) {
	var req gqlRequest
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return req, `the request body is empty: send a JSON object such as {"query": "{ organization { name } }"}`
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || !json.Valid(trimmed):
			return req, fmt.Sprintf("the body is not JSON (%s)", strings.TrimPrefix(err.Error(), "json: "))
		case trimmed[0] == '[':
			return req, "batched requests are not supported: send one JSON object per request"
		default:
			return req, fmt.Sprintf(`the body must be a JSON object with a "query", not a JSON %s`, jsonKind(trimmed[0]))
		}
	}
	if fields == nil {
		return req, `the body must be a JSON object with a "query", not null`
	}
	for _, f := range []struct {
		name string
		dst  any
		kind string
	}{
		{"query", &req.Query, "a string"},
		{"operationName", &req.OperationName, "a string"},
		{"variables", &req.Variables, "an object"},
		{"extensions", &req.Extensions, "an object"},
	} {
		raw, ok := fields[f.name]
		if !ok {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber() // as gqlgen decodes them, so that big ids stay exact
		if err := d.Decode(f.dst); err != nil {
			return req, fmt.Sprintf(`"%s" must be %s or null, not a JSON %s`, f.name, f.kind, jsonKind(raw[0]))
		}
	}
	if _, ok := fields["query"]; (!ok || req.Query == "") && persistedQueryHash(req.Extensions) == "" {
		var keys []string
		for k := range fields {
			if len(k) > 40 {
				k = k[:40] + "…"
			}
			keys = append(keys, strconv.Quote(k))
		}
		slices.Sort(keys)
		msg := `the body has no "query": send the GraphQL document as {"query": "..."}`
		if len(keys) > 0 {
			// Say what it has instead: a "qeury" is then plain to see.
			msg += "; it has " + strings.Join(keys[:min(len(keys), 5)], ", ")
		}
		return req, msg
	}
	return req, ""
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}
