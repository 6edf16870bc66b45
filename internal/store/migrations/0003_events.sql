-- Event rules (what to run or call for which events) and the webhook
-- outbox: deliveries waiting for their endpoint, in id order per rule, and
-- dead letters (dead = 1) kept for an admin to see and replay. Outbox
-- writes happen with every event, so they do not move the change counter.

CREATE TABLE rules (
	id {{ID}},
	name {{NAME}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	version BIGINT NOT NULL,
	spec TEXT NOT NULL
);

CREATE TABLE outbox (
	id {{ID}},
	rule_name {{NAME}} NOT NULL,
	payload TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at BIGINT NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	dead INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX outbox_rule_dead_id ON outbox (rule_name, dead, id);
