package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"memberbind/internal/member"
)

// The headers of idempotent requests (DESIGN.md §8), as Stripe and the
// IETF draft "The Idempotency-Key HTTP Header Field" name them.
const (
	// IdempotencyKeyHeader carries the client's key of a mutation it may
	// retry.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader is "true" on an answer kept from the first
	// request with the same key.
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

// idempotent executes a mutation sent with an Idempotency-Key header once
// per (API key, idempotency key) for member.IdempotencyTTL. A retry with
// the same request gets the first answer again; one with another request
// gets 422; one while the first still executes gets 409 with Retry-After,
// as the IETF draft and Stripe answer a concurrent retry (rather than
// holding the connection until the first is done). Queries, and requests
// without the header, pass through untouched. An answer is kept only when
// the mutation executed: a request refused before execution (4xx) or one
// that answered no data (an internal error), having changed nothing,
// gives its key back so that a retry executes. A mutation whose answer
// holds a secret (secretMutations) is refused with 422 before it executes.
func idempotent(store member.Idempotency, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		values := r.Header.Values(IdempotencyKeyHeader)
		if len(values) == 0 {
			// Most requests: nothing to parse the document for.
			next.ServeHTTP(w, r)
			return
		}
		req, _ := requestOf(ctx)
		if req != nil && req.Query == "" {
			// A persisted query sent by its hash is the request its
			// document makes: a retry may send either.
			resolved := *req
			resolved.Query = documentOf(ctx)
			req = &resolved
		}
		caller := callerOf(ctx)
		doc, op := mutationOf(req)
		if caller == nil || store == nil || op == nil {
			next.ServeHTTP(w, r)
			return
		}
		key := values[0]
		switch n := utf8.RuneCountInString(key); {
		case len(values) > 1:
			writeErrors(w, http.StatusBadRequest, "send one Idempotency-Key header, not "+fmt.Sprint(len(values)), codeBadRequest)
			return
		case strings.TrimSpace(key) == "":
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("the Idempotency-Key header is empty: send a value unique to this request, such as a UUID, of at most %d characters", member.MaxIdempotencyKeyLen), codeBadRequest)
			return
		case n > member.MaxIdempotencyKeyLen:
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("the Idempotency-Key header is %d characters long; at most %d are allowed", n, member.MaxIdempotencyKeyLen), codeBadRequest)
			return
		}

		if f := secretField(doc, op); f != "" {
			writeErrors(w, http.StatusUnprocessableEntity, f+" cannot be sent with an Idempotency-Key: its answer holds a secret shown once, which memberbind does not keep for a replay. Send it without the header; if an answer was lost, revoke the key it created (organization.apiKeys) and create another", codeIdempotencyKeyNotAllowed)
			return
		}

		ir := member.IdempotentRequest{OrgID: caller.Org.ID, APIKeyID: caller.APIKeyID, Key: key, Fingerprint: fingerprint(req)}
		kept, err := store.ClaimIdempotent(ctx, ir)
		switch {
		case errors.Is(err, member.ErrIdempotencyKeyReused):
			writeErrors(w, http.StatusUnprocessableEntity, "this Idempotency-Key was first used for another request: a retry must send the same query, operation name and variables; a new request needs a new key", codeIdempotencyKeyReused)
			return
		case errors.Is(err, member.ErrIdempotencyInProgress):
			w.Header().Set("Retry-After", "1")
			writeErrors(w, http.StatusConflict, "a request with this Idempotency-Key is still executing: retry once it has answered", codeIdempotencyKeyInUse)
			return
		case err != nil && timedOut(ctx, err):
			timeoutError(ctx, w, log, "claim idempotency key", err)
			return
		case err != nil:
			internalError(ctx, w, log, "claim idempotency key", err)
			return
		case kept != nil:
			if kept.ContentType != "" {
				w.Header().Set("Content-Type", kept.ContentType)
			}
			w.Header().Set(IdempotentReplayedHeader, "true")
			w.WriteHeader(kept.Status)
			_, _ = w.Write(kept.Body)
			return
		}

		rec := &recorder{ResponseWriter: w}
		defer func() {
			// The answer is kept, or the key given back, even when the
			// client has gone: the mutation's effect stays.
			ctx := context.WithoutCancel(ctx)
			if v := recover(); v != nil {
				if err := store.ReleaseIdempotent(ctx, ir); err != nil {
					log.ErrorContext(ctx, "release idempotency key", "err", err)
				}
				panic(v)
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			if status >= 400 || !answered(rec.body.Bytes()) {
				err = store.ReleaseIdempotent(ctx, ir)
			} else {
				err = store.FinishIdempotent(ctx, ir, member.IdempotentResponse{Status: status, ContentType: w.Header().Get("Content-Type"), Body: rec.body.Bytes()})
			}
			if err != nil {
				log.ErrorContext(ctx, "keep idempotent answer", "err", err)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// mutationOf returns the request's document and operation when that is a
// mutation. A document that does not parse, or names no operation it
// holds, is not one: gqlgen refuses it.
func mutationOf(req *gqlRequest) (*ast.QueryDocument, *ast.OperationDefinition) {
	if req == nil {
		return nil, nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: req.Query}, MaxTokens)
	if err != nil {
		return nil, nil
	}
	var op *ast.OperationDefinition
	if req.OperationName != "" {
		op = doc.Operations.ForName(req.OperationName)
	} else if len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Mutation {
		return nil, nil
	}
	return doc, op
}

// secretMutations are the mutations whose answer holds a secret shown
// once. Their answers are never kept for replay: a kept answer would be
// the secret in the database for a day, in plain text, which DESIGN.md §6
// rules out. Keeping it with the secret taken out would replay an answer
// whose key the client cannot use; executing without keeping it would
// break the promise that a retry does not execute again. So a request
// with an Idempotency-Key that selects one is refused before it executes,
// and says why.
var secretMutations = map[string]bool{"createApiKey": true, "createWebhookEndpoint": true, "rotateWebhookSecret": true}

// secretField returns the name of a mutation of secretMutations that op
// selects at its root, through fragments too, or "".
func secretField(doc *ast.QueryDocument, op *ast.OperationDefinition) string {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) string
	walk = func(set ast.SelectionSet) string {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if secretMutations[s.Name] {
					return s.Name
				}
			case *ast.InlineFragment:
				if f := walk(s.SelectionSet); f != "" {
					return f
				}
			case *ast.FragmentSpread:
				if def := doc.Fragments.ForName(s.Name); def != nil && !seen[s.Name] {
					seen[s.Name] = true
					if f := walk(def.SelectionSet); f != "" {
						return f
					}
				}
			}
		}
		return ""
	}
	return walk(op.SelectionSet)
}

// fingerprint identifies what a request asks: its query, operation name and
// variables, so that a retry that encodes them differently (another key
// order, other spacing between the JSON tokens) is still the same request.
func fingerprint(req *gqlRequest) []byte {
	b, _ := json.Marshal(struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}{req.Query, req.OperationName, req.Variables})
	h := sha256.Sum256(b)
	return h[:]
}

// answered reports whether a GraphQL answer holds data of some top-level
// field. One that does not (a request that ended while it waited to run,
// an internal error with no data) executed nothing that a retry could
// repeat: its mutation failed in a transaction that rolled back.
func answered(body []byte) bool {
	var resp struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return false
	}
	for _, v := range resp.Data {
		if string(v) != "null" {
			return true
		}
	}
	return false
}

// recorder passes an answer through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
