package graph_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"memberbind/internal/member"
	"memberbind/internal/testenv"
)

// TestRecipientCapUnderConcurrency: 20 members of 3 organizations cycle
// bind and modify-away toward one address at once, the mail bomb the
// per-binding caps let through. Exactly MailsPerRecipientHour (10) mails
// go to it within the hour; every member still trying then gets
// RECIPIENT_LIMIT_REACHED with the time the window frees a place; a
// refused request changes nothing; an hour later the address may be
// mailed again.
func TestRecipientCapUnderConcurrency(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	a := newAPI(t, member.Policy{})
	orgs := []*api{a, a.org("Beta"), a.org("Gamma")}
	const target = "target@example.com"
	const n = 20
	type runner struct {
		api *api
		id  string
	}
	runners := make([]runner, n)
	for i := range runners {
		o := orgs[i%len(orgs)]
		runners[i] = runner{o, o.create(fmt.Sprintf("member %d", i))}
	}
	var accepted atomic.Int64
	retryAts := make([]any, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	errs := make(chan string, n)
	for i, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			bound, mods := false, 0
			// A member can send to the target twice: bind it (then
			// modify away), and modify back to it (then away again),
			// which spends its 3 modifications.
			for mods < 3 {
				var p payload
				if bound {
					p = r.api.update(r.id, target)
				} else {
					p = r.api.bind(r.id, target)
				}
				switch p.code() {
				case "":
					accepted.Add(1)
					if bound {
						mods++
					}
					bound = true
				case "EMAIL_ALREADY_USED":
					continue // another member holds it for now
				case "RECIPIENT_LIMIT_REACHED":
					retryAts[i] = p.Errors[0]["retryAt"]
					return
				default:
					errs <- fmt.Sprintf("member %d toward the target: %v", i, p.Errors)
					return
				}
				mods++
				if away := r.api.update(r.id, fmt.Sprintf("m%d.%d@example.com", i, mods)); away.code() != "" {
					errs <- fmt.Sprintf("member %d away: %v", i, away.Errors)
					return
				}
			}
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := accepted.Load(); got != 10 {
		t.Fatalf("mails accepted toward the target = %d, want 10", got)
	}
	if c := a.count("outbox", "recipient = ?", target); c != 10 {
		t.Errorf("mails queued to the target = %d, want 10", c)
	}
	want := start.Add(time.Hour).Format(time.RFC3339Nano)
	refused := 0
	for i, at := range retryAts {
		if at == nil {
			continue
		}
		refused++
		if at != want {
			t.Errorf("member %d: retryAt = %v, want %s", i, at, want)
		}
	}
	if refused == 0 {
		t.Error("no member was refused with RECIPIENT_LIMIT_REACHED")
	}

	late := orgs[1].create("late")
	before := a.snapshot()
	p := orgs[1].bind(late, "  TARGET@example.com ")
	wantCode(t, p, "RECIPIENT_LIMIT_REACHED")
	if p.Errors[0]["retryAt"] != want {
		t.Errorf("retryAt = %v, want %s", p.Errors[0]["retryAt"], want)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("refused bind changed %s to %s", before, after)
	}
	a.clock.Set(start.Add(time.Hour))
	wantCode(t, orgs[1].bind(late, target), "")
}

// TestRecipientCapWindow: the cap counts every kind of activation mail
// (bind, resend, modification) in a sliding hour, and retryAt is when the
// oldest mail of the window leaves it.
func TestRecipientCapWindow(t *testing.T) {
	t.Parallel()
	p := member.DefaultPolicy()
	p.MailsPerRecipientHour = 3
	a := newAPI(t, p)
	alice, bob := a.create("Alice"), a.create("Bob")
	wantCode(t, a.bind(alice, "x@example.com"), "") // 09:00
	a.clock.Add(10 * time.Minute)
	wantCode(t, a.resend(alice), "") // 09:10
	a.clock.Add(10 * time.Minute)
	wantCode(t, a.update(alice, "alice@example.com"), "")
	wantCode(t, a.bind(bob, "x@example.com"), "") // 09:20, the third
	a.clock.Add(10 * time.Minute)
	before := a.snapshot()
	r := a.resend(bob)
	wantCode(t, r, "RECIPIENT_LIMIT_REACHED")
	if want := start.Add(time.Hour).Format(time.RFC3339Nano); r.Errors[0]["retryAt"] != want {
		t.Errorf("retryAt = %v, want %s", r.Errors[0]["retryAt"], want)
	}
	if after := a.snapshot(); after != before {
		t.Errorf("refused resend changed %s to %s", before, after)
	}
	// Alice's mail to her own address is another recipient's.
	wantCode(t, a.resend(alice), "")
	a.clock.Set(start.Add(time.Hour))
	wantCode(t, a.resend(bob), "")
	r = a.resend(bob)
	wantCode(t, r, "RECIPIENT_LIMIT_REACHED")
	if want := start.Add(70 * time.Minute).Format(time.RFC3339Nano); r.Errors[0]["retryAt"] != want {
		t.Errorf("retryAt = %v, want %s (the 09:10 resend leaving the window)", r.Errors[0]["retryAt"], want)
	}
}

// TestOrgMailBudget: binds of distinct addresses in one organization race
// for its hourly budget; exactly the budget's mails go out, the rest get
// ORGANIZATION_MAIL_LIMIT_REACHED with the next hour as retryAt and change
// nothing, another organization is not held up, and the next hour has a
// budget again.
func TestOrgMailBudget(t *testing.T) {
	t.Parallel()
	testenv.RequireRowLocks(t)
	p := member.DefaultPolicy()
	p.MailsPerOrgHour = 3
	a := newAPI(t, p)
	pol := a.do(`{ organization { policy { mailsPerRecipientHour mailsPerOrganizationHour } } }`, nil)["organization"].(map[string]any)["policy"].(map[string]any)
	if pol["mailsPerRecipientHour"] != float64(10) || pol["mailsPerOrganizationHour"] != float64(3) {
		t.Errorf("policy = %v, want the caps 10 and 3", pol)
	}
	a.clock.Set(start.Add(25 * time.Minute))
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		ids[i] = a.create(fmt.Sprintf("member %d", i))
	}
	retryAts := make([]any, n)
	codes := race(n, func(i int) payload {
		p := a.bind(ids[i], fmt.Sprintf("m%d@example.com", i))
		if len(p.Errors) > 0 {
			retryAts[i] = p.Errors[0]["retryAt"]
		}
		return p
	})
	got := tally(codes)
	if got[""] != 3 || got["ORGANIZATION_MAIL_LIMIT_REACHED"] != n-3 {
		t.Fatalf("outcomes = %v, want 3 accepted and %d ORGANIZATION_MAIL_LIMIT_REACHED", got, n-3)
	}
	want := start.Add(time.Hour).Format(time.RFC3339Nano)
	for i, c := range codes {
		if c != "" && retryAts[i] != want {
			t.Errorf("member %d: retryAt = %v, want %s", i, retryAts[i], want)
		}
	}
	if c := a.count("outbox", "1=1"); c != 3 {
		t.Errorf("mails queued = %d, want 3", c)
	}
	var left string
	for i, c := range codes {
		if c != "" {
			left = ids[i]
		}
	}
	before := a.snapshot()
	wantCode(t, a.bind(left, "late@example.com"), "ORGANIZATION_MAIL_LIMIT_REACHED")
	if after := a.snapshot(); after != before {
		t.Errorf("refused bind changed %s to %s", before, after)
	}
	other := a.org("Other")
	wantCode(t, other.bind(other.create("Olga"), "olga@example.com"), "")
	a.clock.Set(start.Add(time.Hour))
	wantCode(t, a.bind(left, "late@example.com"), "")
}
