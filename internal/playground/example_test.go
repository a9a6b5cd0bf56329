package playground_test

import (
	"net/http"

	"memberbind/internal/playground"
)

// The playground owns /, /playground and everything under /playground/.
// Mounted at "/", it answers 404 for every path it does not know, so the
// other routes must be registered on the same mux.
func ExampleHandler() {
	mux := http.NewServeMux()
	h := playground.Handler()
	mux.Handle("/", h)
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	mux.Handle(playground.Endpoint, http.NotFoundHandler()) // the GraphQL handler
	_ = http.ListenAndServe("localhost:8080", mux)
}
