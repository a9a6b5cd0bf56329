package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// memory is figure 6: the real binary, built with -tags noembed, started
// as memberbind is deployed (MEMBERBIND_DATABASE_DSN, MEMBERBIND_SMTP_URL,
// MEMBERBIND_LISTEN), under the admin console's own load at -clients: its
// list request (ConsoleMembers, a page of 50 with totalCount), then its
// bindSecurityInfo (whose mail the binary's worker delivers to Mailpit
// meanwhile), then activations of the links read back from Mailpit. It
// runs twice, each time a fresh process: with -read-members members in
// the organization, then with -depth-members, seeded in bulk as the depth
// figure's. The peak RSS is the kernel's high-water mark, VmHWM.
func (b *bench) memory(ctx context.Context) error {
	bin, dir, done, err := b.realBinary(ctx)
	if err != nil {
		return err
	}
	defer done()
	dsn, err := b.dbs.create(ctx, "memory")
	if err != nil {
		return err
	}
	env := b.binaryEnv(dsn, "MEMBERBIND_ADMIN_LISTEN=127.0.0.1:0")
	key, err := createOrg(ctx, bin, env, "Bench memory")
	if err != nil {
		return err
	}

	db, err := openMigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var orgID int64
	if err := db.GetContext(ctx, &orgID, `SELECT id FROM organizations`); err != nil {
		return err
	}

	// The first size: the older members unbound, for the binds; the
	// newest half bound, which the console's first page shows.
	small := b.cfg.ReadMembers
	shown := min(1000, small/2)
	bindable, err := seed(ctx, db, seedSpec{OrgID: orgID, Members: small - shown})
	if err != nil {
		return err
	}
	if _, err := seed(ctx, db, seedSpec{OrgID: orgID, Members: shown, BindEvery: 2, Domain: "memory.example"}); err != nil {
		return err
	}
	m := memoryRun{bin: bin, env: env, dir: dir, db: db, key: key, members: small, bindable: newUnboundPool(bindable.FirstID, bindable.LastID, 0)}
	if err := b.memoryAt(ctx, m); err != nil {
		return fmt.Errorf("%d members: %w", small, err)
	}

	// The second size: as many members as the depth figure's, the newest
	// bound as many as its (each with its link, mail and email claim).
	big := b.cfg.DepthMembers
	if big <= small {
		return nil
	}
	every := 0
	if b.cfg.DepthBound > 0 {
		every = max(1, int(math.Round(1/b.cfg.DepthBound)))
	}
	t0 := time.Now()
	more, err := seed(ctx, db, seedSpec{OrgID: orgID, Members: big - small, BindEvery: every, Domain: "memory.example"})
	if err != nil {
		return err
	}
	b.log.Info("memory organization grown", "members", big, "took", time.Since(t0).Round(time.Millisecond))
	m.members = big
	m.bindable = newUnboundPool(more.FirstID, more.LastID, every)
	if err := b.memoryAt(ctx, m); err != nil {
		return fmt.Errorf("%d members: %w", big, err)
	}
	return nil
}

// memoryRun is one size of the memory figure.
type memoryRun struct {
	bin, dir string
	env      []string
	db       *sqlx.DB
	key      string
	members  int          // in the organization
	bindable *unboundPool // its unbound members, for the binds
}

// unboundPool hands out the ids first..last once each, but those of
// every every-th member from first (the seed's bound ones; 0: none).
type unboundPool struct {
	next        atomic.Int64
	first, last int64
	every       int64
}

func newUnboundPool(first, last int64, every int) *unboundPool {
	p := &unboundPool{first: first, last: last, every: int64(every)}
	p.next.Store(first)
	return p
}

func (p *unboundPool) take() (int64, error) {
	for {
		id := p.next.Add(1) - 1
		if id > p.last {
			return 0, errExhausted
		}
		if p.every == 0 || (id-p.first)%p.every != 0 {
			return id, nil
		}
	}
}

// memoryAt starts a fresh memberbind process on m's database, loads it
// and adds its peak RSS as a row, and its steps as a note.
func (b *bench) memoryAt(ctx context.Context, m memoryRun) error {
	if err := b.mailpit.clear(ctx); err != nil {
		return err
	}
	srv, err := startServe(ctx, m.bin, m.env, filepath.Join(m.dir, fmt.Sprintf("memberbind-%d.log", m.members)))
	if err != nil {
		return fmt.Errorf("memberbind: %w", err)
	}
	defer srv.stop()
	pid := srv.pid()
	// The kernel sums the RSS it reports from per-CPU counters, which
	// it reads approximately: two reads of VmHWM may differ by a few
	// hundred kB the wrong way. The peak is the highest read.
	var peak int64
	hwm := func() int64 {
		peak = max(peak, procField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM"))
		return peak
	}
	steps := []string{fmt.Sprintf("started: %s", mib(hwm()))}

	c := newClient(srv.base, m.key, b.cfg.Clients)
	defer c.close()
	const first = 50
	list := gqlBody(consoleMembersQuery, map[string]any{"first": first})
	got, err := c.post(ctx, list)
	if err != nil {
		return err
	}
	if _, err := checkPage(got, first, m.members, true); err != nil {
		return fmt.Errorf("ConsoleMembers: %w", err)
	}
	reads := runLoad(ctx, b.cfg.Clients, b.cfg.MemDuration, func(ctx context.Context, _ int) error {
		_, err := c.post(ctx, list)
		return err
	})
	if s := reads.failed(); s != "" {
		return fmt.Errorf("reads: %s", s)
	}
	steps = append(steps, fmt.Sprintf("after the console's first page of 50 with `totalCount` (%.0f/s): %s", reads.rate(), mib(hwm())))

	binds := runLoad(ctx, b.cfg.Clients, b.cfg.MemDuration, func(ctx context.Context, _ int) error {
		id, err := m.bindable.take()
		if err != nil {
			return err
		}
		_, err = c.mutate(ctx, gqlBody(consoleBindMutation, bindInput(id, bindEmail(id, "memory.example"))))
		return err
	})
	if s := binds.failed(); s != "" {
		return fmt.Errorf("binds: %s", s)
	}
	t0 := time.Now()
	if err := drainOutbox(ctx, m.db, 5*time.Minute); err != nil {
		return err
	}
	short := ""
	if binds.Short {
		short = ", out of unbound members"
	}
	steps = append(steps, fmt.Sprintf("after %d of the console's `bindSecurityInfo` (%.0f/s%s) and their mail (all sent %s after the last bind): %s",
		binds.N, binds.rate(), short, time.Since(t0).Round(time.Millisecond), mib(hwm())))

	tokens, err := b.tokensFromMailpit(ctx, min(binds.N, max(500, int(500*b.cfg.MemDuration.Seconds()))))
	if err != nil {
		return err
	}
	pool := &tokenPool{tokens: tokens}
	acts := runLoad(ctx, b.cfg.Clients, b.cfg.MemDuration, func(ctx context.Context, _ int) error {
		token, err := pool.take()
		if err != nil {
			return err
		}
		return c.activate(ctx, token)
	})
	if s := acts.failed(); s != "" {
		return fmt.Errorf("activations: %s", s)
	}
	steps = append(steps, fmt.Sprintf("after %d activations (%.0f/s) of links read from the mails: %s", acts.N, acts.rate(), mib(hwm())))

	if err := srv.stop(); err != nil {
		return err
	}
	b.rep.add(row{
		Figure: "6 memory",
		What: fmt.Sprintf("peak RSS (VmHWM) of the real binary, built `-tags noembed`, with %d members: the console's `ConsoleMembers` (50, `totalCount`) and `bindSecurityInfo` at %d clients, the binds' mail, activations",
			m.members, b.cfg.Clients),
		Server: mib(peak),
		Floor:  "—",
		Ratio:  ratio(0, 0),
		Goal:   goal{Op: "≤", Bound: 40, Unit: "MB", Value: float64(peak*1024) / 1e6},
	})
	b.rep.note("Peak RSS of the real binary (figure 6) with %d members, a fresh process, step by step: %s.", m.members, strings.Join(steps, "; "))
	return nil
}

// mib renders a size in kB (as /proc gives it) in MiB and MB.
func mib(kb int64) string {
	return fmt.Sprintf("%.1f MiB (%.1f MB)", float64(kb)/1024, float64(kb*1024)/1e6)
}

// buildNoembed builds cmd/memberbind with -tags noembed into dir.
func buildNoembed(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "memberbind")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "noembed", "-o", bin, "./cmd/memberbind")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags noembed ./cmd/memberbind: %w\n%s", err, out)
	}
	return bin, nil
}

// drainOutbox waits until no mail is waiting to be sent.
func drainOutbox(ctx context.Context, db interface {
	GetContext(context.Context, any, string, ...any) error
}, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM outbox WHERE status IN ('QUEUED', 'RETRYING')`); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d mails still unsent after %s", n, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// linkToken finds the token of an activation link in a mail's text.
var linkToken = regexp.MustCompile(`/activate\?token=([A-Za-z0-9_-]{43})`)

// tokensFromMailpit reads the activation links of up to n mails from
// Mailpit, as the members would.
func (b *bench) tokensFromMailpit(ctx context.Context, n int) ([]string, error) {
	ids, err := b.mailpit.ids(ctx, n)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			text, err := b.mailpit.text(ctx, id)
			if err != nil {
				errs[i] = err
				return
			}
			m := linkToken.FindStringSubmatch(text)
			if m == nil {
				errs[i] = fmt.Errorf("mail %s holds no activation link", id)
				return
			}
			tokens[i] = m[1]
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// tail returns the last lines of a log file, for an error message.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
