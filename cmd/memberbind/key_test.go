package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// keyCmd runs `memberbind key ...` on dsn and returns what it printed.
func keyCmd(dsn string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"key"}, args...), env(map[string]string{"MEMBERBIND_DATABASE_DSN": dsn}), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestKeyCommands: an operator adds a key to an organization named by
// name or id (the key printed last), lists the keys, revokes the first,
// and revokes the last only with --force and a warning; a revoked key
// opens nothing; bad input is named in the error and changes nothing.
func TestKeyCommands(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	first := orgCreate(t, dsn, "Acme")
	orgCreate(t, dsn, "Twin")
	orgCreate(t, dsn, "Twin")
	st := testenv.StoreAt(t, dsn, mysql.Options{})
	ctx := context.Background()
	caller, err := st.Authenticate(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	orgID := caller.Org.ID

	out, _, err := keyCmd(dsn, "create", "--org", "Acme", "CI", "deploys")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	second := lines[len(lines)-1]
	if !apiKey.MatchString(second) || !strings.Contains(out, `"CI deploys"`) {
		t.Fatalf("key create printed %q", out)
	}
	if c, err := st.Authenticate(ctx, second); err != nil || c.Org.ID != orgID {
		t.Fatalf("the created key: %+v, %v", c, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--org", "Nobody", "x"}, `no organization has the id or name "Nobody"`},
		{[]string{"create", "--org", "Twin", "x"}, `2 organizations are called "Twin"`},
		{[]string{"create", "--org", "Acme", "bad\u200bname"}, "the API key's name must not contain"},
		{[]string{"create", "x"}, "needs --org"},
		{[]string{"create", "--org", "Acme"}, "needs the key's name"},
		{[]string{"revoke", "nonsense"}, `"nonsense" is not a key id`},
		{[]string{"revoke", "999999"}, "no API key with id 999999"},
		{[]string{"rotate"}, `unknown key subcommand "rotate"`},
	} {
		if _, _, err := keyCmd(dsn, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key %v: %v, want it to say %q", c.args, err, c.want)
		}
	}
	if n := testenv.Count(t, st.DB(), "api_keys", "org_id = ?", orgID); n != 2 {
		t.Errorf("the refused commands left %d keys of Acme, want 2", n)
	}

	out, _, err = keyCmd(dsn, "list", "--org", strconv.FormatInt(orgID, 10))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 3 || !strings.Contains(rows[1], `"CI deploys"`) || !strings.Contains(rows[2], `"default"`) {
		t.Fatalf("key list printed:\n%s", out)
	}
	idOf := func(row string) string { return strings.Fields(row)[0] }

	if out, _, err = keyCmd(dsn, "revoke", idOf(rows[2])); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke the first key: %q, %v", out, err)
	}
	if _, err := st.Authenticate(ctx, first); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("the revoked key: %v", err)
	}
	if _, _, err = keyCmd(dsn, "revoke", idOf(rows[1])); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("revoking the last key without --force: %v", err)
	}
	if _, err := st.Authenticate(ctx, second); err != nil {
		t.Errorf("the last key after a refused revoke: %v", err)
	}
	out, warn, err := keyCmd(dsn, "revoke", "--force", idOf(rows[1]))
	if err != nil || !strings.Contains(out, "revoked") || !strings.Contains(warn, "last API key") {
		t.Errorf("revoke --force of the last key: %q %q %v", out, warn, err)
	}
	if _, err := st.Authenticate(ctx, second); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("the last key, revoked with --force: %v", err)
	}
}
