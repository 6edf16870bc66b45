-- Account policy (limits, quotas, restrictions, filters) as JSON on users
-- and groups, and per-user storage usage for quotas. Usage changes on
-- every upload, so its writes do not move the change counter.

ALTER TABLE users ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE groups ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';

CREATE TABLE usage (
	user_name {{NAME}} PRIMARY KEY,
	bytes BIGINT NOT NULL,
	files BIGINT NOT NULL,
	scanned_at BIGINT
);
