package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// fixture is a figure's own database with one organization in it, and
// memberbind's store over it.
type fixture struct {
	dsn   string
	db    *sqlx.DB // the store's pool
	st    *mysql.Store
	orgID int64
	key   string       // the organization's API key
	actor member.Actor // what its changes are recorded under
}

// newFixture creates the figure's database, migrates it and creates an
// organization. Its pools close when the run's databases are dropped.
func (b *bench) newFixture(ctx context.Context, figure string) (*fixture, error) {
	dsn, err := b.dbs.create(ctx, figure)
	if err != nil {
		return nil, err
	}
	db, err := openMigrated(ctx, dsn)
	if err != nil {
		return nil, err
	}
	st := mysql.New(db, mysql.Options{Policy: benchPolicy()})
	org, key, err := st.CreateOrganization(ctx, "Bench "+figure, "en")
	if err != nil {
		db.Close()
		return nil, err
	}
	caller, err := st.Authenticate(ctx, key)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &fixture{dsn: dsn, db: db, st: st, orgID: org.ID, key: key, actor: caller.Actor}, nil
}

// pool opens another pool on the fixture's database, configured as
// memberbind configures its own: the floors' pool.
func (f *fixture) pool(ctx context.Context) (*sqlx.DB, error) {
	return mysql.Open(ctx, f.dsn)
}

// Ids and cursors as graph/ids.go encodes them. Clients are to treat them
// as opaque; the bench builds them to reach a page deep in a list without
// walking a million members.
func encodeID(kind string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
}

func memberGID(id int64) string { return encodeID("Member", id) }

// memberCursor is the cursor of the member with id in a members list.
func memberCursor(id int64) string { return encodeID("members", id) }

// idPool hands out the ids first..last once each, to any number of
// clients.
type idPool struct {
	next atomic.Int64
	last int64
}

func newIDPool(first, last int64) *idPool {
	p := &idPool{last: last}
	p.next.Store(first)
	return p
}

// take returns an unused id, or errExhausted.
func (p *idPool) take() (int64, error) {
	id := p.next.Add(1) - 1
	if id > p.last {
		return 0, errExhausted
	}
	return id, nil
}

// left is how many ids are left.
func (p *idPool) left() int64 { return max(0, p.last-p.next.Load()+1) }

// reserve takes up to n unused ids at once: first..first+k-1.
func (p *idPool) reserve(n int) (first int64, k int) {
	for {
		next := p.next.Load()
		k := min(int64(n), max(0, p.last-next+1))
		if p.next.CompareAndSwap(next, next+k) {
			return next, int(k)
		}
	}
}

// putBack returns the ids from..end-1, the unused end of the last
// reservation, when nothing was taken since.
func (p *idPool) putBack(from, end int64) { p.next.CompareAndSwap(end, from) }

// tokenPool hands out activation tokens once each.
type tokenPool struct {
	tokens []string
	next   atomic.Int64
}

func (p *tokenPool) take() (string, error) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.tokens)) {
		return "", errExhausted
	}
	return p.tokens[i], nil
}

// reserve takes up to n unused tokens at once: p.tokens[first:first+k].
func (p *tokenPool) reserve(n int) (first, k int) {
	for {
		next := p.next.Load()
		k := min(int64(n), max(0, int64(len(p.tokens))-next))
		if p.next.CompareAndSwap(next, next+k) {
			return int(next), int(k)
		}
	}
}

// putBack returns the tokens p.tokens[from:end], the unused end of the
// last reservation, when nothing was taken since.
func (p *tokenPool) putBack(from, end int) { p.next.CompareAndSwap(int64(end), int64(from)) }

// memberFields is what the admin console asks of each member in its list
// (internal/console/assets/api.js): securityInfo with its delivery, and
// the resend fields, which the graph loads in one batch per page.
const memberFields = `id name memberType remark createdAt bindStatus loginEmail
	removal { allowed reasons }
	securityInfo { email countryCode phone status submittedAt activatedAt linkSentAt linkExpiresAt
		modificationsRemaining nextResendAllowedAt resendsRemaining
		delivery { status attempts lastError sentAt } }`

// membersQuery is the read figure's request: a page of members with their
// total, as the console's list asks for it.
const membersQuery = `query Members($first: Int!, $after: String, $filter: MemberFilter) {
	members(first: $first, after: $after, filter: $filter) {
		totalCount
		pageInfo { hasNextPage endCursor }
		edges { cursor node { ` + memberFields + ` } }
	}
}`

// membersEventsQuery is membersQuery with each member's five newest
// events, the README's example query.
const membersEventsQuery = `query MembersEvents($first: Int!) {
	members(first: $first) {
		totalCount
		pageInfo { hasNextPage endCursor }
		edges { cursor node { ` + memberFields + `
			events(first: 5) { edges { cursor node { id kind actor email detail occurredAt } } pageInfo { hasNextPage } } } }
	}
}`

// pageQuery is membersQuery without totalCount: a page alone, which costs
// the same wherever it is in the list.
const pageQuery = `query Page($first: Int!, $after: String) {
	members(first: $first, after: $after) {
		pageInfo { hasNextPage endCursor }
		edges { cursor node { ` + memberFields + ` } }
	}
}`

// consoleMembersQuery is the admin console's own list request, as
// internal/console/assets/api.js sends it (ConsoleMembers with its
// MemberFields fragment): the organization, and a page of members with
// totalCount, which the console asks on every page.
const consoleMembersQuery = `query ConsoleMembers($first: Int!, $after: String, $filter: MemberFilter) {
	organization { id name language policy { activationTTLSeconds } }
	members(first: $first, after: $after, filter: $filter) {
		totalCount searchedOnlyNewest
		pageInfo { hasNextPage endCursor }
		edges { cursor node { ...MemberFields } }
	}
}
` + consoleMemberFragment

// consoleMemberFragment is the console's MemberFields fragment
// (internal/console/assets/api.js), which its list and its mutations ask.
const consoleMemberFragment = `fragment MemberFields on Member {
	id name memberType remark createdAt bindStatus loginEmail
	removal { allowed reasons }
	securityInfo { email countryCode phone status submittedAt activatedAt linkSentAt linkExpiresAt
		modificationsRemaining nextResendAllowedAt
		delivery { status attempts lastError sentAt } }
}`

// consoleBindMutation is the console's own bindSecurityInfo, as api.js
// sends it: the whole member back, with nextResendAllowedAt, which costs
// a query after the transaction.
const consoleBindMutation = `mutation Console_bindSecurityInfo($input: SecurityInfoInput!) { bindSecurityInfo(input: $input) { member { ...MemberFields } userErrors { code message field retryAt } } }
` + consoleMemberFragment

// bindMutation binds security information and reads back the binding as
// the transaction left it. It leaves out the resend fields, which would
// add a query after the transaction (the console asks for them, and pays
// that query).
const bindMutation = `mutation Bind($input: SecurityInfoInput!) {
	bindSecurityInfo(input: $input) {
		member { id bindStatus securityInfo { email countryCode phone status submittedAt linkExpiresAt
			modificationsRemaining delivery { status attempts sentAt } } }
		userErrors { code message field }
	}
}`

// bindInput is the input of bindMutation for a member and an email.
func bindInput(memberID int64, email string) map[string]any {
	return map[string]any{"input": map[string]any{
		"memberId": memberGID(memberID), "email": email, "countryCode": "+86", "phone": "138 0013 8000",
	}}
}

// bindEmail is the email a bench binds to a member.
func bindEmail(memberID int64, domain string) string {
	return fmt.Sprintf("b%d@%s", memberID, domain)
}

// benchPolicy is the default policy without the organization's hourly
// mail budget in the way: every figure mails from one organization, at
// thousands of binds a second. The budget is still reserved, a block at a
// time, so its cost is measured.
func benchPolicy() member.Policy {
	p := member.DefaultPolicy()
	p.MailsPerOrgHour = math.MaxInt32
	return p
}
