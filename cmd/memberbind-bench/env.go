package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"memberbind/internal/mysql"
)

// databases creates the run's databases on one server and drops them all
// at the end. Every name starts with mbbench_ and the run's id.
type databases struct {
	server *driver.Config // the -dsn, without a database name
	admin  *sql.DB
	run    string
	names  []string
	keep   bool
}

func openDatabases(ctx context.Context, dsn string, keep bool) (*databases, error) {
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("no database server at %s: %w", cfg.Addr, err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &databases{server: cfg, admin: admin, run: hex.EncodeToString(b), keep: keep}, nil
}

// create makes an empty database for one figure and returns its DSN.
func (d *databases) create(ctx context.Context, figure string) (string, error) {
	name := "mbbench_" + d.run + "_" + figure
	if _, err := d.admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	d.names = append(d.names, name)
	cfg := d.server.Clone()
	cfg.DBName = name
	return cfg.FormatDSN(), nil
}

// close drops every database the run created (unless -keep).
func (d *databases) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range d.names {
		if d.keep {
			log.Info("kept database", "name", name)
			continue
		}
		if _, err := d.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			log.Warn("drop database", "name", name, "err", err)
		}
	}
	d.admin.Close()
}

// serverVersion is the database server's version string.
func (d *databases) serverVersion(ctx context.Context) string {
	var v string
	if err := d.admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return v
}

// rowLockWaits reads the server's InnoDB row lock counters: how many
// times a row lock was waited for, and for how long in all.
func (d *databases) rowLockWaits(ctx context.Context) (int64, time.Duration) {
	rows, err := d.admin.QueryContext(ctx, `SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time')`)
	if err != nil {
		return 0, 0
	}
	defer rows.Close()
	var waits int64
	var waited time.Duration
	for rows.Next() {
		var name string
		var n int64
		if rows.Scan(&name, &n) != nil {
			continue
		}
		if strings.EqualFold(name, "Innodb_row_lock_waits") {
			waits = n
		} else {
			waited = time.Duration(n) * time.Millisecond
		}
	}
	return waits, waited
}

// openMigrated opens a pool on dsn the way memberbind does (mysql.Open:
// same DSN normalization, same pool sizes) and applies the migrations.
func openMigrated(ctx context.Context, dsn string) (*sqlx.DB, error) {
	db, err := mysql.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := mysql.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// machine describes where the run happened.
type machine struct {
	CPUs     int
	CPU      string
	Memory   string
	Go       string
	Database string
	Kernel   string
	Code     string // the commit measured
}

func describeMachine(ctx context.Context, dbs *databases) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Database: dbs.serverVersion(ctx), CPU: "unknown", Memory: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb := procField("/proc/meminfo", "MemTotal"); kb > 0 {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Code = "unknown"
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Code = "commit " + strings.TrimSpace(string(out))
	}
	return m
}

// loadAverage is the machine's 1-minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// procField reads a "Name:   123 kB" line of a /proc file, in kB; 0 when
// absent.
func procField(path, name string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != name {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		return n
	}
	return 0
}

// mailpit is a private Mailpit process: the SMTP server every mail of the
// run goes to, and its REST API.
type mailpit struct {
	SMTPURL string
	APIURL  string
	cmd     *exec.Cmd
	exited  chan struct{}
	dir     string
	out     *bytes.Buffer
}

// findMailpit returns the Mailpit binary: -mailpit, else
// $MEMBERBIND_MAILPIT_BIN, else mailpit on PATH, else $GOPATH/bin/mailpit.
func findMailpit(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv("MEMBERBIND_MAILPIT_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath := strings.Split(strings.TrimSpace(string(out)), string(os.PathListSeparator))[0]
		p := filepath.Join(gopath, "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mailpit not found: pass -mailpit, or run go install github.com/axllent/mailpit@v1.33.1")
}

// startMailpit starts Mailpit on free loopback ports with the options the
// tests use (internal/testenv), storing its mail in a temporary directory.
func startMailpit(ctx context.Context, bin string) (*mailpit, error) {
	dir, err := os.MkdirTemp("", "memberbind-bench-mailpit-")
	if err != nil {
		return nil, err
	}
	smtpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	m := &mailpit{
		SMTPURL: "smtp://" + smtpAddr + "?tls=none",
		APIURL:  "http://" + httpAddr,
		exited:  make(chan struct{}),
		dir:     dir,
		out:     &bytes.Buffer{},
	}
	m.cmd = exec.Command(bin,
		"--disable-version-check",
		"--max", "0",
		"--smtp", smtpAddr,
		"--listen", httpAddr,
		"--smtp-auth-accept-any",
		"--smtp-auth-allow-insecure",
		"--smtp-disable-rdns",
		// A log line per message would only take CPU from the run.
		"--quiet",
		"--database", filepath.Join(dir, "mailpit.db"),
	)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	go func() {
		_ = m.cmd.Wait()
		close(m.exited)
	}()
	if err := waitHTTP(ctx, m.APIURL+"/readyz", 20*time.Second, m.exited); err != nil {
		m.stop()
		return nil, fmt.Errorf("mailpit: %w\n%s", err, m.out.String())
	}
	return m, nil
}

// clear deletes every message Mailpit holds.
func (m *mailpit) clear(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, m.APIURL+"/api/v1/messages", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("clear mailpit: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("clear mailpit: %s", res.Status)
	}
	return nil
}

// total is how many messages Mailpit holds.
func (m *mailpit) total(ctx context.Context) (int, error) {
	var list struct {
		Total int `json:"total"`
	}
	if err := m.get(ctx, "/api/v1/messages?limit=1", &list); err != nil {
		return 0, err
	}
	return list.Total, nil
}

// ids lists the ids of up to limit messages, newest first.
func (m *mailpit) ids(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	for start := 0; len(ids) < limit; {
		var list struct {
			Messages []struct {
				ID string `json:"ID"`
			} `json:"messages"`
		}
		n := min(500, limit-len(ids))
		if err := m.get(ctx, fmt.Sprintf("/api/v1/messages?start=%d&limit=%d", start, n), &list); err != nil {
			return nil, err
		}
		if len(list.Messages) == 0 {
			break
		}
		for _, msg := range list.Messages {
			ids = append(ids, msg.ID)
		}
		start += len(list.Messages)
	}
	return ids, nil
}

// text returns the plain-text part of a message.
func (m *mailpit) text(ctx context.Context, id string) (string, error) {
	var msg struct {
		Text string `json:"Text"`
	}
	err := m.get(ctx, "/api/v1/message/"+id, &msg)
	return msg.Text, err
}

func (m *mailpit) get(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return fmt.Errorf("mailpit %s: %s %s", path, res.Status, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// stop ends Mailpit (SIGTERM, then SIGKILL after 5 s) and removes its files.
func (m *mailpit) stop() {
	stopProcess(m.cmd, m.exited)
	os.RemoveAll(m.dir)
}

// stopProcess sends cmd's process SIGTERM and, if it has not exited within
// five seconds, SIGKILL.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = cmd.Process.Kill()
		<-exited
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHTTP polls url until it answers 200, the process exits or within
// passes.
func waitHTTP(ctx context.Context, url string, within time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("the process exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s", url, within)
		case <-tick.C:
		}
	}
}
