package middleware

import (
	"net/http"

	"github.com/rs/cors"

	"memberbind/internal/requestid"
)

// CORSMaxAge is how long, in seconds, a browser may keep a preflight's
// answer before it asks again: ten minutes, so that changing
// MEMBERBIND_CORS_ORIGINS takes effect soon (Chromium keeps at most two
// hours anyway).
const CORSMaxAge = 600

// CORS lets browser pages served from origins (each exactly
// scheme://host[:port], as a browser sends it in Origin) call the
// handler it wraps with an API key in the Authorization header: it
// answers their preflights itself, before any authentication (a
// preflight carries no credentials), and grants their requests. Any other
// origin gets no grant, its preflight no Access-Control-Allow-Origin, so
// the browser keeps the answer from the page. No origins: the handler
// itself, no CORS at all (github.com/rs/cors would allow every origin).
//
// Credentials (cookies) are not allowed: the API authenticates by bearer
// key, never by cookie, so a page can only call it with a key it holds.
func CORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		// Content-Type: application/json is not a "simple" header;
		// Idempotency-Key is graph.IdempotencyKeyHeader.
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "Idempotency-Key"},
		// What a frontend reads of an answer beyond the safelisted
		// headers: the id to quote in a support request, whether a
		// mutation's answer was replayed (graph.IdempotentReplayedHeader),
		// and when to retry.
		ExposedHeaders: []string{requestid.Header, "Idempotent-Replayed", "Retry-After"},
		MaxAge:         CORSMaxAge,
	})
	return c.Handler
}
