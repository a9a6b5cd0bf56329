package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The media types of a GraphQL-over-HTTP response.
const (
	// MediaGraphQLResponse is the spec's own response type: its HTTP
	// status says whether the request executed (200) or was refused
	// before it did (400), so that a client can tell an answer of this
	// server from one of a proxy in between.
	MediaGraphQLResponse = "application/graphql-response+json"
	// MediaJSON is the legacy response type: every answer to a
	// well-formed request is 200, refused or not.
	MediaJSON = "application/json"
)

// allowedMethods answer a request with another method (405).
const allowedMethods = "GET, POST"

type mediaKey struct{}

// mediaOf is the response media type negotiate chose for the request.
func mediaOf(ctx context.Context) string {
	if m, ok := ctx.Value(mediaKey{}).(string); ok {
		return m
	}
	return MediaGraphQLResponse
}

// negotiate refuses what is not a GraphQL-over-HTTP request before
// anything else looks at it, each with the status the GraphQL-over-HTTP
// specification asks for: a method other than GET or POST (405, with
// Allow), an Accept header that admits neither response media type
// (406), and a POST body that is not declared UTF-8 JSON (415). It
// chooses the response media type (acceptable) and sets it as the
// answer's Content-Type, so that every answer, an error of a middleware
// as much as gqlgen's, goes out in it.
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.Method {
		case http.MethodGet, http.MethodPost:
		case http.MethodOptions:
			// A CORS preflight was answered before this handler; this
			// is a client asking what the endpoint takes.
			h.Set("Allow", allowedMethods+", OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", allowedMethods)
			writeErrors(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: send a GraphQL request with POST (queries and mutations) or GET (queries)", r.Method), codeBadRequest)
			return
		}
		h.Add("Vary", "Accept")
		media, ok := acceptable(r.Header.Values("Accept"))
		if !ok {
			writeErrors(w, http.StatusNotAcceptable, fmt.Sprintf("the Accept header admits neither %s nor %s, the media types this server answers in", MediaGraphQLResponse, MediaJSON), codeBadRequest)
			return
		}
		h.Set("Content-Type", media+"; charset=utf-8")
		if r.Method == http.MethodPost {
			if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
				writeErrors(w, http.StatusUnsupportedMediaType, msg, codeBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), mediaKey{}, media)))
	})
}

// checkContentType says what is wrong with the Content-Type of a POST, ""
// when it is JSON in UTF-8 (the charset said or, as the specification
// has it, assumed).
func checkContentType(v string) string {
	const want = `send the request as JSON, with "Content-Type: application/json"`
	if strings.TrimSpace(v) == "" {
		return "the request has no Content-Type: " + want
	}
	media, params, err := mime.ParseMediaType(v)
	switch {
	case err != nil:
		return fmt.Sprintf("the Content-Type %q does not parse: %s", v, want)
	case media != MediaJSON:
		return fmt.Sprintf("the Content-Type %s is not supported: %s", media, want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("the charset %s is not supported: send JSON in UTF-8", cs)
	}
	return ""
}

// acceptable chooses the response media type an Accept header asks for:
// of the two this server answers in, the one with the highest quality,
// on a tie the one the client named itself over one a wildcard admits,
// then the one it listed first; application/json when only a wildcard
// (*/*, application/*) admits either, as legacy clients that send */*
// expect. Without an Accept header it is application/graphql-response+json,
// the specification's default since its watershed of 1 January 2025. It
// reports false when the header admits neither.
func acceptable(header []string) (string, bool) {
	if len(header) == 0 {
		return MediaGraphQLResponse, true
	}
	type match struct {
		q        float64
		specific bool // named, not admitted by a wildcard
		pos      int
	}
	best := map[string]*match{}
	pos := 0
	for _, line := range header {
		for _, part := range strings.Split(line, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			pos++
			media, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
				continue
			}
			for _, t := range []string{MediaGraphQLResponse, MediaJSON} {
				var specific bool
				switch media {
				case t:
					specific = true
				case "*/*", "application/*":
				default:
					continue
				}
				// The most specific range that matches a type sets its
				// quality (RFC 9110 §12.5.1).
				m := best[t]
				if m == nil || (specific && !m.specific) {
					best[t] = &match{q: q, specific: specific, pos: pos}
				}
			}
		}
	}
	choice, ok := "", false
	for _, t := range []string{MediaJSON, MediaGraphQLResponse} {
		m := best[t]
		if m == nil || m.q == 0 {
			continue
		}
		if c := best[choice]; !ok || m.q > c.q || (m.q == c.q && m.specific && !c.specific) || (m.q == c.q && m.specific == c.specific && m.specific && m.pos < c.pos) {
			choice, ok = t, true
		}
	}
	return choice, ok
}

// httpTransport is gqlgen's transport for GET and POST, in place of its
// transport.GET and transport.POST, which fall short of the
// GraphQL-over-HTTP specification where this one keeps to it: a request
// refused before execution (a document that does not parse or validate,
// variables that do not coerce, an unknown persisted query) is 200 in
// application/json and 400 in application/graphql-response+json, and has
// no data entry in either; a mutation over GET is 405 with Allow: POST
// (theirs: 406); the status does not depend on which error codes gqlgen
// registered; and an unsupported Accept is 406 (negotiate) where theirs
// answered graphql-response+json regardless.
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

// Supports implements graphql.Transport.
func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

// Do implements graphql.Transport.
func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := mediaOf(ctx)
	start := graphql.Now()
	params := &graphql.RawParams{Headers: r.Header}
	if r.Method == http.MethodGet {
		msg := getParams(r.URL.RawQuery, params)
		if msg != "" {
			writeErrors(w, http.StatusBadRequest, msg, codeBadRequest)
			return
		}
	} else {
		req, _ := requestOf(ctx)
		if req == nil {
			// checkBody reads every POST: this is a handler built
			// without it.
			writeErrors(w, http.StatusBadRequest, "the request body was not read", codeBadRequest)
			return
		}
		params.Query, params.OperationName = req.Query, req.OperationName
		params.Variables, params.Extensions = req.Variables, req.Extensions
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == MediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	switch op := opCtx.Operation.Operation; {
	case op == ast.Subscription:
		writeErrors(w, http.StatusBadRequest, "subscriptions are not served over GET or POST", codeBadRequest)
		return
	case op != ast.Query && r.Method == http.MethodGet:
		// GET is safe: a link, a prefetch or a crawler must not change
		// anything.
		w.Header().Set("Allow", "POST")
		writeErrors(w, http.StatusMethodNotAllowed, "a "+string(op)+" cannot be sent with GET: send it with POST", codeBadRequest)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	status := http.StatusOK
	if resp.Data == nil && media == MediaGraphQLResponse {
		// Nothing executed (limitCost gave up waiting): an answer without
		// data must not be 2xx in this media type.
		status = http.StatusServiceUnavailable
	}
	writeResponse(w, status, resp)
}

// getParams reads the GraphQL-over-HTTP request of a GET's query string
// into p, or says what is wrong with it.
func getParams(rawQuery string, p *graphql.RawParams) string {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "the query string does not parse: " + err.Error()
	}
	p.Query, p.OperationName = values.Get("query"), values.Get("operationName")
	for _, f := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		v := values.Get(f.name)
		if v == "" {
			continue
		}
		d := json.NewDecoder(strings.NewReader(v))
		d.UseNumber()
		if err := d.Decode(f.dst); err != nil || d.More() {
			return fmt.Sprintf("the %s parameter must be a JSON object", f.name)
		}
	}
	if p.Query == "" && persistedQueryHash(p.Extensions) == "" {
		return `the query string has no "query" parameter: send the GraphQL document in it, as in ?query={organization{name}}`
	}
	return ""
}

// persistedQueryHash is the sha256Hash of Apollo's automatic persisted
// query extension, "" when there is none.
func persistedQueryHash(extensions map[string]any) string {
	pq, _ := extensions["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return h
}

// writeResponse writes a GraphQL response: without a data entry when
// nothing executed, as the GraphQL specification has it for request
// errors (gqlgen's graphql.Response always writes one). The data is
// written as gqlgen wrote it, compact JSON already: encoding the response
// as a whole would check and copy it once more, a tenth of the CPU of a
// page of members. Only the errors and extensions, small, are encoded
// here.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	var head, tail []byte
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		head = appendMember(head, "errors", resp.Errors)
	}
	if len(resp.Data) > 0 {
		if len(head) > 1 {
			head = append(head, ',')
		}
		head = append(head, `"data":`...)
	}
	if len(resp.Extensions) > 0 {
		if len(head) > 1 || len(resp.Data) > 0 {
			tail = append(tail, ',')
		}
		tail = appendMember(tail, "extensions", resp.Extensions)
	}
	tail = append(tail, '}')
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(resp.Data)+len(tail)))
	w.WriteHeader(status)
	_, _ = w.Write(head)
	_, _ = w.Write(resp.Data)
	_, _ = w.Write(tail)
}

// appendMember appends "name":<v as JSON> to b.
func appendMember(b []byte, name string, v any) []byte {
	enc, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("encode the %s of a GraphQL response: %w", name, err))
	}
	b = strconv.AppendQuote(b, name)
	b = append(b, ':')
	return append(b, enc...)
}
