package mysql

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"memberbind/internal/member"
)

// orgOwnedTables are the tables whose rows belong to one organization and
// carry its org_id: under Vitess they are sharded by it (docs/scaling.md).
// organizations is keyed by its own id, which is the org id; email_claims
// and mail_recipients are global (lookup tables), and the migration
// tables are the service's own.
var orgOwnedTables = map[string]bool{
	"api_keys": true, "members": true, "bindings": true, "activation_links": true, "outbox": true,
	"member_events": true, "signin_links": true, "member_sessions": true, "idempotency_keys": true,
	"org_mail_hours": true, "member_counts": true,
	"webhook_endpoints": true, "webhook_deliveries": true, "webhook_binding_failures": true,
}

// orgIDExceptions are the statements on organization-owned tables that do
// not name org_id, each found by a piece of its text, with the reason
// (docs/scaling.md, "Statements that do not name org_id").
var orgIDExceptions = []struct{ match, why string }{
	{"FROM signin_links WHERE token_hash = ?", "a sign-in link arrives as a token: the signin_link_tokens lookup vindex finds its shard"},
	{"FROM member_sessions WHERE token_hash = ?", "a session arrives as a token: the session_tokens lookup vindex finds its shard"},
	{"UPDATE member_sessions SET ended_at = ? WHERE token_hash = ?", "sign-out by the session's token (session_tokens)"},
	{"WHERE l.token_hash = ?", "an activation link arrives as a token: the activation_link_tokens lookup vindex finds its shard"},
	{"WHERE k.key_hash = ? AND k.revoked_at IS NULL", "an API key arrives alone: the api_key_hashes lookup vindex finds its shard"},
	{"FROM api_keys WHERE id = ?", "the operator's command line names a key by id, not an organization: a rare scatter"},
	{"WHERE status = ? AND next_attempt_at <= ?", "the outbox claim's pick: each worker serves one shard and scans its due index there"},
	{"UPDATE outbox SET leased_by = ?, lease_until = ?, lease_token = ?", "the claim leases the rows it picked by primary key alone, locked in ascending order (with org_id IN the optimizer locked them in another order, and claims deadlocked), on its own shard"},
	{"WHERE o.lease_token = ?", "the claim's read-back, by the lease token it just wrote on its shard"},
	{"WHERE leased_by = ? AND status IN", "a worker gives back its own leases, on its shard"},
	{"WHERE d.lease_token = ?", "the webhook claim's read-back, by the lease token it just wrote on its shard"},
	{"WHERE b.state IN ('PENDING', 'FAILED') AND b.unsent_links = 0", "the binding.failed sweep: each worker serves one shard and scans its expiry index there"},
	{"FROM member_events ORDER BY id DESC LIMIT 1", "live updates follow every organization with a subscriber: a scatter, twice a second per instance"},
	{"FROM member_events WHERE", "live updates read the change log by its primary key: a scatter of a short range"},
	{"link_expires_at > ? AND link_expires_at <= ?", "live updates find the bindings failed by the clock on bindings_link_expiry: a scatter of a short range"},
	{"AS oldest FROM outbox WHERE status IN", "the backlog gauges count the whole outbox an instance serves: one shard's under Vitess"},
}

var (
	sqlVerb   = regexp.MustCompile(`(?i)^\s*(\(?\s*SELECT|UPDATE|INSERT|DELETE|FROM)\b`)
	tableRef  = regexp.MustCompile(`(?i)\b(FROM|JOIN|UPDATE|INTO)\s+(\w+)`)
	clauseEnd = regexp.MustCompile(`(?i)\b((LEFT|RIGHT|INNER)\s+)?JOIN\b|\bWHERE\b|\bORDER\s+BY\b|\bGROUP\s+BY\b|\bLIMIT\b|\bON\s+DUPLICATE\b`)
	onClause  = regexp.MustCompile(`(?i)\bJOIN\s+(\w+)(\s+(AS\s+)?\w+)?\s+ON\b`)
	whereWord = regexp.MustCompile(`(?i)\bWHERE\b`)
)

// TestEveryStatementNamesOrgID holds issue 14's "every statement on an
// org-owned table names org_id, including joins": it reads every SQL
// statement written in the package's code (string literals, with the
// package's constants folded into the concatenations that use them) and
// checks that an organization-owned table read, changed or deleted from is
// narrowed by org_id in the WHERE clause, that one inserted into is given
// org_id, and that one joined names org_id in its ON clause. The
// documented exceptions are listed in orgIDExceptions.
func TestEveryStatementNamesOrgID(t *testing.T) {
	stmts := packageStatements(t)
	if len(stmts) < 40 {
		t.Fatalf("found %d statements; the collector is broken", len(stmts))
	}
	used := map[string]bool{}
	for _, s := range stmts {
		problems := orgIDProblems(s.sql, s.prefix)
		if len(problems) == 0 {
			continue
		}
		excused := false
		for _, e := range orgIDExceptions {
			if strings.Contains(s.sql, e.match) {
				excused, used[e.match] = true, true
			}
		}
		if !excused {
			t.Errorf("%s: %s\n\t%s", s.pos, strings.Join(problems, "; "), oneLine(s.sql))
		}
	}
	for _, e := range orgIDExceptions {
		if !used[e.match] {
			t.Errorf("exception %q matches no statement that needs it: remove it", e.match)
		}
	}
}

// TestMembersStatementsNameOrgID checks the statements Members builds
// from pieces, which the test above sees only piece by piece.
func TestMembersStatementsNameOrgID(t *testing.T) {
	now := time.Now()
	for _, f := range []member.Filter{
		{}, {Removed: true}, {Type: member.TypeCreated}, {Status: member.StatusPending}, {Status: member.StatusFailed},
		{Search: "ali"}, {Search: "ali", Removed: true}, {Search: "alice@example.com"},
	} {
		search, err := parseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		// A search's window as a list longer than it has.
		search.window = searchWindow{limited: true, id: 3, removedAt: now}
		count, list := membersStatements(1, f, search, member.PageQuery{Size: 10, After: 5}, now)
		for _, s := range []statement{count, list, windowStatement(1, f.Removed, 10)} {
			if p := orgIDProblems(s.query, false); len(p) > 0 {
				t.Errorf("filter %+v: %s\n\t%s", f, strings.Join(p, "; "), oneLine(s.query))
			}
		}
	}
}

// orgIDProblems lists what a statement fails of the rule. A prefix (a
// constant that code completes with its WHERE clause) may lack one.
func orgIDProblems(sql string, prefix bool) []string {
	var problems []string
	refs := tableRef.FindAllStringSubmatchIndex(sql, -1)
	for _, r := range refs {
		kw, table := strings.ToUpper(sql[r[2]:r[3]]), strings.ToLower(sql[r[4]:r[5]])
		if !orgOwnedTables[table] {
			continue
		}
		switch kw {
		case "JOIN":
			m := onClause.FindStringIndex(sql[r[0]:])
			if m == nil {
				problems = append(problems, "join of "+table+" without ON")
				continue
			}
			on := sql[r[0]+m[1]:]
			if e := clauseEnd.FindStringIndex(on); e != nil {
				on = on[:e[0]]
			}
			if !strings.Contains(on, "org_id") {
				problems = append(problems, "join of "+table+" without org_id in its ON clause")
			}
		case "INTO":
			cols := sql[r[1]:]
			if end := strings.Index(cols, ")"); end >= 0 {
				cols = cols[:end]
			}
			if !strings.Contains(cols, "org_id") {
				problems = append(problems, "insert into "+table+" without org_id")
			}
		default: // FROM, UPDATE: the table the statement reads or changes
			w := whereWord.FindStringIndex(sql[r[1]:])
			if w == nil {
				if !prefix && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(sql)), "FROM") {
					problems = append(problems, table+" without a WHERE clause")
				}
				continue
			}
			if !strings.Contains(sql[r[1]+w[1]:], "org_id") {
				problems = append(problems, table+" without org_id in its WHERE clause")
			}
		}
	}
	return problems
}

type sqlStatement struct {
	pos    string
	sql    string
	prefix bool // a constant's value, checked also where it is completed
}

// packageStatements returns the SQL in the package's non-test files: each
// string literal, or concatenation of literals and package constants, that
// starts like a statement (or a FROM clause).
func packageStatements(t *testing.T) []sqlStatement {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	consts := map[string]string{}
	constValues := map[ast.Node]bool{}
	for changed := true; changed; { // constants made of constants
		changed = false
		for _, f := range files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						constValues[vs.Values[i]] = true
						if _, done := consts[name.Name]; done {
							continue
						}
						if s, ok := foldString(vs.Values[i], consts, false); ok {
							consts[name.Name], changed = s, true
						}
					}
				}
			}
		}
	}
	var out []sqlStatement
	for _, f := range files {
		var inConcat []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				return false
			}
			for _, c := range inConcat {
				if c == n {
					return true
				}
			}
			var s string
			switch e := n.(type) {
			case *ast.BinaryExpr:
				if e.Op != token.ADD {
					return true
				}
				s, _ = foldString(e, consts, true)
				// Its operands are part of it, not statements of their own.
				ast.Inspect(e, func(c ast.Node) bool {
					if c != nil && c != e {
						inConcat = append(inConcat, c)
					}
					return true
				})
			case *ast.BasicLit:
				s, _ = foldString(e, consts, true)
			default:
				return true
			}
			if sqlVerb.MatchString(s) {
				out = append(out, sqlStatement{pos: fset.Position(n.Pos()).String(), sql: s, prefix: constValues[n]})
			}
			return true
		})
	}
	return out
}

// foldString evaluates a string expression of literals and known
// constants; with lenient set, anything else becomes "<?>".
func foldString(e ast.Expr, consts map[string]string, lenient bool) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		if s, ok := consts[e.Name]; ok {
			return s, true
		}
	case *ast.ParenExpr:
		return foldString(e.X, consts, lenient)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, okx := foldString(e.X, consts, lenient)
			y, oky := foldString(e.Y, consts, lenient)
			return x + y, okx && oky
		}
	}
	if lenient {
		return "<?>", true
	}
	return "", false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// PackageStatement returns the one statement of the package's code that
// contains piece, for the tests that ask the server how it plans it; a
// constant's own value is left out when it is completed elsewhere.
func PackageStatement(t *testing.T, piece string) string {
	t.Helper()
	var found []string
	for _, s := range packageStatements(t) {
		if q := oneLine(s.sql); strings.Contains(q, piece) && !s.prefix && !slices.Contains(found, q) {
			found = append(found, q)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d statements contain %q, want 1", len(found), piece)
	}
	return found[0]
}
