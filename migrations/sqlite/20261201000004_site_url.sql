-- The operator's storefront, where emailed links lead, and where replies to the marketplace's
-- emails go. Empty: the deployment's STAYBASE_PUBLIC_APP_URL, and no Reply-To.
ALTER TABLE tenant_settings ADD COLUMN site_url TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_settings ADD COLUMN reply_to TEXT NOT NULL DEFAULT '';
