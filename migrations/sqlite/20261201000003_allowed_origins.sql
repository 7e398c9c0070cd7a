-- The browser origins (the operator's storefronts) allowed to call a tenant's API, comma-separated.
ALTER TABLE tenant_settings ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
