// Command memberbind-bench measures memberbind against its floors: each
// figure is memberbind doing a piece of work, next to the same work done
// as directly as possible (the same SQL through sqlx, the same mails
// through go-mail) in the same run on the same machine. It writes a
// markdown table of every figure, its floor and their ratio, with the
// machine and the sizes, to BENCHMARKS.md (see README, "Benchmarks").
//
//	go run ./cmd/memberbind-bench            # the full run, about 5 minutes on 2 cores
//	go run ./cmd/memberbind-bench -quick     # small sizes, about a minute: proves it works
//
// It needs a MySQL-compatible server (-dsn), on which it creates its own
// databases and drops them at the end, and a Mailpit binary (-mailpit),
// which it starts itself. The figures:
//
//  1. read: members(first: 50) with securityInfo and its delivery over
//     HTTP at -clients; floors: the resolvers' SQL through sqlx, and the
//     same SQL and JSON answer from a plain net/http handler.
//  2. depth: a page near the end of -depth-members members, reached by
//     cursor, against the first page; a search by exact email.
//  3. bind: bindSecurityInfo over HTTP; floor: its transaction's SQL.
//     Also the console's own bindSecurityInfo, against every statement
//     memberbind runs for it.
//  4. mail: -mails queued activation mails delivered to Mailpit by the
//     mail.Worker; floor: go-mail sending the same rendered messages over
//     as many reused connections. Also bind-to-accepted latency.
//  5. activate: POST /activate, each on a fresh link; floor: its
//     transaction's SQL.
//  6. memory: the peak RSS of the real binary (built -tags noembed) under
//     read, bind, mail and activate load.
//  7. queries: SQL statements per members page of 10, 50 and 100, also
//     with each member's events.
//  8. scale: bind and mail throughput of 1, 2 and 3 instances of the real
//     binary on one database, and of one per node of a Galera cluster
//     (-galera), with each process's CPU and the machine's.
//
// Figures 1 to 5 and 7 run memberbind in this process (the handlers
// cmd/memberbind mounts, over a mysql.Store), so that -cpuprofile sees
// server and floor alike and each figure can switch the mail worker on or
// off; figures 6 and 8 run the real binary, since only a process of its
// own has an RSS of its own, and several instances are several processes.
// The HTTP load of figures 1, 3 and 5 runs in a process of its own, this
// binary again (loadgen.go), so that this process's CPU time is the
// server's or the floor's alone.
//
// A throughput figure alternates its sides -rounds times, each turn after
// -warmup of unmeasured load, and gives the range of the ratios measured
// round by round beside their ratio over all rounds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv(loadgenEnv) != "" {
		// Not a command line of its own: the bench starts itself so to
		// run a figure's HTTP load in another process (loadgen.go).
		if err := generateLoad(ctx, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "memberbind-bench load generator:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "memberbind-bench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// figures names the figures, in the order they run.
var figures = []string{"read", "queries", "depth", "bind", "activate", "mail", "memory", "scale"}

// config is the command line.
type config struct {
	DSN        string
	Mailpit    string
	Bin        string
	Out        string
	Only       []string
	Quick      bool
	Keep       bool
	CPUProfile string
	MemProfile string

	Clients  int
	Duration time.Duration
	Warmup   time.Duration
	Rounds   int

	ReadMembers    int
	DepthMembers   int
	DepthBound     float64
	DepthSamples   int
	Mails          int
	MailConns      int
	LatencySamples int
	MemDuration    time.Duration
	Galera         []string
}

// quickSizes are the sizes of -quick, where a flag does not say otherwise.
var quickSizes = map[string]string{
	"duration":        "2s",
	"warmup":          "200ms",
	"rounds":          "2",
	"read-members":    "1000",
	"depth-members":   "20000",
	"depth-samples":   "10",
	"mails":           "300",
	"latency-samples": "20",
	"mem-duration":    "1500ms",
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("memberbind-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DSN, "dsn", "root@tcp(127.0.0.1:3306)/", "a MySQL-compatible server (go-sql-driver DSN) whose user may create and drop databases; the run makes its own")
	fs.StringVar(&c.Mailpit, "mailpit", "", "the Mailpit binary (default: $MEMBERBIND_MAILPIT_BIN, mailpit on PATH, or $GOPATH/bin/mailpit)")
	fs.StringVar(&c.Bin, "bin", "", "a memberbind binary built with -tags noembed for the memory figure (default: build one)")
	fs.StringVar(&c.Out, "o", "BENCHMARKS.md", "write the results between the markers of this markdown file (empty: only print them); -quick writes nowhere unless -o is given")
	only := fs.String("only", "", "run only these figures, comma-separated: "+strings.Join(figures, ","))
	fs.BoolVar(&c.Quick, "quick", false, "small sizes, about a minute: proves the command works; asserts no goal")
	fs.BoolVar(&c.Keep, "keep", false, "keep the databases instead of dropping them")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (in-process server and floors; the HTTP load runs in a process of its own) to this file")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a memory profile of this process at the end of the run to this file (alloc_space: what the run allocated; inuse_space: what it still holds)")
	fs.IntVar(&c.Clients, "clients", 16, "concurrent clients of the read, bind and activate figures")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long each side (memberbind, a floor) of a throughput figure runs, in all its turns")
	fs.DurationVar(&c.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each measured turn")
	fs.IntVar(&c.Rounds, "rounds", 4, "turns each side of a throughput figure takes, alternating with the others; the ratio's spread is over them")
	fs.IntVar(&c.ReadMembers, "read-members", 10000, "members of the read figure's organization (half of them bound)")
	fs.IntVar(&c.DepthMembers, "depth-members", 1000000, "members of the depth figure's organization")
	fs.Float64Var(&c.DepthBound, "depth-bound", 0.1, "fraction of the depth figure's members that are bound")
	fs.IntVar(&c.DepthSamples, "depth-samples", 100, "requests of each page the depth figure times")
	fs.IntVar(&c.Mails, "mails", 10000, "queued activation mails the mail figure delivers (and its floor sends)")
	fs.IntVar(&c.MailConns, "mail-concurrency", 4, "SMTP connections of the mail worker and its floor (memberbind's default MEMBERBIND_MAIL_CONCURRENCY)")
	fs.IntVar(&c.LatencySamples, "latency-samples", 200, "binds the bind-to-accepted latency is timed over")
	fs.DurationVar(&c.MemDuration, "mem-duration", 10*time.Second, "how long each load on the real binary runs in the memory figure")
	galera := fs.String("galera", "", "the DSNs of a Galera cluster's nodes, comma-separated (scripts/galera.sh dsns): the scale figure runs one instance on each too")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: %w", fs.Args(), flag.ErrHelp)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.Quick {
		for name, v := range quickSizes {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return c, err
				}
			}
		}
		if !set["o"] {
			c.Out = ""
		}
	}
	if *galera != "" {
		c.Galera = strings.Split(*galera, ",")
	}
	if *only != "" {
		for _, f := range strings.Split(*only, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(figures, f) {
				return c, fmt.Errorf("-only: unknown figure %q (figures: %s)", f, strings.Join(figures, ","))
			}
			c.Only = append(c.Only, f)
		}
	}
	switch {
	case c.Clients < 1:
		return c, errors.New("-clients must be at least 1")
	case c.Rounds < 1:
		return c, errors.New("-rounds must be at least 1")
	case c.Duration <= 0 || c.MemDuration <= 0:
		return c, errors.New("-duration and -mem-duration must be positive")
	case c.ReadMembers < 101:
		return c, errors.New("-read-members must be at least 101: the queries figure reads a page of 100")
	case c.DepthMembers < 200:
		return c, errors.New("-depth-members must be at least 200")
	case c.DepthBound < 0 || c.DepthBound > 1:
		return c, errors.New("-depth-bound is a fraction between 0 and 1")
	case c.Mails < 1 || c.MailConns < 1 || c.LatencySamples < 1 || c.DepthSamples < 1:
		return c, errors.New("-mails, -mail-concurrency, -latency-samples and -depth-samples must be at least 1")
	}
	return c, nil
}

// runs reports whether figure is to run.
func (c config) runs(figure string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, figure)
}

// bench is one run: its configuration, where it runs and what it found.
type bench struct {
	cfg     config
	log     *slog.Logger
	dbs     *databases
	mailpit *mailpit
	rep     *report
	getenv  func(string) string
}

// run is memberbind-bench: main without the process. Progress goes to
// stderr; the results table to stdout (and to -o).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.MemProfile != "" {
		defer func() {
			if err := writeHeapProfile(cfg.MemProfile); err != nil {
				log.Error("write the memory profile", "err", err)
			}
		}()
	}

	dbs, err := openDatabases(ctx, cfg.DSN, cfg.Keep)
	if err != nil {
		return err
	}
	defer dbs.close(log)
	b := &bench{cfg: cfg, log: log, dbs: dbs, getenv: getenv, rep: &report{
		Started: time.Now(),
		Command: "go run ./cmd/memberbind-bench " + strings.Join(args, " "),
		Quick:   cfg.Quick,
		Machine: describeMachine(ctx, dbs),
	}}
	b.rep.Command = strings.TrimSpace(b.rep.Command)
	b.sizes()

	if cfg.runs("mail") || cfg.runs("memory") || cfg.runs("scale") {
		bin, err := findMailpit(cfg.Mailpit, getenv)
		if err != nil {
			return err
		}
		if b.mailpit, err = startMailpit(ctx, bin); err != nil {
			return err
		}
		defer b.mailpit.stop()
	}

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"read", b.read},
		{"queries", b.queries},
		{"depth", b.depth},
		{"bind", b.bindAndActivate},
		{"mail", b.mail},
		{"memory", b.memory},
		{"scale", b.scale},
	}
	var failed []string
	for _, s := range steps {
		if s.name == "bind" {
			if !cfg.runs("bind") && !cfg.runs("activate") {
				continue
			}
		} else if !cfg.runs(s.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		load := loadAverage()
		b.rep.Load = append(b.rep.Load, s.name+" "+load)
		log.Info("figure", "name", s.name, "load", load)
		t0 := time.Now()
		rows := len(b.rep.Rows)
		if err := s.fn(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			// The other figures still mean something: go on, and fail at
			// the end.
			log.Error("figure failed", "name", s.name, "err", err)
			failed = append(failed, s.name)
			b.rep.add(row{Figure: s.name, What: "**failed**: " + strings.NewReplacer("|", "\\|", "\n", " ").Replace(err.Error()), Server: "—", Floor: "—",
				Ratio: ratio(0, 0), Goal: goal{Text: "runs", Met: false}})
			continue
		}
		for _, r := range b.rep.Rows[rows:] {
			log.Info("result", "figure", r.Figure, "memberbind", r.Server, "floor", r.Floor, "ratio", r.ratio(), "goal", r.Goal.String(), "met", r.met())
		}
		log.Info("figure done", "name", s.name, "took", time.Since(t0).Round(time.Millisecond))
	}
	b.rep.Took = time.Since(b.rep.Started)

	md := b.rep.markdown()
	fmt.Fprint(stdout, md)
	if cfg.Out != "" {
		if err := writeSection(cfg.Out, md); err != nil {
			return fmt.Errorf("write %s: %w", cfg.Out, err)
		}
		log.Info("results written", "file", cfg.Out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("figures failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// sizes records the sizes of the run in the report.
func (b *bench) sizes() {
	c := b.cfg
	b.rep.Sizes = [][2]string{
		{"clients (read, bind, activate)", fmt.Sprint(c.Clients)},
		{"time per side of a throughput figure", fmt.Sprintf("%s in %d turn(s), each after %s of warm-up", c.Duration, c.Rounds, c.Warmup)},
		{"members of the read organization", fmt.Sprintf("%d (half bound)", c.ReadMembers)},
		{"members of the depth organization", fmt.Sprintf("%d (%.0f%% bound)", c.DepthMembers, 100*c.DepthBound)},
		{"depth requests per page", fmt.Sprint(c.DepthSamples)},
		{"mails", fmt.Sprintf("%d, over %d SMTP connections", c.Mails, c.MailConns)},
		{"bind-to-accepted samples", fmt.Sprint(c.LatencySamples)},
		{"memory figure", fmt.Sprintf("%s of each load on the real binary", c.MemDuration)},
	}
	if len(c.Only) > 0 {
		b.rep.Sizes = append(b.rep.Sizes, [2]string{"figures run", strings.Join(c.Only, ", ")})
	}
}

// writeHeapProfile writes the heap profile, after a GC so that its
// in-use figures are current.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
