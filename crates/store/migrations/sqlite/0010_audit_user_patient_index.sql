-- "Which patients did this user access between t1 and t2" (the privacy officer's query):
-- the user's index also carries the patient, so the query reads the index alone instead of
-- one table row per event. It replaces audit_by_user (its first two columns), so the fold
-- keeps the same number of indexes; `seq` keeps the user's trail ordered newest first for
-- audit_search without a sort.
CREATE INDEX audit_by_user_patient ON audit_events (user_id, occurred_at, seq, patient_id);
DROP INDEX audit_by_user;
