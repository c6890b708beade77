-- HP-4+: the lock of each patient's personal notes: a random notes key, wrapped under a key
-- derived (Argon2id) from the patient's own secret. The server cannot open it.
CREATE TABLE personal_note_locks (
    patient_id TEXT PRIMARY KEY,
    lock TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
