// Package metrics is memberbind's Prometheus instrumentation
// (client_golang): the metrics of DESIGN.md §9 in one registry per
// process, served by Handler on the admin listener. The packages that
// count things do not import it: cmd/memberbind hands them its methods
// as hooks.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxOperations is how many distinct GraphQL operation names get a label
// value of their own; later ones count as OtherOperation. Operation names
// are chosen by clients, so without a cap one client could add a time
// series per request.
const MaxOperations = 100

// Label values of memberbind_graphql_operations_total's operation.
const (
	// OtherOperation is every operation name past MaxOperations.
	OtherOperation = "other"
	// AnonymousOperation is an operation sent without a name.
	AnonymousOperation = "anonymous"
)

// Backlog is the outbox's state, read from the database at each scrape so
// that every instance reports the same numbers.
type Backlog interface {
	// OutboxBacklog returns how many mails wait to be sent (queued or to
	// be retried) and when the oldest of them was queued (zero if none).
	OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error)
}

// Options configure a Registry.
type Options struct {
	// DB is the database pool whose stats are exported; nil: none.
	DB *sql.DB
	// Backlog is read at scrape time; nil: no outbox gauges.
	Backlog Backlog
	// BacklogTimeout bounds the backlog query of a scrape (default 2s).
	BacklogTimeout time.Duration
	// Now is the clock of the oldest mail's age (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry holds memberbind's metrics.
type Registry struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	operations   *prometheus.CounterVec
	mailSent     prometheus.Counter
	mailFailures *prometheus.CounterVec
	activations  prometheus.Counter
	txRetries    prometheus.Counter
	webhooks     *prometheus.CounterVec

	mu      sync.Mutex
	opNames map[string]struct{}
}

// New makes the registry with every metric, Go's runtime and process
// collectors, and the database pool's stats.
func New(o Options) *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memberbind_http_requests_total",
			Help: "HTTP requests answered by the public listener, by route (the mux pattern) and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memberbind_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memberbind_graphql_operations_total",
			Help: "GraphQL operations executed, by operation name (at most " + strconv.Itoa(MaxOperations) + " names, then \"other\") and result (ok, error).",
		}, []string{"operation", "result"}),
		mailSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memberbind_mail_sent_total",
			Help: "Mails the SMTP server accepted.",
		}),
		mailFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memberbind_mail_failures_total",
			Help: "SMTP sends that failed, by kind: temporary (retried) or permanent (given up).",
		}, []string{"kind"}),
		activations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memberbind_activations_total",
			Help: "Bindings activated by a member confirming an activation link.",
		}),
		txRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memberbind_store_transaction_retries_total",
			Help: "Database transactions run again after losing a race for locks (deadlock, lock wait timeout, certification failure).",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memberbind_webhook_attempts_total",
			Help: "Webhook delivery attempts, by result: delivered, retry (failed, tried again later) or failed (given up).",
		}, []string{"result"}),
		opNames: map[string]struct{}{},
	}
	for _, result := range []string{"delivered", "retry", "failed"} {
		r.webhooks.WithLabelValues(result)
	}
	for _, kind := range []string{"temporary", "permanent"} {
		r.mailFailures.WithLabelValues(kind) // exported at 0 from the start, so that rate() sees the first failure
	}
	r.reg.MustRegister(r.httpRequests, r.httpDuration, r.operations, r.mailSent, r.mailFailures, r.activations, r.txRetries, r.webhooks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if o.DB != nil {
		r.reg.MustRegister(collectors.NewDBStatsCollector(o.DB, "memberbind"))
	}
	if o.Backlog != nil {
		if o.BacklogTimeout <= 0 {
			o.BacklogTimeout = 2 * time.Second
		}
		if o.Now == nil {
			o.Now = time.Now
		}
		if o.Logger == nil {
			o.Logger = slog.Default()
		}
		r.reg.MustRegister(&backlogCollector{o: o})
	}
	return r
}

// Handler serves the metrics in Prometheus' text format. A metric that
// cannot be collected (the outbox gauges, while the database does not
// answer) is left out of the scrape, not the scrape failed: promhttp's
// default would answer 500 and nothing else, losing the pool's and the
// requests' metrics just when they tell what is wrong.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer is the registry, for tests that read it.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// HTTPRequest counts an answered request (middleware.Metrics' observe).
func (r *Registry) HTTPRequest(route string, code int, d time.Duration) {
	r.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	r.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// GraphQLOperation counts an executed operation.
func (r *Registry) GraphQLOperation(name string, ok bool) {
	result := "ok"
	if !ok {
		result = "error"
	}
	r.operations.WithLabelValues(r.operationLabel(name), result).Inc()
}

// operationLabel is name while fewer than MaxOperations names have been
// seen, or it is one of them; OtherOperation after.
func (r *Registry) operationLabel(name string) string {
	if name == "" {
		return AnonymousOperation
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.opNames[name]; ok {
		return name
	}
	if len(r.opNames) >= MaxOperations {
		return OtherOperation
	}
	r.opNames[name] = struct{}{}
	return name
}

// MailSent counts a mail the SMTP server accepted.
func (r *Registry) MailSent() { r.mailSent.Inc() }

// MailFailed counts a failed send; temporary says whether it is retried.
func (r *Registry) MailFailed(temporary bool) {
	kind := "permanent"
	if temporary {
		kind = "temporary"
	}
	r.mailFailures.WithLabelValues(kind).Inc()
}

// Activation counts a binding activated.
func (r *Registry) Activation() { r.activations.Inc() }

// WebhookAttempt counts a webhook delivery attempt by its result
// (webhook.Options.OnAttempt).
func (r *Registry) WebhookAttempt(result string) { r.webhooks.WithLabelValues(result).Inc() }

// TransactionRetry counts a store transaction run again (Store.OnRetry).
func (r *Registry) TransactionRetry(error) { r.txRetries.Inc() }

var (
	pendingDesc = prometheus.NewDesc("memberbind_outbox_pending",
		"Mails waiting in the outbox to be sent (queued, or failed temporarily and to be retried), across every instance.", nil, nil)
	oldestDesc = prometheus.NewDesc("memberbind_outbox_oldest_age_seconds",
		"Age of the oldest mail waiting in the outbox; 0 when none waits.", nil, nil)
)

// backlogCollector reads the outbox at scrape time, so that every instance
// reports the same backlog and no instance needs to track the others'
// sends. A database that does not answer in time makes the scrape go
// without the gauges rather than hang it: a line in the log, and
// promhttp_metric_handler_errors_total{cause="gathering"} counts it.
type backlogCollector struct{ o Options }

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.BacklogTimeout)
	defer cancel()
	n, oldest, err := c.o.Backlog.OutboxBacklog(ctx)
	if err != nil {
		c.o.Logger.WarnContext(ctx, "metrics: read the outbox backlog", "err", err)
		ch <- prometheus.NewInvalidMetric(pendingDesc, err)
		ch <- prometheus.NewInvalidMetric(oldestDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(c.o.Now().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
