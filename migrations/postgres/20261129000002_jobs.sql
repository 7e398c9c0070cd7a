-- The durable job queue (outbox): jobs are inserted in the business transaction that causes them.
-- status: queued (not yet tried), running (leased until locked_until), failed (waiting to retry
-- at run_at), done, dead (attempts exhausted or a permanent failure; kept for operators).
CREATE TABLE jobs (
    id UUID PRIMARY KEY,
    tenant_id UUID REFERENCES tenants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload JSONB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'failed', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    run_at TIMESTAMPTZ NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMPTZ,
    last_error TEXT,
    -- At most one job per key: periodic runs use it to fire once per period across replicas.
    unique_key TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('queued', 'failed');
CREATE INDEX jobs_leases ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status = 'done';
CREATE INDEX jobs_tenant ON jobs (tenant_id, created_at);
