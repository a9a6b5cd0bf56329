-- +goose Up
-- Exact member counts per organization, so that a members page's
-- totalCount is a read of a few rows, not a count of every member (issue
-- 16: 222-245 ms per count at a million members). Every transaction that
-- creates a member, gives it a binding, activates it or removes it
-- changes its counts in the same transaction (internal/mysql/count.go).
--
-- A member is counted under its state as stored: removed or not, its
-- type, and its current binding's state column ('UNBOUND' when it has
-- none). A binding whose links all expired unused is FAILED from that
-- instant with no write (R7), so it stays counted under 'PENDING': the
-- counts answer every total but the split of PENDING from FAILED, which
-- counts the live pending bindings by bindings_pending, a range bounded by
-- the bindings whose link has not expired or whose mail is not out yet
-- (the failed ones, which only accumulate, are never read).
--
-- Each member counts in one of 16 slots (its id modulo 16), and a total
-- is the sum of the slots: concurrent changes to different members of one
-- organization then seldom wait for one another on a counter row. Every
-- organization has every row, at zero until counted (CreateOrganization
-- makes them): a change then locks the one row it updates, where an UPDATE
-- that found no row would lock a gap, and concurrent first members of a
-- class deadlocked inserting into each other's gaps.
CREATE TABLE member_counts (
  org_id BIGINT NOT NULL,
  removed TINYINT NOT NULL,
  member_type VARCHAR(16) NOT NULL,
  bind_state VARCHAR(16) NOT NULL,
  slot SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (org_id, removed, member_type, bind_state, slot)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX bindings_pending ON bindings (org_id, state, unsent_links, link_expires_at);

-- The counts of the members that exist. Run `memberbind migrate` with no
-- older instance writing: a member an older instance changes meanwhile
-- is not counted again.
INSERT INTO member_counts (org_id, removed, member_type, bind_state, slot, n)
SELECT org_id, removed, member_type, bind_state, slot, COUNT(*)
FROM (
  SELECT m.org_id AS org_id, CASE WHEN m.removed_at IS NULL THEN 0 ELSE 1 END AS removed,
    m.member_type AS member_type, COALESCE(b.state, 'UNBOUND') AS bind_state, m.id % 16 AS slot
  FROM members m LEFT JOIN bindings b ON b.id = m.binding_id AND b.org_id = m.org_id
) c
GROUP BY org_id, removed, member_type, bind_state, slot;

INSERT IGNORE INTO member_counts (org_id, removed, member_type, bind_state, slot, n)
SELECT o.id, r.removed, t.member_type, s.bind_state, k.slot, 0
FROM organizations o
  CROSS JOIN (SELECT 0 AS removed UNION ALL SELECT 1) r
  CROSS JOIN (SELECT 'CREATED' AS member_type UNION ALL SELECT 'INVITED') t
  CROSS JOIN (SELECT 'UNBOUND' AS bind_state UNION ALL SELECT 'PENDING' UNION ALL SELECT 'ACTIVATED') s
  CROSS JOIN (SELECT 0 AS slot UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
    UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11
    UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL SELECT 14 UNION ALL SELECT 15) k;

-- +goose Down
DROP INDEX bindings_pending ON bindings;
DROP TABLE member_counts;
