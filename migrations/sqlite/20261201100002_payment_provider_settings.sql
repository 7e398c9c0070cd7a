-- A tenant's payment provider: each marketplace takes payments with its own account. Stripe
-- credentials (secret key and webhook signing secrets, as one JSON document) are sealed with
-- STAYBASE_SECRET_KEY, bound to the tenant; only their last four characters are in the clear,
-- so that an administrator can tell which key is set. No row: the simulated provider.
CREATE TABLE payment_provider_settings (
    tenant_id BLOB PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('simulated', 'stripe')),
    stripe_credentials TEXT,
    stripe_secret_key_last4 TEXT,
    stripe_webhook_secrets_last4 TEXT,
    stripe_api_base TEXT,
    updated_by BLOB,
    updated_at TEXT NOT NULL,
    CHECK ((provider = 'stripe') = (stripe_credentials IS NOT NULL))
);
