-- Users' API tokens for the HTTP file API and WebDAV (Authorization:
-- Bearer). Only a SHA-256 of the secret is kept. A token belongs to the
-- user row, not the name: deleting the user deletes its tokens, and a new
-- user of the same name does not inherit them. Token writes (last use on
-- every login) do not move the change counter.

CREATE TABLE user_tokens (
	id {{ID}},
	user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name {{NAME}} NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	last_used_at BIGINT,
	UNIQUE (user_id, name)
);
