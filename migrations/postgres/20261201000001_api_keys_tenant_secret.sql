-- An API key's secret is unique within its tenant, like every other key of tenant data, rather
-- than across tenants; the lookup by (tenant_id, secret_hash) uses this index. The old key is
-- the default name of the column constraint `secret_hash TEXT NOT NULL UNIQUE`. Every row
-- already satisfies the new, weaker constraint.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_secret_hash_key;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_tenant_id_secret_hash_key UNIQUE (tenant_id, secret_hash);
