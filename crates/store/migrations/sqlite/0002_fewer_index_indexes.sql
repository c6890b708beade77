-- The per-patient indexes of the search-index tables served only crypto-shredding's
-- purge; the purge now finds the rows through `resources` (by patient) and the per-resource
-- indexes. Fewer indexes make bulk loads cheaper as the database grows.
DROP INDEX idx_token_patient;
DROP INDEX idx_date_patient;
DROP INDEX idx_ref_patient;
DROP INDEX idx_blind_patient;
