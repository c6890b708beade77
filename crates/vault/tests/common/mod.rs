//! Shared helpers of the vault's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{json, Value};
use time::macros::datetime;
use zorgkluis_domain::FixedClock;
use zorgkluis_testkit::TestDb;
use zorgkluis_vault::{OperatorPurpose, Principal, Vault, VaultConfig};

pub fn config(db: &TestDb) -> VaultConfig {
    let mut c = VaultConfig::for_data_dir(&db.data_dir());
    c.database_url = db.url.clone();
    c.clock = Arc::new(FixedClock::new(datetime!(2026-11-23 09:00 UTC)));
    c.source = "zorgkluis-test".into();
    c
}

pub async fn open(db: &TestDb) -> Vault {
    Vault::open(config(db)).await.unwrap()
}

pub fn loader() -> Principal {
    Principal::operator("test-load", OperatorPurpose::Load)
}

pub fn requester() -> Principal {
    Principal::operator("test-export", OperatorPurpose::PatientRequest)
}

pub fn keyman() -> Principal {
    Principal::operator("test-keys", OperatorPurpose::KeyManagement)
}

pub fn auditor() -> Principal {
    Principal::operator("test-audit", OperatorPurpose::AuditReview)
}

pub const BSN: &str = "999996708";

pub fn patient(id: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "id": id,
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}],
        "name": [{"family": "Zwanenburg-Oosterhuis", "given": ["Geertruida"]}],
        "telecom": [{"system": "email", "value": "g.zwanenburg@voorbeeld.nl"}],
        "address": [{"line": ["Lindengracht 221"], "city": "Harderwijk", "postalCode": "3841 KK"}],
        "gender": "female",
        "birthDate": "1961-04-12"
    })
}

pub fn observation(id: &str, patient_id: &str, value: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "effectiveDateTime": "2026-10-01T08:30:00Z",
        "valueQuantity": {"value": serde_json::from_str::<Value>(value).unwrap(), "unit": "mmol/mol"},
        "note": [{"text": "Uitslag besproken met mevrouw Zwanenburg"}]
    })
}

/// Loads a patient and one observation.
pub async fn seed(vault: &Vault, pid: &str) {
    vault
        .load(
            &loader(),
            vec![
                patient(pid),
                observation(&format!("{pid}-obs"), pid, "53.0"),
            ],
            Default::default(),
        )
        .await
        .unwrap();
}
