-- The secret of each property's iCalendar export feed URL; hosts rotate it when it leaks.
ALTER TABLE properties ADD COLUMN ical_token TEXT;
CREATE UNIQUE INDEX properties_ical_token ON properties (tenant_id, ical_token);
