-- Version 10. The dashboard's rollup of the audit trail (issue 12), so that showing a day of
-- traffic reads a few hundred rows instead of every event. Per hour of event time (`bucket_us`,
-- the hour's start), per `kind` and `key`: how many requests and bytes (up and down). Kinds:
-- `all` (key ''), `category` (key a list category, '' for none; an event in two categories counts
-- in both) and `refusal` (key the rule that refused). Administrative actions are not traffic.
--
-- The audit writer never touches these tables: whoever shows the dashboard folds the events above
-- `dashboard_fold.last_id` into the rollup and moves the mark in one transaction that first checks
-- the mark is still where it read it, so two processes folding at once count every event once.
CREATE TABLE dashboard_rollup (
    bucket_us INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    requests  INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (bucket_us, kind, key)
);
CREATE TABLE dashboard_fold (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_id    INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
INSERT INTO dashboard_fold (id, last_id, updated_us) VALUES (1, 0, 0);
