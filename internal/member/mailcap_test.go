package member

import (
	"testing"
	"time"
)

func TestDecideRecipientMail(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	p := Policy{MailsPerRecipientHour: 3}
	ago := func(d ...time.Duration) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, now.Add(-x))
		}
		return out
	}
	for _, c := range []struct {
		name    string
		sends   []time.Time
		refused bool
		retryAt time.Time
	}{
		{"none", nil, false, time.Time{}},
		{"under the cap", ago(time.Minute, 2*time.Minute), false, time.Time{}},
		{"at the cap", ago(time.Minute, 2*time.Minute, 50*time.Minute), true, now.Add(10 * time.Minute)},
		{"older ones do not count", ago(time.Minute, 2*time.Minute, time.Hour, 2*time.Hour), false, time.Time{}},
		{"exactly an hour ago is out of the window", ago(0, 0, time.Hour), false, time.Time{}},
		{"over the cap waits for enough to leave", ago(time.Minute, 5*time.Minute, 10*time.Minute, 20*time.Minute), true, now.Add(50 * time.Minute)},
		{"any order", ago(10*time.Minute, 30*time.Minute, 20*time.Minute), true, now.Add(30 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := DecideRecipientMail("x@example.com", c.sends, now, p)
			if !c.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Code != CodeRecipientLimitReached {
				t.Fatalf("err = %v, want %s", err, CodeRecipientLimitReached)
			}
			if err.RetryAt == nil || !err.RetryAt.Equal(c.retryAt) {
				t.Errorf("retryAt = %v, want %v", err.RetryAt, c.retryAt)
			}
		})
	}
}

func TestDecideOrgMail(t *testing.T) {
	p := Policy{MailsPerOrgHour: 2}
	now := time.Date(2026, 11, 1, 9, 30, 15, 0, time.UTC)
	for _, c := range []struct {
		counted int
		refused bool
	}{{1, false}, {2, false}, {3, true}, {100, true}} {
		err := DecideOrgMail(c.counted, now, p)
		if (err != nil) != c.refused {
			t.Errorf("counted %d: err = %v, want refused %v", c.counted, err, c.refused)
			continue
		}
		if err != nil {
			if err.Code != CodeOrgMailLimitReached || err.RetryAt == nil || !err.RetryAt.Equal(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("counted %d: %v retryAt %v, want the next hour", c.counted, err, err.RetryAt)
			}
		}
	}
}

func TestPolicyMailCaps(t *testing.T) {
	p := Policy{ActivationTTL: time.Hour, ResendsPerHour: 1, ResendsTotal: 1}.WithDefaults()
	if p.MailsPerRecipientHour != DefaultMailsPerRecipientHour || p.MailsPerOrgHour != DefaultMailsPerOrgHour {
		t.Errorf("WithDefaults = %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Policy{
		{ActivationTTL: time.Hour, ResendsPerHour: 1, ResendsTotal: 1, MailsPerRecipientHour: -1, MailsPerOrgHour: 1},
		{ActivationTTL: time.Hour, ResendsPerHour: 1, ResendsTotal: 1, MailsPerRecipientHour: 1, MailsPerOrgHour: 0},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func TestRecentMails(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	p := Policy{MailsPerRecipientHour: 3}
	at := func(m ...int) []time.Time {
		var out []time.Time
		for _, x := range m {
			out = append(out, now.Add(time.Duration(x)*time.Minute))
		}
		return out
	}
	for _, c := range []struct {
		name        string
		sends, want []time.Time
	}{
		{"none", nil, nil},
		{"drops the hour's leavers", at(-61, -60, -59), at(-59)},
		{"keeps the newest cap-1, oldest first", at(-1, -30, -10, -20), at(-10, -1)},
	} {
		got := RecentMails(c.sends, now, p)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if !got[i].Equal(c.want[i]) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	// What is kept decides the next mail as the whole history would.
	sends := at(-50, -40, -30, -20, -10)
	for _, later := range []time.Duration{0, 15 * time.Minute, 35 * time.Minute} {
		n := now.Add(later)
		whole := DecideRecipientMail("x@example.com", append(sends, now), n, p)
		kept := DecideRecipientMail("x@example.com", append(RecentMails(sends, now, p), now), n, p)
		if (whole == nil) != (kept == nil) || (whole != nil && !whole.RetryAt.Equal(*kept.RetryAt)) {
			t.Errorf("at +%s: decided %v on the history, %v on what was kept", later, whole, kept)
		}
	}
}

func TestOrgMailBlock(t *testing.T) {
	for _, c := range []struct{ budget, counted, want int }{
		{1000, 0, 64}, {1000, 600, 50}, {1000, 990, 1}, {1000, 999, 1}, {3, 0, 1}, {1 << 30, 0, MaxOrgMailBlock},
	} {
		if got := OrgMailBlock(c.counted, Policy{MailsPerOrgHour: c.budget}); got != c.want {
			t.Errorf("OrgMailBlock(%d of %d) = %d, want %d", c.counted, c.budget, got, c.want)
		}
	}
}
