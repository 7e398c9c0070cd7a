-- Listings. Every money column is in minor units of the tenant's currency, recorded per row.
-- Deletion is soft: bookings and payments keep pointing at the listing they were made for.
CREATE TABLE properties (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    owner_id UUID NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT NOT NULL,
    city TEXT NOT NULL,
    -- Lowercased, for case-insensitive search.
    city_key TEXT NOT NULL,
    country TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL,
    nightly_price BIGINT NOT NULL CHECK (nightly_price > 0),
    cleaning_fee BIGINT NOT NULL DEFAULT 0 CHECK (cleaning_fee >= 0),
    weekend_price BIGINT CHECK (weekend_price > 0),
    weekly_discount_bps INTEGER NOT NULL DEFAULT 0,
    monthly_discount_bps INTEGER NOT NULL DEFAULT 0,
    max_guests INTEGER NOT NULL CHECK (max_guests > 0),
    bedrooms INTEGER,
    bathrooms INTEGER,
    min_nights INTEGER NOT NULL DEFAULT 1,
    max_nights INTEGER NOT NULL DEFAULT 365,
    -- Comma-separated amenity codes, for display; property_amenities serves search.
    amenities TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('draft', 'listed', 'unlisted')),
    -- The review aggregate, kept exact by the transactions that change reviews.
    rating_sum BIGINT NOT NULL DEFAULT 0,
    review_count BIGINT NOT NULL DEFAULT 0,
    -- The average rating times 100 (0 without reviews), indexed for sorting by rating.
    rating_x100 INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX properties_listed ON properties (tenant_id, status, id) WHERE deleted_at IS NULL;
CREATE INDEX properties_owner ON properties (tenant_id, owner_id, id) WHERE deleted_at IS NULL;
CREATE INDEX properties_city ON properties (tenant_id, city_key, id) WHERE deleted_at IS NULL;
CREATE INDEX properties_country ON properties (tenant_id, country, id) WHERE deleted_at IS NULL;
CREATE INDEX properties_price ON properties (tenant_id, nightly_price, id) WHERE deleted_at IS NULL;
CREATE INDEX properties_rating ON properties (tenant_id, rating_x100, id) WHERE deleted_at IS NULL;

CREATE TABLE property_amenities (
    tenant_id UUID NOT NULL,
    property_id UUID NOT NULL,
    amenity TEXT NOT NULL,
    PRIMARY KEY (tenant_id, property_id, amenity),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX property_amenities_by_amenity ON property_amenities (tenant_id, amenity, property_id);

-- Domain events integrators care about, written in the transaction of the change; webhooks and
-- the events feed will read them.
CREATE TABLE events (
    tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    subject_id UUID NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
