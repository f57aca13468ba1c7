-- Version 5. The verifiable audit log: every audit event is a leaf of an append-only Merkle tree
-- (RFC 9162 hashing with BLAKE3, crate `auditlog`), written in the same transaction as the event,
-- and the tree's size and root are signed now and then as checkpoints. `docs/audit-log.md` says
-- how an event becomes a leaf and how the log is verified.
--
-- The grant that allowed a request (access grants), so the purpose travels with the traffic.
ALTER TABLE audit_events ADD COLUMN grant_id INTEGER;
-- One row per leaf: its position in the tree (from 0), the event it is, and its leaf hash as it
-- was computed when the event was written (32 bytes). Verification recomputes the hash from the
-- event; a stored hash that differs names the event that changed.
CREATE TABLE audit_leaves (
    leaf     INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL UNIQUE,
    hash     BLOB NOT NULL
);
-- Signed checkpoints: the tree's size and root at a time, as a c2sp.org signed note, with the
-- tree's right frontier at that size (32-byte nodes, concatenated) so that appending resumes from
-- the last checkpoint without reading every leaf.
CREATE TABLE audit_checkpoints (
    size     INTEGER PRIMARY KEY,
    ts_us    INTEGER NOT NULL,
    root     BLOB NOT NULL,
    frontier BLOB NOT NULL,
    note     TEXT NOT NULL
);
-- Where the log starts. `first_leaf`: leaves below it were pruned (retention), and `frontier` is
-- the tree's right frontier at `first_leaf`, whose root is a signed checkpoint's. `adopt_through`:
-- events recorded before this migration (ids up to it) have no leaf yet; the writer makes them the
-- first leaves, in id order, once, and then clears it. Events without a leaf above it were inserted
-- behind the writer's back.
CREATE TABLE audit_log_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    first_leaf    INTEGER NOT NULL,
    frontier      BLOB NOT NULL,
    adopt_through INTEGER
);
INSERT INTO audit_log_state (id, first_leaf, frontier, adopt_through)
    VALUES (1, 0, X'', (SELECT MAX(id) FROM audit_events));
