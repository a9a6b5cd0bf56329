package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"memberbind/graph"
	"memberbind/internal/member"
)

// exchange is one HTTP request to the API and its answer, decoded.
type exchange struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// send sends a request to a's endpoint with the API key.
func (a *api) send(method, rawQuery, body string, header map[string]string) exchange {
	a.t.Helper()
	u := a.srv.URL
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.key)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	x := exchange{status: res.StatusCode, header: res.Header, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &x.body); err != nil {
			a.t.Fatalf("answer %d is not JSON: %s", res.StatusCode, b)
		}
	}
	return x
}

func (x exchange) code() string {
	errs, _ := x.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	c, _ := ext["code"].(string)
	return c
}

const (
	jsonType     = "application/json; charset=utf-8"
	responseType = "application/graphql-response+json; charset=utf-8"
)

// TestGraphQLOverHTTP: what the GraphQL-over-HTTP specification asks
// beyond what its audit suite (TestGraphQLOverHTTPAudit) checks: the
// media type of a request without Accept, Accept negotiation with
// qualities, 406, 405 with Allow, 415, and the same request error
// answered 200 in application/json and 400 in
// application/graphql-response+json, without data in both.
func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	ok := `{"query": "{ organization { name } }"}`
	invalid := `{"query": "{ organization { nope } }"}`
	ct := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name         string
		method, body string
		header       map[string]string
		status       int
		contentType  string
		code         string
		allow        string
	}{
		{"no Accept: graphql-response+json, since the 2025 watershed", "POST", ok, ct, 200, responseType, "", ""},
		{"no Accept, invalid: 400", "POST", invalid, ct, 400, responseType, "GRAPHQL_VALIDATION_FAILED", ""},
		{"application/json, invalid: 200", "POST", invalid, with("Accept", "application/json"), 200, jsonType, "GRAPHQL_VALIDATION_FAILED", ""},
		{"*/*: application/json", "POST", ok, with("Accept", "*/*"), 200, jsonType, "", ""},
		{"Apollo's Accept", "POST", ok, with("Accept", "application/graphql-response+json,application/json;q=0.9"), 200, responseType, "", ""},
		{"the higher quality wins", "POST", ok, with("Accept", "application/graphql-response+json;q=0.5, application/json"), 200, jsonType, "", ""},
		{"named beats a wildcard", "POST", ok, with("Accept", "*/*, application/graphql-response+json"), 200, responseType, "", ""},
		{"first named wins a tie", "POST", ok, with("Accept", "application/json, application/graphql-response+json"), 200, jsonType, "", ""},
		{"q=0 refuses a type", "POST", ok, with("Accept", "application/json;q=0, */*"), 200, responseType, "", ""},
		{"charset utf-8 accepted", "POST", ok, with("Accept", "application/json; charset=utf-8"), 200, jsonType, "", ""},
		{"unsupported Accept: 406", "POST", ok, with("Accept", "text/html"), 406, "", "BAD_REQUEST", ""},
		{"other charset only: 406", "POST", ok, with("Accept", "application/json; charset=latin1"), 406, "", "BAD_REQUEST", ""},
		{"no Content-Type: 415", "POST", ok, map[string]string{"Content-Type": ""}, 415, responseType, "BAD_REQUEST", ""},
		{"text/plain: 415", "POST", ok, map[string]string{"Content-Type": "text/plain"}, 415, responseType, "BAD_REQUEST", ""},
		{"latin1: 415", "POST", ok, map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}, 415, responseType, "BAD_REQUEST", ""},
		{"charset UTF-8 in capitals", "POST", ok, map[string]string{"Content-Type": "application/json; charset=UTF-8"}, 200, responseType, "", ""},
		{"PUT: 405", "PUT", ok, ct, 405, "", "BAD_REQUEST", "GET, POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := a.send(c.method, "", c.body, c.header)
			if x.status != c.status {
				t.Errorf("status %d, want %d: %s", x.status, c.status, x.raw)
			}
			if got := x.header.Get("Content-Type"); c.contentType != "" && got != c.contentType {
				t.Errorf("Content-Type %q, want %q", got, c.contentType)
			}
			if got := x.code(); got != c.code {
				t.Errorf("code %q, want %q: %s", got, c.code, x.raw)
			}
			if _, has := x.body["data"]; has && c.code != "" {
				t.Errorf("a request error has a data entry: %s", x.raw)
			}
			if c.code == "" && x.body["data"] == nil {
				t.Errorf("no data: %s", x.raw)
			}
			if got := x.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		q := url.Values{"query": {"query Q($n: Int!) { members(first: $n) { totalCount } }"}, "variables": {`{"n": 1}`}, "operationName": {"Q"}}
		if x := a.send("GET", q.Encode(), "", nil); x.status != 200 || x.body["data"] == nil {
			t.Errorf("a query over GET: %d %s", x.status, x.raw)
		}
		id := a.create("Alice")
		before := a.snapshot()
		m := url.Values{"query": {`mutation { removeMember(input: {memberId: "` + id + `"}) { userErrors { code } } }`}}
		x := a.send("GET", m.Encode(), "", map[string]string{"Accept": "application/json"})
		if x.status != 405 || x.header.Get("Allow") != "POST" || x.body["data"] != nil {
			t.Errorf("a mutation over GET: %d Allow %q %s; want 405, Allow: POST", x.status, x.header.Get("Allow"), x.raw)
		}
		if after := a.snapshot(); after != before {
			t.Errorf("a mutation over GET changed rows: %s, then %s", before, after)
		}
		for name, rawQuery := range map[string]string{
			"no query":            "operationName=Q",
			"variables not JSON":  url.Values{"query": {"{ organization { name } }"}, "variables": {"{n:1}"}}.Encode(),
			"variables an array":  url.Values{"query": {"{ organization { name } }"}, "variables": {"[1]"}}.Encode(),
			"extensions a string": url.Values{"query": {"{ organization { name } }"}, "extensions": {`"x"`}}.Encode(),
		} {
			if x := a.send("GET", rawQuery, "", nil); x.status != 400 || x.code() != "BAD_REQUEST" {
				t.Errorf("GET with %s: %d %s, want 400 BAD_REQUEST", name, x.status, x.raw)
			}
		}
	})
}

// apqHash is the sha256Hash of Apollo's automatic persisted queries.
func apqHash(query string) string {
	h := sha256.Sum256([]byte(query))
	return hex.EncodeToString(h[:])
}

// TestAutomaticPersistedQueries speaks Apollo's protocol: a hash alone is
// not found the first time (PERSISTED_QUERY_NOT_FOUND, which Apollo
// Client answers by sending the document with it), the hash with its
// document runs and is kept, then the hash alone runs, over POST and GET.
// A hash that does not match its document is refused and not kept; a
// mutation cannot be run over GET by its hash either.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	query := "query Org { organization { name } }"
	ext := func(hash string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	}
	post := func(body map[string]any, accept string) exchange {
		b, _ := json.Marshal(body)
		return a.send("POST", "", string(b), map[string]string{"Content-Type": "application/json", "Accept": accept})
	}
	name := func(x exchange) string {
		d, _ := x.body["data"].(map[string]any)
		org, _ := d["organization"].(map[string]any)
		n, _ := org["name"].(string)
		return n
	}

	hashOnly := map[string]any{"extensions": ext(apqHash(query))}
	for _, c := range []struct {
		accept string
		status int
	}{{"application/json", 200}, {"application/graphql-response+json", 400}} {
		x := post(hashOnly, c.accept)
		if x.status != c.status || x.code() != "PERSISTED_QUERY_NOT_FOUND" || x.body["data"] != nil {
			t.Fatalf("an unknown hash (%s): %d %s, want %d PERSISTED_QUERY_NOT_FOUND", c.accept, x.status, x.raw, c.status)
		}
		if msg := x.body["errors"].([]any)[0].(map[string]any)["message"]; msg != "PersistedQueryNotFound" {
			t.Errorf("message %q, want Apollo's PersistedQueryNotFound", msg)
		}
	}

	wrong := post(map[string]any{"query": "{ organization { id } }", "extensions": ext(apqHash(query))}, "")
	if wrong.status != 400 || wrong.body["data"] != nil || !strings.Contains(wrong.raw, "hash does not match") {
		t.Errorf("a hash that is not the document's: %d %s, want 400", wrong.status, wrong.raw)
	}
	if x := post(hashOnly, ""); x.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("a mismatched document was kept under the hash: %s", x.raw)
	}

	if x := post(map[string]any{"query": query, "extensions": ext(apqHash(query))}, ""); x.status != 200 || name(x) != "Acme" {
		t.Fatalf("hash and document: %d %s", x.status, x.raw)
	}
	if x := post(hashOnly, ""); x.status != 200 || name(x) != "Acme" {
		t.Errorf("the hash alone, once known: %d %s", x.status, x.raw)
	}
	extJSON, _ := json.Marshal(ext(apqHash(query)))
	if x := a.send("GET", url.Values{"extensions": {string(extJSON)}}.Encode(), "", nil); x.status != 200 || name(x) != "Acme" {
		t.Errorf("the hash alone over GET: %d %s", x.status, x.raw)
	}
	if x := post(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 2, "sha256Hash": apqHash(query)}}}, ""); x.status != 400 || !strings.Contains(x.raw, "version") {
		t.Errorf("APQ version 2: %d %s", x.status, x.raw)
	}

	// A document too long to keep runs, but is not kept.
	long := "query Long { organization { name } }\n#" + strings.Repeat("x", graph.MaxPersistedQueryBytes)
	if x := post(map[string]any{"query": long, "extensions": ext(apqHash(long))}, ""); x.status != 200 || name(x) != "Acme" {
		t.Errorf("a long persisted query: %d %.200s", x.status, x.raw)
	}
	if x := post(map[string]any{"extensions": ext(apqHash(long))}, ""); x.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("a document over %d bytes was kept: %.200s", graph.MaxPersistedQueryBytes, x.raw)
	}

	// A mutation known by its hash is still a mutation: not over GET.
	id := a.create("Bob")
	mutation := `mutation { removeMember(input: {memberId: "` + id + `"}) { userErrors { code } } }`
	if x := post(map[string]any{"query": mutation, "extensions": ext(apqHash(mutation))}, ""); x.status != 200 {
		t.Fatalf("a persisted mutation: %d %s", x.status, x.raw)
	}
	mext, _ := json.Marshal(ext(apqHash(mutation)))
	if x := a.send("GET", url.Values{"extensions": {string(mext)}}.Encode(), "", nil); x.status != 405 {
		t.Errorf("a persisted mutation over GET: %d %s, want 405", x.status, x.raw)
	}
}

// TestPersistedMutationRetried: a mutation sent with an Idempotency-Key,
// once with its document and again by its hash alone (as Apollo's link
// retries), is one request: the retry gets the first answer again.
func TestPersistedMutationRetried(t *testing.T) {
	t.Parallel()
	a := newAPI(t, member.Policy{})
	id := a.create("Alice")
	mutation := `mutation($input: SecurityInfoInput!) { bindSecurityInfo(input: $input) { member { bindStatus } userErrors { code } } }`
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": apqHash(mutation)}}
	vars := map[string]any{"input": info(id, "alice@example.com")}
	header := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "bind-alice"}
	full, _ := json.Marshal(map[string]any{"query": mutation, "variables": vars, "extensions": ext})
	first := a.send("POST", "", string(full), header)
	if first.status != 200 || !strings.Contains(first.raw, `"PENDING"`) || strings.Contains(first.raw, "ALREADY_BOUND") {
		t.Fatalf("the mutation: %d %s", first.status, first.raw)
	}
	hashOnly, _ := json.Marshal(map[string]any{"variables": vars, "extensions": ext})
	retry := a.send("POST", "", string(hashOnly), header)
	if retry.status != 200 || retry.header.Get("Idempotent-Replayed") != "true" || retry.raw != first.raw {
		t.Errorf("the retry by hash: %d replayed %q %s, want the first answer again", retry.status, retry.header.Get("Idempotent-Replayed"), retry.raw)
	}
}
