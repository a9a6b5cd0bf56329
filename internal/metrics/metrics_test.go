package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOperationNamesAreBounded: clients choose operation names; past
// MaxOperations distinct ones they share one label value, while names
// already seen keep theirs.
func TestOperationNamesAreBounded(t *testing.T) {
	r := New(Options{})
	for i := range MaxOperations + 50 {
		r.GraphQLOperation(fmt.Sprintf("Op%d", i), true)
	}
	r.GraphQLOperation("Op0", false)
	r.GraphQLOperation("", true)
	if n := testutil.CollectAndCount(r.operations); n != MaxOperations+3 { // + other, Op0 error, anonymous
		t.Errorf("%d series, want %d", n, MaxOperations+3)
	}
	if v := testutil.ToFloat64(r.operations.WithLabelValues(OtherOperation, "ok")); v != 50 {
		t.Errorf("other = %v, want 50", v)
	}
	if v := testutil.ToFloat64(r.operations.WithLabelValues("Op0", "error")); v != 1 {
		t.Errorf("Op0 error = %v, want 1", v)
	}
}

// hungBacklog is a database that does not answer: the backlog query
// waits until its context ends.
type hungBacklog struct{}

func (hungBacklog) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	<-ctx.Done()
	return 0, time.Time{}, ctx.Err()
}

// TestScrapeWithHungDatabase: a scrape while the database hangs answers
// within BacklogTimeout with every other metric (the pool's stats among
// them, which say what the database is doing to the service) and without
// the outbox gauges, rather than hanging Prometheus with the database or
// failing whole.
func TestScrapeWithHungDatabase(t *testing.T) {
	r := New(Options{Backlog: hungBacklog{}, BacklogTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	r.MailSent()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the scrape took %s, want about BacklogTimeout (50ms)", took)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\nmemberbind_mail_sent_total 1\n") {
		t.Errorf("scrape: %d, want 200 with the metrics that do not need the database:\n%s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "\nmemberbind_outbox_pending ") {
		t.Errorf("the scrape has an outbox gauge the database did not give:\n%s", body)
	}
}
