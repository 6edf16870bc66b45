-- Quotas of virtual folders; their usage is kept in the usage table under
-- the key "folder:NAME" (user names cannot contain ':').

ALTER TABLE folders ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN quota_files BIGINT NOT NULL DEFAULT 0;
