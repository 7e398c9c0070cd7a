-- Nights a property cannot be booked, as ranges [start_date, end_date) (end exclusive). Host
-- blocks merge when they overlap or touch; calendar imports will add ranges of their own source.
CREATE TABLE blocked_ranges (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    reason TEXT,
    source TEXT NOT NULL DEFAULT 'host',
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE,
    CHECK (start_date < end_date)
);
CREATE INDEX blocked_ranges_by_property ON blocked_ranges (tenant_id, property_id, start_date);
