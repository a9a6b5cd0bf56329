package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"memberbind/graph"
	"memberbind/internal/console"
	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
)

// TestConsoleLiveUpdates: a member's row turns ACTIVATED by itself when the
// member confirms its link through another instance of the service, on
// the same database, and a member created there appears.
func TestConsoleLiveUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := startBrowser(t)
	dsn := testenv.MySQL(t)
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Second))
	one := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	two := testenv.StoreAt(t, dsn, mysql.Options{Now: clock.Now})
	live := graph.NewLive(graph.LiveOptions{Changes: one, Now: clock.Now})
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(graph.Options{Service: one, Live: live, Logger: slog.New(slog.DiscardHandler)}))
	h := console.Handler()
	mux.Handle("/console", h)
	mux.Handle("/console/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	org, key, err := one.CreateOrganization(ctx, "Acme Corp", "en")
	if err != nil {
		t.Fatal(err)
	}
	ada := testenv.Bind(t, one, org.ID, "Ada", "ada@example.com")

	tb := newTab(t, browser, testenv.ArtifactDir(t))
	tb.do(chromedp.Navigate(srv.URL+"/console#key="+key), chromedp.WaitVisible(css("#members-section")))
	row := tb.row("Ada")
	if got := eval[string](tb, `document.querySelector(`+js(row)+`).dataset.status`); got != "PENDING" {
		t.Fatalf("Ada is %s, want PENDING", got)
	}
	testenv.Eventually(t, 20*time.Second, "the console's subscription", func() error {
		if n := live.Subscriptions(); n != 1 {
			return fmt.Errorf("%d subscriptions", n)
		}
		return nil
	})

	// The mail goes out and Ada confirms, both through instance two.
	tokens := testenv.Deliver(t, two, clock.Now())
	if _, err := two.Activate(ctx, tokens[member.OutboxActivation][ada.ID][0]); err != nil {
		t.Fatal(err)
	}
	if _, err := two.CreateMember(ctx, org.ID, "test", member.TypeCreated, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	// Instance one's poller, driven here: the page is not reloaded.
	testenv.Eventually(t, 20*time.Second, "Ada's row ACTIVATED and Grace's row, without a reload", func() error {
		if err := live.Poll(ctx); err != nil {
			return err
		}
		got := eval[string](tb, `[...document.querySelectorAll('#members-body tr')].map(r => r.querySelector('.member-name').textContent + ':' + r.dataset.status).join(' ')`)
		if got != "Grace:UNBOUND Ada:ACTIVATED" {
			return fmt.Errorf("rows %q", got)
		}
		return nil
	})
	if got := tb.text(row + " .email"); got != "ada@example.com" {
		t.Errorf("Ada's login email shows %q", got)
	}
	tb.shot("30-live-activated")
	tb.checkClean()
}
