-- Listing photos. The upload is kept privately until a job has made the public renditions
-- (re-encoded, so without EXIF or GPS data); then it is deleted.
CREATE TABLE property_images (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    original_key TEXT,
    thumbnail_key TEXT,
    large_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX property_images_by_property ON property_images (tenant_id, property_id, position);
