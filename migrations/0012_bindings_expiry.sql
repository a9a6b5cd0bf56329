-- +goose Up
-- A pending binding fails by the clock alone, when its last live link
-- expires (R7), and nothing is written then. Live updates find the
-- bindings that failed since their last look by this index
-- (mysql.Store.ExpiredBetween), a range of it per poll.
CREATE INDEX bindings_expiry ON bindings (link_expires_at);

-- +goose Down
DROP INDEX bindings_expiry ON bindings;
