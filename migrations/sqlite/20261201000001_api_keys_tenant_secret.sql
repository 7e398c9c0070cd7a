-- An API key's secret is unique within its tenant, like every other key of tenant data, rather
-- than across tenants; the lookup by (tenant_id, secret_hash) uses this index.
--
-- SQLite cannot drop the column constraint `secret_hash TEXT NOT NULL UNIQUE`, so the table is
-- rebuilt as in https://www.sqlite.org/lang_altertable.html#otheralter: the same columns, primary
-- key and foreign key as in 20261129000003_identity.sql, with the new unique key; the rows copied;
-- the old table dropped and the new one renamed. api_keys has no other index, trigger or view,
-- and no table references it. The migrator runs this in one transaction, where foreign keys stay
-- enforced (PRAGMA foreign_keys cannot change inside a transaction): that is safe here, as
-- dropping a table nothing references cascades nothing, and it checks every copied row against
-- users as the procedure's foreign_key_check would.
CREATE TABLE api_keys_new (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_by BLOB NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, secret_hash),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

INSERT INTO api_keys_new (tenant_id, id, name, prefix, secret_hash, roles, created_by,
                          created_at, last_used_at, revoked_at)
SELECT tenant_id, id, name, prefix, secret_hash, roles, created_by,
       created_at, last_used_at, revoked_at
FROM api_keys;

DROP TABLE api_keys;

ALTER TABLE api_keys_new RENAME TO api_keys;
