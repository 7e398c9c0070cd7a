-- Identity and access: users, their sessions and one-time tokens, API keys, signing keys,
-- tenant authorization rules and platform administrators.

-- Bumped whenever the tenant's own authorization rules change, so every replica reloads them.
ALTER TABLE tenants ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE users (
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id BLOB NOT NULL,
    -- As typed; uniqueness is on the lowercased form.
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    phone_number TEXT,
    password_hash TEXT NOT NULL,
    -- Comma-separated role names, e.g. 'guest,host'.
    roles TEXT NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    picture_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_normalized)
);

-- Refresh tokens: opaque, stored as SHA-256, rotated on every use. A family is one login;
-- presenting a spent token revokes its whole family.
CREATE TABLE refresh_tokens (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    family_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id);

-- Single-use tokens sent by email (address verification, password reset), stored as SHA-256.
CREATE TABLE user_tokens (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    token_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Integrator keys: the secret is shown once and stored as SHA-256; a key acts for the user who
-- created it, with its own roles.
CREATE TABLE api_keys (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_by BLOB NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- A tenant's own allow rules, on top of the defaults in policies/policy.csv.
CREATE TABLE tenant_policies (
    tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id BLOB NOT NULL,
    role TEXT NOT NULL,
    object TEXT NOT NULL,
    action TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, role, object, action)
);

-- JWT signing keys (Ed25519), shared by all replicas. The newest active key signs; retired
-- keys still verify the tokens they signed until those expire.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    private_key_der TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE TABLE platform_admins (
    id BLOB PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
