-- Test tenants (Stripe's test clocks): a tenant in test mode uses only the simulated payment
-- provider and reads its own clock, which starts at its creation and moves only when its
-- administrators advance it. clock_at is NULL for live tenants.
ALTER TABLE tenants ADD COLUMN test_mode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE tenants ADD COLUMN clock_at TIMESTAMPTZ;
