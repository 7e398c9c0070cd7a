-- Reviews of properties by their guests: one per guest and property, which the unique key
-- enforces however concurrent the attempts. Only published reviews count in a property's
-- rating (properties.rating_sum, review_count, rating_x100) and in review_stars, which the
-- transactions that change reviews keep exact.
CREATE TABLE reviews (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    -- The stay reviewed: the author's latest completed one at the property.
    booking_id BLOB NOT NULL,
    author_id BLOB NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    status TEXT NOT NULL,
    -- Why a review is held, rejected or hidden.
    status_reason TEXT,
    reply_text TEXT,
    reply_at TEXT,
    -- The first day (in the tenant's time zone) on which the stay's review window is closed.
    window_closes_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, property_id, author_id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id),
    CHECK (rating BETWEEN 1 AND 5),
    CHECK (status IN ('published', 'pending', 'held', 'rejected', 'hidden'))
);
CREATE INDEX reviews_by_property ON reviews (tenant_id, property_id, status, id);
CREATE INDEX reviews_by_booking ON reviews (tenant_id, booking_id);
CREATE INDEX reviews_to_publish ON reviews (window_closes_on) WHERE status = 'pending';

-- Hosts' reviews of their guests: one per booking.
CREATE TABLE guest_reviews (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    booking_id BLOB NOT NULL,
    guest_id BLOB NOT NULL,
    author_id BLOB NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    window_closes_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, booking_id),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
    FOREIGN KEY (tenant_id, guest_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id),
    CHECK (rating BETWEEN 1 AND 5),
    CHECK (status IN ('published', 'pending', 'held', 'rejected', 'hidden'))
);
CREATE INDEX guest_reviews_by_guest ON guest_reviews (tenant_id, guest_id, status, id);
CREATE INDEX guest_reviews_to_publish ON guest_reviews (window_closes_on) WHERE status = 'pending';

-- How many published reviews of each property gave each number of stars.
CREATE TABLE review_stars (
    tenant_id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    stars INTEGER NOT NULL,
    reviews INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, property_id, stars),
    CHECK (stars BETWEEN 1 AND 5),
    CHECK (reviews >= 0)
);

-- `immediate`: reviews are published as they are written; `double_blind`: a stay's two reviews
-- (the guest's of the property, the host's of the guest) appear together, or when the window
-- closes.
ALTER TABLE tenant_settings ADD COLUMN review_publication TEXT NOT NULL DEFAULT 'double_blind';
