-- Virtual folders: directories defined once and mounted into users' trees
-- (the mounts themselves are part of the user and group policy JSON).

CREATE TABLE folders (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	path TEXT NOT NULL,
	description TEXT NOT NULL
);
