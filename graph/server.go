package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"memberbind/graph/model"
	"memberbind/internal/member"
	"memberbind/internal/requestid"
	"memberbind/internal/requestlog"
)

// Limits of one GraphQL request.
const (
	// MaxBodyBytes caps a request body.
	MaxBodyBytes = 1 << 20
	// MaxComplexity caps a query's cost, where a connection costs its page
	// size times what each item asks for, and introspection a point per
	// IntrospectionValuesPerPoint values of its answer (operationLimits).
	MaxComplexity = 10000
	// PersistedQueries is how many documents the automatic persisted
	// query cache keeps (by their SHA-256), least recently used first
	// out. A client whose hash was pushed out sends the document again,
	// as Apollo's protocol has it, so the bound costs a round trip, not
	// an error; each entry is at most a document of MaxTokens tokens.
	PersistedQueries = 1000
	// MaxPersistedQueryBytes is the longest document the persisted query
	// cache keeps: the playground's introspection query is about 2 KB,
	// the console's largest under 5 KB. A longer one runs, but is not
	// kept, so that the cache holds at most PersistedQueries times this.
	MaxPersistedQueryBytes = 32 << 10
)

// persistedDocs is the automatic persisted queries' cache, which keeps no
// document longer than MaxPersistedQueryBytes: gqlgen's extension keeps
// a document before anything parses it, so a client could otherwise fill
// its PersistedQueries entries with megabyte bodies that are not even
// GraphQL.
type persistedDocs struct{ *lru.LRU[string] }

// Add implements graphql.Cache.
func (c persistedDocs) Add(ctx context.Context, hash, doc string) {
	if len(doc) <= MaxPersistedQueryBytes {
		c.LRU.Add(ctx, hash, doc)
	}
}

// Options configure the GraphQL handler.
type Options struct {
	Service member.Service
	Logger  *slog.Logger
	// Introspection lets clients read the schema; the playground needs it.
	Introspection bool
	// CostInFlight bounds the summed cost of the operations executed at
	// once, in the points of the complexity limit (a field is one, a
	// connection its page size times what each item asks for: the
	// console's page of 50 members costs about 1,700). An operation waits
	// until its cost fits; one that costs more than the whole budget
	// waits to run alone. A page of 100 members holds about a megabyte
	// while it is built, so the budget bounds the memory a burst of big
	// reads can take, while small operations (a mutation, one member),
	// which mostly wait on the database, hardly wait here. Zero means
	// DefaultCostInFlight.
	CostInFlight int
	// CostPerOrganization is how much of CostInFlight the operations of
	// one organization may hold at once, so that one organization's burst
	// of big reads leaves the rest of the budget to the others' requests;
	// an operation dearer than it runs alone of its organization. Zero
	// means half of CostInFlight; more than CostInFlight means all of it.
	CostPerOrganization int
	// Idempotency keeps the answers of mutations sent with an
	// Idempotency-Key header; nil means the Service's, if it keeps them.
	Idempotency member.Idempotency
	// OnOperation, when set, is told of every executed operation: its
	// name ("" if anonymous) and whether it answered without errors. For
	// metrics.
	OnOperation func(ctx context.Context, name string, ok bool)
	// Live serves the memberChanged subscription over websockets on the
	// same path; nil serves no subscriptions.
	Live *Live
	// Origins are the origins besides the server's own whose pages may
	// open a websocket (MEMBERBIND_CORS_ORIGINS).
	Origins []string
}

// DefaultCostInFlight is the default budget of CostInFlight: 7,000 points
// per CPU the Go runtime may use. The console's page of 50 members costs
// about 1,700 and allocates about 0.4 MB, most of it held until its answer
// is written: on 2 CPUs eight such pages are built at once, four of one
// organization (its share, half), about 3 MB, beside any number of small
// operations. It was 2,500 while a page allocated 0.94 MB: one console
// page of an organization at a time, which left its CPUs idle while the
// page waited on the database.
func DefaultCostInFlight() int { return 7000 * runtime.GOMAXPROCS(0) }

// NewHandler returns the http.Handler of POST (and GET, for queries)
// /graphql, which keeps to the GraphQL-over-HTTP specification (see
// negotiate and httpTransport) and takes Apollo's automatic persisted
// queries, and, with o.Live, of subscriptions over websockets on the same
// path. Every request must carry its organization's API key.
func NewHandler(o Options) http.Handler {
	h, _ := newHandler(o)
	return h
}

// newHandler is NewHandler, and the budget its operations share, for
// tests to watch.
func newHandler(o Options) (http.Handler, *fairBudget) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := Config{Resolvers: &Resolver{Service: o.Service, Live: o.Live}}
	connection := func(child int, first, last *int) int {
		n := member.DefaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		if last != nil && *last > n {
			n = *last
		}
		return 1 + n*child
	}
	cfg.Complexity.Query.Members = func(child int, first *int, _ *string, last *int, _ *string, _ *model.MemberFilter) int {
		return connection(child, first, last)
	}
	cfg.Complexity.Member.Events = func(child int, first *int, _ *string, last *int, _ *string) int {
		return connection(child, first, last)
	}
	cfg.Complexity.Query.Nodes = func(child int, ids []string) int {
		return 1 + len(ids)*child
	}

	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(httpTransport{})
	if o.Live != nil {
		srv.AddTransport(websocketTransport(o.Service, o.Origins, o.Logger))
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(MaxTokens)
	// Persisted queries first: the limits check the document it finds.
	persisted := persistedDocs{lru.New[string](PersistedQueries)}
	exts := []graphql.HandlerExtension{
		extension.AutomaticPersistedQuery{Cache: persisted},
		newOperationLimits(o.Introspection),
		newOperationObserver(o.OnOperation),
	}
	if o.Introspection {
		exts = append(exts, extension.Introspection{})
	}
	for _, e := range exts {
		// Plain fields skip the field middleware (resolvePlainField):
		// a field interceptor would miss them. Never call srv.AroundFields
		// here either.
		if _, ok := e.(graphql.FieldInterceptor); ok {
			panic(fmt.Sprintf("graph: %s intercepts fields, which plain fields skip: see resolvePlainField", e.ExtensionName()))
		}
		srv.Use(e)
	}
	srv.SetErrorPresenter(presenter(o.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		o.Logger.ErrorContext(ctx, "panic in GraphQL resolver", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errInternal
	})
	if o.CostInFlight <= 0 {
		o.CostInFlight = DefaultCostInFlight()
	}
	if o.CostPerOrganization <= 0 {
		o.CostPerOrganization = o.CostInFlight / 2
	}
	budget := newFairBudget(int64(o.CostInFlight), int64(o.CostPerOrganization))
	srv.AroundResponses(limitCost(budget, operationCost, callerOrg))
	if o.Idempotency == nil {
		o.Idempotency, _ = o.Service.(member.Idempotency)
	}
	h := negotiate(authenticate(o.Service, o.Logger, checkBody(persisted, idempotent(o.Idempotency, o.Logger, srv))))
	if o.Live == nil {
		return h, budget
	}
	// A websocket authenticates in its connection_init message, which
	// the transport reads (websocketTransport).
	ws := serveWebsocket(o.Live, srv)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			ws.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), budget
}

// limitCost executes an operation once its cost, as the complexity limit
// computed it, fits in what the operations executing leave of the budget,
// and in what those of its organization leave of its share (fairBudget). A
// request that runs out of time while it waits (or whose client goes
// away, and reads nothing) gets a TIMEOUT error and no data.
func limitCost(b *fairBudget, costOf, orgOf func(context.Context) int64) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		org, weight := orgOf(ctx), b.weight(costOf(ctx))
		if err := b.acquire(ctx, org, weight); err != nil {
			id := requestid.From(ctx)
			return &graphql.Response{Errors: gqlerror.List{{
				Message:    "the request ended while it waited for the server to have room to run it; try again later (request id " + id + ")",
				Extensions: map[string]any{"code": codeTimeout, "requestId": id},
			}}}
		}
		defer b.release(org, weight)
		return next(ctx)
	}
}

// callerOrg is the organization a request speaks for, by id; 0 when none
// is known.
func callerOrg(ctx context.Context) int64 {
	if c := callerOf(ctx); c != nil {
		return c.Org.ID
	}
	return 0
}

// errInternal stands for any fault that is not the client's.
var errInternal = errors.New("internal error")

// presenter shows a client only what someone decided it may see: gqlgen's
// own protocol errors (syntax, validation, complexity) and the domain's
// *member.Error. Anything else is logged with the request id and shown as
// "internal error" with that id.
func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var derr *member.Error
		switch {
		case errors.As(err, &derr):
			gqlErr.Message = derr.Message
			gqlErr.Extensions = map[string]any{"code": string(derr.Code)}
			return gqlErr
		case errors.Is(err, member.ErrUnauthenticated):
			gqlErr.Message = "missing or invalid API key"
			gqlErr.Extensions = map[string]any{"code": codeUnauthenticated}
			return gqlErr
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil {
			// Raised by gqlgen itself: parse, validation, complexity.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = codeBadRequest
			}
			return gqlErr
		}
		id := requestid.From(ctx)
		if timedOut(ctx, err) {
			log.WarnContext(ctx, "GraphQL request out of time", "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = timeoutMessage(id)
			gqlErr.Extensions = map[string]any{"code": codeTimeout, "requestId": id}
			return gqlErr
		}
		if !errors.Is(err, errInternal) {
			log.ErrorContext(ctx, "GraphQL request failed", "path", gqlErr.Path.String(), "err", err)
		}
		gqlErr.Message = "internal error (request id " + id + ")"
		gqlErr.Extensions = map[string]any{"code": codeInternal, "requestId": id}
		return gqlErr
	}
}

// authenticate lets a request through only with a valid API key, and puts
// who it speaks for in the context.
func authenticate(svc member.Service, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeErrors(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes), codeBadRequest)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		ctx := r.Context()
		if requestid.From(ctx) == "" {
			id := requestid.New()
			w.Header().Set(requestid.Header, id)
			ctx = requestid.With(ctx, id)
		}
		key, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthenticated(w, "missing API key: send Authorization: Bearer <your organization's API key>")
			return
		}
		caller, err := svc.Authenticate(ctx, key)
		if err != nil {
			if errors.Is(err, member.ErrUnauthenticated) {
				unauthenticated(w, "invalid API key")
				return
			}
			if timedOut(ctx, err) {
				timeoutError(ctx, w, log, "authenticate request", err)
				return
			}
			internalError(ctx, w, log, "authenticate request", err)
			return
		}
		if caller.Org != nil {
			requestlog.SetOrg(ctx, caller.Org.ID)
		}
		next.ServeHTTP(w, r.WithContext(withCaller(ctx, caller)))
	})
}

// The extensions.code of the errors the transport raises itself; the
// domain's codes are member.Code values.
const (
	codeUnauthenticated = "UNAUTHENTICATED"
	codeBadRequest      = "BAD_REQUEST"
	codeInternal        = "INTERNAL"
	// codeIdempotencyKeyReused: 422, the key was first used for another
	// request.
	codeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
	// codeIdempotencyKeyInUse: 409, the first request with the key is
	// still executing.
	codeIdempotencyKeyInUse = "IDEMPOTENCY_KEY_IN_USE"
	// codeTimeout: the request ran out of its time (the public
	// listener's request timeout) before the database answered, or
	// while it waited to run (limitCost); 503 when that was before the
	// request was authenticated or before it ran.
	codeTimeout = "TIMEOUT"
	// codeIdempotencyKeyNotAllowed: 422, the mutation's answer holds a
	// secret, which is never kept for a replay (secretMutations).
	codeIdempotencyKeyNotAllowed = "IDEMPOTENCY_KEY_NOT_ALLOWED"
)

// timedOut reports whether err is, or came from, the request running past
// its deadline. The driver does not always say so itself (a connection
// it closed at the deadline fails as "invalid connection"), so a fault
// once the deadline has passed counts too.
func timedOut(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)
}

func timeoutMessage(requestID string) string {
	return "the request did not finish in time (the database is slow or unreachable); try again later (request id " + requestID + ")"
}

// timeoutError logs a request that ran out of time and answers 503.
func timeoutError(ctx context.Context, w http.ResponseWriter, log *slog.Logger, what string, err error) {
	id := requestid.From(ctx)
	log.WarnContext(ctx, what+": out of time", "err", err)
	writeErrorsExt(w, http.StatusServiceUnavailable, timeoutMessage(id), map[string]any{"code": codeTimeout, "requestId": id})
}

func unauthenticated(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="memberbind"`)
	writeErrors(w, http.StatusUnauthorized, msg, codeUnauthenticated)
}

// internalError logs err with the request id and answers 500 with only
// that id.
func internalError(ctx context.Context, w http.ResponseWriter, log *slog.Logger, what string, err error) {
	id := requestid.From(ctx)
	log.ErrorContext(ctx, what, "err", err)
	writeErrorsExt(w, http.StatusInternalServerError, "internal error (request id "+id+")", map[string]any{"code": codeInternal, "requestId": id})
}

// writeErrors answers a GraphQL response of one error, for a request
// refused before it reached gqlgen.
func writeErrors(w http.ResponseWriter, status int, msg, code string) {
	writeErrorsExt(w, status, msg, map[string]any{"code": code})
}

// writeErrorsExt answers in the media type negotiate chose, when it has
// chosen one, and without a data entry: the request did not execute.
func writeErrorsExt(w http.ResponseWriter, status int, msg string, ext map[string]any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", MediaJSON+"; charset=utf-8")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": ext}},
	})
}
