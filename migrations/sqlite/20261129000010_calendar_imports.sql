-- External calendars a host imports; a job turns their events into blocked ranges whose
-- source is 'import:<id>', replacing that import's previous ranges on each sync.
CREATE TABLE calendar_imports (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    property_id BLOB NOT NULL,
    url TEXT NOT NULL,
    last_synced_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_imports_by_property ON calendar_imports (tenant_id, property_id);
