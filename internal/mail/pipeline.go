package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"memberbind/internal/member"
)

// Run delivers the outbox until ctx ends. It is a pipeline of three
// stages: claim (lease due rows ahead into a local queue, up to 50 rows
// per connection, fewer while sends are slow), send (start the next
// queued mail as soon as one of the Concurrency sends finishes) and
// record (mark accepted mails sent, many to a transaction, beside the
// sending). It claims again once the queue has run down to half, after a
// full claim (more rows may be due), when woken by Notify, or when the
// poll interval passes. Retries and failures are recorded one by one. A
// queued row that could not be started within a quarter of its lease is
// given back rather than sent late. Store errors are logged and retried
// at the next poll; a claim that failed sends nothing.
//
// A crash forgets which mails the SMTP server accepted but the store has
// not recorded, and they go out again once their lease ends. The worker
// bounds them: no send starts while the sends in progress and the
// accepted mails not yet recorded number Concurrency+maxUnrecorded(), and
// the recorder takes an accepted mail into a transaction within
// markLinger unless all of its transactions are busy.
//
// When ctx ends, Run claims and starts nothing more, lets the mails in
// progress finish for up to ShutdownGrace, then cuts the rest, records
// the accepted ones, gives back every row it still holds (queued, cut, or
// not recorded) with ReleaseOutbox and returns. It returns nil after a
// clean stop and an error only if the release failed. Run may not be
// called twice at once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("mail worker: Run is already running")
	}
	defer w.running.Store(false)
	p := w.startPipeline(ctx)
	for ctx.Err() == nil {
		p.startSends(ctx)
		p.claimIfWanted(ctx)
		p.next(ctx)
	}
	return p.stop(ctx)
}

// Bounds of the pipeline.
const (
	// maxQueuePerSlot bounds the rows held unsent (queued and in
	// progress) to Concurrency×maxQueuePerSlot. Fewer are held while
	// sends are slow: each connection's share must go out within an
	// eighth of the lease (see queueSize).
	maxQueuePerSlot = 50
	// unrecordedPerSlot bounds the accepted mails not yet recorded to
	// Concurrency×unrecordedPerSlot (see maxUnrecorded): what a crash
	// sends twice. At a few milliseconds a send that is 50 to 100 ms of
	// sending, and two transactions' worth, so that sending does not wait
	// on the database while it answers in tens of milliseconds.
	unrecordedPerSlot = 8
	// maxMarkBatch bounds the rows one MarkOutboxSentBatch records.
	maxMarkBatch = 200
	// marksInFlight is how many MarkOutboxSentBatch transactions run at
	// once: the next batches are recorded while the last one commits.
	// Batches lock their bindings and rows in ascending order and hold
	// different rows, so they cannot deadlock each other.
	marksInFlight = 3
	// markLinger is how long the recorder waits for more accepted mails,
	// while sends are in progress and it has fewer than half of
	// maxUnrecorded, before it records what it has (see fill). A mail
	// accepted while no other is being sent is recorded at once.
	markLinger = 20 * time.Millisecond
)

// maxUnrecorded is how many accepted mails may wait to be recorded.
func (w *Worker) maxUnrecorded() int { return w.o.Concurrency * unrecordedPerSlot }

// pipeline is the state of one Run, owned by Run's goroutine; the stages
// report back to it over channels.
type pipeline struct {
	w       *Worker
	log     *slog.Logger
	sendCtx context.Context    // outlives Run's ctx by the shutdown grace
	cut     context.CancelFunc // ends sendCtx
	rec     *recorder

	queue    []queuedRow // claimed, not started, oldest first
	inflight int         // sends in progress
	sendTime time.Duration
	done     chan time.Duration // a send is dealt with; its SMTP send took so long

	claiming, wanted bool
	claimed          chan claimResult
	poll             *time.Timer
}

func (w *Worker) startPipeline(ctx context.Context) *pipeline {
	log := w.o.Logger.With("owner", w.o.Owner)
	// Sends outlive ctx by the shutdown grace. Claims and marks are never
	// cut, only bounded in time, so that what they did is known.
	sendCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	p := &pipeline{
		w: w, log: log, sendCtx: sendCtx, cut: cut,
		rec:     w.startRecorder(log),
		done:    make(chan time.Duration, w.o.Concurrency),
		wanted:  true,
		claimed: make(chan claimResult, 1),
		poll:    time.NewTimer(w.o.PollInterval),
	}
	return p
}

// canSend reports whether another send may start: a connection is free,
// and the sends in progress and the accepted mails not yet recorded stay
// within what a crash may send twice.
func (p *pipeline) canSend() bool {
	o := &p.w.o
	return p.inflight < o.Concurrency && p.inflight+int(p.rec.unrecorded.Load()) < o.Concurrency+p.w.maxUnrecorded()
}

// startSends starts queued mails while canSend, giving back those that
// waited too long.
func (p *pipeline) startSends(ctx context.Context) {
	var stale []int64
	for len(p.queue) > 0 && p.canSend() && ctx.Err() == nil {
		q := p.queue[0]
		p.queue = p.queue[1:]
		if time.Since(q.claimedAt) > p.w.o.Lease/4 {
			stale = append(stale, q.msg.ID)
			continue
		}
		p.inflight++
		p.rec.sending.Add(1)
		go func() {
			took, a := p.w.deliver(p.sendCtx, p.log, q)
			if a != nil {
				p.rec.accept(*a)
			}
			p.rec.sending.Add(-1)
			p.done <- took
		}()
	}
	if len(stale) > 0 {
		// Given back due at once: claim them again, with a new lease.
		p.w.giveBack(ctx, p.log, stale)
		p.wanted = true
	}
}

// claimIfWanted starts a claim beside the sends when one is wanted and
// the queue has run down to half.
func (p *pipeline) claimIfWanted(ctx context.Context) {
	size := p.w.queueSize(p.sendTime)
	if !p.wanted || p.claiming || len(p.queue) > size/2 || ctx.Err() != nil {
		return
	}
	room := size - len(p.queue) - p.inflight
	if room <= 0 {
		return
	}
	p.wanted, p.claiming = false, true
	go func() { p.claimed <- p.w.claim(ctx, room) }()
}

// next waits for something to act on: a stage reporting back, a wake-up,
// the poll, or the end of ctx.
func (p *pipeline) next(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-p.w.wake:
		p.wanted = true
	case <-p.poll.C:
		p.wanted = true
	case c := <-p.claimed:
		p.took(c)
		// A full claim may have left due rows behind: claim again when
		// the queue runs low.
		p.wanted = p.wanted || (c.err == nil && len(c.msgs) == c.limit)
		p.poll.Reset(p.w.o.PollInterval)
	case d := <-p.done:
		p.inflight--
		if d > 0 {
			if p.sendTime == 0 {
				p.sendTime = d
			}
			p.sendTime += (d - p.sendTime) / 8
		}
	case <-p.rec.recorded:
		// Room under the unrecorded bound: startSends sees it.
	}
}

// took queues what a claim returned. A claim that failed returned
// nothing: whatever its lease did is given back at the stop, or runs out.
func (p *pipeline) took(c claimResult) {
	p.claiming = false
	if c.err != nil {
		p.log.ErrorContext(context.Background(), "claim outbox", "err", c.err)
		return
	}
	for _, m := range c.msgs {
		p.queue = append(p.queue, queuedRow{msg: m, claimedAt: c.began})
	}
}

// stop lets the sends in progress finish for up to the shutdown grace,
// cuts the rest, records the accepted mails and gives back every row the
// worker still holds.
func (p *pipeline) stop(ctx context.Context) error {
	defer p.poll.Stop()
	defer p.cut()
	w := p.w
	if p.inflight > 0 {
		p.log.InfoContext(ctx, "mail worker stopping: finishing mails in progress", "in_progress", p.inflight, "grace", w.o.ShutdownGrace)
	}
	grace := time.NewTimer(w.o.ShutdownGrace)
	defer grace.Stop()
	for p.inflight > 0 || p.claiming {
		select {
		case <-p.done:
			p.inflight--
		case c := <-p.claimed:
			p.took(c) // claimed as the worker stopped: given back below
		case <-grace.C:
			if p.inflight > 0 {
				p.log.WarnContext(ctx, "mail worker stopping: cutting mails still in progress", "in_progress", p.inflight)
			}
			p.cut()
		}
	}
	// Every send has ended: record the accepted mails before the release
	// could make their rows due again.
	p.rec.close()
	if len(p.queue) > 0 {
		p.log.InfoContext(ctx, "mail worker stopping: giving back claimed mails not started", "rows", len(p.queue))
	}
	relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := w.o.Outbox.ReleaseOutbox(relCtx, w.o.Owner); err != nil {
		return fmt.Errorf("mail worker: release outbox rows of %s: %w", w.o.Owner, err)
	}
	return nil
}

// queuedRow is a claimed row waiting for a connection.
type queuedRow struct {
	msg       member.OutboxMessage
	claimedAt time.Time // when its claim began: its lease began no earlier
}

// claimResult is what one ClaimOutbox call returned.
type claimResult struct {
	msgs  []member.OutboxMessage
	err   error
	limit int
	began time.Time
}

// claim leases up to limit rows. It is bounded in time but not cut when
// ctx ends: Run must know what it holds to give it back. A claim that
// failed holds nothing the worker may send, whatever the store returned.
func (w *Worker) claim(ctx context.Context, limit int) claimResult {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	c := claimResult{limit: limit, began: time.Now()}
	c.msgs, c.err = w.o.Outbox.ClaimOutbox(cctx, w.o.Owner, limit, w.o.Lease)
	if c.err != nil {
		c.msgs = nil
	}
	return c
}

// queueSize is how many rows the worker holds unsent (queued and in
// progress) at most, given the average SMTP send so far: each
// connection's share must go out within an eighth of the lease, well
// before a queued row is given back unsent (a quarter).
func (w *Worker) queueSize(sendTime time.Duration) int {
	perSlot := maxQueuePerSlot
	if sendTime > 0 {
		perSlot = max(1, min(perSlot, int(w.o.Lease/8/sendTime)))
	}
	return w.o.Concurrency * perSlot
}

// acceptedMail is a mail the SMTP server accepted, to be recorded as sent.
type acceptedMail struct {
	id         int64
	orgID      int64     // the row's organization, which the mark names
	sentAt     time.Time // by the worker's clock: the link's days start then
	acceptedAt time.Time // by the wall clock, for the linger
	claimedAt  time.Time
	// ctx is the send's (its span), for the lines that record it.
	ctx context.Context
	log *slog.Logger
}

// recorder is the record stage: it marks the mails the SMTP server
// accepted as sent, up to marksInFlight transactions at once.
type recorder struct {
	w          *Worker
	log        *slog.Logger
	in         chan acceptedMail
	sending    atomic.Int64  // sends in progress, whose mail may come in
	unrecorded atomic.Int64  // accepted mails whose mark has not ended
	recorded   chan struct{} // a mark ended (capacity 1: wake-ups coalesce)
	done       chan struct{} // closed once in is closed and all recorded
}

func (w *Worker) startRecorder(log *slog.Logger) *recorder {
	r := &recorder{
		w: w, log: log,
		// canSend keeps the accepted mails within maxUnrecorded, plus
		// the sends in progress: accept never blocks.
		in:       make(chan acceptedMail, w.maxUnrecorded()+w.o.Concurrency),
		recorded: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	go r.run()
	return r
}

// accept hands an accepted mail to the recorder.
func (r *recorder) accept(a acceptedMail) {
	r.unrecorded.Add(1)
	r.in <- a
}

// close waits until every accepted mail handed in is recorded. No send
// may be in progress.
func (r *recorder) close() {
	close(r.in)
	<-r.done
}

// run records the mails coming in until in is closed, then closes done.
// It takes a transaction slot first, then fills a batch: mails that came
// in while every slot was busy go into one batch at once.
func (r *recorder) run() {
	defer close(r.done)
	slots := make(chan struct{}, marksInFlight)
	var marks sync.WaitGroup
	defer marks.Wait()
	for a := range r.in {
		slots <- struct{}{}
		batch := r.fill(a)
		marks.Add(1)
		go func() {
			defer marks.Done()
			r.w.markSent(r.log, batch)
			r.unrecorded.Add(-int64(len(batch)))
			<-slots
			select {
			case r.recorded <- struct{}{}:
			default:
			}
		}()
	}
}

// fill returns a batch that starts with first and holds every mail
// already in (at most maxMarkBatch). A batch smaller than half of
// maxUnrecorded waits for more up to markLinger after first was
// accepted, as long as sends are in progress: fewer, larger transactions.
// Half, so that the sends go on while one batch fills and the one before
// it commits. A batch of Concurrency, as it was, made a transaction (and
// a commit flushed to disk) of every four mails at a thousand mails a
// second: 2,405 for 10,000 mails, which held the sends back to 0.66 of
// go-mail's rate; at half, 677 and 0.79 (BENCHMARKS.md, "4 mail").
func (r *recorder) fill(first acceptedMail) []acceptedMail {
	batch := []acceptedMail{first}
	linger := time.NewTimer(time.Until(first.acceptedAt.Add(markLinger)))
	defer linger.Stop()
	for len(batch) < maxMarkBatch {
		var wait <-chan time.Time // nil: take only what is in already
		if len(batch) < r.w.maxUnrecorded()/2 && r.sending.Load() > 0 {
			wait = linger.C
		}
		a, ok := r.next(wait)
		if !ok {
			return batch
		}
		batch = append(batch, a)
	}
	return batch
}

// next returns an accepted mail that is in already or comes in before
// wait fires (nil: none); false if none does, or in is closed.
func (r *recorder) next(wait <-chan time.Time) (acceptedMail, bool) {
	if wait == nil {
		select {
		case a, ok := <-r.in:
			return a, ok
		default:
			return acceptedMail{}, false
		}
	}
	select {
	case a, ok := <-r.in:
		return a, ok
	case <-wait:
		return acceptedMail{}, false
	}
}
