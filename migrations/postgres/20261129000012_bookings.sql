-- Bookings: a guest's stay [check_in, check_out) at a property, priced when it was made.
-- Requested, pending-payment and confirmed bookings hold their nights; an exclusion constraint
-- keeps those of one property from overlapping whatever the concurrency, as the last line of
-- defence behind the property row lock the creating transaction takes.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE bookings (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    property_id UUID NOT NULL,
    guest_id UUID NOT NULL,
    check_in DATE NOT NULL,
    check_out DATE NOT NULL,
    guests INTEGER NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL,
    -- The quote's ordered lines as JSON: [{ "code", "label", "amount" }].
    line_items TEXT NOT NULL,
    cancellation_policy TEXT NOT NULL,
    -- When an unanswered request or an unpaid hold lapses.
    expires_at TIMESTAMPTZ,
    cancelled_by TEXT,
    refund_amount BIGINT,
    -- Every status the booking has had, as JSON: [{ "status", "at", "by", "user_id" }].
    history TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id),
    FOREIGN KEY (tenant_id, guest_id) REFERENCES users (tenant_id, id),
    CHECK (check_in < check_out),
    CHECK (guests > 0),
    CHECK (status IN ('requested', 'pending_payment', 'confirmed', 'completed', 'cancelled', 'declined', 'expired')),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        tenant_id WITH =,
        property_id WITH =,
        daterange(check_in, check_out) WITH &&
    ) WHERE (status IN ('requested', 'pending_payment', 'confirmed'))
);
CREATE INDEX bookings_by_guest ON bookings (tenant_id, guest_id, id);
CREATE INDEX bookings_by_property ON bookings (tenant_id, property_id, check_in);
CREATE INDEX bookings_by_tenant ON bookings (tenant_id, id);
CREATE INDEX bookings_to_complete ON bookings (check_out) WHERE status = 'confirmed';

-- Idempotency keys of creating requests, per tenant and user: the request's hash and the first
-- response, replayed for 24 hours to a retry with the same key.
CREATE TABLE idempotency_keys (
    tenant_id UUID NOT NULL,
    user_id UUID NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
