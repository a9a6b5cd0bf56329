-- +goose Up
-- A modification, a rebind and an activation cancel their binding's queued
-- mail with UPDATE outbox ... WHERE binding_id = ?. Without an index that
-- statement read, and locked, every row of the outbox, so changes to
-- different members waited on one another and deadlocked.
ALTER TABLE outbox ADD KEY outbox_binding (binding_id);

-- +goose Down
ALTER TABLE outbox DROP KEY outbox_binding;
