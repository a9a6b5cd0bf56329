// Package mail writes and delivers the service's mail (DESIGN.md §4):
// activation links, and sign-in links to activated login emails.
//
// The service writes each mail to an outbox table in the transaction of the
// change that causes it; a Worker claims due outbox rows ahead, renders
// them with Render, sends them through a Sender (a pool of go-mail SMTP
// connections) and records the outcome: sent (many mails to a
// transaction), retry later (Classify says temporary), or failed
// (permanent, or out of retry budget). Several workers, in one process or
// many, share the outbox through leases.
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
	"slices"
	"strings"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/member"
	"memberbind/internal/options"
)

// Outbox is the store side (implemented by internal/mysql).
//
// Attempts: m.Attempts as claimed is the number of attempts already
// recorded; MarkOutboxSentBatch records one more for each row it marks,
// MarkOutboxRetry and MarkOutboxFailed one more for theirs. Every mark and
// ReleaseOutbox act only on rows the owner still holds.
type Outbox interface {
	// ClaimOutbox leases up to limit due rows (QUEUED/RETRYING with next_attempt_at <= now, not leased or with an expired lease) to owner until now+lease, by a conditional UPDATE. It returns rows only when their lease committed: on an error the worker sends nothing of the claim.
	ClaimOutbox(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error)
	// MarkOutboxSentBatch records in one transaction that the SMTP server accepted the mail of each row of sent (row id -> the row's organization and the acceptance time; an activation link's days start then) and erases their raw tokens. Rows owner no longer holds are skipped and returned in lost; an error records nothing.
	MarkOutboxSentBatch(ctx context.Context, owner string, sent map[int64]member.OutboxSent) (lost []int64, err error)
	// MarkOutboxRetry records a temporary failure of the row id of organization orgID and when to try again; an error if owner no longer holds the row.
	MarkOutboxRetry(ctx context.Context, orgID, id int64, owner string, lastError string, next time.Time) error
	// MarkOutboxFailed records a permanent failure (or an exhausted retry budget); an error if owner no longer holds the row.
	MarkOutboxFailed(ctx context.Context, orgID, id int64, owner string, lastError string, at time.Time) error
	// ReleaseOutbox gives back rows owner still holds, due at once: those of ids, or every one when no ids are given.
	ReleaseOutbox(ctx context.Context, owner string, ids ...int64) error
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

// markTimeout bounds one store call that claims rows or records an
// outcome.
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
	// It must exceed the Sender's connect plus command timeouts. A
	// claimed row not started within a quarter of it is given back, and
	// the worker claims no more ahead than it sends in an eighth of it.
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
	// OnSent and OnFailure, when set, are told of each SMTP send's
	// outcome: accepted, or failed temporarily (to be retried) or for
	// good. For metrics.
	OnSent    func()
	OnFailure func(temporary bool)
	// Owner names this worker on leased rows (default: host name and a
	// random suffix, at most 49 bytes).
	Owner string
}

// Worker delivers the outbox: it claims due rows ahead into a local queue,
// sends them concurrently and records the outcomes, accepted mails in
// batches. Create it with NewWorker and start it with Run.
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
	options.Default(&o.ActivationTTL, member.DefaultPolicy().ActivationTTL)
	options.Default(&o.Concurrency, DefaultConcurrency)
	options.Default(&o.Lease, DefaultLease)
	options.Default(&o.RetryBudget, DefaultRetryBudget)
	options.Default(&o.RetryBase, DefaultRetryBase)
	options.Default(&o.RetryMax, DefaultRetryMax)
	options.Default(&o.PollInterval, DefaultPollInterval)
	options.Default(&o.ShutdownGrace, DefaultShutdownGrace)
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

// giveBack releases queued rows that waited too long to be started: sent
// now, they might still be in flight when their lease ends and another
// worker takes them over.
func (w *Worker) giveBack(ctx context.Context, log *slog.Logger, ids []int64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.ReleaseOutbox(rctx, w.o.Owner, ids...); err != nil {
		log.ErrorContext(ctx, "give back mails not started in time; they wait for their lease to end", "rows", len(ids), "err", err)
		return
	}
	log.WarnContext(ctx, "gave back mails not started within a quarter of their lease", "rows", len(ids), "lease", w.o.Lease)
}

// deliver renders and sends one claimed row. It returns how long the SMTP
// send took (0 if none was made) and, if the server accepted the mail, the
// mail for the recorder; any other outcome it records itself.
func (w *Worker) deliver(ctx context.Context, log *slog.Logger, q queuedRow) (time.Duration, *acceptedMail) {
	m := q.msg
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
			return 0, nil
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
		return 0, nil
	}

	sendCtx, span := w.startSendSpan(ctx, m, kind, attempt)
	began := time.Now()
	sendErr := w.o.Sender.Send(sendCtx, msg)
	took := time.Since(began)
	if sendErr == nil {
		span.End()
		if w.o.OnSent != nil {
			w.o.OnSent()
		}
		return took, &acceptedMail{id: m.ID, orgID: m.OrgID, sentAt: w.o.Now(), acceptedAt: time.Now(), claimedAt: q.claimedAt, ctx: sendCtx, log: log}
	}
	temporary, _ := Classify(sendErr)
	endSendSpan(span, temporary)
	if w.o.OnFailure != nil && ctx.Err() == nil {
		w.o.OnFailure(temporary)
	}
	w.notSent(sendCtx, log, m, sendErr)
	return took, nil
}

// notSent records a send that failed: to be retried after a backoff if
// the failure is temporary and the retry budget allows, failed otherwise.
func (w *Worker) notSent(ctx context.Context, log *slog.Logger, m member.OutboxMessage, sendErr error) {
	attempt := m.Attempts + 1
	if ctx.Err() != nil {
		// Cut at shutdown: Run releases the row, due at once.
		log.WarnContext(ctx, "mail interrupted by shutdown; the row is released", "err", redact(sendErr.Error(), m.Token))
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
	if m.Kind == member.OutboxSignIn && !next.Before(m.ExpiresAt) {
		w.fail(ctx, log, m, clip(fmt.Sprintf("the sign-in link expires before the next attempt, after attempt %d: %s", attempt, reason)))
		return
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.MarkOutboxRetry(mctx, m.OrgID, m.ID, w.o.Owner, reason, next); err != nil {
		log.ErrorContext(ctx, "record mail retry", "err", err, "reason", reason)
		return
	}
	log.WarnContext(ctx, "mail not delivered; will retry", "reason", reason, "next_attempt_at", next.UTC())
}

// markSent records a batch of accepted mails. It tries until shortly
// before the first of their leases ends, since a row left leased after
// its mail went out would be sent again once the lease ends. A batch that
// fails is recorded again row by row, so that one row cannot hold back
// the others.
func (w *Worker) markSent(log *slog.Logger, batch []acceptedMail) {
	sent := make(map[int64]member.OutboxSent, len(batch))
	// Give up in time for nobody else to have taken a row over.
	deadline := batch[0].claimedAt.Add(w.o.Lease * 3 / 4)
	for _, a := range batch {
		sent[a.id] = member.OutboxSent{OrgID: a.orgID, At: a.sentAt}
		if d := a.claimedAt.Add(w.o.Lease * 3 / 4); d.Before(deadline) {
			deadline = d
		}
	}
	delay := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		lost, err := w.o.Outbox.MarkOutboxSentBatch(ctx, w.o.Owner, sent)
		cancel()
		if err == nil {
			for _, a := range batch {
				if slices.Contains(lost, a.id) {
					// Cancelled while in flight (its link superseded, or
					// the binding activated), or taken over after the
					// lease ran out.
					a.log.WarnContext(a.ctx, "mail sent, but its outbox row is no longer this worker's")
					continue
				}
				a.log.InfoContext(a.ctx, "mail sent")
			}
			return
		}
		if len(batch) > 1 {
			log.WarnContext(context.Background(), "record mails as sent; recording them one by one", "rows", len(batch), "err", err)
			for _, a := range batch {
				w.markSent(log, []acceptedMail{a})
			}
			return
		}
		a := batch[0]
		if time.Until(deadline) < delay {
			a.log.ErrorContext(a.ctx, "record mail as sent; it may be sent again", "err", err)
			return
		}
		a.log.WarnContext(a.ctx, "record mail as sent; retrying", "err", err)
		t := time.NewTimer(delay)
		<-t.C
		delay = min(2*delay, 2*time.Second)
	}
}

// fail records a permanent failure.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, m member.OutboxMessage, reason string) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.MarkOutboxFailed(mctx, m.OrgID, m.ID, w.o.Owner, reason, w.o.Now()); err != nil {
		log.ErrorContext(ctx, "record mail failure", "err", err, "reason", reason)
		return
	}
	log.ErrorContext(ctx, "mail failed for good", "reason", reason)
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
