package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// scaleSetup is one row of the scale figure: n instances of the real
// binary, instance i on dsns[i].
type scaleSetup struct {
	label string
	dsns  []string
}

// scale is figure 8: bind and mail throughput of 1, 2 and 3 instances of
// the real binary on one database, and of 3 instances on the 3 nodes of a
// Galera cluster (-galera), with the CPU each process used. The load is
// binds over HTTP spread round-robin over the instances, whose workers
// deliver the mail to Mailpit meanwhile; the mail rate counts from the
// first bind until every mail is sent. On a machine of 2 cores every
// process shares them: the CPU columns say where the time went, and a
// machine near 100% busy is the bound, not the service.
func (b *bench) scale(ctx context.Context) error {
	bin, dir, done, err := b.realBinary(ctx)
	if err != nil {
		return err
	}
	defer done()
	var setups []scaleSetup
	for n := 1; n <= 3; n++ {
		dsn, err := b.dbs.create(ctx, fmt.Sprintf("scale%d", n))
		if err != nil {
			return err
		}
		setups = append(setups, scaleSetup{label: fmt.Sprintf("%d on one database", n), dsns: repeat(dsn, n)})
	}
	if len(b.cfg.Galera) > 0 {
		dsns, drop, err := galeraDatabase(ctx, b.cfg.Galera, b.dbs.run, b.cfg.Keep)
		if err != nil {
			return err
		}
		defer drop()
		setups = append(setups, scaleSetup{label: fmt.Sprintf("%d on a %d-node Galera cluster, one per node", len(dsns), len(dsns)), dsns: dsns})
	}
	lines := []string{"| instances | binds/s | mails/s | CPU of memberbind (each) | CPU of mariadbd (all) | machine busy |", "|---|---|---|---|---|---|"}
	for _, s := range setups {
		line, err := b.scaleRun(ctx, bin, dir, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		b.log.Info("scale", "setup", s.label, "result", line)
		lines = append(lines, line)
	}
	b.rep.note("Scaling (figure 8): binds over HTTP for %s at %d clients, spread over the instances of the real binary; mails/s from the first bind until all are sent. CPU is %% of one core over that time (%d cores in all); mariadbd counts every mariadbd process on the machine. The Galera nodes (scripts/galera.sh) sync their logs once a second, not at every commit as the single server does: the rows compare deployments on this machine, not engines.\n\n%s",
		b.cfg.Duration, b.cfg.Clients, cores(), strings.Join(lines, "\n"))
	return nil
}

func (b *bench) scaleRun(ctx context.Context, bin, dir string, s scaleSetup) (string, error) {
	// Several instances on one machine: no admin listeners, which
	// are not part of the figure.
	env := func(dsn string) []string { return b.binaryEnv(dsn, "MEMBERBIND_ADMIN_LISTEN=off") }
	key, err := createOrg(ctx, bin, env(s.dsns[0]), "Bench scale")
	if err != nil {
		return "", err
	}
	db, err := openMigrated(ctx, s.dsns[0])
	if err != nil {
		return "", err
	}
	defer db.Close()
	var orgID int64
	if err := db.GetContext(ctx, &orgID, `SELECT id FROM organizations`); err != nil {
		return "", err
	}
	// Enough members that no client runs out: a bind takes a few ms at least.
	members, err := seed(ctx, db, seedSpec{OrgID: orgID, Members: max(2000, int(1000*b.cfg.Duration.Seconds()*float64(len(s.dsns))))})
	if err != nil {
		return "", err
	}
	if err := b.mailpit.clear(ctx); err != nil {
		return "", err
	}

	var pids []int
	var clients []*client
	for i, dsn := range s.dsns {
		srv, err := startServe(ctx, bin, env(dsn), filepath.Join(dir, fmt.Sprintf("scale-%d-of-%d.log", i+1, len(s.dsns))))
		if err != nil {
			return "", fmt.Errorf("instance %d: %w", i+1, err)
		}
		defer srv.stop()
		pids = append(pids, srv.pid())
		c := newClient(srv.base, key, b.cfg.Clients)
		defer c.close()
		clients = append(clients, c)
	}

	servers := pidsNamed("mariadbd")
	before := cpuOf(pids)
	dbBefore := sum(cpuOf(servers))
	busyBefore, totalBefore := machineCPU()
	t0 := time.Now()
	pool := newIDPool(members.FirstID, members.LastID)
	var turn atomic.Int64
	binds := runLoad(ctx, b.cfg.Clients, b.cfg.Duration, func(ctx context.Context, _ int) error {
		id, err := pool.take()
		if err != nil {
			return err
		}
		c := clients[int(turn.Add(1))%len(clients)]
		_, err = c.mutate(ctx, gqlBody(bindMutation, bindInput(id, bindEmail(id, "scale.example"))))
		return err
	})
	if s := binds.failed(); s != "" {
		return "", fmt.Errorf("binds: %s", s)
	}
	if err := drainOutbox(ctx, db, 5*time.Minute); err != nil {
		return "", err
	}
	wall := time.Since(t0)
	after := cpuOf(pids)
	dbCPU := sum(cpuOf(servers)) - dbBefore
	busyAfter, totalAfter := machineCPU()
	var each []string
	for i := range pids {
		each = append(each, pct(after[i]-before[i], wall))
	}
	busy := "—"
	if totalAfter > totalBefore {
		busy = fmt.Sprintf("%.0f%%", 100*float64(busyAfter-busyBefore)/float64(totalAfter-totalBefore))
	}
	return fmt.Sprintf("| %s | %.0f | %.0f | %s | %s | %s |", s.label, binds.rate(), float64(binds.N)/wall.Seconds(),
		strings.Join(each, ", "), pct(dbCPU, wall), busy), nil
}

// galeraDatabase creates one database for the scale figure on a Galera
// cluster, through its first node, and returns its DSN through each node.
func galeraDatabase(ctx context.Context, nodes []string, run string, keep bool) ([]string, func(), error) {
	var cfgs []*driver.Config
	for _, dsn := range nodes {
		cfg, err := driver.ParseDSN(strings.TrimSpace(dsn))
		if err != nil {
			return nil, nil, fmt.Errorf("-galera: %w", err)
		}
		cfgs = append(cfgs, cfg)
	}
	admin := cfgs[0].Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "mbbench_" + run + "_galera_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("create database on %s: %w", admin.Addr, err)
	}
	var dsns []string
	for _, cfg := range cfgs {
		c := cfg.Clone()
		c.DBName = name
		dsns = append(dsns, c.FormatDSN())
	}
	return dsns, func() {
		if !keep {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name)
		}
		db.Close()
	}, nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuOf returns the CPU time (user and system) of each process so far.
func cpuOf(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: fields count
		// from after its closing one. utime and stime are fields 14 and 15.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(u+st) * clockTick
	}
	return out
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// pidsNamed returns the processes whose command is name.
func pidsNamed(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); err == nil && strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineCPU returns the machine's busy and total CPU ticks so far
// (/proc/stat; idle and I/O wait are not busy).
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// cores is the number of CPUs the machine has online.
func cores() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return n
}

// pct renders cpu as a percentage of one core over wall.
func pct(cpu, wall time.Duration) string {
	if wall <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*cpu.Seconds()/wall.Seconds())
}
