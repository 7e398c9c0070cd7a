-- Radius searches narrow to a latitude band first.
CREATE INDEX properties_location ON properties (tenant_id, lat, lng) WHERE deleted_at IS NULL;
