-- SHA-256 digests recorded while uploads streamed in, so a client asking
-- for a file's hash gets it without a re-read, also after a restart. A
-- digest is keyed by the storage root holding the file (a user's home or a
-- virtual folder's directory) and the file's path inside it, and is valid
-- while the file keeps the size and modification time (Unix nanoseconds)
-- recorded with it. Not admin data: writes do not move the change counter.

CREATE TABLE file_sums (
	root {{NAME}} NOT NULL,
	path {{NAME}} NOT NULL,
	size BIGINT NOT NULL,
	mtime BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	PRIMARY KEY (root, path)
);
