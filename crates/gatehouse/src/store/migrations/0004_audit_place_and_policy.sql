-- Version 4. What a decision depended on beyond the principal's name and the destination, so that
-- `gatehouse policy replay` can decide a recorded request again under another configuration:
-- the terminal and location it came from (NULL: not a registered terminal), the session it was
-- part of, the principal's groups (comma-separated, sorted) and tier when it was decided, and the
-- policy version (a hash of the configuration and rule files) that decided it; the principal's
-- role; and, for a relay closed because its decision no longer held, the rule that refused it then.
ALTER TABLE audit_events ADD COLUMN terminal TEXT;
ALTER TABLE audit_events ADD COLUMN location TEXT;
ALTER TABLE audit_events ADD COLUMN session_id INTEGER;
ALTER TABLE audit_events ADD COLUMN groups TEXT;
ALTER TABLE audit_events ADD COLUMN tier TEXT;
ALTER TABLE audit_events ADD COLUMN policy_version TEXT;
ALTER TABLE audit_events ADD COLUMN role TEXT;
ALTER TABLE audit_events ADD COLUMN revoked_by TEXT;
