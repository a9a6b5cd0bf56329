// Package mail writes and delivers the service's mail (DESIGN.md §4):
// activation links, and sign-in links to activated login emails.
//
// The service writes each mail to an outbox table in the transaction of the
// change that causes it; a Worker claims due outbox rows, renders them with
// Render, sends them through a Sender (a pool of go-mail SMTP connections)
// and records the outcome: sent, retry later (Classify says temporary), or
// failed (permanent, or out of retry budget). Several workers, in one
// process or many, share the outbox through leases.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	netmail "net/mail"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/member"
)

// Outbox is the store side (implemented by internal/mysql).
//
// Attempts: m.Attempts as claimed is the number of attempts already
// recorded; each MarkOutboxSent, MarkOutboxRetry and MarkOutboxFailed
// records one more. Every Mark call and ReleaseOutbox act only on a row
// the owner still holds and should return an error otherwise.
type Outbox interface {
	// ClaimOutbox leases up to limit due rows (QUEUED/RETRYING with next_attempt_at <= now, or leased by anyone with an expired lease) to owner until now+lease, using SELECT … FOR UPDATE SKIP LOCKED.
	ClaimOutbox(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error)
	// MarkOutboxSent records that the SMTP server accepted the row's mail at sentAt (an activation link's days start then), erases the raw token.
	MarkOutboxSent(ctx context.Context, id int64, owner string, sentAt time.Time) error
	// MarkOutboxRetry records a temporary failure and when to try again.
	MarkOutboxRetry(ctx context.Context, id int64, owner string, lastError string, next time.Time) error
	// MarkOutboxFailed records a permanent failure (or an exhausted retry budget).
	MarkOutboxFailed(ctx context.Context, id int64, owner string, lastError string, at time.Time) error
	// ReleaseOutbox gives back every row owner still holds, due at once.
	ReleaseOutbox(ctx context.Context, owner string) error
}

// Transport sends one rendered mail. *Sender is one; wrap it to add
// logging, metrics or faults. Its errors go through Classify.
type Transport interface {
	Send(ctx context.Context, msg *gomail.Msg) error
}

// Worker defaults.
const (
	DefaultConcurrency   = 4
	DefaultLease         = 2 * time.Minute
	DefaultRetryBudget   = 24 * time.Hour
	DefaultRetryBase     = 5 * time.Second
	DefaultRetryMax      = 30 * time.Minute
	DefaultPollInterval  = 5 * time.Second
	DefaultShutdownGrace = 15 * time.Second
)

// markTimeout bounds one store call that records an outcome.
const markTimeout = 10 * time.Second

// WorkerOptions configure a Worker. Outbox, Sender, From and PublicURL are
// required; zero values elsewhere take the defaults.
type WorkerOptions struct {
	Outbox Outbox
	// Sender delivers the mails; give it at least Concurrency connections.
	Sender    Transport
	From      string // e.g. "memberbind <noreply@example.com>"
	PublicURL string // e.g. "https://bind.example.com"
	// ActivationTTL is an activation link's life; the mail prints
	// now+ActivationTTL as the expiry, which is never later than the real
	// expiry, counted from the SMTP server's acceptance. Default
	// member.DefaultPolicy's. (A sign-in mail prints its link's own
	// expiry, OutboxMessage.ExpiresAt.)
	ActivationTTL time.Duration
	// Concurrency is how many mails are sent at once (default 4).
	Concurrency int
	// Lease is how long a claimed row stays this worker's (default 2m).
	// It must exceed the Sender's connect plus command timeouts.
	Lease time.Duration
	// RetryBudget is how long after a row's CreatedAt temporary failures
	// are retried (default 24h); a retry that would fall later fails the row.
	RetryBudget time.Duration
	// RetryBase is the first retry delay (default 5s); each further
	// attempt doubles it, up to RetryMax (default 30m), ±20% jitter.
	RetryBase time.Duration
	RetryMax  time.Duration
	// PollInterval is how often the outbox is checked for rows of other
	// instances and for retries that came due (default 5s). Rows this
	// process commits should be announced with Notify instead.
	PollInterval time.Duration
	// ShutdownGrace is how long, once Run's context ends, the mails in
	// progress may take to finish before they are cut and released
	// (default 15s).
	ShutdownGrace time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger gets one line per outcome; it never sees a token or a link.
	Logger *slog.Logger
	// Owner names this worker on leased rows (default: host name and a
	// random suffix, at most 49 bytes).
	Owner string
}

// Worker delivers the outbox: it claims due rows, sends them concurrently
// and records each outcome. Create it with NewWorker and start it with Run.
type Worker struct {
	o       WorkerOptions
	wake    chan struct{}
	running atomic.Bool
}

// NewWorker checks the options and fills in defaults.
func NewWorker(o WorkerOptions) (*Worker, error) {
	switch {
	case o.Outbox == nil:
		return nil, errors.New("mail worker: Outbox is required")
	case o.Sender == nil:
		return nil, errors.New("mail worker: Sender is required")
	}
	if _, err := netmail.ParseAddress(o.From); err != nil {
		return nil, fmt.Errorf("mail worker: sender address %q: %w", o.From, err)
	}
	if _, err := ActivationURL(o.PublicURL, "check"); err != nil {
		return nil, fmt.Errorf("mail worker: %w", err)
	}
	setDefault(&o.ActivationTTL, member.DefaultPolicy().ActivationTTL)
	setDefault(&o.Concurrency, DefaultConcurrency)
	setDefault(&o.Lease, DefaultLease)
	setDefault(&o.RetryBudget, DefaultRetryBudget)
	setDefault(&o.RetryBase, DefaultRetryBase)
	setDefault(&o.RetryMax, DefaultRetryMax)
	setDefault(&o.PollInterval, DefaultPollInterval)
	setDefault(&o.ShutdownGrace, DefaultShutdownGrace)
	if o.RetryMax < o.RetryBase {
		o.RetryMax = o.RetryBase
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Owner == "" {
		o.Owner = randomOwner()
	}
	return &Worker{o: o, wake: make(chan struct{}, 1)}, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func randomOwner() string {
	host, _ := os.Hostname()
	if len(host) > 32 {
		host = host[:32]
	}
	if host == "" {
		host = "mail"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// Owner is the name this worker leases rows under.
func (w *Worker) Owner() string { return w.o.Owner }

// Notify wakes the worker to claim at once, e.g. after this process
// committed a change with mail. It never blocks, and calls made while the
// worker is busy coalesce into one wake-up.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers the outbox until ctx ends: it claims as many due rows as it
// has free slots, sends them concurrently and records each outcome, and
// claims again when woken by Notify, when the poll interval passes, or
// when a slot frees after a full claim. Store errors are logged and
// retried at the next poll.
//
// When ctx ends, Run claims nothing more, lets the mails in progress finish
// for up to ShutdownGrace, then cuts the rest, gives back every row it
// still holds with ReleaseOutbox and returns. It returns nil after a clean
// stop and an error only if the release failed. Run may not be called
// twice at once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("mail worker: Run is already running")
	}
	defer w.running.Store(false)
	log := w.o.Logger.With("owner", w.o.Owner)

	// Sends outlive ctx by the shutdown grace.
	sendCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	done := make(chan struct{}, w.o.Concurrency)
	inflight := 0
	claim, more := true, false
	poll := time.NewTimer(w.o.PollInterval)
	defer poll.Stop()

	for ctx.Err() == nil {
		if claim && inflight < w.o.Concurrency {
			claim = false
			free := w.o.Concurrency - inflight
			msgs, err := w.o.Outbox.ClaimOutbox(ctx, w.o.Owner, free, w.o.Lease)
			if ctx.Err() != nil {
				break // shutting down: whatever was claimed is released below
			}
			if err != nil {
				log.Error("claim outbox", "err", err)
			}
			claimedAt := time.Now()
			for _, m := range msgs {
				inflight++
				go func() {
					defer func() { done <- struct{}{} }()
					w.deliver(sendCtx, log, m, claimedAt)
				}()
			}
			// A full claim may have left due rows behind: claim again as
			// soon as a slot frees.
			more = err == nil && len(msgs) == free
			poll.Reset(w.o.PollInterval)
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
			claim = true
		case <-poll.C:
			claim = true
		case <-done:
			inflight--
			if more {
				claim = true
			}
		}
	}

	if inflight > 0 {
		log.Info("mail worker stopping: finishing mails in progress", "in_progress", inflight, "grace", w.o.ShutdownGrace)
	}
	grace := time.NewTimer(w.o.ShutdownGrace)
	defer grace.Stop()
	for inflight > 0 {
		select {
		case <-done:
			inflight--
		case <-grace.C:
			log.Warn("mail worker stopping: cutting mails still in progress", "in_progress", inflight)
			cut()
		}
	}
	relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.ReleaseOutbox(relCtx, w.o.Owner); err != nil {
		return fmt.Errorf("mail worker: release outbox rows of %s: %w", w.o.Owner, err)
	}
	return nil
}

// deliver renders, sends and records one claimed row.
func (w *Worker) deliver(ctx context.Context, log *slog.Logger, m member.OutboxMessage, claimedAt time.Time) {
	attempt := m.Attempts + 1
	kind := m.Kind
	if kind == "" {
		kind = member.OutboxActivation
	}
	log = log.With("outbox_id", m.ID, "kind", string(kind), "member_id", m.MemberID, "link_id", m.LinkID, "attempt", attempt)
	now := w.o.Now()
	// An activation link's days start when its mail is accepted; a
	// sign-in link's minutes started when it was asked for, and a mail
	// that would arrive after them is not worth sending.
	expires := now.Add(w.o.ActivationTTL)
	if kind == member.OutboxSignIn {
		expires = m.ExpiresAt
		if !now.Before(expires) {
			w.fail(ctx, log, m, "the sign-in link expired before its mail could be sent")
			return
		}
	}
	msg, err := Render(m, RenderOptions{
		PublicURL: w.o.PublicURL,
		From:      w.o.From,
		ExpiresAt: expires,
		Now:       now,
	})
	if err != nil {
		// Rendering again gives the same result: no retry.
		w.fail(ctx, log, m, redact("cannot write the mail: "+err.Error(), m.Token))
		return
	}

	sendErr := w.o.Sender.Send(ctx, msg)
	if sendErr == nil {
		w.sent(log, m, claimedAt)
		return
	}
	if ctx.Err() != nil {
		// Cut at shutdown: Run releases the row, due at once.
		log.Warn("mail interrupted by shutdown; the row is released", "err", redact(sendErr.Error(), m.Token))
		return
	}
	temporary, reason := Classify(sendErr)
	reason = redact(reason, m.Token)
	if !temporary {
		w.fail(ctx, log, m, reason)
		return
	}
	at := w.o.Now()
	next := at.Add(w.backoff(m.Attempts))
	// A row without CreatedAt (a store bug) is retried without a budget
	// rather than failed at once.
	if deadline := m.CreatedAt.Add(w.o.RetryBudget); !m.CreatedAt.IsZero() && next.After(deadline) {
		w.fail(ctx, log, m, clip(fmt.Sprintf("retry budget of %s used up after attempt %d: %s", w.o.RetryBudget, attempt, reason)))
		return
	}
	if kind == member.OutboxSignIn && !next.Before(m.ExpiresAt) {
		w.fail(ctx, log, m, clip(fmt.Sprintf("the sign-in link expires before the next attempt, after attempt %d: %s", attempt, reason)))
		return
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.MarkOutboxRetry(mctx, m.ID, w.o.Owner, reason, next); err != nil {
		log.Error("record mail retry", "err", err, "reason", reason)
		return
	}
	log.Warn("mail not delivered; will retry", "reason", reason, "next_attempt_at", next.UTC())
}

// sent records an accepted mail. It tries a few times, since a row left
// leased after its mail went out would be sent again once the lease ends.
func (w *Worker) sent(log *slog.Logger, m member.OutboxMessage, claimedAt time.Time) {
	sentAt := w.o.Now()
	// Give up in time for nobody else to have taken the row over.
	deadline := claimedAt.Add(w.o.Lease * 3 / 4)
	delay := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := w.o.Outbox.MarkOutboxSent(ctx, m.ID, w.o.Owner, sentAt)
		cancel()
		if err == nil {
			log.Info("mail sent")
			return
		}
		if errors.Is(err, member.ErrLeaseLost) {
			// Cancelled while in flight (its link superseded, or the
			// binding activated), or taken over after the lease ran out.
			log.Warn("mail sent, but its outbox row is no longer this worker's", "err", err)
			return
		}
		if time.Until(deadline) < delay {
			log.Error("record mail as sent; it may be sent again", "err", err)
			return
		}
		log.Warn("record mail as sent; retrying", "err", err)
		t := time.NewTimer(delay)
		<-t.C
		delay = min(2*delay, 2*time.Second)
	}
}

// fail records a permanent failure.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, m member.OutboxMessage, reason string) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.MarkOutboxFailed(mctx, m.ID, w.o.Owner, reason, w.o.Now()); err != nil {
		log.Error("record mail failure", "err", err, "reason", reason)
		return
	}
	log.Error("mail failed for good", "reason", reason)
}

// backoff is the delay before the retry that follows a failure of a row
// with the given number of earlier attempts: RetryBase doubled per earlier
// attempt, at most RetryMax, ±20% so that rows failed together spread out.
func (w *Worker) backoff(earlier int) time.Duration {
	d := w.o.RetryBase
	for i := 0; i < earlier && d < w.o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.o.RetryMax)
	jitter := time.Duration(mathrand.Int64N(int64(d)*2/5+1)) - d/5
	return min(d+jitter, w.o.RetryMax)
}

// redact removes a raw token from text bound for logs and the store.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	s = strings.ReplaceAll(s, token, "[token]")
	return strings.ReplaceAll(s, url.QueryEscape(token), "[token]")
}
