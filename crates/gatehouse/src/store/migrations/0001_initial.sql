CREATE TABLE IF NOT EXISTS principals (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    tier          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, principal_id)
);
CREATE TABLE IF NOT EXISTS generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO generation (id, value) VALUES (1, 1);
CREATE TRIGGER IF NOT EXISTS principals_ins AFTER INSERT ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS principals_upd AFTER UPDATE ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS principals_del AFTER DELETE ON principals
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS members_ins AFTER INSERT ON group_members
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS members_del AFTER DELETE ON group_members
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TABLE IF NOT EXISTS audit_events (
    id          INTEGER PRIMARY KEY,
    ts_us       INTEGER NOT NULL,
    principal   TEXT,
    client      TEXT NOT NULL,
    method      TEXT NOT NULL,
    destination TEXT NOT NULL,
    url         TEXT,
    decision    TEXT NOT NULL,
    rule        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    bytes_up    INTEGER NOT NULL,
    bytes_down  INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts_us);
