-- Every replica remembers who is signed in (auth::principals): each committed change that may
-- end a session or change what a user may do notifies them (channel staybase_principals,
-- payload: the user id) so they forget that user, whoever made the change (a replica, the CLI,
-- a manual UPDATE).
CREATE FUNCTION staybase_notify_principal_change() RETURNS trigger AS $$
DECLARE
    changed RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('staybase_principals', changed.id::text);
    ELSE
        PERFORM pg_notify('staybase_principals', changed.user_id::text);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_notify_principal_change AFTER UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.roles IS DISTINCT FROM NEW.roles OR OLD.disabled IS DISTINCT FROM NEW.disabled)
    EXECUTE FUNCTION staybase_notify_principal_change();
CREATE TRIGGER users_notify_principal_removal AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION staybase_notify_principal_change();
-- A revoked token ends its session; a deleted one must not bring it back.
CREATE TRIGGER refresh_tokens_notify_principal_change AFTER UPDATE ON refresh_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION staybase_notify_principal_change();
CREATE TRIGGER refresh_tokens_notify_principal_removal AFTER DELETE ON refresh_tokens
    FOR EACH ROW EXECUTE FUNCTION staybase_notify_principal_change();
