package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"memberbind/graph"
	"memberbind/internal/console"
	"memberbind/internal/devstack"
	"memberbind/internal/landing"
	"memberbind/internal/mysql"
	"memberbind/internal/playground"
	"memberbind/internal/requestid"
	"memberbind/internal/signin"
)

// openStore connects to the database, applies the migrations and returns
// the store.
func openStore(ctx context.Context, cfg config, dsn string, log *slog.Logger) (*mysql.Store, func(), error) {
	db, err := mysql.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	if err := mysql.Migrate(ctx, db, log); err != nil {
		db.Close()
		return nil, nil, err
	}
	return mysql.New(db, mysql.Options{Policy: cfg.Policy}), func() { db.Close() }, nil
}

// serve is `memberbind serve`: the API, the pages and the mail worker, on
// one listener, until ctx ends.
func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	dsn, embedded := cfg.DatabaseDSN, cfg.DatabaseDSN == ""
	if embedded {
		db, err := devstack.StartDatabase(ctx, "memberbind")
		if err != nil {
			return fmt.Errorf("start the embedded database: %w", err)
		}
		defer db.Close()
		dsn = db.DSN()
	}
	st, closeDB, err := openStore(ctx, cfg, dsn, log)
	if err != nil {
		return err
	}
	defer closeDB()

	smtpURL := cfg.SMTPURL
	var mailbox *devstack.MailServer
	if smtpURL == "" {
		if mailbox, err = devstack.StartMailServer(ctx); err != nil {
			return fmt.Errorf("start the embedded SMTP server: %w", err)
		}
		defer mailbox.Close()
		smtpURL = mailbox.URL()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	base := cfg.PublicURL
	if base == "" {
		base = localURL(ln.Addr())
	}

	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Options{Service: st, Logger: log, Introspection: cfg.GraphQLIntrospection, CostInFlight: cfg.GraphQLCostInFlight}))
	mux.Handle(landing.Path, landing.New(landing.Options{Activator: st, Logger: log, TrustedProxies: cfg.TrustedProxies}))
	signIn, err := signin.New(signin.Options{Store: st, Policy: cfg.SignIn, PublicURL: base, Logger: log, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		ln.Close()
		return err
	}
	for _, p := range signin.Paths {
		mux.Handle(p, signIn)
	}
	con := console.Handler()
	mux.Handle("/console", con)
	mux.Handle("/console/", con)
	pg := playground.Handler()
	mux.Handle("/{$}", pg)
	mux.Handle("/playground", pg)
	mux.Handle("/playground/", pg)
	if mailbox != nil {
		mux.Handle("/dev/mail", mailbox.Handler())
		mux.Handle("/dev/mail/", mailbox.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
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

	srv := &http.Server{
		Handler:           requestid.Middleware(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if embedded {
		org, key, err := st.CreateOrganization(ctx, "Demo organization", "en")
		if err != nil {
			return fmt.Errorf("create the demo organization: %w", err)
		}
		fmt.Fprintf(stdout, "Nothing was configured, so memberbind runs on an embedded in-memory database\n")
		fmt.Fprintf(stdout, "and SMTP server: everything lives in memory and is gone when it exits.\n\n")
		fmt.Fprintf(stdout, "  demo organization:      %s\n", org.Name)
		fmt.Fprintf(stdout, "  API key:                %s\n", key)
		fmt.Fprintf(stdout, "  console, signed in:     %s/console#key=%s\n", base, key)
		fmt.Fprintf(stdout, "  playground, signed in:  %s/playground#key=%s\n", base, key)
	}
	if mailbox != nil {
		fmt.Fprintf(stdout, "  mailbox (mail it sent): %s/dev/mail\n", base)
	}
	fmt.Fprintf(stdout, "  GraphQL:                %s/graphql\n", base)
	fmt.Fprintf(stdout, "  playground:             %s/playground\n", base)
	fmt.Fprintf(stdout, "  admin console:          %s/console\n", base)
	fmt.Fprintf(stdout, "  member sign-in:         %s%s\n", base, signin.Path)
	fmt.Fprintf(stdout, "memberbind listening on %s\n", localURL(ln.Addr()))

	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	waitWorker, err := startWorker(workerCtx, cfg, smtpURL, base, st, log)
	if err != nil {
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("shut down: %w", err)
		}
	}
	// Requests are done: nothing more will be queued by this process. The
	// worker finishes or releases what it holds.
	stopWorker()
	if err := waitWorker(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("mail worker: %w", err)
	}
	return serveErr
}

// localURL is the URL of a listener as seen from this machine.
func localURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}

// work is `memberbind worker`: mail delivery alone, for deployments that
// run it apart from the API.
func work(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.DatabaseDSN == "" || cfg.SMTPURL == "" {
		return errors.New("worker needs a database and an SMTP server: set " + envDatabaseDSN + " and " + envSMTPURL)
	}
	if cfg.PublicURL == "" {
		return errors.New("worker needs " + envPublicURL + ": the links it mails point there")
	}
	st, closeDB, err := openStore(ctx, cfg, cfg.DatabaseDSN, log)
	if err != nil {
		return err
	}
	defer closeDB()
	wait, err := startWorker(ctx, cfg, cfg.SMTPURL, cfg.PublicURL, st, log)
	if err != nil {
		return err
	}
	return wait()
}
