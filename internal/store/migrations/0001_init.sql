-- Ferry's first schema. {{ID}} and {{NAME}} are replaced per engine (see
-- migrate.go): an auto-increment 64-bit primary key, and text that sorts and
-- compares byte by byte (case-sensitive names, same order on both engines).
-- Times are unix nanoseconds (UTC); NULL means "never". Lists and maps are
-- JSON text.

CREATE TABLE change_counter (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n BIGINT NOT NULL
);
INSERT INTO change_counter (id, n) VALUES (1, 0);

CREATE TABLE settings (
	name {{NAME}} PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE users (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	password_hash TEXT NOT NULL,
	public_keys TEXT NOT NULL,
	home TEXT NOT NULL,
	group_names TEXT NOT NULL,
	perms TEXT NOT NULL,
	status TEXT NOT NULL,
	expires_at BIGINT,
	upload_mode TEXT NOT NULL,
	description TEXT NOT NULL
);

CREATE TABLE groups (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	perms TEXT NOT NULL,
	description TEXT NOT NULL
);

CREATE TABLE admins (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	password_hash TEXT NOT NULL,
	role TEXT NOT NULL,
	status TEXT NOT NULL,
	description TEXT NOT NULL
);

CREATE TABLE services (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	kind TEXT NOT NULL,
	listen_addr TEXT NOT NULL,
	enabled BOOLEAN NOT NULL,
	options TEXT NOT NULL
);

CREATE TABLE bans (
	id {{ID}},
	network {{NAME}} NOT NULL UNIQUE,
	reason TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT
);
CREATE INDEX bans_expires_at ON bans (expires_at);
