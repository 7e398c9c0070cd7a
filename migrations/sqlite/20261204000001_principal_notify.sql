-- PostgreSQL notifies replicas of changes to users and sessions here (see the PostgreSQL
-- migration of the same name). SQLite has no notifications, so its replicas do not remember
-- who is signed in (auth::principals). Kept so both backends number alike.
SELECT 1;
