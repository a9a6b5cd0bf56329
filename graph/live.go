package graph

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"memberbind/graph/model"
	"memberbind/internal/member"
)

// Defaults of LiveOptions.
const (
	// DefaultSubscriptionsPerKey is how many memberChanged subscriptions
	// one API key may hold open on one instance: a console in a few tabs.
	DefaultSubscriptionsPerKey = 10
	// DefaultSubscriptionsMax is how many one instance holds in all.
	DefaultSubscriptionsMax = 1000
	// DefaultLiveInterval is how often an instance reads the change log:
	// a change reaches its subscribers about this long after it
	// committed, on whichever instance it was made.
	DefaultLiveInterval = 500 * time.Millisecond
	// DefaultLiveGrace is how long a skipped sequence number is waited for
	// (see Live.Poll): longer than any transaction that writes a member
	// event stays open between taking the event's id and committing.
	DefaultLiveGrace = 10 * time.Second
	// liveBatch is how many changes one read of the change log takes;
	// a poll reads on while reads come back full, up to liveReads reads.
	liveBatch = 500
	liveReads = 20
	// maxGaps bounds the skipped ranges a poll asks for again; past it the
	// oldest are given up. A Galera cluster, whose nodes hand out
	// interleaved ids, leaves a range at every id of the other nodes.
	maxGaps = 256
)

// LiveOptions configure live updates.
type LiveOptions struct {
	Changes member.Changes
	Logger  *slog.Logger
	// PerKey bounds the subscriptions of one API key on this instance;
	// Max those of the instance. Zero means the defaults above.
	PerKey, Max int
	// Grace is how long a skipped sequence number is waited for; zero
	// means DefaultLiveGrace.
	Grace time.Duration
	// Now is the clock the grace is measured on; time.Now when nil.
	Now func() time.Time
}

// Live serves the memberChanged subscription: one poller per instance
// (Run, or a test calling Poll) reads the change log that every change of
// a member writes in its own transaction (member_events, through
// member.Changes), loads the changed members of the organizations that
// have subscribers, once per organization and poll, and hands them to
// those subscribers. The database is the only thing the instances share,
// so a change made through any of them reaches the subscribers of all.
//
// A pending binding that fails by the clock alone, when its last link
// expires (R7), writes nothing: each poll also asks for the bindings that
// failed between its clock's instant and the last poll's.
//
// Sequence numbers (AUTO_INCREMENT ids) are taken when a transaction
// inserts its event and seen when it commits, so a lower one can appear
// after a higher one was read. A poll reads on from the highest number it
// has seen, and every number it skipped on the way is remembered as a gap
// and asked for again at each poll until it appears or has been missing for
// Grace (a rolled-back transaction, or another Galera node's id, never
// fills it). Each number is delivered once: it leaves its gap when read.
type Live struct {
	o LiveOptions
	// done ends when Run returns: the live connections close.
	done context.Context
	stop context.CancelFunc

	mu     sync.Mutex
	subs   map[*liveSub]struct{}
	perKey map[int64]int

	pollMu sync.Mutex // one poll at a time; guards what follows
	seq    int64      // the highest sequence number seen
	gaps   []liveGap  // skipped numbers below seq, oldest first
	failed time.Time  // bindings that failed up to this instant were seen
	reset  bool       // seq is not read yet
}

type liveGap struct {
	member.SeqRange
	since time.Time
}

// liveSub is one memberChanged subscription.
type liveSub struct {
	org, key int64
	wake     chan struct{} // capacity 1: something is pending

	mu      sync.Mutex
	pending map[int64]*member.Member // the newest state of each changed member
	revoked bool
}

// NewLive returns live updates over o.Changes; Run polls it.
func NewLive(o LiveOptions) *Live {
	if o.PerKey <= 0 {
		o.PerKey = DefaultSubscriptionsPerKey
	}
	if o.Max <= 0 {
		o.Max = DefaultSubscriptionsMax
	}
	if o.Grace <= 0 {
		o.Grace = DefaultLiveGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	done, stop := context.WithCancel(context.Background())
	return &Live{o: o, done: done, stop: stop, subs: map[*liveSub]struct{}{}, perKey: map[int64]int{}, reset: true}
}

// Run polls every interval until ctx ends, then closes every live
// connection. A failed poll is logged and the next one tries again.
func (l *Live) Run(ctx context.Context, interval time.Duration) {
	defer l.stop()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.Poll(ctx); err != nil && ctx.Err() == nil {
			l.o.Logger.WarnContext(ctx, "live updates: read the change log", "err", err)
		}
	}
}

// Subscriptions is how many subscriptions are open on this instance.
func (l *Live) Subscriptions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// errTooManySubscriptions: the bounds of LiveOptions. The socket stays
// open, and the subscription may be tried again once another ended.
const codeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"

// add opens a subscription for the caller's organization, within the
// bounds: the key's and the instance's.
func (l *Live) add(ctx context.Context, c *member.Caller) (*liveSub, error) {
	// The poller starts reading the log no later than the first
	// subscription: what is recorded after this returns reaches it.
	l.pollMu.Lock()
	err := l.start(ctx)
	l.pollMu.Unlock()
	if err != nil {
		return nil, err
	}
	// A key revoked after its connection was opened opens nothing more.
	revoked, err := l.o.Changes.RevokedAPIKeys(ctx, []int64{c.Org.ID}, []int64{c.APIKeyID})
	if err != nil {
		return nil, err
	}
	if revoked[c.APIKeyID] {
		return nil, member.ErrUnauthenticated
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.perKey[c.APIKeyID] >= l.o.PerKey:
		return nil, &gqlerror.Error{Message: fmt.Sprintf("this API key holds %d subscriptions on this server, as many as one key may: end one first", l.o.PerKey),
			Extensions: map[string]any{"code": codeTooManySubscriptions}}
	case len(l.subs) >= l.o.Max:
		return nil, &gqlerror.Error{Message: fmt.Sprintf("this server holds %d subscriptions, as many as it takes: try again later", l.o.Max),
			Extensions: map[string]any{"code": codeTooManySubscriptions}}
	}
	s := &liveSub{org: c.Org.ID, key: c.APIKeyID, wake: make(chan struct{}, 1), pending: map[int64]*member.Member{}}
	l.subs[s] = struct{}{}
	l.perKey[c.APIKeyID]++
	return s, nil
}

// remove ends a subscription.
func (l *Live) remove(s *liveSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.subs[s]; !ok {
		return
	}
	delete(l.subs, s)
	if l.perKey[s.key]--; l.perKey[s.key] == 0 {
		delete(l.perKey, s.key)
	}
}

// take returns what is pending for the subscription, oldest member
// first, and whether its key was revoked.
func (s *liveSub) take() ([]*member.Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	members := slices.SortedFunc(maps.Values(s.pending), func(a, b *member.Member) int { return cmp.Compare(a.ID, b.ID) })
	clear(s.pending)
	return members, s.revoked
}

func (s *liveSub) push(members []*member.Member, revoked bool) {
	s.mu.Lock()
	for _, m := range members {
		s.pending[m.ID] = m
	}
	s.revoked = s.revoked || revoked
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Poll reads the change log once: what changed since the last poll goes
// to the subscribers of its organization, and the subscriptions of keys
// revoked since end. A poll that fails part way (a lost connection, a
// database out of reach) hands nothing to anyone and forgets what it
// read, so that the next poll reads it again: no change is lost.
func (l *Live) Poll(ctx context.Context) (err error) {
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	l.mu.Lock()
	orgs, keys := map[int64][]*liveSub{}, map[int64][]*liveSub{}
	for s := range l.subs {
		orgs[s.org] = append(orgs[s.org], s)
		keys[s.key] = append(keys[s.key], s)
	}
	l.mu.Unlock()
	if err := l.start(ctx); err != nil {
		return err
	}
	// see and the pruning below change l.gaps in place: keep a copy.
	seq, gaps, failed := l.seq, slices.Clone(l.gaps), l.failed
	defer func() {
		if err != nil {
			l.seq, l.gaps, l.failed = seq, gaps, failed
		}
	}()
	now := l.o.Now()
	l.gaps = slices.DeleteFunc(l.gaps, func(g liveGap) bool { return now.Sub(g.since) >= l.o.Grace })
	changed := map[int64]map[int64]bool{} // org -> member ids
	for range liveReads {
		ranges := make([]member.SeqRange, len(l.gaps))
		for i, g := range l.gaps {
			ranges[i] = g.SeqRange
		}
		changes, err := l.o.Changes.ChangesAfter(ctx, l.seq, ranges, liveBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if !l.see(c.Seq, now) {
				continue
			}
			if orgs[c.OrgID] == nil {
				continue
			}
			if changed[c.OrgID] == nil {
				changed[c.OrgID] = map[int64]bool{}
			}
			changed[c.OrgID][c.MemberID] = true
		}
		if len(changes) < liveBatch {
			break
		}
	}
	if len(l.gaps) > maxGaps {
		l.gaps = slices.Delete(l.gaps, 0, len(l.gaps)-maxGaps)
	}
	// A binding that fails by the clock writes no event: look for those
	// that failed since the last poll, by this instance's clock.
	if len(orgs) > 0 {
		expired, upTo, err := l.o.Changes.ExpiredBetween(ctx, l.failed, now, liveBatch)
		if err != nil {
			return err
		}
		l.failed = upTo
		for _, c := range expired {
			if orgs[c.OrgID] == nil {
				continue
			}
			if changed[c.OrgID] == nil {
				changed[c.OrgID] = map[int64]bool{}
			}
			changed[c.OrgID][c.MemberID] = true
		}
	} else {
		l.failed = now
	}

	// Every read is done before anything is handed out: a read that
	// fails leaves nothing half delivered.
	members := map[int64][]*member.Member{}
	for org, ids := range changed {
		byID, err := l.o.Changes.MembersByID(ctx, org, slices.Sorted(maps.Keys(ids)))
		if err != nil {
			return err
		}
		members[org] = slices.Collect(maps.Values(byID))
	}
	revoked, err := l.o.Changes.RevokedAPIKeys(ctx, slices.Collect(maps.Keys(orgs)), slices.Collect(maps.Keys(keys)))
	if err != nil {
		return err
	}
	for org, ms := range members {
		for _, s := range orgs[org] {
			s.push(ms, false)
		}
	}
	for key := range revoked {
		for _, s := range keys[key] {
			s.push(nil, true)
		}
	}
	return nil
}

// start reads where the change log ends, on the first poll or
// subscription: what was recorded before is not news. It holds pollMu.
func (l *Live) start(ctx context.Context) error {
	if !l.reset {
		return nil
	}
	seq, err := l.o.Changes.LastChange(ctx)
	if err != nil {
		return err
	}
	l.seq, l.gaps, l.reset = seq, nil, false
	l.failed = l.o.Now()
	return nil
}

// see records that sequence number seq was read, and reports whether it
// is news: above every number seen (the numbers skipped on the way become
// a gap) or the filling of a gap.
func (l *Live) see(seq int64, now time.Time) bool {
	if seq > l.seq {
		if seq > l.seq+1 {
			l.gaps = append(l.gaps, liveGap{member.SeqRange{From: l.seq + 1, To: seq - 1}, now})
		}
		l.seq = seq
		return true
	}
	for i, g := range l.gaps {
		if seq < g.From || seq > g.To {
			continue
		}
		var split []liveGap
		if seq > g.From {
			split = append(split, liveGap{member.SeqRange{From: g.From, To: seq - 1}, g.since})
		}
		if seq < g.To {
			split = append(split, liveGap{member.SeqRange{From: seq + 1, To: g.To}, g.since})
		}
		l.gaps = slices.Replace(l.gaps, i, i+1, split...)
		return true
	}
	return false
}

// follow sends what is pushed to sub on the channel gqlgen reads the
// subscription from, as the schema shows a member, until the
// subscription's context ends or its key is revoked.
func (r *Resolver) follow(ctx context.Context, sub *liveSub) <-chan *model.Member {
	ch := make(chan *model.Member)
	go func() {
		defer close(ch)
		defer r.Live.remove(sub)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
			}
			members, revoked := sub.take()
			if revoked {
				transport.AddSubscriptionError(ctx, &gqlerror.Error{Message: "the API key was revoked", Extensions: map[string]any{"code": codeUnauthenticated}})
				return
			}
			for _, m := range r.show(ctx, members...) {
				select {
				case ch <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}
