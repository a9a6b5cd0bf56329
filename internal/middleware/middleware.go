// Package middleware holds the HTTP middleware of memberbind's public
// listener that are not a package of their own (requestid is), one job
// each, as pkgsite's internal/middleware does. cmd/memberbind composes
// them once, in routes().
package middleware

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Timeout gives every request a deadline d from its start. Handlers pass
// the request's context to the store, so a request whose database stops
// answering ends with an error at the deadline, and frees its connection,
// instead of waiting with every request after it.
//
// It sets the deadline only, unlike http.TimeoutHandler, which buffers
// every answer and writes its own (plain-text) one at the deadline: each
// handler answers a deadline in its own format (a GraphQL error, a page).
func Timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// HSTSMaxAge is how long a browser that saw Strict-Transport-Security
// keeps to https for the host: one year, which is what the HSTS preload
// list asks for.
const HSTSMaxAge = 365 * 24 * time.Hour

// StrictTransportSecurity makes every answer tell browsers to reach this
// host only over https for HSTSMaxAge. Install it only where the public
// URL is https: sent over plain http the header is ignored, and a
// development instance on http must not pin a host to https. Subdomains
// are left out: they may be other services.
func StrictTransportSecurity(next http.Handler) http.Handler {
	value := "max-age=" + strconv.FormatInt(int64(HSTSMaxAge/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", value)
		next.ServeHTTP(w, r)
	})
}
