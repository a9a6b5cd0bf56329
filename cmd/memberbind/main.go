// Command memberbind serves the memberbind GraphQL API, delivers its
// activation mail and serves the activation pages.
//
//	memberbind [serve]            run the service (the default)
//	memberbind migrate            apply the database migrations
//	memberbind org create NAME    create an organization; prints its API key last
//	memberbind key create|list|revoke  manage an organization's API keys
//	memberbind worker             deliver mail only
//	memberbind version            print the version and build information
//
// Configuration is by environment; see DESIGN.md §5 and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"memberbind/internal/requestlog"
	"memberbind/internal/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "memberbind:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a command line that does not say anything memberbind does.
type usageError string

func (e usageError) Error() string { return string(e) + "\n" + usage }

const usage = `usage:
  memberbind [serve]                      run the service
  memberbind migrate                      apply the database migrations
  memberbind org create NAME [--lang L]   create an organization (L: en or zh-CN); prints its API key last
  memberbind key create --org ORG NAME    add an API key named NAME to organization ORG (its id or name); prints the key last
  memberbind key list --org ORG           list an organization's API keys, with when each was last used
  memberbind key revoke [--force] ID      revoke the API key ID (as key list prints it); --force to revoke an organization's last key
  memberbind worker                       deliver queued mail only
  memberbind healthcheck URL              exit 0 when URL answers 200 (for container health checks)
  memberbind version                      print the version and build information`

// run is memberbind: main without the process. Logs go to stderr; what the
// user asked for (URLs, keys) goes to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runAt(ctx, time.Now, args, getenv, stdout, stderr)
}

// runAt is run on the clock now: the clock of the store, the mail worker
// and the pages' rate limiters, which a test holds so that nothing it
// checks depends on how fast the machine runs.
func runAt(ctx context.Context, now func() time.Time, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "version" {
		printVersion(stdout)
		return nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	cfg.Now = now
	log, err := requestlog.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if cmd == "serve" || cmd == "worker" {
		stopTracing, err := tracing.Setup(ctx, getenv, buildVersion())
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if terr := stopTracing(sctx); terr != nil {
				log.WarnContext(sctx, "flush traces", "err", terr)
			}
		}()
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			return usageError("serve takes no arguments")
		}
		return serve(ctx, cfg, log, stdout)
	case "worker":
		if len(args) > 0 {
			return usageError("worker takes no arguments")
		}
		return work(ctx, cfg, log)
	case "migrate":
		if len(args) > 0 {
			return usageError("migrate takes no arguments")
		}
		return migrate(ctx, cfg, log, stdout)
	case "org":
		if len(args) == 0 || args[0] != "create" {
			return usageError("org takes a subcommand: create")
		}
		return createOrg(ctx, cfg, log, args[1:], stdout)
	case "key":
		return keyCommand(ctx, cfg, log, args, stdout, stderr)
	case "healthcheck":
		if len(args) != 1 {
			return usageError("healthcheck takes one URL, such as http://127.0.0.1:9090/readyz (the admin listener)")
		}
		return healthcheck(ctx, args[0])
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

// createOrg is `memberbind org create NAME [--lang L]`.
func createOrg(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("org create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lang := fs.String("lang", "en", "the language of the organization's mail and pages: en or zh-CN")
	// Allow the flag before or after the name.
	var names []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return usageError("org create: " + err.Error())
		}
		args = fs.Args()
		if len(args) > 0 {
			names = append(names, args[0])
			args = args[1:]
		}
	}
	name := strings.TrimSpace(strings.Join(names, " "))
	if name == "" {
		return usageError("org create needs the organization's name")
	}
	if cfg.DatabaseDSN == "" {
		return errors.New("org create needs a database: set " + envDatabaseDSN + " (the embedded database lives only inside a running serve, which creates a demo organization itself)")
	}
	st, closeDB, err := openStore(ctx, cfg, cfg.DatabaseDSN, log)
	if err != nil {
		return err
	}
	defer closeDB()
	org, key, err := st.CreateOrganization(ctx, name, *lang)
	if err != nil {
		return fmt.Errorf("create organization: %w", err)
	}
	fmt.Fprintf(stdout, "created organization %q (id %d, language %s)\n", org.Name, org.ID, org.Lang)
	fmt.Fprintln(stdout, "its API key, shown only now (send it as Authorization: Bearer <key>):")
	fmt.Fprintln(stdout, key)
	return nil
}

// migrate is `memberbind migrate`.
func migrate(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	if cfg.DatabaseDSN == "" {
		return errors.New("migrate needs a database: set " + envDatabaseDSN + " (serve migrates the embedded database itself)")
	}
	_, closeDB, err := openStore(ctx, cfg, cfg.DatabaseDSN, log)
	if err != nil {
		return err
	}
	defer closeDB()
	fmt.Fprintln(stdout, "database schema is up to date")
	return nil
}

// healthcheck is `memberbind healthcheck URL`, for images without curl.
func healthcheck(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, res.Status)
	}
	return nil
}
