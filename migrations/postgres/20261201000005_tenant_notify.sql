-- Every replica keeps the tenants it serves in memory: each committed change to a tenant or
-- its settings notifies them (channel staybase_tenants, payload: the slug) so they forget it,
-- whoever made the change (a replica, the CLI, a manual UPDATE).
CREATE FUNCTION staybase_notify_tenant_change() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        PERFORM pg_notify('staybase_tenants', NEW.slug);
        IF OLD.slug IS DISTINCT FROM NEW.slug THEN
            PERFORM pg_notify('staybase_tenants', OLD.slug);
        END IF;
    ELSE
        PERFORM pg_notify('staybase_tenants', slug) FROM tenants WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_notify_change AFTER UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION staybase_notify_tenant_change();
CREATE TRIGGER tenant_settings_notify_change AFTER UPDATE ON tenant_settings
    FOR EACH ROW EXECUTE FUNCTION staybase_notify_tenant_change();
