-- Version 6. Access requests, their reviews, grants, approver scopes and guests (issue 12). Times
-- are microseconds since the Unix epoch, as in `audit_events`; durations are seconds. States are
-- the words of crate `access` (`submitted`, `approved`, …; `active`, `expired`, `revoked`), and
-- every change of state is made by `store/grants.rs` in one transaction with its audit record.
--
-- Who may review what: an approver (a principal's name, or `group:NAME` for every member of a
-- group) and a scope in its canonical form (`access::Scope`'s display).
CREATE TABLE approver_scopes (
    approver   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (approver, scope)
);
CREATE TABLE access_requests (
    id               INTEGER PRIMARY KEY,
    principal        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    duration_s       INTEGER NOT NULL,
    -- The grant's clock starts at its first use within this many seconds of the approval.
    claim_by_s       INTEGER,
    purpose          TEXT NOT NULL,
    state            TEXT NOT NULL,
    approvals_needed INTEGER NOT NULL,
    -- The destination the person was refused at, when the request came from a refusal.
    destination      TEXT,
    created_us       INTEGER NOT NULL,
    -- When a request still `submitted` expires.
    expires_us       INTEGER NOT NULL,
    decided_us       INTEGER
);
CREATE INDEX access_requests_pending ON access_requests (expires_us) WHERE state = 'submitted';
CREATE INDEX access_requests_principal ON access_requests (principal, created_us);
CREATE TABLE reviews (
    request_id INTEGER NOT NULL REFERENCES access_requests(id),
    approver   TEXT NOT NULL,
    verdict    TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    UNIQUE (request_id, approver)
);
CREATE TABLE grants (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER REFERENCES access_requests(id),
    principal   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    -- Who approved (comma-separated), or the admin who added it directly.
    approvers   TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    -- NULL while a grant with a claim-by window waits for its first use.
    starts_us   INTEGER,
    duration_s  INTEGER NOT NULL,
    claim_by_us INTEGER,
    expires_us  INTEGER,
    ended_us    INTEGER,
    ended_by    TEXT,
    end_reason  TEXT
);
CREATE INDEX grants_active ON grants (principal) WHERE state = 'active';
-- A change counter for grants, like `session_generation`: a gateway polls one row to learn that
-- another process (the CLI, another gateway) added, claimed or ended a grant.
CREATE TABLE grant_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO grant_generation (id, value) VALUES (1, 1);
CREATE TRIGGER grants_ins AFTER INSERT ON grants
    BEGIN UPDATE grant_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER grants_upd AFTER UPDATE ON grants
    BEGIN UPDATE grant_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER grants_del AFTER DELETE ON grants
    BEGIN UPDATE grant_generation SET value = value + 1 WHERE id = 1; END;
-- Guests: a principal with a sponsor (who asked for the account) and an expiry, at which the
-- gateway disables it. Both NULL for everyone else. Changing them bumps `generation` (trigger
-- `principals_upd`).
ALTER TABLE principals ADD COLUMN sponsor TEXT;
ALTER TABLE principals ADD COLUMN expires_us INTEGER;
