package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"memberbind/internal/mail"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// Mail settings of the mail figure: memberbind's defaults.
const (
	benchFrom      = "memberbind <no-reply@memberbind.localhost>"
	benchPublicURL = "https://members.example.com"
)

// countingOutbox is the store as the mail worker sees it, counting the
// outcomes it records (the worker's progress, read without polling) and
// timing its store calls: the worker claims and marks many rows a call.
// Its counters add up over the worker's rounds; expect arms a round.
type countingOutbox struct {
	*mysql.Store
	sent     atomic.Int64 // rows marked sent
	problems atomic.Int64 // retries and failures
	accepted chan time.Time

	claims, claimed     atomic.Int64 // ClaimOutbox calls, and the rows they returned
	marks               atomic.Int64 // MarkOutboxSentBatch calls (their rows: sent)
	claimTime, markTime atomic.Int64 // in ClaimOutbox and MarkOutboxSentBatch, ns

	failed      atomic.Int64 // mails failed for good
	mu          sync.Mutex
	lastProblem string // the reason of the last retry or failure
	roundSent   int64  // rows marked sent in this round
	target      int64
	done        chan struct{} // closed when roundSent reaches target
}

// expect starts a round of n mails: done closes when n more are sent.
// No worker may be running.
func (o *countingOutbox) expect(n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.roundSent, o.target, o.done = 0, int64(n), make(chan struct{})
	return o.done
}

func (o *countingOutbox) ClaimOutbox(ctx context.Context, owner string, limit int, lease time.Duration) ([]member.OutboxMessage, error) {
	t0 := time.Now()
	msgs, err := o.Store.ClaimOutbox(ctx, owner, limit, lease)
	o.claimTime.Add(int64(time.Since(t0)))
	o.claims.Add(1)
	o.claimed.Add(int64(len(msgs)))
	return msgs, err
}

// timedTransport times the sends of a mail.Transport.
type timedTransport struct {
	mail.Transport
	sends, took atomic.Int64
}

func (t *timedTransport) Send(ctx context.Context, msg *gomail.Msg) error {
	t0 := time.Now()
	err := t.Transport.Send(ctx, msg)
	t.took.Add(int64(time.Since(t0)))
	t.sends.Add(1)
	return err
}

// mean is total/n as a duration.
func mean(total, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(total / n)
}

func newCountingOutbox(st *mysql.Store) *countingOutbox {
	return &countingOutbox{Store: st, accepted: make(chan time.Time, 1)}
}

// MarkOutboxSentBatch records the sends and reports their acceptance
// times, at which the worker stood right after the SMTP server said 250.
func (o *countingOutbox) MarkOutboxSentBatch(ctx context.Context, owner string, sent map[int64]member.OutboxSent) ([]int64, error) {
	t0 := time.Now()
	lost, err := o.Store.MarkOutboxSentBatch(ctx, owner, sent)
	o.markTime.Add(int64(time.Since(t0)))
	o.marks.Add(1)
	if err != nil {
		return lost, err
	}
	n := int64(len(sent) - len(lost))
	o.sent.Add(n)
	o.mu.Lock()
	if o.roundSent += n; o.roundSent >= o.target && o.roundSent-n < o.target {
		close(o.done)
	}
	o.mu.Unlock()
	for id, at := range sent {
		if slices.Contains(lost, id) {
			continue
		}
		select {
		case o.accepted <- at.At:
		default:
		}
	}
	return lost, nil
}

func (o *countingOutbox) MarkOutboxRetry(ctx context.Context, orgID, id int64, owner string, lastError string, next time.Time) error {
	o.problem(lastError)
	return o.Store.MarkOutboxRetry(ctx, orgID, id, owner, lastError, next)
}

func (o *countingOutbox) MarkOutboxFailed(ctx context.Context, orgID, id int64, owner string, lastError string, at time.Time) error {
	o.problem(lastError)
	o.failed.Add(1)
	return o.Store.MarkOutboxFailed(ctx, orgID, id, owner, lastError, at)
}

func (o *countingOutbox) problem(reason string) {
	o.problems.Add(1)
	o.mu.Lock()
	o.lastProblem = reason
	o.mu.Unlock()
}

// mailRounds is how many rounds each side of the mail figure takes, in
// turns: worker, floor, floor, worker, worker, floor, ... Both sides then
// see the machine alike, and the ratio's spread over the rounds shows.
const mailRounds = 4

// mail is figure 4: -mails queued activation mails delivered to Mailpit by
// mail.Worker, against go-mail sending the same rendered messages over as
// many pooled connections (mail.Sender), in mailRounds alternating rounds
// of each; then the time from a bind over HTTP to its mail's acceptance,
// one bind at a time, with the worker woken by the store's commit as
// cmd/memberbind wires it.
func (b *bench) mail(ctx context.Context) error {
	f, err := b.newFixture(ctx, "mail")
	if err != nil {
		return err
	}
	defer f.db.Close()
	s, err := seed(ctx, f.db, seedSpec{OrgID: f.orgID, Members: b.cfg.Mails + b.cfg.LatencySamples})
	if err != nil {
		return err
	}
	members := newIDPool(s.FirstID, s.LastID)
	smtp, err := mail.ParseSMTPURL(b.mailpit.SMTPURL)
	if err != nil {
		return err
	}

	sizes := splitRounds(b.cfg.Mails, mailRounds)
	rounds := len(sizes)
	outbox := newCountingOutbox(f.st)
	transport := &timedTransport{}
	var (
		workerTook, floorTook, rendering time.Duration
		floorSends                       time.Duration // the floor's sends, one after another
		ratios                           []float64
		waits                            int64
		waited                           time.Duration
	)
	for i, n := range sizes {
		// This round's mails: queued by binds, and rendered for the
		// floor as the worker renders them (outside both timings).
		t0 := time.Now()
		if err := bindMany(ctx, f, members, n, b.cfg.Clients); err != nil {
			return err
		}
		b.log.Info("mail queued", "round", i+1, "mails", n, "took", time.Since(t0).Round(time.Millisecond))
		rendered, took, err := renderQueued(ctx, f.st, n)
		if err != nil {
			return err
		}
		rendering += took

		var w, fl, each time.Duration
		worker := func() error {
			waits0, waited0 := b.dbs.rowLockWaits(ctx)
			var err error
			if w, err = b.workerRound(ctx, outbox, transport, smtp, n); err != nil {
				return fmt.Errorf("round %d, worker: %w", i+1, err)
			}
			waits1, waited1 := b.dbs.rowLockWaits(ctx)
			waits, waited = waits+waits1-waits0, waited+waited1-waited0
			return nil
		}
		floor := func() error {
			if err := b.mailpit.clear(ctx); err != nil {
				return err
			}
			var err error
			if fl, each, err = sendAll(ctx, smtp, b.cfg.MailConns, rendered); err != nil {
				return fmt.Errorf("round %d, floor: %w", i+1, err)
			}
			if err := b.expectMail(ctx, n); err != nil {
				return fmt.Errorf("round %d, floor: %w", i+1, err)
			}
			return nil
		}
		order := []func() error{worker, floor}
		if i%2 == 1 {
			order = []func() error{floor, worker}
		}
		for _, side := range order {
			if err := side(); err != nil {
				return err
			}
		}
		workerTook += w
		floorTook += fl
		floorSends += each * time.Duration(n)
		// The same n mails on each side: the ratio of the rates is the
		// inverse ratio of the times.
		ratios = append(ratios, ratio(fl.Seconds(), w.Seconds()))
	}
	if n := outbox.problems.Load(); n > 0 {
		outbox.mu.Lock()
		b.rep.note("The mail worker retried %d sends after a temporary failure (the last: %s); their backoff is in its time.", n, outbox.lastProblem)
		outbox.mu.Unlock()
	}
	workerRate, floorRate := float64(b.cfg.Mails)/workerTook.Seconds(), float64(b.cfg.Mails)/floorTook.Seconds()
	r := row{
		Figure: "4 mail",
		What: fmt.Sprintf("%d queued activation mails delivered to Mailpit by `mail.Worker`, %d connections, in %d rounds of each side taken in turns (worker, floor, floor, worker, …); floor: go-mail (`mail.Sender`) sending the same `mail.Render`ed messages",
			b.cfg.Mails, b.cfg.MailConns, rounds),
		Server: fmt.Sprintf("%.0f mails/s (%s)", workerRate, workerTook.Round(time.Millisecond)),
		Floor:  fmt.Sprintf("%.0f mails/s (%s)", floorRate, floorTook.Round(time.Millisecond)),
		Ratio:  ratio(workerRate, floorRate),
		Spread: spread(ratios),
		Goal:   goal{Op: "≥", Bound: 0.8},
	}
	b.rep.add(r)
	if len(ratios) > 1 {
		lo, hi := slices.Min(ratios), slices.Max(ratios)
		dist := math.Abs(r.Ratio - r.Goal.Bound)
		than := "smaller"
		if hi-lo >= dist {
			than = "not smaller"
		}
		b.rep.note("The mail ratio of each round, in order: %s; their spread (%.2f) is %s than the total's distance to the goal of %g (%.2f).",
			joinRatios(ratios), hi-lo, than, r.Goal.Bound, dist)
	}
	b.rep.note("Rendering one activation mail (`mail.Render`, outside the floor's timing) takes %s of CPU.", ms(rendering/time.Duration(b.cfg.Mails)))
	b.rep.note("Where the mail worker's time goes (%d sends in flight at most; claims and marks run beside the sends): "+
		"ClaimOutbox %s per call (%d calls for %d rows, %s per row), the SMTP send %s, "+
		"MarkOutboxSentBatch %s per call (%d calls for %d rows, %s per row); the floor's send takes %s.",
		b.cfg.MailConns,
		ms(mean(outbox.claimTime.Load(), outbox.claims.Load())), outbox.claims.Load(), outbox.claimed.Load(),
		ms(mean(outbox.claimTime.Load(), outbox.claimed.Load())),
		ms(mean(transport.took.Load(), transport.sends.Load())),
		ms(mean(outbox.markTime.Load(), outbox.marks.Load())), outbox.marks.Load(), outbox.sent.Load(),
		ms(mean(outbox.markTime.Load(), outbox.sent.Load())), ms(floorSends/time.Duration(b.cfg.Mails)))
	b.rep.note("While the worker delivered them, the database server counted %d InnoDB row lock waits, %s waited in all "+
		"(server-wide counters: anything else running on the server adds to them).", waits, waited.Round(time.Millisecond))

	// The worker of the latency part runs until the figure ends.
	sender, err := mail.NewSender(smtp, b.cfg.MailConns)
	if err != nil {
		return err
	}
	defer sender.Close()
	transport.Transport = sender
	w, err := mail.NewWorker(mail.WorkerOptions{
		Outbox: outbox, Sender: transport, From: benchFrom, PublicURL: benchPublicURL,
		Concurrency: b.cfg.MailConns, Logger: benchLogger(),
	})
	if err != nil {
		return err
	}
	outbox.expect(b.cfg.LatencySamples)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- w.Run(runCtx) }()

	// Bind to accepted, at light load: one bind at a time over HTTP, the
	// worker woken by the store when the bind commits.
	for len(outbox.accepted) > 0 {
		<-outbox.accepted
	}
	st := mysql.New(f.db, mysql.Options{Policy: benchPolicy()})
	st.OnOutbox = w.Notify
	srv, err := startInProcess(st)
	if err != nil {
		return err
	}
	defer srv.close()
	c := newClient(srv.URL, f.key, 1)
	defer c.close()
	var lat []time.Duration
	for range b.cfg.LatencySamples {
		id, err := members.take()
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := c.mutate(ctx, gqlBody(bindMutation, bindInput(id, bindEmail(id, "mail.example")))); err != nil {
			return err
		}
		select {
		case at := <-outbox.accepted:
			lat = append(lat, at.Sub(t0))
		case <-time.After(time.Minute):
			return fmt.Errorf("the mail of member %d was not accepted within a minute", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stop()
	if err := <-ran; err != nil {
		return err
	}
	p99 := percentile(lat, 99)
	b.rep.add(row{
		Figure: "4 mail",
		What:   fmt.Sprintf("bind to accepted: `bindSecurityInfo` over HTTP until Mailpit accepted its mail, one at a time (%d binds)", b.cfg.LatencySamples),
		Server: fmt.Sprintf("p50 %s · p99 %s", ms(percentile(lat, 50)), ms(p99)),
		Floor:  fmt.Sprintf("the worker's poll interval: %s", mail.DefaultPollInterval),
		Ratio:  ratio(float64(p99), float64(mail.DefaultPollInterval)),
		Goal:   goal{Text: "not set by the poll interval: p99 < 1/10 of it", Met: p99 < mail.DefaultPollInterval/10},
	})
	return nil
}

// sendAll sends msgs over a mail.Sender of conns connections from conns
// goroutines and returns how long it took, and one send on average.
func sendAll(ctx context.Context, smtp mail.SMTPConfig, conns int, msgs []*gomail.Msg) (took, each time.Duration, err error) {
	sender, err := mail.NewSender(smtp, conns)
	if err != nil {
		return 0, 0, err
	}
	defer sender.Close()
	var next atomic.Int64
	t0 := time.Now()
	res := runLoad(ctx, conns, time.Hour, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		if i >= int64(len(msgs)) {
			return errExhausted
		}
		return sender.Send(ctx, msgs[i])
	})
	took = time.Since(t0)
	if res.Errors > 0 {
		return 0, 0, fmt.Errorf("send: %s", res.failed())
	}
	var total time.Duration
	for _, d := range res.Lat {
		total += d
	}
	return took, mean(int64(total), int64(len(res.Lat))), ctx.Err()
}

// expectMail waits (briefly) until Mailpit holds n messages.
func (b *bench) expectMail(ctx context.Context, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := b.mailpit.total(ctx)
		if err != nil {
			return err
		}
		if got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Mailpit server holds %d messages, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workerRound runs a mail.Worker, on a Sender of its own, until it has
// sent the n mails queued, and returns how long that took from its start.
func (b *bench) workerRound(ctx context.Context, outbox *countingOutbox, transport *timedTransport, smtp mail.SMTPConfig, n int) (time.Duration, error) {
	if err := b.mailpit.clear(ctx); err != nil {
		return 0, err
	}
	sender, err := mail.NewSender(smtp, b.cfg.MailConns)
	if err != nil {
		return 0, err
	}
	defer sender.Close()
	transport.Transport = sender
	w, err := mail.NewWorker(mail.WorkerOptions{
		Outbox: outbox, Sender: transport, From: benchFrom, PublicURL: benchPublicURL,
		Concurrency: b.cfg.MailConns, Logger: benchLogger(),
	})
	if err != nil {
		return 0, err
	}
	done := outbox.expect(n)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	t0 := time.Now()
	go func() { ran <- w.Run(runCtx) }()
	// A temporary failure is retried after its backoff and still counts
	// when it is sent; a permanent one would leave the figure waiting.
	check := time.NewTicker(time.Second)
	defer check.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case err := <-ran:
			return 0, fmt.Errorf("mail worker stopped: %v", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-check.C:
			if outbox.failed.Load() > 0 {
				outbox.mu.Lock()
				defer outbox.mu.Unlock()
				return 0, fmt.Errorf("the worker failed %d mails for good, the last: %s", outbox.failed.Load(), outbox.lastProblem)
			}
		}
	}
	took := time.Since(t0)
	stop()
	if err := <-ran; err != nil {
		return 0, err
	}
	return took, b.expectMail(ctx, n)
}

// renderQueued renders the n queued mails as the worker renders them:
// claimed, rendered, and given back. It returns how long the rendering
// alone took.
func renderQueued(ctx context.Context, st *mysql.Store, n int) (rendered []*gomail.Msg, took time.Duration, err error) {
	const owner = "memberbind-bench-floor"
	var msgs []member.OutboxMessage
	for len(msgs) < n {
		got, err := st.ClaimOutbox(ctx, owner, 1000, time.Hour)
		if err != nil {
			return nil, 0, err
		}
		if len(got) == 0 {
			break
		}
		msgs = append(msgs, got...)
	}
	if len(msgs) != n {
		return nil, 0, fmt.Errorf("%d mails queued, want %d", len(msgs), n)
	}
	t0 := time.Now()
	rendered = make([]*gomail.Msg, len(msgs))
	for i, m := range msgs {
		now := time.Now()
		if rendered[i], err = mail.Render(m, mail.RenderOptions{
			PublicURL: benchPublicURL, From: benchFrom, ExpiresAt: now.Add(member.DefaultPolicy().ActivationTTL), Now: now,
		}); err != nil {
			return nil, 0, err
		}
	}
	took = time.Since(t0)
	return rendered, took, st.ReleaseOutbox(ctx, owner)
}

// splitRounds splits n into at most rounds sizes as even as can be, none
// of them zero.
func splitRounds(n, rounds int) []int {
	rounds = min(rounds, n)
	sizes := make([]int, rounds)
	for i := range sizes {
		sizes[i] = n / rounds
		if i < n%rounds {
			sizes[i]++
		}
	}
	return sizes
}

// joinRatios renders ratios as "0.81, 0.79, …".
func joinRatios(ratios []float64) string {
	parts := make([]string, len(ratios))
	for i, r := range ratios {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, ", ")
}
