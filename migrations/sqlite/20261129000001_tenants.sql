-- Marketplace operators. Not tenant data itself: every tenant-owned table references it.
CREATE TABLE tenants (
    id BLOB PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
