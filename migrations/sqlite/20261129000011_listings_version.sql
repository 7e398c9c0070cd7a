-- Bumped by every change to a tenant's listings (and their photos and calendars): read caches
-- key their entries with it, so a change invalidates them on every replica at once.
ALTER TABLE tenants ADD COLUMN listings_version BIGINT NOT NULL DEFAULT 0;
