-- Reference searches by parameter and target id (e.g. Observation?patient=ID, where the
-- target type is not given): without it they scan every reference of the type.
CREATE INDEX idx_ref_by_param ON idx_ref (resource_type, param, target_id);
