package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/options"
)

// Queue is the store side (implemented by internal/mysql). Every mark and
// release acts only on deliveries the owner still holds.
type Queue interface {
	// ClaimWebhooks leases up to limit due deliveries to owner until now+lease (a conditional UPDATE read back by a token), with their endpoint's URL and secret; one member's deliveries to one endpoint only in order.
	ClaimWebhooks(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.WebhookMessage, error)
	// MarkWebhook records an attempt: delivered when a.Error is empty, else RETRYING until next, or FAILED when next is zero; it keeps the endpoint's failing streak and disables it after member.WebhookDisableAfter.
	MarkWebhook(ctx context.Context, orgID, id int64, owner string, a member.WebhookAttempt, next time.Time) error
	// ReleaseWebhooks gives back deliveries owner holds, due at once: those of ids, or all.
	ReleaseWebhooks(ctx context.Context, owner string, ids ...int64) error
	// SweepBindingFailures emits the binding.failed events that are due, once each across every instance, and returns how many it emitted.
	SweepBindingFailures(ctx context.Context, limit int) (int, error)
}

// Worker defaults.
const (
	DefaultConcurrency = 16
	DefaultPerEndpoint = 4
	DefaultTimeout     = 10 * time.Second
	DefaultPoll        = time.Second
	// DefaultSweep is how often a worker looks for bindings that failed:
	// binding.failed is queued within this long after the expiry instant
	// while any worker runs.
	DefaultSweep = 10 * time.Second
)

// maxExcerpt is how much of a response body is read and kept.
const maxExcerpt = 4096

// Retry schedule after the first, second, ... failed attempt, as Standard
// Webhooks' senders (Svix) space theirs: about 5 seconds, then growing,
// each ±20% jittered, until member.WebhookGiveUpAfter from the event; the
// last attempt is made at that instant.
var retryDelays = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}

// Options configure a Worker. Zero values take the defaults.
type Options struct {
	Queue Queue
	// Guard decides where deliveries may go, at connect time; the zero
	// Guard refuses every non-public address.
	Guard *Guard
	// Concurrency bounds the attempts in flight; PerEndpoint those to one
	// endpoint, so that one slow receiver neither takes every slot nor is
	// flooded.
	Concurrency int
	PerEndpoint int
	// Timeout bounds one attempt, from connecting to reading the response.
	Timeout time.Duration
	// Lease is how long a claimed delivery is held before another worker
	// may take it over, had this one died; default 4 Timeouts for each
	// round of PerEndpoint attempts a claim may hold, at least 2 minutes.
	Lease time.Duration
	Poll  time.Duration
	Sweep time.Duration
	Owner string // the lease owner; a random one when empty
	// Now is the clock; time.Now when nil. Jitter returns a number in
	// [0, 1) for the retry jitter; math/rand when nil.
	Now    func() time.Time
	Jitter func() float64
	Logger *slog.Logger
	// OnAttempt, when set, is called after each attempt with its result:
	// "delivered", "retry" or "failed" (for metrics).
	OnAttempt func(result string)
}

// Worker delivers webhook deliveries until its context ends. Several
// workers, in one process or many, share the deliveries through leases.
type Worker struct {
	o      Options
	client *http.Client

	mu        sync.Mutex
	endpoints map[int64]chan struct{} // per-endpoint slots
}

// NewWorker returns a worker with o's defaults filled in.
func NewWorker(o Options) *Worker {
	options.Default(&o.Concurrency, DefaultConcurrency)
	options.Default(&o.PerEndpoint, DefaultPerEndpoint)
	options.Default(&o.Timeout, DefaultTimeout)
	options.Default(&o.Poll, DefaultPoll)
	options.Default(&o.Sweep, DefaultSweep)
	rounds := (o.Concurrency + o.PerEndpoint - 1) / o.PerEndpoint
	options.Default(&o.Lease, max(2*time.Minute, 4*time.Duration(rounds)*o.Timeout))
	if o.Guard == nil {
		o.Guard = &Guard{}
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = mathrand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{o: o, client: newClient(o.Guard), endpoints: map[int64]chan struct{}{}}
}

// newClient is the HTTP client of deliveries: it connects only through
// the guard, through no proxy (a proxy would connect where the guard
// cannot see), and follows no redirect: a 3xx is the answer, and a failed
// attempt.
func newClient(g *Guard) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   DefaultPerEndpoint,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   DefaultTimeout,
			ResponseHeaderTimeout: DefaultTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Owner is the worker's lease owner.
func (w *Worker) Owner() string { return w.o.Owner }

// Run delivers until ctx ends, then lets the attempts in flight finish
// (each within Timeout), records them, and gives back what it had not
// started.
func (w *Worker) Run(ctx context.Context) error {
	slots := make(chan struct{}, w.o.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	var lastSweep time.Time
	for {
		if now := w.o.Now(); now.Sub(lastSweep) >= w.o.Sweep {
			lastSweep = now
			if n, err := w.o.Queue.SweepBindingFailures(ctx, 500); err != nil && ctx.Err() == nil {
				w.o.Logger.ErrorContext(ctx, "webhook sweep for failed bindings", "err", err)
			} else if n > 0 {
				w.o.Logger.InfoContext(ctx, "binding.failed events queued", "count", n)
			}
		}
		free := w.o.Concurrency - len(slots)
		var msgs []member.WebhookMessage
		if free > 0 && ctx.Err() == nil {
			var err error
			msgs, err = w.o.Queue.ClaimWebhooks(ctx, w.o.Owner, free, w.o.Lease)
			if err != nil && ctx.Err() == nil {
				w.o.Logger.ErrorContext(ctx, "claim webhook deliveries", "err", err)
			}
		}
		for _, m := range msgs {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				w.deliver(ctx, m)
			}()
		}
		if len(msgs) > 0 && len(msgs) == free {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.o.Poll):
		}
	}
}

// DeliverDue claims the deliveries due now (up to Concurrency), attempts
// each once and records it, and returns how many it attempted: one round
// of Run, for tests that move a clock between rounds and for a caller
// that drives the worker itself.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	msgs, err := w.o.Queue.ClaimWebhooks(ctx, w.o.Owner, w.o.Concurrency, w.o.Lease)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, m)
		}()
	}
	wg.Wait()
	return len(msgs), nil
}

// endpointSlots returns the slots of an endpoint.
func (w *Worker) endpointSlots(id int64) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.endpoints[id]
	if c == nil {
		c = make(chan struct{}, w.o.PerEndpoint)
		w.endpoints[id] = c
	}
	return c
}

// deliver makes one attempt at m once its endpoint has a free slot, and
// records it; if ctx ends first, it gives m back unattempted.
func (w *Worker) deliver(ctx context.Context, m member.WebhookMessage) {
	slots := w.endpointSlots(m.EndpointID)
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		if err := w.o.Queue.ReleaseWebhooks(context.WithoutCancel(ctx), w.o.Owner, m.ID); err != nil {
			w.o.Logger.Error("release webhook delivery", "webhook_id", m.MessageID, "err", err)
		}
		return
	}
	defer func() { <-slots }()
	// An attempt begun is finished and recorded even when ctx ends, so
	// that it is not repeated by the next worker.
	actx := context.WithoutCancel(ctx)
	a := w.Attempt(actx, m)
	next := w.next(m, a)
	log := w.o.Logger.With("webhook_id", m.MessageID, "endpoint", m.EndpointID, "type", m.Type.Name(), "attempt", m.Attempts+1)
	result := "retry"
	switch {
	case a.Error == "":
		result = "delivered"
		log.Info("webhook delivered", "status", a.ResponseCode)
	case next.IsZero():
		result = "failed"
		log.Warn("webhook delivery failed", "status", a.ResponseCode, "err", a.Error)
	default:
		log.Info("webhook delivery will be retried", "status", a.ResponseCode, "err", a.Error, "next_attempt_at", next)
	}
	if w.o.OnAttempt != nil {
		w.o.OnAttempt(result)
	}
	if err := w.o.Queue.MarkWebhook(actx, m.OrgID, m.ID, w.o.Owner, a, next); err != nil {
		log.Error("record webhook attempt", "err", err)
	}
}

// Attempt sends m once, signed now, and says how it went.
func (w *Worker) Attempt(ctx context.Context, m member.WebhookMessage) member.WebhookAttempt {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	now := w.o.Now()
	a := member.WebhookAttempt{At: now}
	key, err := SecretKey(m.Secret)
	if err != nil {
		a.Error = "the endpoint's secret is unusable: " + err.Error()
		return a
	}
	body := []byte(m.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad request: " + withoutURL(err)
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "memberbind-webhooks")
	req.Header.Set("webhook-id", m.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(key, m.MessageID, now, body))
	resp, err := w.client.Do(req)
	if err != nil {
		a.Error = withoutURL(err)
		if errors.Is(err, ErrForbiddenAddress) {
			a.Error = "refused: " + a.Error
		}
		return a
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
	a.ResponseCode, a.Excerpt = resp.StatusCode, string(excerpt)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.Error = "HTTP " + resp.Status
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			a.Error += " (redirects are not followed)"
		}
	}
	return a
}

// withoutURL is err's text without the URL that net/http and net/url
// quote, whose query may hold the organization's own credentials: an
// attempt's error is logged, and the delivery names its endpoint anyway.
func withoutURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " the endpoint: " + ue.Err.Error()
	}
	return err.Error()
}

// Permanent says whether a response code ends a delivery: any 4xx but
// 408 (timeout) and 429 (too many requests).
func Permanent(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// next is when to try again after a, zero for never.
func (w *Worker) next(m member.WebhookMessage, a member.WebhookAttempt) time.Time {
	if a.Error == "" || Permanent(a.ResponseCode) {
		return time.Time{}
	}
	return NextAttempt(m.CreatedAt, m.Attempts+1, a.At, w.o.Jitter())
}

// NextAttempt is when to try again a delivery of an event created at
// created after its failed attempt number attempt (1 for the first) at
// at; zero once it is member.WebhookGiveUpAfter old. jitter in [0, 1)
// spreads the delay by ±20%.
func NextAttempt(created time.Time, attempt int, at time.Time, jitter float64) time.Time {
	deadline := created.Add(member.WebhookGiveUpAfter)
	if !at.Before(deadline) {
		return time.Time{}
	}
	d := retryDelays[min(attempt, len(retryDelays))-1]
	d = time.Duration(float64(d) * (0.8 + 0.4*jitter))
	if next := at.Add(d); next.Before(deadline) {
		return next
	}
	return deadline
}
