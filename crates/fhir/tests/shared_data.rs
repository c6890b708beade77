//! Every resource of the shared test data (Synthea and Nictiz zib2020) validates, and its
//! search index keeps identifiers and names out of the clear-text parts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use zorgkluis_fhir::{compartment_patient, extract_index, validate, ResourceType};

fn data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/data is not beside the repository");
        None
    }
}

fn resources(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
    {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if v["resourceType"] == "Bundle" {
            for (i, e) in v["entry"].as_array().unwrap().iter().enumerate() {
                out.push((format!("{name} entry[{i}]"), e["resource"].clone()));
            }
        } else {
            out.push((name, v));
        }
    }
    out
}

#[test]
fn all_shared_resources_validate() {
    let Some(data) = data() else { return };
    let mut count = 0;
    for dir in [
        "synthea-r4",
        "synthea-r4-support",
        "nl-nictiz-zib2020/resources",
    ] {
        for (name, r) in resources(&data.join(dir)) {
            count += 1;
            if let Err(issues) = validate(&r) {
                panic!("{dir}/{name}: {issues:?}");
            }
        }
    }
    assert!(count > 15_000, "{count} resources checked");
}

#[test]
fn shared_resources_have_one_compartment_and_no_identity_in_clear_indexes() {
    let Some(data) = data() else { return };
    let mut with_patient = 0;
    for dir in ["synthea-r4", "nl-nictiz-zib2020/resources"] {
        for (name, r) in resources(&data.join(dir)) {
            let rt = ResourceType::parse(r["resourceType"].as_str().unwrap()).unwrap();
            if compartment_patient(rt, &r)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .is_some()
            {
                with_patient += 1;
            }
            let ix = extract_index(rt, &r);
            let clear = format!("{:?}{:?}", ix.tokens, ix.refs);
            for ident in r["identifier"].as_array().into_iter().flatten() {
                if let Some(v) = ident["value"].as_str().filter(|v| v.len() >= 6) {
                    assert!(!clear.contains(v), "{name}: identifier in a clear index");
                }
            }
            if rt == ResourceType::PATIENT {
                for n in r["name"].as_array().into_iter().flatten() {
                    if let Some(f) = n["family"].as_str() {
                        assert!(!clear.contains(f), "{name}: name in a clear index");
                    }
                }
            }
        }
    }
    assert!(with_patient > 200);
}

#[test]
fn nl_core_patient_bsn_becomes_a_blind_entry() {
    let Some(data) = data() else { return };
    let p: Value = serde_json::from_slice(
        &std::fs::read(data.join("nl-nictiz-zib2020/resources/nl-core-Patient-01.json")).unwrap(),
    )
    .unwrap();
    let ix = extract_index(ResourceType::PATIENT, &p);
    assert!(ix
        .blind
        .iter()
        .any(|b| b.param == "identifier"
            && b.value == "http://fhir.nl/fhir/NamingSystem/bsn|111222333"));
}
