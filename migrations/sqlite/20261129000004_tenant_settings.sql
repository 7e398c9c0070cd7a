-- A tenant's settings, one row per tenant, read with the tenant on every request.
CREATE TABLE tenant_settings (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'EUR',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    booking_mode TEXT NOT NULL DEFAULT 'instant' CHECK (booking_mode IN ('instant', 'request')),
    payment_collection TEXT NOT NULL DEFAULT 'online'
        CHECK (payment_collection IN ('online', 'at_property')),
    hold_minutes INTEGER NOT NULL DEFAULT 15,
    request_expiry_hours INTEGER NOT NULL DEFAULT 24,
    platform_fee_bps INTEGER NOT NULL DEFAULT 0,
    tax_bps INTEGER NOT NULL DEFAULT 0,
    cancellation_policy TEXT NOT NULL DEFAULT 'moderate'
        CHECK (cancellation_policy IN ('flexible', 'moderate', 'strict')),
    self_service_hosts INTEGER NOT NULL DEFAULT 1,
    review_window_days INTEGER NOT NULL DEFAULT 30,
    rate_limit_plan TEXT NOT NULL DEFAULT 'default',
    -- Bumped on every change: clients can tell which settings an answer was computed with.
    version BIGINT NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);

INSERT INTO tenant_settings (tenant_id, display_name, updated_at)
SELECT id, name, updated_at FROM tenants;
