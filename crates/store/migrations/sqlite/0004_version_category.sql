-- The data category of each version (demographics, medication, health_log, personal_note, ...),
-- derived from type and tags when written and kept in clear, so that the access decision
-- is made before a body is opened. NULL for versions written before this migration: the
-- category then follows from the resource type.
ALTER TABLE resource_versions ADD COLUMN category TEXT;
