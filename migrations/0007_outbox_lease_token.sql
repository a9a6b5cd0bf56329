-- +goose Up
-- A claim leases due outbox rows with one conditional UPDATE, which every
-- engine (MariaDB, MySQL, Galera, TiDB) runs atomically, and then reads
-- back the rows it now holds by the random token it wrote: the UPDATE does
-- not say which rows it changed. The index finds them without a scan.
ALTER TABLE outbox ADD COLUMN lease_token VARCHAR(32) NULL;
CREATE INDEX outbox_lease ON outbox (lease_token);

-- +goose Down
DROP INDEX outbox_lease ON outbox;
ALTER TABLE outbox DROP COLUMN lease_token;
