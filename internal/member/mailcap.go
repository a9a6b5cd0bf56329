package member

import (
	"sort"
	"time"
)

// Every activation mail (a bind, a modification, a resend, a rebind)
// passes two caps beside the per-binding ones of R6, decided here on what
// the store counted under its locks:
//
//   - per recipient address, across every binding and organization, in a
//     sliding hour: the store locks a row of the address and reads the
//     times of its recent mails;
//   - per organization, in the current clock hour (UTC): the store keeps
//     one counter row per organization and hour of the mails it reserved,
//     and reserves them in blocks (OrgMailBlock), so that the row every
//     mail of the organization would otherwise lock is touched once a
//     block.
//
// The recipient cap is sliding because it guards one mailbox, where a
// burst across an hour's boundary is exactly the harm; the organization's
// budget is a fixed hour because it is a throughput valve on a hot row,
// and one counter row is cheaper to hold than an hour of timestamps.

// DecideRecipientMail decides whether an activation mail may go to email
// at now, when that address was sent mails at the times sends (any order;
// times older than an hour are ignored).
func DecideRecipientMail(email string, sends []time.Time, now time.Time, p Policy) *Error {
	var window []time.Time
	for _, s := range sends {
		if now.Sub(s) < time.Hour {
			window = append(window, s)
		}
	}
	if len(window) < p.MailsPerRecipientHour {
		return nil
	}
	sort.Slice(window, func(i, j int) bool { return window[i].Before(window[j]) })
	// The window must shed enough mails to leave room for one more.
	next := window[len(window)-p.MailsPerRecipientHour].Add(time.Hour)
	e := Errorf(CodeRecipientLimitReached, "email %s was sent %d activation mails within the last hour, the most one address may receive; it can be sent another at %s",
		email, p.MailsPerRecipientHour, next.UTC().Format(time.RFC3339))
	e.RetryAt = &next
	return e
}

// RecentMails is what of sends a store must keep to decide later mails
// to the same address: those of the last hour, and of them only the
// newest MailsPerRecipientHour-1, since the mail about to be counted will
// join them and any older ones cannot change a decision. It returns them
// oldest first.
func RecentMails(sends []time.Time, now time.Time, p Policy) []time.Time {
	return keepRecent(sends, now, p.MailsPerRecipientHour-1)
}

// keepRecent returns the newest n of sends of the hour before now, oldest
// first.
func keepRecent(sends []time.Time, now time.Time, n int) []time.Time {
	var kept []time.Time
	for _, s := range sends {
		if now.Sub(s) < time.Hour {
			kept = append(kept, s)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Before(kept[j]) })
	if len(kept) > n {
		kept = kept[len(kept)-max(n, 0):]
	}
	return kept
}

// MailHour is the clock hour an organization's mail budget counts in.
func MailHour(now time.Time) time.Time { return now.UTC().Truncate(time.Hour) }

// DecideOrgMail decides whether an organization may queue an activation
// mail at now, when counted is how many it queued (or reserved) in now's
// clock hour including this one.
func DecideOrgMail(counted int, now time.Time, p Policy) *Error {
	if counted <= p.MailsPerOrgHour {
		return nil
	}
	next := MailHour(now).Add(time.Hour)
	e := Errorf(CodeOrgMailLimitReached, "the organization has sent %d activation mails this hour, the most allowed; more can be sent at %s",
		p.MailsPerOrgHour, next.Format(time.RFC3339))
	e.RetryAt = &next
	return e
}

// MaxOrgMailBlock is the most mails of an organization's hourly budget
// one instance reserves at once.
const MaxOrgMailBlock = 64

// OrgMailBlock is how many mails an instance reserves of an
// organization's budget when it has reserved counted of it this hour
// already (DecideOrgMail having allowed one more): an eighth of what is
// left, between 1 and MaxOrgMailBlock. Blocks shrink as the budget runs
// out, so that instances sharing an organization share its last mails
// rather than one of them holding them unused; at the end the budget is
// reserved one mail at a time, which makes it exact.
func OrgMailBlock(counted int, p Policy) int {
	return min(max((p.MailsPerOrgHour-counted)/8, 1), MaxOrgMailBlock)
}
