-- Pinned TLS client certificates per user: a JSON list of lowercase hex
-- SHA-256 fingerprints ('null' when none).

ALTER TABLE users ADD COLUMN tls_cert_pins TEXT NOT NULL DEFAULT 'null';
