-- PostgreSQL notifies replicas of tenant changes here (see the PostgreSQL migration of the same
-- name). SQLite has no notifications: replicas sharing a file see a change once the entry they
-- hold expires (tenants::directory::STALENESS_BOUND). Kept so both backends number alike.
SELECT 1;
