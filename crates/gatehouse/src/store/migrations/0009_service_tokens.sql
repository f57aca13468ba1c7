-- Version 9. Service-account tokens: an admin gives a principal a token for the API
-- (`Authorization: Bearer gh_…`). Only the token's BLAKE3 hash is stored, so a copy of the store
-- opens nothing. A token belongs to its principal and goes with it; it stops working when it is
-- revoked, when it expires, or while its principal is disabled (checked at each use). Times are
-- microseconds since the Unix epoch, as in `audit_events`.
CREATE TABLE service_tokens (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    -- No end when NULL.
    expires_us   INTEGER,
    -- Moved at most once a minute by the use of the token.
    last_used_us INTEGER,
    revoked_us   INTEGER
);
CREATE INDEX service_tokens_principal ON service_tokens (principal_id);
