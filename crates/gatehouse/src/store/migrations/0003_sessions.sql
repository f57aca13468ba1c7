-- Version 3. Sessions: a principal at a terminal, from its first authenticated request until it
-- ends (idle, the location closed, `gatehouse session end`). Open sessions have no `ended_us`;
-- times are microseconds since the Unix epoch, as in `audit_events`.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    principal    TEXT NOT NULL,
    terminal     TEXT NOT NULL,
    location     TEXT NOT NULL,
    started_us   INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    ended_us     INTEGER,
    end_reason   TEXT
);
-- One terminal holds at most one open session, whatever a writer does.
CREATE UNIQUE INDEX sessions_open_terminal ON sessions (terminal) WHERE ended_us IS NULL;
-- Counting a location's and a principal's open sessions, and listing recent ones.
CREATE INDEX sessions_open_location ON sessions (location) WHERE ended_us IS NULL;
CREATE INDEX sessions_open_principal ON sessions (principal) WHERE ended_us IS NULL;
CREATE INDEX sessions_started ON sessions (started_us);
-- A change counter for which sessions are open: it moves when a session starts or ends, not when
-- one is only seen again, so a gateway polls one row to learn whether another process (the CLI,
-- another gateway) changed the open set.
CREATE TABLE session_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO session_generation (id, value) VALUES (1, 1);
CREATE TRIGGER sessions_ins AFTER INSERT ON sessions
    BEGIN UPDATE session_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER sessions_end AFTER UPDATE OF ended_us ON sessions
    BEGIN UPDATE session_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER sessions_del AFTER DELETE ON sessions
    BEGIN UPDATE session_generation SET value = value + 1 WHERE id = 1; END;
