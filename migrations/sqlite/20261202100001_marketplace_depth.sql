-- Marketplace depth: per-property availability rules, time zone, booking mode and guest
-- pricing (a null time zone, booking mode or booking window is the tenant's), per-date prices,
-- seasons, and the tenant setting that requires a verified email before booking.
ALTER TABLE properties ADD COLUMN timezone TEXT;
ALTER TABLE properties ADD COLUMN booking_mode TEXT;
ALTER TABLE properties ADD COLUMN advance_notice_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE properties ADD COLUMN preparation_nights INTEGER NOT NULL DEFAULT 0;
-- Bit 0 is Monday ... bit 6 Sunday; 127 is every day.
ALTER TABLE properties ADD COLUMN check_in_weekdays INTEGER NOT NULL DEFAULT 127;
ALTER TABLE properties ADD COLUMN check_out_weekdays INTEGER NOT NULL DEFAULT 127;
ALTER TABLE properties ADD COLUMN booking_window_days INTEGER;
ALTER TABLE properties ADD COLUMN check_in_time TEXT NOT NULL DEFAULT '15:00';
ALTER TABLE properties ADD COLUMN check_out_time TEXT NOT NULL DEFAULT '11:00';
ALTER TABLE properties ADD COLUMN included_guests INTEGER;
ALTER TABLE properties ADD COLUMN extra_guest_fee BIGINT NOT NULL DEFAULT 0;

ALTER TABLE tenant_settings ADD COLUMN require_verified_email BOOLEAN NOT NULL DEFAULT FALSE;

-- A night's own price, over any season, weekend or nightly price.
CREATE TABLE property_date_prices (
    tenant_id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    night TEXT NOT NULL,
    price BIGINT NOT NULL CHECK (price > 0),
    PRIMARY KEY (tenant_id, property_id, night),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);

-- A nightly price (and optional minimum stay) for the nights [start_date, end_date).
CREATE TABLE property_seasons (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    nightly_price BIGINT NOT NULL CHECK (nightly_price > 0),
    min_nights INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE,
    CHECK (start_date < end_date)
);
CREATE INDEX property_seasons_by_property ON property_seasons (tenant_id, property_id, start_date);
