-- Version 2. The name a failed proxy authentication tried (NULL when none was tried or the
-- request authenticated; `principal` holds the name of an authenticated request).
ALTER TABLE audit_events ADD COLUMN tried_principal TEXT;
-- Creating, renaming or deleting a group bumps the change counter, like every change to principals
-- and memberships, so that the running gateway reloads its snapshot (deleting a group with members
-- also bumps it through `members_del`, fired by the cascade).
CREATE TRIGGER groups_ins AFTER INSERT ON groups
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER groups_upd AFTER UPDATE ON groups
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER groups_del AFTER DELETE ON groups
    BEGIN UPDATE generation SET value = value + 1 WHERE id = 1; END;
