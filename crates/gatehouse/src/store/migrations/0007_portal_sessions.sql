-- Version 7. Portal sessions: a person logged in to the portal. The cookie holds a random token;
-- only its BLAKE3 hash is stored, so a copy of the store opens no session. Times are microseconds
-- since the Unix epoch, as in `audit_events`.
CREATE TABLE portal_sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    principal    TEXT NOT NULL,
    client       TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    expires_us   INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL
);
CREATE INDEX portal_sessions_principal ON portal_sessions (principal);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_us);
-- A principal disabled or deleted loses its portal sessions in the same transaction, whoever
-- changed it (the CLI, another gateway).
CREATE TRIGGER portal_sessions_disabled AFTER UPDATE OF disabled ON principals WHEN NEW.disabled = 1
    BEGIN DELETE FROM portal_sessions WHERE principal = NEW.name; END;
CREATE TRIGGER portal_sessions_deleted AFTER DELETE ON principals
    BEGIN DELETE FROM portal_sessions WHERE principal = OLD.name; END;
