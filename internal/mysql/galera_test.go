package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// galeraStores is one instance of the service per Galera node, all on one
// fresh database, on one clock.
func galeraStores(t *testing.T, clock *testenv.Clock) []*mysql.Store {
	t.Helper()
	var stores []*mysql.Store
	for _, dsn := range testenv.Galera(t) {
		stores = append(stores, testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now}))
	}
	return stores
}

// race runs do(i) for i in [0, n) at once and returns their errors.
func race(n int, do func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = do(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func codeOf(err error) member.Code {
	var me *member.Error
	if errors.As(err, &me) {
		return me.Code
	}
	return ""
}

// TestGaleraReadYourWrites: a member created through one node is found at
// once through another. Without a session wsrep_sync_wait (which Open sets
// on a Galera node) about one bind in ten got MEMBER_NOT_FOUND.
func TestGaleraReadYourWrites(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	stores := galeraStores(t, clock)
	ctx := context.Background()
	for i, st := range stores {
		var wait string
		if err := st.DB().GetContext(ctx, &wait, `SELECT @@SESSION.wsrep_sync_wait`); err != nil {
			t.Fatal(err)
		}
		if wait == "0" {
			t.Errorf("node %d: the store's sessions have wsrep_sync_wait 0", i+1)
		}
	}
	org, _, err := stores[0].CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 50
	var mu sync.Mutex
	notFound := 0
	for w, err := range race(workers, func(w int) error {
		for i := range each {
			from, to := stores[(w+i)%len(stores)], stores[(w+i+1)%len(stores)]
			m, err := from.CreateMember(ctx, org.ID, "test", member.TypeCreated, fmt.Sprintf("m%d-%d", w, i), "")
			if err != nil {
				return err
			}
			info := testenv.SecurityInfo(t, fmt.Sprintf("m%d-%d@example.com", w, i))
			if _, err := to.BindSecurityInfo(ctx, org.ID, "test", m.ID, info); err != nil {
				if codeOf(err) != member.CodeMemberNotFound {
					return err
				}
				mu.Lock()
				notFound++
				mu.Unlock()
			}
		}
		return nil
	}) {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	if notFound > 0 {
		t.Errorf("%d of %d binds through another node than the member's creation got MEMBER_NOT_FOUND", notFound, workers*each)
	}
}

// TestGaleraRules: the rules that hold by locks on one server hold with
// writes through every node at once, where a lost race is a certification
// failure at commit (1213), retried.
func TestGaleraRules(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(t0)
	stores := galeraStores(t, clock)
	ctx := context.Background()
	org, _, err := stores[0].CreateOrganization(ctx, "Acme", "en")
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	node := func(i int) *mysql.Store { return stores[i%len(stores)] }
	tally := func(t *testing.T, errs []error, lost member.Code) int {
		t.Helper()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case codeOf(err) != lost:
				t.Errorf("request %d: %v", i, err)
			}
		}
		return won
	}

	t.Run("one email, many members", func(t *testing.T) {
		var ids []int64
		for i := range n {
			m, err := stores[0].CreateMember(ctx, org.ID, "test", member.TypeCreated, fmt.Sprintf("e%d", i), "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		errs := race(n, func(i int) error {
			_, err := node(i).BindSecurityInfo(ctx, org.ID, "test", ids[i], testenv.SecurityInfo(t, "same@example.com"))
			return err
		})
		if won := tally(t, errs, member.CodeEmailAlreadyUsed); won != 1 {
			t.Errorf("%d members bound one email, want exactly 1", won)
		}
	})

	t.Run("modification cap", func(t *testing.T) {
		m := testenv.Bind(t, stores[0], org.ID, "Mod", "mod0@example.com")
		errs := race(n, func(i int) error {
			_, err := node(i).UpdateSecurityInfo(ctx, org.ID, "test", m.ID, testenv.SecurityInfo(t, fmt.Sprintf("mod%d@example.com", i+1)))
			return err
		})
		if won, want := tally(t, errs, member.CodeModificationLimitReached), stores[0].Policy().MaxModifications; won != want {
			t.Errorf("%d concurrent modifications accepted, want %d", won, want)
		}
	})

	t.Run("resend cap", func(t *testing.T) {
		m := testenv.Bind(t, stores[0], org.ID, "Res", "res@example.com")
		errs := race(n, func(i int) error {
			_, err := node(i).ResendActivationLink(ctx, org.ID, "test", m.ID)
			return err
		})
		if won, want := tally(t, errs, member.CodeResendLimitReached), stores[0].Policy().ResendsPerHour-1; won != want {
			t.Errorf("%d concurrent resends accepted, want %d", won, want)
		}
	})

	t.Run("sign-in link cap", func(t *testing.T) {
		m := testenv.Bind(t, stores[0], org.ID, "Sig", "sig@example.com")
		tok := testenv.Deliver(t, stores[0], clock.Now())[member.OutboxActivation][m.ID]
		if len(tok) != 1 {
			t.Fatalf("%d activation mails", len(tok))
		}
		if _, err := stores[0].Activate(ctx, tok[0]); err != nil {
			t.Fatal(err)
		}
		p := member.DefaultSignInPolicy()
		p.MaxLiveLinks = 2
		for i, err := range race(n, func(i int) error { return node(i).RequestSignIn(ctx, "sig@example.com", p) }) {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		if c := testenv.Count(t, stores[0].DB(), "signin_links", "member_id = ?", m.ID); c != p.MaxLiveLinks {
			t.Errorf("%d live sign-in links after %d concurrent requests through %d nodes, want the bound of %d", c, n, len(stores), p.MaxLiveLinks)
		}
	})
}

// TestOpenOutsideGalera: on a server that is not a Galera node Open sets
// no wsrep_sync_wait (MariaDB's would have it 0; MySQL and TiDB have none).
func TestOpenOutsideGalera(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	st := testenv.Store(t, mysql.Options{})
	variable := func(scope, name string) string {
		rows, err := st.DB().Queryx(`SHOW ` + scope + ` VARIABLES LIKE '` + name + `'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n, v string
		if rows.Next() {
			if err := rows.Scan(&n, &v); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	if on := variable("GLOBAL", "wsrep_on"); on == "ON" {
		t.Skip("the test server is a Galera node; TestGaleraReadYourWrites covers it")
	}
	if wait := variable("SESSION", "wsrep_sync_wait"); wait != "" && wait != "0" {
		t.Errorf("a server outside Galera got a session wsrep_sync_wait %s", wait)
	}
}
