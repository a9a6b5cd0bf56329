package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"memberbind/graph"
	"memberbind/internal/console"
	"memberbind/internal/devstack"
	"memberbind/internal/landing"
	"memberbind/internal/member"
	"memberbind/internal/metrics"
	"memberbind/internal/middleware"
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
	st := mysql.New(db, mysql.Options{Policy: cfg.Policy, Now: cfg.Now})
	if st.Webhooks, err = webhookConfig(cfg); err != nil {
		db.Close()
		return nil, nil, err
	}
	return st, func() { db.Close() }, nil
}

// serve is `memberbind serve`: the API, the pages and the mail worker, on
// the public listener, and metrics and health on the admin listener,
// until ctx ends. Every resource it opens is closed by a defer, whichever
// step fails.
//
// When ctx ends (SIGTERM), /readyz answers 503 at once, and the public
// listener keeps serving for cfg.ShutdownDelay, so that load balancers
// see the instance leave before it stops taking requests; then it
// drains (http.Server.Shutdown), the worker stops, and the admin
// listener goes last.
func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	if err := cfg.checkServe(); err != nil {
		return err
	}
	dev := cfg.zeroConfig()
	ln, err := listen(ctx, cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	// Only the zero-configuration start may derive its public URL (it
	// mails to /dev/mail on the same machine); checkServe saw to that.
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = localURL(ln.Addr())
	}

	dsn, smtpURL := cfg.DatabaseDSN, cfg.SMTPURL
	var mailbox *devstack.MailServer
	if dev {
		db, err := devstack.StartDatabase(ctx, "memberbind")
		if err != nil {
			return fmt.Errorf("start the embedded database: %w", err)
		}
		defer db.Close()
		dsn = db.DSN()
		if mailbox, err = devstack.StartMailServer(ctx); err != nil {
			return fmt.Errorf("start the embedded SMTP server: %w", err)
		}
		defer mailbox.Close()
		smtpURL = mailbox.URL()
	}
	st, closeDB, err := openStore(ctx, cfg, dsn, log)
	if err != nil {
		return err
	}
	defer closeDB()
	reg := newMetrics(cfg, st, log)

	var draining atomic.Bool
	adm, err := startAdmin(ctx, cfg.AdminListen, adminRoutes(reg, st, &draining, log), log)
	if err != nil {
		return err
	}
	defer adm.Close()

	// One poller of the change log per instance feeds the memberChanged
	// subscriptions; it stops, and closes their sockets, when serve ends.
	live := graph.NewLive(graph.LiveOptions{Changes: st, Logger: log, PerKey: cfg.SubscriptionsPerKey, Max: cfg.SubscriptionsMax, Now: cfg.Now})
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	go live.Run(liveCtx, graph.DefaultLiveInterval)
	handler, err := routes(cfg, publicURL, st, live, mailbox, reg, log)
	if err != nil {
		return err
	}
	srv := httpServer(cfg, handler, log)
	if dev {
		if err := printDevBanner(ctx, st, publicURL, ln.Addr(), stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "  GraphQL:                %s/graphql\n", publicURL)
	fmt.Fprintf(stdout, "  playground:             %s/playground\n", publicURL)
	fmt.Fprintf(stdout, "  admin console:          %s/console\n", publicURL)
	fmt.Fprintf(stdout, "  member sign-in:         %s%s\n", publicURL, signin.Path)
	if adm != nil {
		fmt.Fprintf(stdout, "  metrics and health:     %s/metrics, /readyz (admin listener)\n", adm.URL())
	}
	fmt.Fprintf(stdout, "memberbind listening on %s\n", localURL(ln.Addr()))

	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	waitWorker, err := startWorker(workerCtx, cfg, smtpURL, publicURL, st, reg, log)
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
		draining.Store(true)
		log.InfoContext(ctx, "shutting down: not ready, draining after the delay", "delay", cfg.ShutdownDelay)
		delay := time.NewTimer(cfg.ShutdownDelay)
		select {
		case <-delay.C:
		case err := <-errc:
			delay.Stop()
			serveErr = fmt.Errorf("serve: %w", err)
		}
		log.InfoContext(ctx, "shutting down: draining requests")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
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

// newMetrics is the instance's metrics registry, with the store's
// transaction retries counted.
func newMetrics(cfg config, st *mysql.Store, log *slog.Logger) *metrics.Registry {
	reg := metrics.New(metrics.Options{DB: st.DB().DB, Backlog: st, Now: cfg.Now, Logger: log})
	st.OnRetry = reg.TransactionRetry
	return reg
}

// countActivations counts the activations an Activator makes.
type countActivations struct {
	landing.Activator
	count func()
}

func (c countActivations) Activate(ctx context.Context, token string) (*member.LinkView, error) {
	v, err := c.Activator.Activate(ctx, token)
	if err == nil && v != nil && v.State == member.LinkValid {
		c.count() // LinkValid from Activate: activated now
	}
	return v, err
}

// httpServer is the public listener's server: every phase of a request
// bounded, so that slow clients cannot hold connections.
func httpServer(cfg config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Past the request's deadline, so that a handler can still say
		// it ran out of time.
		WriteTimeout:   max(60*time.Second, cfg.RequestTimeout+10*time.Second),
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenerKey carries a listener that serve uses instead of opening
// cfg.Listen: a test opens 127.0.0.1:0 itself, so that it knows the
// port, and so the public URL, before serve starts.
type listenerKey struct{}

// listen opens the public listener: the one in ctx, if any, else addr.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	if ln, ok := ctx.Value(listenerKey{}).(net.Listener); ok {
		return ln, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, envListen, err)
	}
	return ln, nil
}

// printDevBanner creates the zero-configuration start's demo organization
// and prints how to use it, and what this mode is not for.
func printDevBanner(ctx context.Context, st *mysql.Store, publicURL string, addr net.Addr, stdout io.Writer) error {
	org, key, err := st.CreateOrganization(ctx, "Demo organization", "en")
	if err != nil {
		return fmt.Errorf("create the demo organization: %w", err)
	}
	fmt.Fprintf(stdout, "Nothing was configured, so memberbind runs on an embedded in-memory database\n")
	fmt.Fprintf(stdout, "and SMTP server: everything lives in memory and is gone when it exits.\n")
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		fmt.Fprintf(stdout, "This is development mode, loopback only: /dev/mail shows every mail to anyone\n")
		fmt.Fprintf(stdout, "on this machine. Configure %s, %s and %s to deploy.\n\n", envDatabaseDSN, envSMTPURL, envPublicURL)
	} else {
		fmt.Fprintf(stdout, "WARNING: development mode listening on %s (%s): /dev/mail shows every\n", addr, envListen)
		fmt.Fprintf(stdout, "mail it sent, unauthenticated, to anyone who can reach that address.\n\n")
	}
	fmt.Fprintf(stdout, "  demo organization:      %s\n", org.Name)
	fmt.Fprintf(stdout, "  API key:                %s\n", key)
	fmt.Fprintf(stdout, "  console, signed in:     %s/console#key=%s\n", publicURL, key)
	fmt.Fprintf(stdout, "  playground, signed in:  %s/playground#key=%s\n", publicURL, key)
	fmt.Fprintf(stdout, "  mailbox (mail it sent): %s/dev/mail\n", publicURL)
	return nil
}

// routes is the public listener's handler: every endpoint, behind the
// middleware every request goes through, composed here once. live serves
// the subscriptions on /graphql. mailbox is
// the embedded SMTP server of the zero-configuration start, whose mail is
// shown at /dev/mail; nil otherwise, and then /dev/mail does not exist.
func routes(cfg config, publicURL string, st *mysql.Store, live *graph.Live, mailbox *devstack.MailServer, reg *metrics.Registry, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	// Only the API is for other origins' pages; the pages are not.
	mux.Handle("/graphql", middleware.CORS(cfg.CORSOrigins)(graph.NewHandler(graph.Options{
		Service: st, Logger: log, Introspection: cfg.GraphQLIntrospection, CostInFlight: cfg.GraphQLCostInFlight, CostPerOrganization: cfg.GraphQLCostPerOrg,
		OnOperation: func(_ context.Context, name string, ok bool) { reg.GraphQLOperation(name, ok) },
		Live:        live, Origins: cfg.CORSOrigins,
	})))
	mux.Handle(landing.Path, landing.New(landing.Options{Activator: countActivations{st, reg.Activation}, Logger: log, TrustedProxies: cfg.TrustedProxies, Now: cfg.Now}))
	signIn, err := signin.New(signin.Options{Store: st, Policy: cfg.SignIn, PublicURL: publicURL, Logger: log, TrustedProxies: cfg.TrustedProxies, Now: cfg.Now})
	if err != nil {
		return nil, err
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
	// /healthz, /readyz, /metrics and /debug/pprof/ are the admin
	// listener's (adminRoutes), never here.

	// Outermost first: the request id, the request's span, its access
	// line (which sees the span and the id), its metrics, then what every
	// answer carries, then the deadline that bounds the handler. Every
	// label and name is the route (the mux pattern), never the raw path.
	route := middleware.RouteOf(mux)
	var h http.Handler = mux
	h = middleware.Timeout(cfg.RequestTimeout)(h)
	if strings.HasPrefix(publicURL, "https://") {
		h = middleware.StrictTransportSecurity(h)
	}
	h = middleware.Metrics(reg.HTTPRequest, route)(h)
	h = middleware.AccessLog(log, route)(h)
	h = otelhttp.NewHandler(h, "http.server", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + route(r)
	}))
	h = requestid.Middleware(h)
	return h, nil
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
	// A worker apart from the API has metrics and health of its own.
	reg := newMetrics(cfg, st, log)
	var draining atomic.Bool
	adm, err := startAdmin(ctx, cfg.AdminListen, adminRoutes(reg, st, &draining, log), log)
	if err != nil {
		return err
	}
	defer adm.Close()
	wait, err := startWorker(ctx, cfg, cfg.SMTPURL, cfg.PublicURL, st, reg, log)
	if err != nil {
		return err
	}
	return wait()
}
