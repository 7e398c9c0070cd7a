-- Payments (issue 23): what each booking was charged and refunded, and owes its host, and the
-- provider webhook events received. Every table is keyed by tenant first, like all tenant data.

-- The payment collection a booking was made under, fixed at creation like its price: a booking
-- paid at the property refunds nothing online when cancelled, whatever the setting is now.
-- Existing bookings take their tenant's current value.
ALTER TABLE bookings ADD COLUMN payment_collection TEXT NOT NULL DEFAULT 'online'
    CHECK (payment_collection IN ('online', 'at_property'));
UPDATE bookings SET payment_collection = (
    SELECT s.payment_collection FROM tenant_settings s WHERE s.tenant_id = bookings.tenant_id
) WHERE EXISTS (SELECT 1 FROM tenant_settings s WHERE s.tenant_id = bookings.tenant_id);

-- One attempt to pay for a booking at a provider. Amounts in minor units of `currency`; the
-- split (platform_fee + taxes + host_payout) always adds up to captured - refunded.
CREATE TABLE payments (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    booking_id BLOB NOT NULL,
    guest_id BLOB NOT NULL,
    host_id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    provider TEXT NOT NULL,
    provider_reference TEXT,
    payment_method TEXT NOT NULL,
    capture TEXT NOT NULL CHECK (capture IN ('automatic', 'manual')),
    status TEXT NOT NULL CHECK (status IN ('requires_action', 'requires_capture', 'processing',
        'succeeded', 'failed', 'canceled', 'refunded', 'partially_refunded')),
    failure_code TEXT,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    captured INTEGER NOT NULL DEFAULT 0,
    refunded INTEGER NOT NULL DEFAULT 0,
    platform_fee INTEGER NOT NULL DEFAULT 0,
    taxes INTEGER NOT NULL DEFAULT 0,
    host_payout INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
    FOREIGN KEY (tenant_id, guest_id) REFERENCES users (tenant_id, id),
    CHECK (refunded >= 0 AND refunded <= captured AND captured <= amount)
);
CREATE INDEX payments_by_booking ON payments (tenant_id, booking_id);
CREATE INDEX payments_by_guest ON payments (tenant_id, guest_id, id);
CREATE INDEX payments_by_host ON payments (tenant_id, host_id, id);
CREATE UNIQUE INDEX payments_by_reference ON payments (tenant_id, provider, provider_reference);
-- A booking has at most one payment that is under way or went through; failed and canceled
-- attempts may be many.
CREATE UNIQUE INDEX payments_one_live ON payments (tenant_id, booking_id)
    WHERE status NOT IN ('failed', 'canceled');

-- Money given back on a payment, by policy on cancellation or by a tenant admin.
CREATE TABLE refunds (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    payment_id BLOB NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    -- The parts of the split it took back (they add up to amount).
    platform_fee_part INTEGER NOT NULL,
    taxes_part INTEGER NOT NULL,
    host_payout_part INTEGER NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_reference TEXT,
    -- Who asked: a user, or none for Staybase itself (cancellation, a late success).
    requested_by BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);
CREATE INDEX refunds_by_payment ON refunds (tenant_id, payment_id);

-- What the host is owed for a paid booking: one row per booking, payable 24 h after check-in.
CREATE TABLE payouts (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    booking_id BLOB NOT NULL,
    payment_id BLOB NOT NULL,
    host_id BLOB NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'payable', 'paid', 'canceled')),
    payable_at TEXT NOT NULL,
    paid_at TEXT,
    paid_by BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, booking_id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);
CREATE INDEX payouts_by_host ON payouts (tenant_id, host_id, payable_at);

-- Webhook events received from payment providers, each processed once: the first delivery is
-- stored, later ones of the same id are acknowledged and ignored.
CREATE TABLE payment_provider_events (
    tenant_id BLOB NOT NULL,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    PRIMARY KEY (tenant_id, provider, event_id)
);

-- The simulated provider's own books, as a real provider keeps them on its side: its payment
-- intents (one per idempotency key: a retried create charges once) and refunds.
CREATE TABLE simulated_intents (
    tenant_id BLOB NOT NULL,
    id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- The merchant's own reference (our payment id), echoed in webhooks.
    payment_id TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    capture TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    captured INTEGER NOT NULL DEFAULT 0,
    refunded INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key)
);
CREATE TABLE simulated_refunds (
    tenant_id BLOB NOT NULL,
    id TEXT NOT NULL,
    intent_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, intent_id) REFERENCES simulated_intents (tenant_id, id)
);
-- The key the simulated provider signs its webhooks with, one per tenant, made on first use.
CREATE TABLE simulated_webhook_keys (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
