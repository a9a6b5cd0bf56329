package webhook_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
	"memberbind/internal/testenv"
	"memberbind/internal/webhook"
)

// verify checks a delivery as the Standard Webhooks spec tells a receiver
// to, written from the spec alone (not from package webhook): the secret
// is base64 after the whsec_ prefix; the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}"; webhook-signature is a
// space-delimited list of "v1,{base64 HMAC-SHA256}", any of which may
// match, compared in constant time; a timestamp more than five minutes
// from now is refused.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: id %q timestamp %q signature %q", id, ts, sigs)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %v", ts, err)
	}
	if math.Abs(now.Sub(time.Unix(sec, 0)).Seconds()) > 300 {
		return fmt.Errorf("timestamp %s too far from %s", ts, now)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature of %q matches", sigs)
}

// received is one request a receiver got.
type received struct {
	ID, Path string
	Body     string
	Err      error // the signature check
}

// receiver is a real HTTP server on loopback that records what it gets and
// answers with status(n), n counting its requests from 1.
type receiver struct {
	*httptest.Server
	t      testing.TB
	secret func() string
	now    func() time.Time
	status func(n int, r *http.Request) int

	mu   sync.Mutex
	got  []received
	gate chan struct{} // when set, requests wait on it after being recorded
}

func newReceiver(t testing.TB, now func() time.Time, status func(n int, r *http.Request) int) *receiver {
	rc := &receiver{t: t, now: now, status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	secret := ""
	if rc.secret != nil {
		secret = rc.secret()
	}
	rec := received{ID: r.Header.Get("webhook-id"), Path: r.URL.Path, Body: string(body), Err: verify(secret, r.Header, body, rc.now())}
	rc.got = append(rc.got, rec)
	n, gate := len(rc.got), rc.gate
	rc.mu.Unlock()
	if gate != nil {
		<-gate
	}
	code := http.StatusNoContent
	if rc.status != nil {
		code = rc.status(n, r)
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "answer %d", n)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// fixture is a store with webhooks, an organization and its endpoint.
type fixture struct {
	t     testing.TB
	dsn   string
	st    *mysql.Store
	clock *testenv.Clock
	org   *member.Organization
}

func testCipher(t testing.TB) cipher.AEAD {
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// newFixture starts a store on a fresh database whose endpoints may be on
// loopback (MEMBERBIND_WEBHOOK_ALLOW_PRIVATE=true).
func newFixture(t testing.TB, clock *testenv.Clock) *fixture {
	t.Helper()
	dsn := testenv.MySQL(t)
	return fixtureAt(t, dsn, clock)
}

func fixtureAt(t testing.TB, dsn string, clock *testenv.Clock) *fixture {
	t.Helper()
	o := mysql.Options{}
	if clock != nil {
		o.Now = clock.Now
	}
	st := testenv.StoreAt(t, dsn, o)
	st.Webhooks = mysql.WebhookConfig{Cipher: testCipher(t), CheckURL: (&webhook.Guard{AllowPrivate: true}).CheckURL}
	f := &fixture{t: t, dsn: dsn, st: st, clock: clock}
	return f
}

func (f *fixture) organization() {
	f.t.Helper()
	org, _, err := f.st.CreateOrganization(context.Background(), "Acme", "en")
	if err != nil {
		f.t.Fatal(err)
	}
	f.org = org
}

func (f *fixture) endpoint(url string, events ...member.WebhookEventType) (*member.WebhookEndpoint, string) {
	f.t.Helper()
	if len(events) == 0 {
		events = member.WebhookEventTypes
	}
	e, secret, err := f.st.CreateWebhookEndpoint(context.Background(), f.org.ID, url, events)
	if err != nil {
		f.t.Fatal(err)
	}
	return e, secret
}

// removal makes an invited member and removes it: one member.removed event.
func (f *fixture) removal(name string) *member.Member {
	f.t.Helper()
	ctx := context.Background()
	m, err := f.st.CreateMember(ctx, f.org.ID, "test", member.TypeInvited, name, "")
	if err != nil {
		f.t.Fatal(err)
	}
	if m, err = f.st.RemoveMember(ctx, f.org.ID, "test", m.ID); err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) deliveries(e *member.WebhookEndpoint) []*member.WebhookDelivery {
	f.t.Helper()
	ds, err := f.st.WebhookDeliveries(context.Background(), f.org.ID, []int64{e.ID}, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return ds[e.ID]
}

func (f *fixture) worker(o webhook.Options) *webhook.Worker {
	if o.Queue == nil {
		o.Queue = f.st
	}
	if o.Guard == nil {
		o.Guard = &webhook.Guard{AllowPrivate: true}
	}
	if o.Now == nil && f.clock != nil {
		o.Now = f.clock.Now
	}
	if o.Jitter == nil {
		o.Jitter = func() float64 { return 0.5 } // no jitter: ×1.0
	}
	return webhook.NewWorker(o)
}
