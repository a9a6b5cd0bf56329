package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
	"memberbind/internal/mysql"
)

// plainRead is the read figure's second floor: membersQuery's answer
// from a plain net/http handler with encoding/json. It authenticates the
// bearer API key, runs readFloor's statements and writes the JSON answer
// memberbind writes, its values derived by the same domain rules
// (internal/member), but by hand: no GraphQL parsing, validation,
// complexity or field-by-field execution. It serves only that query, for
// the page size in its variables, and does not read the query text.
//
// Between it and memberbind lies GraphQL's own cost; between it and
// readFloor, HTTP's and JSON's.
type plainRead struct {
	db     *sqlx.DB
	policy member.Policy
}

// The answer, in membersQuery's shape.
type (
	plainAnswer struct {
		Data struct {
			Members plainConnection `json:"members"`
		} `json:"data"`
	}
	plainConnection struct {
		TotalCount int `json:"totalCount"`
		PageInfo   struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
		Edges []plainEdge `json:"edges"`
	}
	plainEdge struct {
		Cursor string      `json:"cursor"`
		Node   plainMember `json:"node"`
	}
	plainMember struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		MemberType string  `json:"memberType"`
		Remark     *string `json:"remark"`
		CreatedAt  string  `json:"createdAt"`
		BindStatus string  `json:"bindStatus"`
		LoginEmail *string `json:"loginEmail"`
		Removal    struct {
			Allowed bool     `json:"allowed"`
			Reasons []string `json:"reasons"`
		} `json:"removal"`
		SecurityInfo *plainSecurityInfo `json:"securityInfo"`
	}
	plainSecurityInfo struct {
		Email                  string        `json:"email"`
		CountryCode            string        `json:"countryCode"`
		Phone                  string        `json:"phone"`
		Status                 string        `json:"status"`
		SubmittedAt            string        `json:"submittedAt"`
		ActivatedAt            *string       `json:"activatedAt"`
		LinkSentAt             *string       `json:"linkSentAt"`
		LinkExpiresAt          *string       `json:"linkExpiresAt"`
		ModificationsRemaining int           `json:"modificationsRemaining"`
		NextResendAllowedAt    *string       `json:"nextResendAllowedAt"`
		ResendsRemaining       int           `json:"resendsRemaining"`
		Delivery               plainDelivery `json:"delivery"`
	}
	plainDelivery struct {
		Status    string  `json:"status"`
		Attempts  int     `json:"attempts"`
		LastError *string `json:"lastError"`
		SentAt    *string `json:"sentAt"`
	}
)

func (h plainRead) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method != http.MethodPost || !ok {
		http.Error(w, "POST with a bearer key", http.StatusBadRequest)
		return
	}
	var req struct {
		Variables struct {
			First int `json:"first"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Variables.First < 1 {
		http.Error(w, "a JSON body with variables.first", http.StatusBadRequest)
		return
	}
	var org authRow
	if err := h.db.GetContext(ctx, &org, sqlAuthenticate, mysql.Hash(key)); errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "unknown API key", http.StatusUnauthorized)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a, err := h.page(r, org.ID, req.Variables.First)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// page reads the first members of the organization as readFloor does and
// shapes them as memberbind answers membersQuery.
func (h plainRead) page(r *http.Request, orgID int64, first int) (*plainAnswer, error) {
	ctx := r.Context()
	now := time.Now()
	a := &plainAnswer{}
	conn := &a.Data.Members
	if err := h.db.GetContext(ctx, &conn.TotalCount, sqlCountMembers, orgID, 0); err != nil {
		return nil, fmt.Errorf("count members: %w", err)
	}
	rows := make([]memberRow, 0, first+1)
	if err := h.db.SelectContext(ctx, &rows, sqlPageMembers, orgID, first+1); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	conn.PageInfo.HasNextPage = len(rows) > first
	rows = rows[:min(len(rows), first)]
	var bindings []int64
	for _, m := range rows {
		if m.BID.Valid {
			bindings = append(bindings, m.BID.Int64)
		}
	}
	sends := map[int64][]time.Time{}
	if len(bindings) > 0 {
		q, args, err := sqlx.In(sqlSends, bindings, orgID)
		if err != nil {
			return nil, err
		}
		var got []sendRow
		if err := h.db.SelectContext(ctx, &got, q, args...); err != nil {
			return nil, fmt.Errorf("read link sends: %w", err)
		}
		for _, s := range got {
			sends[s.BindingID] = append(sends[s.BindingID], s.CreatedAt.UTC())
		}
	}
	conn.Edges = make([]plainEdge, len(rows))
	for i := range rows {
		m := domainMember(&rows[i], now)
		e := &conn.Edges[i]
		e.Cursor = memberCursor(m.ID)
		e.Node = h.member(m, sends)
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return a, nil
}

// member shapes a member as memberbind's Member type shows it
// (graph/model).
func (h plainRead) member(m *member.Member, sends map[int64][]time.Time) plainMember {
	out := plainMember{
		ID:         memberGID(m.ID),
		Name:       m.Name,
		MemberType: string(m.Type),
		Remark:     optionalString(m.Remark),
		CreatedAt:  timeString(m.CreatedAt),
		BindStatus: string(m.Status()),
		LoginEmail: optionalString(m.LoginEmail),
	}
	out.Removal.Allowed, out.Removal.Reasons = member.Removal(m)
	if out.Removal.Reasons == nil {
		out.Removal.Reasons = []string{}
	}
	b := m.Binding
	if b == nil {
		return out
	}
	s := &plainSecurityInfo{
		Email:                  b.Email,
		CountryCode:            b.CountryCode,
		Phone:                  b.Phone,
		Status:                 string(b.Status(m.AsOf)),
		SubmittedAt:            timeString(b.SubmittedAt),
		ActivatedAt:            optionalTime(b.ActivatedAt),
		LinkSentAt:             optionalTime(b.LinkSentAt),
		LinkExpiresAt:          optionalTime(b.LinkExpiresAt),
		ModificationsRemaining: max(0, h.policy.MaxModifications-b.Modifications),
		Delivery:               plainDelivery{Status: string(member.DeliveryQueued)},
	}
	if s.Status == string(member.StatusPending) {
		sent := sends[b.ID]
		if next, ok := member.NextSend(sent, m.AsOf, h.policy); !ok && !next.IsZero() {
			s.NextResendAllowedAt = optionalTime(&next)
		}
		s.ResendsRemaining = max(0, h.policy.ResendsTotal-len(sent))
	}
	if d := b.Delivery; d != nil {
		s.Delivery = plainDelivery{Status: string(d.Status), Attempts: d.Attempts, LastError: optionalString(d.LastError), SentAt: optionalTime(d.SentAt)}
	}
	out.SecurityInfo = s
	return out
}

// domainMember is internal/mysql memberRow.member: the row as the domain
// sees it, as of now.
func domainMember(r *memberRow, now time.Time) *member.Member {
	m := &member.Member{
		ID: r.ID, OrgID: r.OrgID, Name: r.Name, Type: member.Type(r.Type), Remark: r.Remark.String,
		CreatedAt: r.CreatedAt.Time.UTC(), RemovedAt: nullTime(r.RemovedAt), LoginEmail: r.LoginEmail.String, AsOf: now,
	}
	if !r.BID.Valid {
		return m
	}
	m.Binding = &member.Binding{
		ID: r.BID.Int64, MemberID: r.BMemberID.Int64, Email: r.BEmail.String, CountryCode: r.BCountryCode.String,
		Phone: r.BPhone.String, State: member.BindingState(r.BState.String), Modifications: int(r.BModifications.Int64),
		SubmittedAt: r.BSubmittedAt.Time.UTC(), ActivatedAt: nullTime(r.BActivatedAt), LinkSentAt: nullTime(r.BLinkSentAt),
		LinkExpiresAt: nullTime(r.BLinkExpiresAt), UnsentLinks: int(r.BUnsentLinks.Int64), NewestLinkID: r.BNewestLinkID.Int64,
	}
	if r.OStatus.Valid {
		m.Binding.Delivery = &member.Delivery{
			LinkID: r.BNewestLinkID.Int64, Status: member.DeliveryStatus(r.OStatus.String),
			Attempts: int(r.OAttempts.Int64), LastError: r.OLastError.String, SentAt: nullTime(r.OSentAt),
		}
	}
	return m
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// timeString is a time as the schema's Time scalar writes it (gqlgen's
// graphql.MarshalTime): RFC 3339 with the fractional seconds it has.
func timeString(t time.Time) string { return t.Format(time.RFC3339Nano) }

func optionalTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timeString(*t)
	return &s
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sameJSON reports where the JSON values of a and b first differ: "" when
// they decode to the same value.
func sameJSON(a, b []byte) (string, error) {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return "", err
	}
	return jsonDiff("$", x, y), nil
}

func jsonDiff(path string, x, y any) string {
	switch x := x.(type) {
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok {
			return path
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			if d := jsonDiff(path+"."+k, x[k], y[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return path
		}
		for i := range x {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(x, y) {
		return fmt.Sprintf("%s: %v against %v", path, x, y)
	}
	return ""
}
