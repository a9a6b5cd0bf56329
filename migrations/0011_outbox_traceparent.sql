-- +goose Up
-- The W3C traceparent of the request that queued a mail, so that the
-- worker's send, in another trace and maybe on another instance, links to
-- it. NULL when the request was not traced. It holds ids only, no secret.
ALTER TABLE outbox ADD COLUMN traceparent VARCHAR(55) CHARACTER SET utf8mb4 NULL;

-- +goose Down
ALTER TABLE outbox DROP COLUMN traceparent;
