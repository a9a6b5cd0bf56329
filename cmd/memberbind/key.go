package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"memberbind/graph/model"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// keyCommand is `memberbind key create|list|revoke`: an operator's hands
// on any organization's API keys, beside the API's, which act for one
// organization. Keys are named by the ids the API shows (ApiKey.id), or
// by their number; organizations by their id (as org create prints it,
// or Organization.id) or their name.
func keyCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("key takes a subcommand: create, list or revoke")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("key "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var org *string
	var force *bool
	switch sub {
	case "create", "list":
		org = fs.String("org", "", "the organization: its id or its name")
	case "revoke":
		force = fs.Bool("force", false, "revoke the organization's last key too")
	default:
		return usageError(fmt.Sprintf("unknown key subcommand %q: use create, list or revoke", sub))
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError("key " + sub + ": " + err.Error())
	}
	switch {
	case org != nil && strings.TrimSpace(*org) == "":
		return usageError("key " + sub + " needs --org, the organization's id or name")
	case sub == "create" && len(rest) == 0:
		return usageError("key create needs the key's name, such as: key create --org 7 \"CI deploys\"")
	case sub == "list" && len(rest) > 0:
		return usageError("key list takes no arguments but --org")
	case sub == "revoke" && len(rest) != 1:
		return usageError("key revoke takes one key id, as key list prints it")
	}
	if cfg.DatabaseDSN == "" {
		return errors.New("key " + sub + " needs a database: set " + envDatabaseDSN + " (the embedded database lives only inside a running serve)")
	}
	st, closeDB, err := openStore(ctx, cfg, cfg.DatabaseDSN, log)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "create":
		o, err := findOrganization(ctx, st, *org)
		if err != nil {
			return err
		}
		key, secret, err := st.CreateAPIKey(ctx, o.ID, strings.Join(rest, " "))
		if err != nil {
			return fmt.Errorf("create API key: %w", err)
		}
		fmt.Fprintf(stdout, "created API key %q (id %s, prefix %s) of organization %q\n", key.Name, model.EncodeID(model.KindAPIKey, key.ID), key.Prefix, o.Name)
		fmt.Fprintln(stdout, "the key, shown only now (send it as Authorization: Bearer <key>):")
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		o, err := findOrganization(ctx, st, *org)
		if err != nil {
			return err
		}
		keys, err := st.APIKeys(ctx, o.ID)
		if err != nil {
			return err
		}
		return printKeys(stdout, keys)
	}

	id, ok := parseID(rest[0], model.KindAPIKey)
	if !ok {
		return usageError(fmt.Sprintf("key revoke: %q is not a key id: use the id key list prints", rest[0]))
	}
	key, err := st.APIKey(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	revoked, err := st.RevokeAPIKey(ctx, key.OrgID, id, *force)
	if member.ErrorCode(err) == member.CodeLastAPIKey {
		return fmt.Errorf("API key %q is its organization's last: revoking it locks the organization out of the API until key create makes another. Run key revoke --force %s to revoke it anyway", key.Name, rest[0])
	}
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if key.RevokedAt != nil {
		fmt.Fprintf(stdout, "API key %q was already revoked at %s\n", key.Name, key.RevokedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "revoked API key %q (prefix %s): it is refused from its next request on\n", revoked.Name, revoked.Prefix)
	if *force {
		keys, err := st.APIKeys(ctx, key.OrgID)
		if err == nil && !anyLive(keys) {
			fmt.Fprintf(stderr, "warning: that was the organization's last API key: it cannot reach the API until key create makes another\n")
		}
	}
	return nil
}

func anyLive(keys []*member.APIKey) bool {
	for _, k := range keys {
		if k.RevokedAt == nil {
			return true
		}
	}
	return false
}

// printKeys prints an organization's keys as a table.
func printKeys(w io.Writer, keys []*member.APIKey) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tREVOKED")
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", model.EncodeID(model.KindAPIKey, k.ID), strconv.Quote(k.Name), k.Prefix, at(&k.CreatedAt), at(k.LastUsedAt), at(k.RevokedAt))
	}
	return tw.Flush()
}

// findOrganization finds the organization an operator named: by number, by
// the id the API shows, or by name when exactly one is so called.
func findOrganization(ctx context.Context, st *mysql.Store, ref string) (*member.Organization, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref, model.KindOrganization); ok {
		o, err := st.Organization(ctx, id)
		if err == nil {
			return o, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	orgs, err := st.OrganizationsNamed(ctx, ref)
	if err != nil {
		return nil, err
	}
	switch len(orgs) {
	case 0:
		return nil, fmt.Errorf("no organization has the id or name %q", ref)
	case 1:
		return orgs[0], nil
	}
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = strconv.FormatInt(o.ID, 10)
	}
	return nil, fmt.Errorf("%d organizations are called %q (ids %s): name one by its id", len(orgs), ref, strings.Join(ids, ", "))
}

// parseID reads an id given as a number or as the opaque id of kind the
// API shows.
func parseID(s, kind string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, n > 0
	}
	return model.DecodeID(kind, s)
}

// parseInterleaved parses flags before, between or after the positional
// arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}
