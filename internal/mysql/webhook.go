package mysql

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"memberbind/internal/member"
)

// WebhookConfig is what the store needs for webhooks (DESIGN.md §10).
type WebhookConfig struct {
	// Cipher seals endpoint secrets in the database (AES-GCM under
	// MEMBERBIND_WEBHOOK_SECRET_KEY): they sign with HMAC, so they must
	// be recoverable, and a copy of the database alone must not be
	// enough to forge a delivery. Without it no endpoint can be created
	// and nothing can be delivered.
	Cipher cipher.AEAD
	// CheckURL checks an endpoint's URL (webhook.Guard.CheckURL); without
	// it every URL is refused.
	CheckURL func(ctx context.Context, url string) error
}

// errNoWebhooks is the fault of a store that was not given a WebhookConfig.
var errNoWebhooks = errors.New("webhooks are not configured: no secret key")

const endpointSelect = `
	SELECT id, org_id, url, events, created_at, updated_at, failing_since, disabled_at FROM webhook_endpoints`

type endpointRow struct {
	ID           int64        `db:"id"`
	OrgID        int64        `db:"org_id"`
	URL          string       `db:"url"`
	Events       string       `db:"events"`
	CreatedAt    time.Time    `db:"created_at"`
	UpdatedAt    time.Time    `db:"updated_at"`
	FailingSince sql.NullTime `db:"failing_since"`
	DisabledAt   sql.NullTime `db:"disabled_at"`
}

func (r endpointRow) endpoint() *member.WebhookEndpoint {
	e := &member.WebhookEndpoint{
		ID: r.ID, OrgID: r.OrgID, URL: r.URL, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		FailingSince: timePtr(r.FailingSince), DisabledAt: timePtr(r.DisabledAt),
	}
	for _, t := range strings.Split(r.Events, ",") {
		if t != "" {
			e.Events = append(e.Events, member.WebhookEventType(t))
		}
	}
	return e
}

func eventSet(events []member.WebhookEventType) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

// WebhookEndpoints returns the organization's endpoints, newest first.
func (s *Store) WebhookEndpoints(ctx context.Context, orgID int64) ([]*member.WebhookEndpoint, error) {
	var rows []endpointRow
	if err := s.db.SelectContext(ctx, &rows, endpointSelect+` WHERE org_id = ? ORDER BY id DESC`, orgID); err != nil {
		return nil, fmt.Errorf("read webhook endpoints: %w", err)
	}
	out := make([]*member.WebhookEndpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, nil
}

// newWebhookSecret returns a new secret (whsec_ and 32 random bytes in
// standard base64) and its sealed form for orgID's row.
func (s *Store) newWebhookSecret(orgID int64) (secret string, sealed []byte, err error) {
	if s.Webhooks.Cipher == nil {
		return "", nil, errNoWebhooks
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(s.random, key); err != nil {
		return "", nil, err
	}
	secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	nonce := make([]byte, s.Webhooks.Cipher.NonceSize())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return "", nil, err
	}
	return secret, s.Webhooks.Cipher.Seal(nonce, nonce, []byte(secret), secretAD(orgID)), nil
}

// secretAD binds a sealed secret to its organization: a sealed secret
// copied to another organization's row does not open.
func secretAD(orgID int64) []byte {
	return []byte("webhook-endpoint-secret:" + strconv.FormatInt(orgID, 10))
}

func (s *Store) openWebhookSecret(orgID int64, sealed []byte) (string, error) {
	c := s.Webhooks.Cipher
	if c == nil {
		return "", errNoWebhooks
	}
	if len(sealed) < c.NonceSize() {
		return "", errors.New("sealed webhook secret too short")
	}
	plain, err := c.Open(nil, sealed[:c.NonceSize()], sealed[c.NonceSize():], secretAD(orgID))
	if err != nil {
		return "", fmt.Errorf("open webhook secret (was MEMBERBIND_WEBHOOK_SECRET_KEY changed?): %w", err)
	}
	return string(plain), nil
}

func (s *Store) checkWebhookURL(ctx context.Context, url string) error {
	if s.Webhooks.CheckURL == nil || s.Webhooks.Cipher == nil {
		return member.FieldErrorf(member.CodeInvalidWebhookURL, "url", "webhooks are not enabled on this server: it has no MEMBERBIND_WEBHOOK_SECRET_KEY")
	}
	return s.Webhooks.CheckURL(ctx, url)
}

// CreateWebhookEndpoint registers url for events and returns the endpoint
// and its secret.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, orgID int64, url string, events []member.WebhookEventType) (*member.WebhookEndpoint, string, error) {
	url = strings.TrimSpace(url)
	if events == nil {
		events = []member.WebhookEventType{} // none given: refused
	}
	if err := s.checkEndpoint(ctx, &url, &events); err != nil {
		return nil, "", err
	}
	secret, sealed, err := s.newWebhookSecret(orgID)
	if err != nil {
		return nil, "", err
	}
	now := s.Now()
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO webhook_endpoints (org_id, url, events, secret_sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		orgID, url, eventSet(events), sealed, now, now)
	if err != nil {
		return nil, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, "", err
	}
	return &member.WebhookEndpoint{ID: id, OrgID: orgID, URL: url, Events: events, CreatedAt: now, UpdatedAt: now}, secret, nil
}

// checkEndpoint checks an endpoint's URL and events, those given (nil
// keeps each), and returns every field at fault at once (member.Errors).
// The events come back checked (without repeats, in the schema's order).
func (s *Store) checkEndpoint(ctx context.Context, url *string, events *[]member.WebhookEventType) error {
	var urlErr, eventsErr *member.Error
	if url != nil {
		if err := s.checkWebhookURL(ctx, *url); err != nil {
			var ok bool
			if urlErr, ok = member.AsError(err); !ok {
				return err
			}
		}
	}
	if events != nil && *events != nil {
		*events, eventsErr = member.CheckWebhookEvents(*events)
	}
	return member.JoinErrors(urlErr, eventsErr)
}

func webhookNotFound() error {
	return member.FieldErrorf(member.CodeWebhookNotFound, "id", "this organization has no webhook endpoint with this id")
}

// lockEndpoint locks one of the organization's endpoints.
func (s *Store) lockEndpoint(ctx context.Context, tx *sqlx.Tx, orgID, id int64) (*member.WebhookEndpoint, error) {
	var r endpointRow
	err := tx.GetContext(ctx, &r, endpointSelect+` WHERE org_id = ? AND id = ? FOR UPDATE`, orgID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, webhookNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("lock webhook endpoint %d: %w", id, err)
	}
	return r.endpoint(), nil
}

// UpdateWebhookEndpoint changes an endpoint's url and events (nil keeps
// each) and enables it again: an update is how an organization says it
// fixed its receiver.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, orgID, id int64, url *string, events []member.WebhookEventType) (*member.WebhookEndpoint, error) {
	if url != nil {
		u := strings.TrimSpace(*url)
		url = &u
	}
	if err := s.checkEndpoint(ctx, url, &events); err != nil {
		return nil, err
	}
	var e *member.WebhookEndpoint
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if e, err = s.lockEndpoint(ctx, tx, orgID, id); err != nil {
			return err
		}
		if url != nil {
			e.URL = *url
		}
		if events != nil {
			e.Events = events
		}
		e.UpdatedAt, e.DisabledAt, e.FailingSince = s.Now(), nil, nil
		_, err = tx.ExecContext(ctx, `
			UPDATE webhook_endpoints SET url = ?, events = ?, updated_at = ?, disabled_at = NULL, failing_since = NULL
			WHERE org_id = ? AND id = ?`, e.URL, eventSet(e.Events), e.UpdatedAt, orgID, id)
		if err != nil {
			return fmt.Errorf("update webhook endpoint %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DeleteWebhookEndpoint deletes an endpoint and its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, orgID, id int64) (*member.WebhookEndpoint, error) {
	var e *member.WebhookEndpoint
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if e, err = s.lockEndpoint(ctx, tx, orgID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE org_id = ? AND endpoint_id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete deliveries of webhook endpoint %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete webhook endpoint %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// RotateWebhookSecret gives an endpoint a new secret. Deliveries not sent
// yet are signed with the new one: a delivery is signed when it is sent.
func (s *Store) RotateWebhookSecret(ctx context.Context, orgID, id int64) (*member.WebhookEndpoint, string, error) {
	secret, sealed, err := s.newWebhookSecret(orgID)
	if err != nil {
		return nil, "", err
	}
	var e *member.WebhookEndpoint
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if e, err = s.lockEndpoint(ctx, tx, orgID, id); err != nil {
			return err
		}
		e.UpdatedAt = s.Now()
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret_sealed = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
			sealed, e.UpdatedAt, orgID, id)
		if err != nil {
			return fmt.Errorf("rotate secret of webhook endpoint %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

type deliveryRow struct {
	ID            int64          `db:"id"`
	OrgID         int64          `db:"org_id"`
	EndpointID    int64          `db:"endpoint_id"`
	MessageID     string         `db:"message_id"`
	Type          string         `db:"type"`
	Payload       string         `db:"payload"`
	Status        string         `db:"status"`
	Attempts      int            `db:"attempts"`
	CreatedAt     time.Time      `db:"created_at"`
	NextAttemptAt time.Time      `db:"next_attempt_at"`
	DeliveredAt   sql.NullTime   `db:"delivered_at"`
	LastError     sql.NullString `db:"last_error"`
	ResponseCode  sql.NullInt64  `db:"response_code"`
}

const deliveryColumns = `d.id, d.org_id, d.endpoint_id, d.message_id, d.type, d.payload, d.status, d.attempts,
	d.created_at, d.next_attempt_at, d.delivered_at, d.last_error, d.response_code`

func (r deliveryRow) delivery() member.WebhookDelivery {
	return member.WebhookDelivery{
		ID: r.ID, OrgID: r.OrgID, EndpointID: r.EndpointID, MessageID: r.MessageID, Type: member.WebhookEventType(r.Type),
		Payload: r.Payload, Status: member.WebhookDeliveryStatus(r.Status), Attempts: r.Attempts,
		CreatedAt: r.CreatedAt.UTC(), NextAttemptAt: r.NextAttemptAt.UTC(), DeliveredAt: timePtr(r.DeliveredAt),
		LastError: r.LastError.String, ResponseCode: int(r.ResponseCode.Int64),
	}
}

// WebhookDeliveries returns each endpoint's first newest deliveries, by
// endpoint id, in one statement: a UNION ALL of one keyset read of the
// (endpoint_id, id) index per endpoint.
func (s *Store) WebhookDeliveries(ctx context.Context, orgID int64, endpointIDs []int64, first int) (map[int64][]*member.WebhookDelivery, error) {
	out := make(map[int64][]*member.WebhookDelivery, len(endpointIDs))
	if len(endpointIDs) == 0 || first <= 0 {
		return out, nil
	}
	parts := make([]string, len(endpointIDs))
	args := make([]any, 0, 3*len(endpointIDs))
	for i, id := range endpointIDs {
		parts[i] = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d WHERE d.org_id = ? AND d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?`
		args = append(args, orgID, id, first)
	}
	query := parts[0]
	if len(parts) > 1 {
		// Each part's ORDER BY and LIMIT hold within its parentheses.
		// (go-mysql-server refuses a lone SELECT in parentheses.)
		query = "(" + strings.Join(parts, ") UNION ALL (") + ")"
	}
	var rows []deliveryRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read webhook deliveries: %w", err)
	}
	for _, r := range rows {
		d := r.delivery()
		out[r.EndpointID] = append(out[r.EndpointID], &d)
	}
	for _, ds := range out {
		slices.SortFunc(ds, func(a, b *member.WebhookDelivery) int { return int(b.ID - a.ID) })
	}
	return out, nil
}

// webhookPayload is the body of a delivery: Standard Webhooks' type,
// timestamp, data.
type webhookPayload struct {
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// enqueueWebhook writes, in tx, one delivery of an event of type t about
// a member to each enabled endpoint of the organization that subscribes
// to t and existed when it happened.
func (s *Store) enqueueWebhook(ctx context.Context, tx *sqlx.Tx, orgID, memberID int64, t member.WebhookEventType, at time.Time, data map[string]any) (int, error) {
	var endpoints []int64
	err := tx.SelectContext(ctx, &endpoints, `
		SELECT id FROM webhook_endpoints
		WHERE org_id = ? AND disabled_at IS NULL AND FIND_IN_SET(?, events) > 0 AND created_at <= ?`, orgID, string(t), at)
	if err != nil {
		return 0, fmt.Errorf("find webhook endpoints for %s: %w", t.Name(), err)
	}
	if len(endpoints) == 0 {
		return 0, nil
	}
	if data == nil {
		data = map[string]any{}
	}
	data["member"] = map[string]any{"id": member.PublicMemberID(memberID)}
	body, err := json.Marshal(webhookPayload{Type: t.Name(), Timestamp: at.UTC(), Data: data})
	if err != nil {
		return 0, err
	}
	now := s.Now()
	for _, id := range endpoints {
		msgID, err := s.secret()
		if err != nil {
			return 0, err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO webhook_deliveries (org_id, endpoint_id, member_id, message_id, type, payload, status, created_at, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, 'QUEUED', ?, ?)`, orgID, id, memberID, "msg_"+msgID[:32], string(t), string(body), now, now)
		if err != nil {
			return 0, fmt.Errorf("queue %s for webhook endpoint %d: %w", t.Name(), id, err)
		}
	}
	return len(endpoints), nil
}

// webhookData is what an event's payload says beyond the member.
func webhookData(kind member.EventKind, email, detail string) map[string]any {
	switch kind {
	case member.EventActivated:
		return map[string]any{"loginEmail": email}
	case member.EventDeliveryFailed:
		return map[string]any{"email": email, "reason": truncate(detail, maxDetail)}
	}
	return nil
}
