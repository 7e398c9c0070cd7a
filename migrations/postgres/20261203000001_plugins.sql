-- Tenants' WebAssembly plugins. Every upload is a version of its (kind, name); at most one
-- version per kind is active in a tenant, which the partial unique index enforces however
-- concurrent the activations. The module's bytes are kept once per content hash, and the
-- code an engine compiled from them beside, so that no replica compiles a module twice and a
-- new engine recompiles rather than loads.
CREATE TABLE plugin_modules (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE TABLE plugin_code (
    tenant_id UUID NOT NULL,
    sha256 TEXT NOT NULL,
    -- The engine build and configuration the code was compiled by.
    engine TEXT NOT NULL,
    code BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, sha256, engine),
    FOREIGN KEY (tenant_id, sha256) REFERENCES plugin_modules (tenant_id, sha256) ON DELETE CASCADE
);

CREATE TABLE plugins (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    -- The plugin's configuration, JSON text passed to every call.
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    -- What a failed call leads to, set at activation.
    failure_policy TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, name, version),
    FOREIGN KEY (tenant_id, sha256) REFERENCES plugin_modules (tenant_id, sha256),
    CHECK (kind IN ('pricing', 'review_rules')),
    CHECK (status IN ('active', 'inactive')),
    CHECK (failure_policy IS NULL OR failure_policy IN ('fail_closed', 'fallback', 'hold', 'accept'))
);
CREATE UNIQUE INDEX plugins_one_active ON plugins (tenant_id, kind) WHERE status = 'active';

-- The latest failed calls of each plugin (the service keeps the last 20).
CREATE TABLE plugin_failures (
    tenant_id UUID NOT NULL,
    plugin_id UUID NOT NULL,
    id UUID NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id, id),
    FOREIGN KEY (tenant_id, plugin_id) REFERENCES plugins (tenant_id, id) ON DELETE CASCADE
);

-- Bumped by every change to which plugins are active: replicas key their prepared plugins on
-- it and learn of the change with the tenant (see tenants::directory).
ALTER TABLE tenants ADD COLUMN plugins_version BIGINT NOT NULL DEFAULT 0;
