//! The shared test data (82 Synthea patients, the Synthea provider directory and the 271
//! Nictiz zib2020 examples) validates, sits in one patient's compartment, and keeps
//! identifiers and names out of the clear-text parts of its search index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use zorgkluis_fhir::{
    compartment_patient, compartment_reference, extract_index, is_in_patient_compartment,
    references, rewrite_references, validate, RefTarget, ResourceType, Severity,
};

const DIRS: [&str; 3] = [
    "synthea-r4",
    "synthea-r4-support",
    "nl-nictiz-zib2020/resources",
];

fn data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        println!("SKIPPED: no shared test data at {}", p.display());
        None
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn read(f: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()
}

/// Every resource of a folder: bundle entries, or single resources. (name, fullUrl, resource)
fn resources(dir: &Path) -> Vec<(String, Option<String>, Value)> {
    let mut out = Vec::new();
    for f in json_files(dir) {
        let mut v = read(&f);
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if v["resourceType"] == "Bundle" {
            let entries = v["entry"].as_array_mut().unwrap();
            for (i, e) in entries.iter_mut().enumerate() {
                let full_url = e["fullUrl"].as_str().map(str::to_owned);
                out.push((format!("{name} entry[{i}]"), full_url, e["resource"].take()));
            }
        } else {
            out.push((name, None, v));
        }
    }
    out
}

fn rt_of(r: &Value) -> ResourceType {
    ResourceType::parse(r["resourceType"].as_str().unwrap()).unwrap()
}

#[test]
fn all_shared_resources_validate_without_errors() {
    let Some(data) = data() else { return };
    let mut count = 0;
    let mut failures = Vec::new();
    let mut spent = std::time::Duration::ZERO;
    for dir in DIRS {
        for (name, _, r) in resources(&data.join(dir)) {
            count += 1;
            let started = Instant::now();
            let outcome = validate(&r);
            spent += started.elapsed();
            if let Err(issues) = outcome {
                let errors: Vec<_> = issues
                    .iter()
                    .filter(|i| matches!(i.severity, Severity::Error | Severity::Fatal))
                    .collect();
                if !errors.is_empty() {
                    failures.push(format!("{dir}/{name}: {errors:?}"));
                }
            }
        }
    }
    println!("validated {count} resources in {spent:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count > 15_000, "{count} resources checked");
}

#[test]
fn synthea_bundles_resolve_to_one_patient_after_urn_rewriting() {
    let Some(data) = data() else { return };
    let mut in_compartment = 0;
    for f in json_files(&data.join("synthea-r4")) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let mut bundle = read(&f);
        let entries = bundle["entry"].as_array_mut().unwrap();
        // fullUrl -> Type/id, as an importer would assign.
        let ids: HashMap<String, String> = entries
            .iter()
            .map(|e| {
                let r = &e["resource"];
                let local = format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                );
                (e["fullUrl"].as_str().unwrap().to_owned(), local)
            })
            .collect();
        let patient = entries
            .iter()
            .find(|e| e["resource"]["resourceType"] == "Patient")
            .unwrap();
        let patient_url = patient["fullUrl"].as_str().unwrap().to_owned();
        let patient_id = patient["resource"]["id"].as_str().unwrap().to_owned();
        let present: HashSet<&String> = ids.values().collect();
        for e in entries.iter() {
            let r = &e["resource"];
            let rt = rt_of(r);
            let raw = compartment_reference(rt, r).unwrap_or_else(|err| panic!("{name}: {err}"));
            if rt == ResourceType::PATIENT {
                assert_eq!(raw, Some(format!("Patient/{patient_id}")));
            } else if is_in_patient_compartment(rt) {
                assert_eq!(raw.as_deref(), Some(patient_url.as_str()), "{name} {rt}");
                in_compartment += 1;
            } else {
                assert_eq!(raw, None, "{name} {rt}");
            }
        }
        for e in entries.iter_mut() {
            let r = &mut e["resource"];
            let before = references(r)
                .iter()
                .filter(|x| matches!(x.target, RefTarget::Urn(_)))
                .count();
            let changed = rewrite_references(r, &mut |s| ids.get(s).cloned());
            assert_eq!(
                changed, before,
                "{name}: every urn:uuid reference resolves in its bundle"
            );
            let rt = rt_of(r);
            let expected = is_in_patient_compartment(rt) || rt == ResourceType::PATIENT;
            assert_eq!(
                compartment_patient(rt, r).unwrap(),
                expected.then(|| patient_id.clone()),
                "{name} {rt}"
            );
            assert!(validate(r).is_ok(), "{name}: still valid after rewriting");
            for x in references(r) {
                if let RefTarget::Local { rtype, id, .. } = &x.target {
                    assert!(
                        present.contains(&format!("{rtype}/{id}")),
                        "{name}: {}",
                        x.path
                    );
                }
            }
        }
    }
    assert!(in_compartment > 14_000, "{in_compartment}");
}

/// Blind values (identifiers, names, telecom, birth dates, postal codes) never show up as a
/// clear-text token, reference or date.
#[test]
fn no_blind_value_appears_in_clear_index_entries() {
    let Some(data) = data() else { return };
    let mut blind_total = 0;
    let mut spent = std::time::Duration::ZERO;
    let mut indexed = 0;
    for dir in DIRS {
        for (name, _, r) in resources(&data.join(dir)) {
            let rt = rt_of(&r);
            let started = Instant::now();
            let ix = extract_index(rt, &r);
            spent += started.elapsed();
            indexed += 1;
            let clear: HashSet<String> = ix
                .tokens
                .iter()
                .flat_map(|t| {
                    [
                        t.code.to_lowercase(),
                        t.system.clone().unwrap_or_default().to_lowercase(),
                    ]
                })
                .chain(ix.refs.iter().map(|x| x.target_id.to_lowercase()))
                .collect();
            let clear_text = format!("{:?}{:?}", ix.tokens, ix.refs).to_lowercase();
            for b in &ix.blind {
                blind_total += 1;
                let v = b.value.to_lowercase();
                let bare = v.rsplit('|').next().unwrap_or(&v);
                assert!(
                    !clear.contains(bare),
                    "{name}: a {} value is a clear entry",
                    b.param
                );
                if b.param == "identifier" && bare.len() >= 8 {
                    assert!(
                        !clear_text.contains(bare),
                        "{name}: an identifier inside a clear entry"
                    );
                }
            }
            // The raw personal elements never reach tokens either.
            for n in r["name"].as_array().into_iter().flatten() {
                if let Some(f) = n["family"].as_str() {
                    assert!(
                        !clear_text.contains(&f.to_lowercase()),
                        "{name}: family name in clear"
                    );
                }
            }
            if let Some(b) = r["birthDate"].as_str() {
                assert!(!clear_text.contains(b), "{name}: birth date in clear");
            }
            for t in r["telecom"].as_array().into_iter().flatten() {
                if let Some(v) = t["value"].as_str() {
                    assert!(
                        !clear_text.contains(&v.to_lowercase()),
                        "{name}: telecom in clear"
                    );
                }
            }
        }
    }
    println!("indexed {indexed} resources in {spent:?}");
    assert!(blind_total > 5_000, "{blind_total}");
}

#[test]
fn nl_core_patient_01_has_bsn_and_dutch_names_as_blind_entries() {
    let Some(data) = data() else { return };
    let path = data.join("nl-nictiz-zib2020/resources/nl-core-Patient-01.json");
    let original = read(&path);
    let mut p = original.clone();
    assert_eq!(validate(&p), Ok(ResourceType::PATIENT));
    let ix = extract_index(ResourceType::PATIENT, &p);
    let blind: Vec<String> = ix
        .blind
        .iter()
        .map(|b| format!("{}={}", b.param, b.value))
        .collect();
    for expected in [
        "identifier=http://fhir.nl/fhir/NamingSystem/bsn|111222333",
        "identifier=111222333",
        "family=van putten-van der giessen",
        "family=van der giessen",
        "family=putten",
        "given=johanna",
    ] {
        assert!(blind.contains(&expected.to_owned()), "{expected} missing");
    }
    assert!(!format!("{:?}", ix.tokens).contains("111222333"));
    // Reading and reference rewriting leave the `_family` / `_given` extensions as they were.
    rewrite_references(&mut p, &mut |s| Some(format!("{s}x")));
    assert_eq!(p["name"], original["name"]);
    assert_eq!(p["name"][0]["_family"], original["name"][0]["_family"]);
}

#[test]
fn nl_resources_are_in_the_compartment_of_their_patient() {
    let Some(data) = data() else { return };
    let mut of_patient_01 = 0;
    for (name, _, r) in resources(&data.join("nl-nictiz-zib2020/resources")) {
        let rt = rt_of(&r);
        let patient = compartment_patient(rt, &r).unwrap_or_else(|e| panic!("{name}: {e}"));
        if patient.as_deref() == Some("nl-core-Patient-01") {
            of_patient_01 += 1;
            let ix = extract_index(rt, &r);
            if rt != ResourceType::PATIENT {
                assert!(
                    ix.refs
                        .iter()
                        .any(|x| x.param == "patient" && x.target_id == "nl-core-Patient-01"),
                    "{name}: ?patient= finds it"
                );
            }
        }
    }
    assert!(of_patient_01 > 150, "{of_patient_01}");
}
