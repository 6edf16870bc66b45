-- Named remote locations (secrets sealed by the caller, see
-- internal/secret), managed transfer definitions, the history of every file
-- a transfer moved, and the leases that keep a transfer from running twice
-- at once. History and lease writes happen during runs, so they do not move
-- the change counter.

CREATE TABLE locations (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	url TEXT NOT NULL,
	auth TEXT NOT NULL,
	password TEXT NOT NULL,
	private_key TEXT NOT NULL,
	options TEXT NOT NULL,
	description TEXT NOT NULL
);

CREATE TABLE transfers (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	spec TEXT NOT NULL
);

CREATE TABLE transfer_history (
	id {{ID}},
	transfer_name {{NAME}} NOT NULL,
	source TEXT NOT NULL,
	dest TEXT NOT NULL,
	status TEXT NOT NULL,
	bytes BIGINT NOT NULL,
	attempts INTEGER NOT NULL,
	started_at BIGINT NOT NULL,
	duration_ns BIGINT NOT NULL,
	error TEXT NOT NULL,
	sha256 TEXT NOT NULL
);
CREATE INDEX transfer_history_name_id ON transfer_history (transfer_name, id);

CREATE TABLE transfer_leases (
	name {{NAME}} PRIMARY KEY,
	owner TEXT NOT NULL,
	until_at BIGINT NOT NULL
);
