-- Caps that keep one guest from holding calendars: unpaid bookings (requests and holds) at once,
-- the longest stay, and how far ahead a stay may start.
ALTER TABLE tenant_settings ADD COLUMN max_unpaid_bookings INTEGER NOT NULL DEFAULT 3;
ALTER TABLE tenant_settings ADD COLUMN max_stay_nights INTEGER NOT NULL DEFAULT 90;
ALTER TABLE tenant_settings ADD COLUMN booking_window_days INTEGER NOT NULL DEFAULT 730;
