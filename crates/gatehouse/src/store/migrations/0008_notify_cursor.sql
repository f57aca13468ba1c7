-- Version 8. Webhook notifications. `notify_cursor`: for each webhook, the id of the last audit
-- event it has been notified of (delivered, or given up on), so that a restarted gateway resumes
-- where it stopped and sends nothing twice. `notify_warned`: the grants whose coming expiry was
-- announced (`grant.expiring`), so that each is announced once, whichever gateway sweeps first.
CREATE TABLE notify_cursor (
    hook       TEXT PRIMARY KEY,
    last_id    INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE TABLE notify_warned (
    grant_id  INTEGER PRIMARY KEY,
    warned_us INTEGER NOT NULL
);
