-- +goose Up
-- A sign-in request that issues a link writes its member's row. Row locks
-- are local to a Galera node, and certification finds a conflict only
-- between writes: two requests through two nodes, each holding the lock on
-- its own node and inserting only their own links, both committed past the
-- cap of live links. Both now write this counter, so one of them fails
-- certification and runs again, seeing the other's link.
ALTER TABLE members ADD COLUMN signin_links_issued INT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE members DROP COLUMN signin_links_issued;
