package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"memberbind/internal/metrics"
	"memberbind/internal/mysql"
)

// adminRoutes is the admin listener's handler: metrics, profiles and
// health, which say much about the instance and are not authenticated,
// so they are never served on the public listener (STYLE.md "Operations").
// /readyz answers 503 once draining is set, so that load balancers stop
// sending requests before the public listener stops taking them.
func adminRoutes(reg *metrics.Registry, st *mysql.Store, draining *atomic.Bool, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := st.DB().PingContext(ctx); err != nil {
			log.WarnContext(ctx, "not ready: database", "err", err)
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		if err := mysql.CheckSchema(ctx, st.DB()); err != nil {
			log.WarnContext(ctx, "not ready: schema", "err", err)
			http.Error(w, "database schema not migrated", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// admin is the running admin listener.
type admin struct {
	srv *http.Server
	ln  net.Listener
}

// startAdmin serves h on addr; with addr empty (MEMBERBIND_ADMIN_LISTEN=off)
// it serves nothing and returns nil.
func startAdmin(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*admin, error) {
	if addr == "" {
		return nil, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s: %w (set %s to another address, or to off)", addr, err, envAdminListen)
	}
	a := &admin{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			// A CPU profile or an execution trace takes ?seconds=N (30
			// by default) to answer.
			WriteTimeout: 5 * time.Minute,
			IdleTimeout:  120 * time.Second,
			ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln: ln,
	}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.ErrorContext(ctx, "admin listener", "err", err)
		}
	}()
	return a, nil
}

// URL is where the admin listener answers, "" when it is off.
func (a *admin) URL() string {
	if a == nil {
		return ""
	}
	return localURL(a.ln.Addr())
}

// Close stops the admin listener, letting a scrape in progress finish.
func (a *admin) Close() {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a.srv.Shutdown(ctx) != nil {
		a.srv.Close()
	}
}
