-- A moved file's path under its transfer's source folder, kept with its
-- history row so a move cut short (status 'removing') can be finished by
-- the next run even when the source was read through a failover location
-- or a virtual folder outside the on_upload root. '' for older rows.

ALTER TABLE transfer_history ADD COLUMN source_rel TEXT NOT NULL DEFAULT '';
