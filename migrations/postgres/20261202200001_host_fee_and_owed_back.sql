-- The tenant's commission on hosts' shares (API.md: `host_fee_bps`), in basis points of the stay
-- subtotal. Bookings snapshot it at creation, as they do the price: a later change of the setting
-- never changes what an existing booking's payment splits.
ALTER TABLE tenant_settings ADD COLUMN host_fee_bps INTEGER NOT NULL DEFAULT 0
    CHECK (host_fee_bps BETWEEN 0 AND 5000);
ALTER TABLE bookings ADD COLUMN host_fee_bps INTEGER NOT NULL DEFAULT 0
    CHECK (host_fee_bps BETWEEN 0 AND 5000);

-- A refund after a payout was paid cannot take back what the host already received: what it
-- takes from the host's share is recorded on the payout as owed back to the marketplace.
ALTER TABLE payouts ADD COLUMN owed_back BIGINT NOT NULL DEFAULT 0 CHECK (owed_back >= 0);
