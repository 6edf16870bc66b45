-- Admin API tokens: short-lived session tokens (POST /api/v1/auth/token,
-- the web admin's sign-in) and long-lived named tokens. Only a SHA-256 of
-- the secret is kept. Token writes happen on every sign-in, so they do not
-- move the change counter.

CREATE TABLE api_tokens (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	admin_name {{NAME}} NOT NULL,
	kind TEXT NOT NULL,
	scope TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	last_used_at BIGINT
);
CREATE INDEX api_tokens_admin ON api_tokens (admin_name);
CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at);
