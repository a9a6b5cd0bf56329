package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"memberbind/internal/member"
	"memberbind/internal/requestid"
)

// Close codes of the graphql-transport-ws protocol.
const (
	// closeForbidden: connection_init did not carry a valid API key.
	closeForbidden = 4403
	// closeInternal: the key could not be checked (the database).
	closeInternal = 1011
)

// isWebsocket reports whether r asks to open a websocket.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// websocketTransport is gqlgen's graphql-ws transport, for subscriptions
// alone (the HTTP transport refuses them): a browser cannot set an
// Authorization header on a websocket, so the API key comes in
// connection_init's payload, as {"Authorization": "Bearer mb_..."}, and a
// connection without a valid one is closed with 4403, as the protocol
// has it. origins are the other origins whose pages may open one
// (MEMBERBIND_CORS_ORIGINS); a page of the server's own origin always
// may, a page of any other origin never: a websocket is not subject to
// CORS, so this is its only guard.
func websocketTransport(svc member.Service, origins []string, log *slog.Logger) transport.Websocket {
	return transport.Websocket{
		Implementation: websocketAccept{origins: origins},
		InitTimeout:    10 * time.Second,
		// Pings keep proxies from closing a quiet connection, and a
		// client that stops answering them is let go.
		KeepAlivePingInterval: 20 * time.Second,
		PingPongInterval:      20 * time.Second,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			header := p.GetString("Authorization")
			if header == "" {
				header = p.GetString("authorization")
			}
			refuse := func(code int, msg string) (context.Context, *transport.InitPayload, error) {
				ctx = transport.WithWebsocketCloseCode(ctx, code)
				return transport.AppendCloseReason(ctx, msg), nil, errors.New(msg)
			}
			key, ok := bearer(header)
			if !ok {
				return refuse(closeForbidden, `missing API key: send {"Authorization": "Bearer <API key>"} in connection_init`)
			}
			caller, err := svc.Authenticate(ctx, key)
			switch {
			case errors.Is(err, member.ErrUnauthenticated):
				return refuse(closeForbidden, "invalid API key")
			case err != nil:
				log.ErrorContext(ctx, "authenticate websocket", "err", err)
				return refuse(closeInternal, "internal error (request id "+requestid.From(ctx)+")")
			}
			return withCaller(ctx, caller), nil, nil
		},
	}
}

// websocketAccept opens websockets with github.com/coder/websocket, as
// gqlgen's default does, but from the allowed origins alone, and without
// the deadlines the HTTP server set for a request, which would otherwise
// cut a subscription off after its first half minute.
type websocketAccept struct{ origins []string }

// Accept implements transport.WebsocketImplementation.
func (a websocketAccept) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// An origin with "://" is matched whole, scheme and all.
	impl := transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{OriginPatterns: a.origins}}
	return impl.Accept(w, r, o)
}

// serveWebsocket serves a websocket of srv's: its context outlives the
// request's deadline (the public listener's timeout bounds a request, not
// a subscription) and ends when live stops.
func serveWebsocket(live *Live, srv http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		defer cancel()
		stop := context.AfterFunc(live.done, cancel)
		defer stop()
		if requestid.From(ctx) == "" {
			ctx = requestid.With(ctx, requestid.New())
		}
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
}
