-- Type history (GET [type]/_history) reads the versions of one type newest first.
CREATE INDEX resource_versions_by_updated ON resource_versions (resource_type, last_updated);
