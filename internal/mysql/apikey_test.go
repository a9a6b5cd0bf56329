package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestAPIKeys: an organization's keys are named, listed newest first and
// kept apart from other organizations'; a bad name changes nothing; a
// revoked key opens nothing on any instance from its next request on; the
// last key is revoked only when allowed.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	dsn := testenv.MySQL(t)
	one := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	two := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})

	org, first, err := one.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := one.CreateOrganization(ctx, "Other", "en")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "   ", "ci\u202ekey", string(make([]rune, member.MaxNameLength+1))} {
		before := testenv.Count(t, one.DB(), "api_keys", "1=1")
		_, _, err := one.CreateAPIKey(ctx, org.ID, name)
		if e, ok := member.AsError(err); !ok || e.Code != member.CodeInvalidInput || len(e.Field) != 1 || e.Field[0] != "name" {
			t.Errorf("key name %q: %v, want INVALID_INPUT naming the name", name, err)
		}
		if after := testenv.Count(t, one.DB(), "api_keys", "1=1"); after != before {
			t.Errorf("key name %q: %d keys, want %d", name, after, before)
		}
	}

	clock.Add(time.Second)
	ci, secret, err := one.CreateAPIKey(ctx, org.ID, "  CI deploys ")
	if err != nil {
		t.Fatal(err)
	}
	if ci.Name != "CI deploys" || ci.Prefix != secret[:9] || ci.OrgID != org.ID || ci.RevokedAt != nil || ci.LastUsedAt != nil || !ci.CreatedAt.Equal(clock.Now()) {
		t.Errorf("created key %+v (secret prefix %s)", ci, secret[:9])
	}
	caller, err := two.Authenticate(ctx, secret)
	if err != nil || caller.Org.ID != org.ID || caller.APIKeyID != ci.ID {
		t.Fatalf("the new key on another instance: %+v, %v", caller, err)
	}
	keys, err := two.APIKeys(ctx, org.ID)
	if err != nil || len(keys) != 2 || keys[0].ID != ci.ID || keys[1].Name != mysql.FirstAPIKeyName {
		t.Fatalf("keys %+v, %v: want the new one, then %q", keys, err, mysql.FirstAPIKeyName)
	}
	if keys, _ := two.APIKeys(ctx, other.ID); len(keys) != 1 {
		t.Errorf("the other organization has %d keys, want its own 1", len(keys))
	}

	if _, err := one.RevokeAPIKey(ctx, other.ID, ci.ID, false); member.ErrorCode(err) != member.CodeAPIKeyNotFound {
		t.Errorf("revoking another organization's key: %v", err)
	}
	firstID := keys[1].ID
	clock.Add(time.Second)
	revoked, err := one.RevokeAPIKey(ctx, org.ID, firstID, false)
	if err != nil || revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(clock.Now()) {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	if _, err := two.Authenticate(ctx, first); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("a revoked key on another instance: %v, want unauthenticated", err)
	}
	clock.Add(time.Second)
	if again, err := two.RevokeAPIKey(ctx, org.ID, firstID, false); err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Errorf("revoking a revoked key: %+v, %v; want it unchanged", again, err)
	}

	if _, err := two.RevokeAPIKey(ctx, org.ID, ci.ID, false); member.ErrorCode(err) != member.CodeLastAPIKey {
		t.Errorf("revoking the last key: %v, want LAST_API_KEY", err)
	}
	if _, err := two.Authenticate(ctx, secret); err != nil {
		t.Errorf("the last key after a refused revoke: %v", err)
	}
	if k, err := two.RevokeAPIKey(ctx, org.ID, ci.ID, true); err != nil || k.RevokedAt == nil {
		t.Errorf("revoking the last key when allowed: %+v, %v", k, err)
	}
	if _, err := one.Authenticate(ctx, secret); !errors.Is(err, member.ErrUnauthenticated) {
		t.Errorf("the revoked last key: %v", err)
	}
}

// TestAPIKeyLastUsed: a key's use is recorded when it is first used, then
// at most once per member.APIKeyUseResolution however many requests, and
// instances, use it.
func TestAPIKeyLastUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(t0)
	dsn := testenv.MySQL(t)
	one := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	two := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	org, key, err := one.CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		t.Helper()
		keys, err := one.APIKeys(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		return keys[0].LastUsedAt
	}
	if lastUsed() != nil {
		t.Fatal("a key never used has a lastUsedAt")
	}
	use := func() {
		t.Helper()
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if _, err := []*mysql.Store{one, two}[i%2].Authenticate(ctx, key); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for _, step := range []struct {
		after time.Duration // since t0
		want  time.Duration // lastUsedAt, since t0
	}{
		{0, 0},
		{30 * time.Second, 0},
		{time.Minute, 0}, // not older than a minute: kept
		{time.Minute + time.Microsecond, time.Minute + time.Microsecond},
		{2 * time.Minute, time.Minute + time.Microsecond},
		{5 * time.Minute, 5 * time.Minute},
	} {
		clock.Set(t0.Add(step.after))
		use()
		if got := lastUsed(); got == nil || !got.Equal(t0.Add(step.want)) {
			t.Errorf("used at t0+%v: lastUsedAt %v, want t0+%v", step.after, got, step.want)
		}
	}
}

// TestRevokeLastTwoKeysConcurrently: of two concurrent revokes of an
// organization's last two keys, on two instances, exactly one is refused
// with LAST_API_KEY, and the organization keeps one key.
func TestRevokeLastTwoKeysConcurrently(t *testing.T) {
	testenv.RequireRowLocks(t)
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.MySQL(t)
	one := testenv.StoreAt(t, dsn, mysql.Options{})
	two := testenv.StoreAt(t, dsn, mysql.Options{})
	for round := range 20 {
		org, _, err := one.CreateOrganization(ctx, fmt.Sprintf("Org %d", round), "en")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := one.CreateAPIKey(ctx, org.ID, "second"); err != nil {
			t.Fatal(err)
		}
		keys, err := one.APIKeys(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			go_  = make(chan struct{})
			errs [2]error
		)
		for i, st := range []*mysql.Store{one, two} {
			wg.Go(func() {
				<-go_
				_, errs[i] = st.RevokeAPIKey(ctx, org.ID, keys[i].ID, false)
			})
		}
		close(go_)
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch member.ErrorCode(err) {
			case member.CodeLastAPIKey:
				refused++
			case "":
				if err != nil {
					t.Fatal(err)
				}
			default:
				t.Errorf("revoke: %v", err)
			}
		}
		live := testenv.Count(t, one.DB(), "api_keys", "org_id = ? AND revoked_at IS NULL", org.ID)
		if refused != 1 || live != 1 {
			t.Fatalf("round %d: %d revokes refused, %d keys left; want 1 and 1", round, refused, live)
		}
	}
}
