//! What the demo data promises: valid test BSNs, pseudonymous ids, references that
//! resolve, determinism, a realistic spread of patients, and the fixed patients 1, 2, 3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use time::macros::date;
use time::Date;
use zorgkluis_demo::{bsn_for_index, directory, patient_record, Directory, PatientRecord};
use zorgkluis_domain::{Bsn, ResourceId};

const TODAY: Date = date!(2026 - 11 - 23);
const SEED: u64 = 7;

fn records(dir: &Directory, n: u32) -> Vec<PatientRecord> {
    (0..n)
        .map(|i| patient_record(SEED, i, dir, TODAY))
        .collect()
}

fn of_type<'a>(rec: &'a PatientRecord, rt: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    rec.resources
        .iter()
        .filter(move |r| r["resourceType"] == rt)
}

fn directory_keys(d: &Directory) -> HashSet<String> {
    d.organisations
        .iter()
        .chain(&d.practitioners)
        .chain(&d.practitioner_roles)
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect()
}

fn collect_references<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match (k.as_str(), child) {
                    ("reference", Value::String(r)) => out.push(r),
                    _ => collect_references(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let n = chunk
            .iter()
            .take_while(|c| **c != b'=')
            .fold((0u32, 0usize), |(acc, k), c| {
                (acc | u32::from(value(*c)) << (18 - 6 * k), k + 1)
            });
        let bytes = [(n.0 >> 16) as u8, (n.0 >> 8) as u8, n.0 as u8];
        out.extend_from_slice(&bytes[..n.1.saturating_sub(1)]);
    }
    out
}

#[test]
fn bsns_are_valid_and_unique_for_a_hundred_thousand_patients() {
    let mut seen = HashSet::new();
    let mut test_range = 0;
    for i in 0..100_000 {
        let b = bsn_for_index(i);
        assert_eq!(b.len(), 9);
        assert!(Bsn::parse(&b).is_ok(), "{i}");
        test_range += usize::from(b.starts_with("999"));
        assert!(seen.insert(b), "duplicate for {i}");
    }
    assert!(test_range > 90_000, "most in the 999 range: {test_range}");
    // Further blocks stay valid and distinct from the first.
    for i in (100_000..5_000_000).step_by(7919) {
        let b = bsn_for_index(i);
        assert!(Bsn::parse(&b).is_ok(), "{i}");
        assert!(seen.insert(b), "duplicate for {i}");
    }
}

#[test]
fn every_reference_resolves_and_every_id_is_valid_and_pseudonymous() {
    let d = directory(SEED);
    let shared = directory_keys(&d);
    let mut all_ids = HashSet::new();
    for key in &shared {
        assert!(all_ids.insert(key.split('/').nth(1).unwrap().to_owned()));
    }
    for rec in records(&d, 200) {
        assert_eq!(rec.resources[0]["resourceType"], "Patient");
        assert_eq!(rec.resources[0]["id"], rec.patient_id.as_str());
        let mut local = shared.clone();
        for r in &rec.resources {
            let id = r["id"].as_str().expect("every resource has an id");
            assert!(ResourceId::parse(id).is_ok(), "{id}");
            assert_eq!(id.len(), 36, "UUID-shaped: {id}");
            assert_eq!(id.matches('-').count(), 4, "UUID-shaped: {id}");
            assert!(all_ids.insert(id.to_owned()), "ids are unique: {id}");
            local.insert(format!("{}/{id}", r["resourceType"].as_str().unwrap()));
        }
        let mut refs = Vec::new();
        for r in &rec.resources {
            collect_references(r, &mut refs);
        }
        assert!(refs.len() > 20);
        for target in refs {
            assert!(local.contains(target), "{}: dangling {target}", rec.login);
        }
    }
}

#[test]
fn every_generated_resource_is_valid_fhir_in_one_patient_compartment() {
    let d = directory(3);
    for r in d
        .organisations
        .iter()
        .chain(&d.practitioners)
        .chain(&d.practitioner_roles)
    {
        assert!(zorgkluis_fhir::validate(r).is_ok(), "{r}");
    }
    for i in 0..150 {
        let rec = patient_record(3, i, &d, TODAY);
        for r in &rec.resources {
            let rt = zorgkluis_fhir::validate(r).unwrap_or_else(|e| panic!("{e:?}: {r}"));
            let p = zorgkluis_fhir::compartment_patient(rt, r).unwrap();
            if zorgkluis_fhir::is_in_patient_compartment(rt) {
                assert_eq!(p.as_deref(), Some(rec.patient_id.as_str()), "{r}");
            }
        }
    }
}

#[test]
fn records_are_deterministic_independent_of_order_and_seed_dependent() {
    let d = directory(1);
    let json = |seed, i, d: &Directory| {
        serde_json::to_string(&patient_record(seed, i, d, TODAY).resources).unwrap()
    };
    let a = json(1, 5, &d);
    let _ = json(1, 6, &d);
    assert_eq!(a, json(1, 5, &d));
    assert_eq!(
        serde_json::to_string(&directory(1).practitioners).unwrap(),
        serde_json::to_string(&d.practitioners).unwrap()
    );
    assert_ne!(a, json(2, 5, &directory(2)));
    assert_ne!(a, json(1, 4, &d));
    // Another reference date moves the record in time, not into another person.
    let later = patient_record(1, 5, &d, date!(2027 - 11 - 23));
    assert_eq!(
        later.resources[0]["name"],
        patient_record(1, 5, &d, TODAY).resources[0]["name"]
    );
}

#[test]
fn patients_one_two_and_three_are_a_child_a_young_teenager_and_an_adult_with_a_curator() {
    for seed in [1, 7, 42, 7513] {
        let d = directory(seed);
        let parents = |rec: &PatientRecord| {
            of_type(rec, "RelatedPerson")
                .filter(|r| {
                    matches!(
                        r["relationship"][0]["coding"][0]["code"].as_str(),
                        Some("MTH" | "FTH")
                    )
                })
                .count()
        };
        let child = patient_record(seed, 1, &d, TODAY);
        assert!(child.age < 12, "{}", child.age);
        assert!(parents(&child) >= 1);
        let teen = patient_record(seed, 2, &d, TODAY);
        assert!((12..16).contains(&teen.age), "{}", teen.age);
        assert!(parents(&teen) >= 1);
        let adult = patient_record(seed, 3, &d, TODAY);
        assert!(adult.age >= 18);
        let curator =
            of_type(&adult, "RelatedPerson").find(|r| r["relationship"][0]["text"] == "curator");
        let curator = curator.expect("index 3 has a curator");
        assert_eq!(curator["relationship"][0]["coding"][0]["code"], "GUARD");
        assert_eq!(
            curator["patient"]["reference"],
            format!("Patient/{}", adult.patient_id).as_str()
        );
    }
}

#[test]
fn ages_cover_zero_to_ninety_five_with_every_minor_band_and_representatives() {
    let d = directory(SEED);
    let recs = records(&d, 2000);
    let mut bands = BTreeMap::new();
    for r in &recs {
        let band = match r.age {
            0..=11 => "0-11",
            12..=15 => "12-15",
            16..=17 => "16-17",
            18..=64 => "18-64",
            65..=79 => "65-79",
            _ => "80-95",
        };
        *bands.entry(band).or_insert(0) += 1;
        assert!(r.age <= 95);
        let birth = r.resources[0]["birthDate"].as_str().unwrap();
        assert_eq!(birth.len(), 10);
        let has_parent = of_type(r, "RelatedPerson").any(|p| {
            p["relationship"][0]["coding"][0]["code"] != "GUARD"
                && p["relationship"][0]["coding"][0]["code"] != "POWATT"
        });
        assert_eq!(
            has_parent,
            r.age < 16,
            "parents exactly for minors under 16"
        );
    }
    assert_eq!(bands.len(), 6, "{bands:?}");
    assert!(
        bands["0-11"] > 150 && bands["12-15"] > 40 && bands["16-17"] > 20,
        "{bands:?}"
    );
    assert!(
        recs.iter().any(|r| r.age == 0) && recs.iter().any(|r| r.age >= 93),
        "ends of the range"
    );
    let adults = recs.iter().filter(|r| r.age >= 18).count();
    let represented = recs
        .iter()
        .filter(|r| r.age >= 18 && of_type(r, "RelatedPerson").next().is_some())
        .count();
    assert!(
        (adults / 100..=adults / 25).contains(&represented),
        "{represented} of {adults}"
    );
    let emails: HashSet<_> = recs
        .iter()
        .map(|r| {
            r.resources[0]["telecom"][1]["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(emails.len(), recs.len(), "unique e-mail addresses");
    let logins: HashSet<_> = recs.iter().map(|r| r.login.clone()).collect();
    assert_eq!(logins.len(), recs.len());
}

#[test]
fn names_are_dutch_with_prefixes_and_diacritics() {
    let d = directory(SEED);
    let recs = records(&d, 1000);
    let names: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            let n = &r.resources[0]["name"][0];
            (
                n["given"][0].as_str().unwrap(),
                n["family"].as_str().unwrap(),
            )
        })
        .collect();
    let prefixed = names
        .iter()
        .filter(|(_, f)| f.starts_with("van ") || f.starts_with("de ") || f.starts_with("ter "))
        .count();
    assert!(
        (200..400).contains(&prefixed),
        "{prefixed} of 1000 with a prefix"
    );
    assert!(names.iter().any(|(_, f)| f.starts_with("van der ")));
    assert!(
        names.iter().any(|(g, _)| !g.is_ascii()),
        "some given names with diacritics"
    );
    let patient = &recs[0].resources[0];
    let postal = patient["address"][0]["postalCode"].as_str().unwrap();
    assert!(
        postal.len() == 7 && postal.as_bytes()[4] == b' ',
        "{postal}"
    );
    assert!(patient["telecom"][0]["value"]
        .as_str()
        .unwrap()
        .starts_with("06"));
    assert_eq!(patient["identifier"][1]["value"], "P000000");
}

#[test]
fn the_directory_has_every_role_in_a_sensible_organisation() {
    let d = directory(SEED);
    let kind_of = |org_id: &str| {
        d.organisations
            .iter()
            .find(|o| o["id"] == org_id)
            .map(|o| {
                o["type"][0]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap()
    };
    let expected = [
        ("gp", "gp_practice"),
        ("assistant", "gp_practice"),
        ("practice_nurse", "gp_practice"),
        ("privacy_officer", "gp_practice"),
        ("administrator", "gp_practice"),
        ("maintainer", "gp_practice"),
        ("physiotherapist", "physio_practice"),
        ("coach", "care_organisation"),
        ("medical_specialist", "hospital_clinic"),
        ("nurse", "hospital_clinic"),
        ("pharmacist", "pharmacy"),
        ("locum_gp", "gp_post"),
    ];
    for (role, kind) in expected {
        let staff: Vec<_> = d.staff.iter().filter(|s| s.role == role).collect();
        assert!(!staff.is_empty(), "{role}");
        for s in staff {
            assert_eq!(kind_of(&s.organisation_id), kind, "{role}");
        }
    }
    assert_eq!(d.staff.iter().filter(|s| s.role == "gp").count(), 2);
    assert!(d.staff.iter().any(|s| s.login == "huisarts.jansen"));
    let logins: HashSet<_> = d.staff.iter().map(|s| &s.login).collect();
    assert_eq!(logins.len(), d.staff.len(), "logins are unique");
    assert_eq!(d.organisations.len(), 6);
    for o in &d.organisations {
        let ids = o["identifier"].as_array().unwrap();
        assert!(!ids.is_empty());
        for i in ids {
            let v = i["value"].as_str().unwrap();
            assert!(v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()), "{v}");
        }
    }
    for (s, p) in d.staff.iter().zip(&d.practitioners) {
        assert_eq!(p["id"], s.practitioner_id.as_str());
        let systems: Vec<&str> = p["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["system"].as_str().unwrap())
            .collect();
        let big = systems.contains(&"http://fhir.nl/fhir/NamingSystem/big");
        let agb = systems.contains(&"http://fhir.nl/fhir/NamingSystem/agb-z");
        match s.role {
            "gp" | "locum_gp" | "physiotherapist" => assert!(big && agb, "{}", s.login),
            "medical_specialist" | "nurse" | "pharmacist" => assert!(big, "{}", s.login),
            "privacy_officer" | "administrator" | "maintainer" | "assistant" | "coach" => {
                assert!(!big, "{}", s.login)
            }
            _ => {}
        }
    }
    for (s, r) in d.staff.iter().zip(&d.practitioner_roles) {
        assert_eq!(r["code"][0]["coding"][0]["code"], s.role);
        assert_eq!(
            r["organization"]["reference"],
            format!("Organization/{}", s.organisation_id).as_str()
        );
    }
}

#[test]
fn every_patient_has_a_gp_care_team_with_their_own_gp_the_assistant_and_the_practice_nurse() {
    let d = directory(SEED);
    let role_of: HashMap<String, &str> = d
        .staff
        .iter()
        .map(|s| (format!("Practitioner/{}", s.practitioner_id), s.role))
        .collect();
    let gp_practice = d.organisation_id("gp_practice").unwrap();
    for rec in records(&d, 300) {
        let own_gp = rec.resources[0]["generalPractitioner"][0]["reference"]
            .as_str()
            .unwrap();
        assert_eq!(role_of[own_gp], "gp");
        let teams: Vec<&Value> = of_type(&rec, "CareTeam").collect();
        let gp_team = teams
            .iter()
            .find(|t| {
                t["managingOrganization"][0]["reference"]
                    == format!("Organization/{gp_practice}").as_str()
            })
            .expect("a GP-practice care team");
        let members: Vec<&str> = gp_team["participant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["member"]["reference"].as_str().unwrap())
            .collect();
        assert!(members.contains(&own_gp));
        let roles: HashSet<&str> = members.iter().map(|m| role_of[*m]).collect();
        assert_eq!(roles, HashSet::from(["gp", "assistant", "practice_nurse"]));
        let episodes: Vec<&Value> = of_type(&rec, "EpisodeOfCare").collect();
        assert_eq!(
            episodes.len(),
            teams.len(),
            "an episode of care per care team"
        );
        for t in &teams {
            assert_eq!(t["status"], "active");
            assert!(t["period"]["start"].is_string());
            let team_ref = format!("CareTeam/{}", t["id"].as_str().unwrap());
            assert!(episodes
                .iter()
                .any(|e| e["team"][0]["reference"] == team_ref.as_str()));
        }
    }
}

#[test]
fn consult_letters_name_the_patient() {
    let d = directory(SEED);
    let mut with_letters = 0;
    for rec in records(&d, 50) {
        let name = rec.resources[0]["name"][0]["text"].as_str().unwrap();
        let letters: Vec<String> = of_type(&rec, "DocumentReference")
            .map(|doc| {
                assert_eq!(doc["content"][0]["attachment"]["contentType"], "text/plain");
                String::from_utf8(decode_base64(
                    doc["content"][0]["attachment"]["data"].as_str().unwrap(),
                ))
                .unwrap()
            })
            .collect();
        with_letters += usize::from(!letters.is_empty());
        assert!(
            letters.iter().all(|l| l.contains(name)),
            "{name}: {letters:?}"
        );
    }
    // Letters follow consults and referrals, which are random: nearly everyone has one.
    assert!(
        with_letters >= 45,
        "only {with_letters} of 50 patients have letters"
    );
}

#[test]
fn lab_results_are_chronological_series_of_four_to_twelve_with_ranges_and_flags() {
    let d = directory(SEED);
    let mut flagged = 0;
    let mut series_seen = 0;
    for rec in records(&d, 200) {
        let mut series: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
        for o in of_type(&rec, "Observation")
            .filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory")
        {
            let value = o["valueQuantity"]["value"].as_f64().unwrap();
            let (low, high) = (
                o["referenceRange"][0]["low"]["value"].as_f64().unwrap(),
                o["referenceRange"][0]["high"]["value"].as_f64().unwrap(),
            );
            assert_eq!(o["valueQuantity"]["system"], "http://unitsofmeasure.org");
            assert_eq!(
                o["interpretation"].is_array(),
                value < low || value > high,
                "{o}"
            );
            flagged += usize::from(o["interpretation"].is_array());
            let code = o["code"]["coding"][0]["code"].as_str().unwrap().to_owned();
            let when = o["effectiveDateTime"].as_str().unwrap()[..10].to_owned();
            series.entry(code).or_default().push((when, value));
        }
        for (code, points) in series {
            series_seen += 1;
            assert!((4..=12).contains(&points.len()), "{code}: {}", points.len());
            assert!(
                points.windows(2).all(|w| w[0].0 < w[1].0),
                "{code} in date order"
            );
        }
        for report in of_type(&rec, "DiagnosticReport") {
            assert!(!report["result"].as_array().unwrap().is_empty());
            assert!(report["conclusion"].as_str().unwrap().len() > 10);
        }
    }
    assert!(
        series_seen > 300 && flagged > 100,
        "{series_seen} series, {flagged} flagged"
    );
}

#[test]
fn self_entered_measurements_are_tagged_and_performed_by_the_patient() {
    let d = directory(SEED);
    let recs = records(&d, 500);
    let mut with_log = 0;
    let adults = recs.iter().filter(|r| r.age >= 18).count();
    for rec in &recs {
        let own = format!("Patient/{}", rec.patient_id);
        let log: Vec<&Value> = of_type(rec, "Observation")
            .filter(|o| o["meta"]["tag"][0]["code"] == "patient-entered")
            .collect();
        if log.is_empty() {
            continue;
        }
        assert!(rec.age >= 18);
        with_log += 1;
        let codes: HashSet<&str> = log
            .iter()
            .map(|o| o["code"]["coding"][0]["code"].as_str().unwrap())
            .collect();
        for code in [
            "29463-7", "85354-9", "55423-8", "93832-4", "72166-2", "74013-4", "mood", "note",
        ] {
            assert!(codes.contains(code), "{code}");
        }
        for o in log {
            assert_eq!(o["meta"]["tag"][0]["system"], "urn:zorgkluis:provenance");
            assert_eq!(o["performer"][0]["reference"], own.as_str());
            let date = &o["effectiveDateTime"].as_str().unwrap()[..10];
            assert!(("2026-09-01"..="2026-11-23").contains(&date), "{date}");
        }
    }
    let share = with_log as f64 / adults as f64;
    assert!((0.3..0.5).contains(&share), "{share}");
}

#[test]
fn a_hundred_patients_have_a_realistic_mix_of_resources() {
    let d = directory(SEED);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut video = 0;
    let mut future = 0;
    for rec in records(&d, 100) {
        for r in &rec.resources {
            *counts
                .entry(r["resourceType"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        for a in of_type(&rec, "Appointment") {
            video += usize::from(a["extension"][0]["url"] == "urn:zorgkluis:video-consult");
            future += usize::from(a["start"].as_str().unwrap() > "2026-11-24");
        }
    }
    println!("{counts:#?}");
    for t in [
        "Patient",
        "RelatedPerson",
        "CareTeam",
        "EpisodeOfCare",
        "Encounter",
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "Observation",
        "DiagnosticReport",
        "AllergyIntolerance",
        "Immunization",
        "Procedure",
        "DocumentReference",
        "Appointment",
        "Communication",
    ] {
        assert!(counts.get(t).copied().unwrap_or(0) > 0, "{t}: {counts:?}");
    }
    assert_eq!(counts["Patient"], 100);
    assert!(
        (300..=1000).contains(&counts["Condition"]),
        "3-10 conditions each"
    );
    assert!(
        (15..=50).contains(&counts["AllergyIntolerance"]),
        "about 30%"
    );
    assert!(
        (120..=220).contains(&counts["CareTeam"]),
        "GP team and some others"
    );
    assert!(video > 0 && future >= 100, "{video} video, {future} future");
    let total: usize = counts.values().sum();
    assert!(
        (5000..=12_000).contains(&total),
        "{total} resources for 100 patients"
    );
}
