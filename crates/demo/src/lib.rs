//! Deterministic Dutch synthetic care data as FHIR R4 JSON.
//!
//! [`directory`] gives the organisations and their staff; [`patient_record`] gives one
//! patient's whole record. Each record has its own random generator seeded from
//! `(seed, index)`, so records can be made independently, in any order, in parallel,
//! and are the same every time for the same seed, index and reference date.
//! Nothing here describes a real person; BSNs are from the 99… test range.
#![warn(missing_docs)]

mod catalogue;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use time::{Date, Duration};

use catalogue::*;

/// A member of staff in the demo directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Login name (e.g. `huisarts.jansen`).
    pub login: String,
    /// Role: `gp`, `assistant`, `practice_nurse`, `nurse`, `physiotherapist`, `coach`,
    /// `medical_specialist`, `locum_gp`, `pharmacist`, `privacy_officer`, `administrator`,
    /// `maintainer`.
    pub role: &'static str,
    /// Display name.
    pub display: String,
    /// Organization id.
    pub organisation_id: String,
    /// Practitioner id.
    pub practitioner_id: String,
    /// PractitionerRole id.
    pub practitioner_role_id: String,
}

/// Organisations and staff.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Organization resources.
    pub organisations: Vec<Value>,
    /// Practitioner resources.
    pub practitioners: Vec<Value>,
    /// PractitionerRole resources.
    pub practitioner_roles: Vec<Value>,
    /// The staff, with their logins.
    pub staff: Vec<StaffMember>,
}

impl Directory {
    fn org_id(&self, kind: &str) -> &str {
        self.organisations
            .iter()
            .find(|o| o["type"][0]["coding"][0]["code"] == kind)
            .and_then(|o| o["id"].as_str())
            .unwrap_or("")
    }

    fn staff_of(&self, role: &str) -> Vec<&StaffMember> {
        self.staff.iter().filter(|s| s.role == role).collect()
    }
}

/// One patient's record.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    /// The Patient's id.
    pub patient_id: String,
    /// The Patient first, then every other resource of the record.
    pub resources: Vec<Value>,
    /// Portal login.
    pub login: String,
    /// Age in years on the reference date.
    pub age: u32,
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A valid test BSN, unique for every index below 1,000,000: `99` (or `98`), six digits
/// of the index, and the check digit of the 11-test.
pub fn bsn_for_index(index: u32) -> String {
    let n = index % 1_000_000;
    let body = format!("{n:06}");
    for prefix in ["99", "98"] {
        let eight = format!("{prefix}{body}");
        let sum: u32 = eight
            .bytes()
            .enumerate()
            .map(|(i, b)| (9 - i as u32) * u32::from(b - b'0'))
            .sum();
        let check = sum % 11;
        if check < 10 {
            return format!("{eight}{check}");
        }
    }
    // Unreachable: the two prefixes differ by 9 in the weighted sum, so at most one of
    // them leaves remainder 10.
    format!("99{body}0")
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ë' | 'é' | 'è' => 'e',
            'ï' | 'í' => 'i',
            'ö' | 'ó' => 'o',
            'ü' | 'ú' => 'u',
            'á' | 'à' | 'ä' => 'a',
            'ç' => 'c',
            ' ' => '.',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect()
}

fn fhir_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn fhir_datetime(d: Date, hour: u8, minute: u8) -> String {
    format!("{}T{hour:02}:{minute:02}:00+01:00", fhir_date(d))
}

fn reference(rt: &str, id: &str) -> Value {
    json!({ "reference": format!("{rt}/{id}") })
}

fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }], "text": display })
}

fn person_name(rng: &mut ChaCha8Rng, female: bool) -> (String, String) {
    let given = if female {
        FEMALE_NAMES.choose(rng)
    } else {
        MALE_NAMES.choose(rng)
    }
    .copied()
    .unwrap_or("Sam");
    let family = FAMILY_NAMES.choose(rng).copied().unwrap_or("Jansen");
    let family = match rng.gen_range(0..10) {
        0..=2 => format!(
            "{} {family}",
            PREFIXES.choose(rng).copied().unwrap_or("van")
        ),
        _ => family.to_owned(),
    };
    (given.to_owned(), family)
}

fn address(rng: &mut ChaCha8Rng) -> Value {
    let (city, pc) = CITIES.choose(rng).copied().unwrap_or(("Utrecht", 3500));
    let street = STREETS.choose(rng).copied().unwrap_or("Dorpsstraat");
    let letters: String = (0..2)
        .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
        .collect();
    json!({
        "use": "home",
        "line": [format!("{street} {}", rng.gen_range(1..240))],
        "city": city,
        "postalCode": format!("{} {letters}", pc + rng.gen_range(0..99)),
        "country": "NL"
    })
}

/// The organisations and staff of the demo.
pub fn directory(seed: u64) -> Directory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5A5A_D1EC_7081_0000);
    let mut d = Directory {
        organisations: Vec::new(),
        practitioners: Vec::new(),
        practitioner_roles: Vec::new(),
        staff: Vec::new(),
    };
    for (kind, name, city) in ORGANISATIONS {
        let id = uuid(&mut rng);
        d.organisations.push(json!({
            "resourceType": "Organization",
            "id": id,
            "identifier": [
                {"system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": digits(&mut rng, 8)},
                {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": digits(&mut rng, 8)}
            ],
            "active": true,
            "type": [{"coding": [{"system": "urn:zorgkluis:organisation-kind", "code": kind}], "text": name}],
            "name": name,
            "telecom": [{"system": "phone", "value": format!("0{}", digits(&mut rng, 9))}],
            "address": [{"line": [format!("{} {}", STREETS.choose(&mut rng).copied().unwrap_or("Markt"), rng.gen_range(1..99))], "city": city, "country": "NL"}]
        }));
    }
    for (kind, role, login_prefix, count) in STAFF {
        for n in 0..*count {
            let female = rng.gen_bool(0.6);
            let (given, family) = person_name(&mut rng, female);
            let pid = uuid(&mut rng);
            let rid = uuid(&mut rng);
            let org = d.org_id(kind).to_owned();
            let mut identifiers = Vec::new();
            if matches!(
                *role,
                "gp" | "locum_gp"
                    | "medical_specialist"
                    | "nurse"
                    | "physiotherapist"
                    | "pharmacist"
                    | "practice_nurse"
            ) {
                identifiers.push(json!({"system": "http://fhir.nl/fhir/NamingSystem/big", "value": digits(&mut rng, 11)}));
            }
            if matches!(*role, "gp" | "locum_gp" | "physiotherapist") {
                identifiers.push(json!({"system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": digits(&mut rng, 8)}));
            }
            let family_login = ascii(family.split(' ').next_back().unwrap_or("x"));
            let login = if *count > 1 {
                format!("{login_prefix}.{family_login}{}", n + 1)
            } else {
                format!("{login_prefix}.{family_login}")
            };
            d.practitioners.push(json!({
                "resourceType": "Practitioner",
                "id": pid,
                "identifier": identifiers,
                "active": true,
                "name": [{"family": family, "given": [given], "text": format!("{given} {family}")}],
                "telecom": [{"system": "email", "value": format!("{login}@zorg.voorbeeld.nl")}],
                "gender": if female { "female" } else { "male" }
            }));
            d.practitioner_roles.push(json!({
                "resourceType": "PractitionerRole",
                "id": rid,
                "active": true,
                "practitioner": reference("Practitioner", &pid),
                "organization": reference("Organization", &org),
                "code": [{"coding": [{"system": "urn:zorgkluis:role", "code": role}], "text": role.replace('_', " ")}]
            }));
            d.staff.push(StaffMember {
                login,
                role,
                display: format!("{given} {family}"),
                organisation_id: org,
                practitioner_id: pid,
                practitioner_role_id: rid,
            });
        }
    }
    d
}

struct Builder<'a> {
    rng: ChaCha8Rng,
    dir: &'a Directory,
    today: Date,
    patient: String,
    out: Vec<Value>,
}

impl Builder<'_> {
    fn id(&mut self) -> String {
        uuid(&mut self.rng)
    }

    fn days_ago(&mut self, max_days: i64) -> Date {
        self.today - Duration::days(self.rng.gen_range(1..max_days.max(2)))
    }

    fn staff(&mut self, role: &str) -> StaffMember {
        let all = self.dir.staff_of(role);
        all.choose(&mut self.rng)
            .map(|s| (*s).clone())
            .unwrap_or_else(|| StaffMember {
                login: String::new(),
                role: "gp",
                display: String::new(),
                organisation_id: String::new(),
                practitioner_id: String::new(),
                practitioner_role_id: String::new(),
            })
    }

    fn push(&mut self, v: Value) -> String {
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        self.out.push(v);
        id
    }

    fn care_team(&mut self, org_kind: &str, roles: &[&str], start: Date) -> String {
        let org = self.dir.org_id(org_kind).to_owned();
        let members: Vec<Value> = roles
            .iter()
            .map(|r| {
                let s = self.staff(r);
                json!({"role": [{"text": r.replace('_', " ")}], "member": reference("Practitioner", &s.practitioner_id), "onBehalfOf": reference("Organization", &org)})
            })
            .collect();
        let team = self.id();
        let patient = self.patient.clone();
        self.push(json!({
            "resourceType": "CareTeam", "id": team, "status": "active",
            "category": [concept("http://loinc.org", "LA27976-2", "Encounter-focused care team")],
            "name": format!("Behandelteam {org_kind}"),
            "subject": reference("Patient", &patient),
            "period": {"start": fhir_date(start)},
            "participant": members,
            "managingOrganization": [reference("Organization", &org)]
        }));
        let eoc = self.id();
        self.push(json!({
            "resourceType": "EpisodeOfCare", "id": eoc, "status": "active",
            "patient": reference("Patient", &patient),
            "managingOrganization": reference("Organization", &org),
            "period": {"start": fhir_date(start)},
            "team": [reference("CareTeam", &team)]
        }));
        team
    }
}

/// One patient's record, deterministic in `(seed, index, today)`.
///
/// Index 1 is always a child under 12, index 2 a child of 12–15, and index 3 an adult with
/// a curator, so tests and demos can rely on them.
pub fn patient_record(seed: u64, index: u32, dir: &Directory, today: Date) -> PatientRecord {
    let rng =
        ChaCha8Rng::seed_from_u64(seed ^ u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut b = Builder {
        rng,
        dir,
        today,
        patient: String::new(),
        out: Vec::with_capacity(96),
    };
    let age: u32 = match index {
        1 => b.rng.gen_range(3..12),
        2 => b.rng.gen_range(12..16),
        3 => b.rng.gen_range(40..70),
        _ => match b.rng.gen_range(0..100) {
            0..=7 => b.rng.gen_range(0..12),
            8..=12 => b.rng.gen_range(12..16),
            13..=15 => b.rng.gen_range(16..18),
            16..=75 => b.rng.gen_range(18..65),
            _ => b.rng.gen_range(65..96),
        },
    };
    let female = b.rng.gen_bool(0.52);
    let (given, family) = person_name(&mut b.rng, female);
    let birth = today - Duration::days(i64::from(age) * 365 + b.rng.gen_range(0..360));
    let patient_id = b.id();
    b.patient = patient_id.clone();
    let gp = b.staff("gp");
    let email = format!("{}.{}.{index}@voorbeeld.nl", ascii(&given), ascii(&family));
    let phone = format!("06{}", digits(&mut b.rng, 8));
    let addr = address(&mut b.rng);
    b.push(json!({
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [
            {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": bsn_for_index(index)},
            {"system": "urn:zorgkluis:patient-number", "value": format!("P{index:06}")}
        ],
        "active": true,
        "name": [{"use": "official", "family": family, "given": [given], "text": format!("{given} {family}")}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}, {"system": "email", "value": email}],
        "gender": if female { "female" } else { "male" },
        "birthDate": fhir_date(birth),
        "address": [addr],
        "generalPractitioner": [reference("Practitioner", &gp.practitioner_id)],
        "communication": [{"language": concept("urn:ietf:bcp:47", "nl", "Nederlands"), "preferred": true}]
    }));

    // Representatives: parents of children under 16; a curator or mentor for some adults.
    if age < 16 {
        let mother = b.rng.gen_bool(0.5);
        let (pg, _) = person_name(&mut b.rng, mother);
        let id = b.id();
        let code = if mother {
            ("MTH", "moeder")
        } else {
            ("FTH", "vader")
        };
        let parent_phone = format!("06{}", digits(&mut b.rng, 8));
        b.push(json!({
            "resourceType": "RelatedPerson", "id": id, "active": true,
            "patient": reference("Patient", &patient_id),
            "relationship": [concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", code.0, code.1)],
            "name": [{"family": family, "given": [pg]}],
            "telecom": [{"system": "phone", "value": parent_phone}],
            "period": {"start": fhir_date(birth)}
        }));
    } else if index == 3 || (age >= 18 && b.rng.gen_range(0..50) == 0) {
        let kind = if index == 3 {
            "curator"
        } else {
            ["curator", "mentor", "gemachtigde"]
                .choose(&mut b.rng)
                .copied()
                .unwrap_or("mentor")
        };
        let code = if kind == "gemachtigde" {
            "POWATT"
        } else {
            "GUARD"
        };
        let female_rep = b.rng.gen_bool(0.5);
        let (rg, rf) = person_name(&mut b.rng, female_rep);
        let id = b.id();
        b.push(json!({
            "resourceType": "RelatedPerson", "id": id, "active": true,
            "patient": reference("Patient", &patient_id),
            "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": code}], "text": kind}],
            "name": [{"family": rf, "given": [rg]}],
            "period": {"start": fhir_date(today - Duration::days(700))}
        }));
    }

    // Care teams: always the GP practice; some physiotherapy, coaching and hospital care.
    let start = today - Duration::days(b.rng.gen_range(30..3000).min(i64::from(age) * 365 + 1));
    b.care_team("gp_practice", &["gp", "assistant", "practice_nurse"], start);
    if b.rng.gen_bool(0.3) {
        let since = today - Duration::days(b.rng.gen_range(10..400));
        b.care_team("physio_practice", &["physiotherapist"], since);
    }
    if b.rng.gen_bool(0.15) {
        let since = today - Duration::days(b.rng.gen_range(10..700));
        b.care_team("care_organisation", &["coach"], since);
    }
    if b.rng.gen_bool(0.2) {
        let since = today - Duration::days(b.rng.gen_range(10..900));
        b.care_team("hospital_clinic", &["medical_specialist", "nurse"], since);
    }

    // Conditions and what follows from them.
    let history_days = (i64::from(age) * 365).clamp(60, 9000);
    let n_conditions = if age < 18 {
        b.rng.gen_range(1..3)
    } else {
        b.rng.gen_range(3..7)
    };
    let mut conditions: Vec<&Condition> = CONDITIONS.iter().filter(|c| age >= c.min_age).collect();
    conditions.shuffle(&mut b.rng);
    conditions.truncate(n_conditions);
    let mut encounters = Vec::new();
    for _ in 0..b.rng.gen_range(3..8) {
        let day = b.days_ago(history_days.min(1500));
        let id = b.id();
        let who = b.staff("gp");
        let org = dir.org_id("gp_practice").to_owned();
        let virtual_contact = b.rng.gen_bool(0.2);
        b.push(json!({
            "resourceType": "Encounter", "id": id, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": if virtual_contact { "VR" } else { "AMB" }},
            "type": [concept("http://snomed.info/sct", "185349003", "Consult")],
            "subject": reference("Patient", &patient_id),
            "participant": [{"individual": reference("Practitioner", &who.practitioner_id)}],
            "period": {"start": fhir_datetime(day, 9, 10), "end": fhir_datetime(day, 9, 25)},
            "serviceProvider": reference("Organization", &org)
        }));
        encounters.push((id, day, who));
    }
    for c in &conditions {
        let onset = b.days_ago(history_days);
        let id = b.id();
        let enc = encounters
            .choose(&mut b.rng)
            .map(|e| e.0.clone())
            .unwrap_or_default();
        b.push(json!({
            "resourceType": "Condition", "id": id,
            "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
            "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
            "code": concept("http://snomed.info/sct", c.snomed, c.display),
            "subject": reference("Patient", &patient_id),
            "encounter": reference("Encounter", &enc),
            "onsetDateTime": fhir_date(onset),
            "recordedDate": fhir_date(onset)
        }));
        if let Some((atc, med, dose)) = c.medication {
            let authored = b.days_ago(700);
            let (sid, rid) = (b.id(), b.id());
            b.push(json!({
                "resourceType": "MedicationStatement", "id": sid, "status": "active",
                "medicationCodeableConcept": concept("http://www.whocc.no/atc", atc, med),
                "subject": reference("Patient", &patient_id),
                "effectivePeriod": {"start": fhir_date(authored)},
                "reasonReference": [reference("Condition", &id)],
                "dosage": [{"text": dose}]
            }));
            b.push(json!({
                "resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
                "medicationCodeableConcept": concept("http://www.whocc.no/atc", atc, med),
                "subject": reference("Patient", &patient_id),
                "authoredOn": fhir_date(authored),
                "requester": reference("Practitioner", &gp.practitioner_id),
                "reasonReference": [reference("Condition", &id)],
                "dosageInstruction": [{"text": dose}]
            }));
        }
    }

    // Lab series, with a report over the latest results.
    if age >= 12 {
        let mut labs: Vec<&Lab> = LABS.iter().collect();
        labs.shuffle(&mut b.rng);
        let mut latest = Vec::new();
        for lab in labs.into_iter().take(b.rng.gen_range(2..5)) {
            let points = b.rng.gen_range(4..11);
            let mut value = lab.low + (lab.high - lab.low) * b.rng.gen_range(0.2..1.3);
            let mut last = String::new();
            for p in 0..points {
                let day = today - Duration::days(i64::from(points - p) * b.rng.gen_range(60..200));
                value = (value + (lab.high - lab.low) * b.rng.gen_range(-0.15..0.15))
                    .max(lab.low * 0.3);
                let rounded = (value * 10.0).round() / 10.0;
                let interpretation = if rounded > lab.high {
                    Some(("H", "Hoog"))
                } else if rounded < lab.low {
                    Some(("L", "Laag"))
                } else {
                    None
                };
                let id = b.id();
                let mut obs = json!({
                    "resourceType": "Observation", "id": id, "status": "final",
                    "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")],
                    "code": concept("http://loinc.org", lab.loinc, lab.display),
                    "subject": reference("Patient", &patient_id),
                    "effectiveDateTime": fhir_datetime(day, 8, 15),
                    "performer": [reference("Organization", dir.org_id("hospital_clinic"))],
                    "valueQuantity": {"value": serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number), "unit": lab.unit, "system": "http://unitsofmeasure.org", "code": lab.unit},
                    "referenceRange": [{"low": {"value": lab.low, "unit": lab.unit}, "high": {"value": lab.high, "unit": lab.unit}}]
                });
                if let Some((code, text)) = interpretation {
                    obs["interpretation"] = json!([concept(
                        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        code,
                        text
                    )]);
                }
                b.push(obs);
                last = id;
            }
            latest.push(reference("Observation", &last));
        }
        let id = b.id();
        b.push(json!({
            "resourceType": "DiagnosticReport", "id": id, "status": "final",
            "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
            "code": concept("http://loinc.org", "11502-2", "Laboratory report"),
            "subject": reference("Patient", &patient_id),
            "effectiveDateTime": fhir_date(today - Duration::days(30)),
            "issued": format!("{}T12:00:00+01:00", fhir_date(today - Duration::days(29))),
            "result": latest,
            "conclusion": "Uitslagen besproken; controle over drie maanden."
        }));
    }

    // Vital signs.
    for _ in 0..b.rng.gen_range(1..4) {
        let day = b.days_ago(history_days.min(900));
        let (sys, dia) = (b.rng.gen_range(105..165), b.rng.gen_range(65..100));
        let id = b.id();
        b.push(json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")],
            "code": concept("http://loinc.org", "85354-9", "Blood pressure panel"),
            "subject": reference("Patient", &patient_id),
            "effectiveDateTime": fhir_datetime(day, 10, 0),
            "component": [
                {"code": concept("http://loinc.org", "8480-6", "Systolic blood pressure"), "valueQuantity": {"value": sys, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": concept("http://loinc.org", "8462-4", "Diastolic blood pressure"), "valueQuantity": {"value": dia, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
            ]
        }));
    }

    // Allergies and immunisations.
    if b.rng.gen_bool(0.3) {
        let (code, text) = ALLERGIES
            .choose(&mut b.rng)
            .copied()
            .unwrap_or(("91936005", "Penicilline-allergie"));
        let id = b.id();
        let day = b.days_ago(history_days);
        b.push(json!({
            "resourceType": "AllergyIntolerance", "id": id,
            "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
            "code": concept("http://snomed.info/sct", code, text),
            "patient": reference("Patient", &patient_id),
            "recordedDate": fhir_date(day)
        }));
    }
    for _ in 0..b.rng.gen_range(1..3) {
        let (code, text) = VACCINES
            .choose(&mut b.rng)
            .copied()
            .unwrap_or(("871751006", "Influenzavaccin"));
        let id = b.id();
        let day = b.days_ago(history_days.min(3000));
        b.push(json!({
            "resourceType": "Immunization", "id": id, "status": "completed",
            "vaccineCode": concept("http://snomed.info/sct", code, text),
            "patient": reference("Patient", &patient_id),
            "occurrenceDateTime": fhir_date(day)
        }));
    }

    // A procedure now and then.
    if b.rng.gen_bool(0.3) {
        let (code, text) = PROCEDURES
            .choose(&mut b.rng)
            .copied()
            .unwrap_or(("80146002", "Appendectomie"));
        let id = b.id();
        let day = b.days_ago(history_days);
        b.push(json!({
            "resourceType": "Procedure", "id": id, "status": "completed",
            "code": concept("http://snomed.info/sct", code, text),
            "subject": reference("Patient", &patient_id),
            "performedDateTime": fhir_date(day)
        }));
    }

    // Consult reports: letters that name the patient.
    for (enc, day, who) in encounters.iter().take(2).cloned().collect::<Vec<_>>() {
        let letter = format!(
            "Consultverslag {}\n\nPatiënt: {given} {family}, geboren {}.\nBesproken: klachten, beleid en controle.\n\n{}, {}",
            fhir_date(day),
            fhir_date(birth),
            who.display,
            "huisarts"
        );
        let id = b.id();
        b.push(json!({
            "resourceType": "DocumentReference", "id": id, "status": "current",
            "type": concept("http://loinc.org", "11488-4", "Consult note"),
            "subject": reference("Patient", &patient_id),
            "date": format!("{}T17:00:00+01:00", fhir_date(day)),
            "author": [reference("Practitioner", &who.practitioner_id)],
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "language": "nl", "data": base64(letter.as_bytes()), "title": "Consultverslag"}}],
            "context": {"encounter": [reference("Encounter", &enc)]}
        }));
    }

    // Appointments: past and future, some by video.
    for k in 0..b.rng.gen_range(1..4) {
        let future = k == 0 || b.rng.gen_bool(0.4);
        let day = if future {
            today + Duration::days(b.rng.gen_range(1..60))
        } else {
            b.days_ago(400)
        };
        let hour = b.rng.gen_range(8..17);
        let role = if b.rng.gen_bool(0.7) {
            "gp"
        } else {
            "practice_nurse"
        };
        let who = b.staff(role);
        let video = b.rng.gen_bool(0.3);
        let id = b.id();
        let mut appt = json!({
            "resourceType": "Appointment", "id": id,
            "status": if future { "booked" } else if b.rng.gen_bool(0.1) { "cancelled" } else { "fulfilled" },
            "serviceType": [concept("http://snomed.info/sct", "11429006", "Consultatie")],
            "start": format!("{}T{hour:02}:00:00+01:00", fhir_date(day)),
            "end": format!("{}T{hour:02}:15:00+01:00", fhir_date(day)),
            "participant": [
                {"actor": reference("Patient", &patient_id), "status": "accepted"},
                {"actor": reference("Practitioner", &who.practitioner_id), "status": "accepted"}
            ]
        });
        if video {
            appt["extension"] =
                json!([{"url": "urn:zorgkluis:video-consult", "valueBoolean": true}]);
        }
        b.push(appt);
    }

    // Self-entered measurements (health log) for some adults.
    if age >= 18 && b.rng.gen_bool(0.4) {
        let tag =
            json!({"tag": [{"system": "urn:zorgkluis:provenance", "code": "patient-entered"}]});
        let mut weight = b.rng.gen_range(55.0..110.0);
        for w in 0..b.rng.gen_range(4..10) {
            let day = today - Duration::days(i64::from(10 - w) * 7);
            weight += b.rng.gen_range(-0.8..0.6);
            let id = b.id();
            b.push(json!({
                "resourceType": "Observation", "id": id, "meta": tag, "status": "final",
                "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")],
                "code": concept("http://loinc.org", "29463-7", "Body weight"),
                "subject": reference("Patient", &patient_id),
                "performer": [reference("Patient", &patient_id)],
                "effectiveDateTime": fhir_datetime(day, 7, 30),
                "valueQuantity": {"value": serde_json::Number::from_f64((weight * 10.0_f64).round() / 10.0).map_or(Value::Null, Value::Number), "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
            }));
        }
        for (loinc, display, unit, lo, hi) in SELF_MEASURES {
            let day = b.days_ago(30);
            let id = b.id();
            let value = b.rng.gen_range(*lo..*hi);
            b.push(json!({
                "resourceType": "Observation", "id": id, "meta": tag, "status": "final",
                "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "survey", "Survey")],
                "code": concept("http://loinc.org", loinc, display),
                "subject": reference("Patient", &patient_id),
                "performer": [reference("Patient", &patient_id)],
                "effectiveDateTime": fhir_datetime(day, 21, 0),
                "valueQuantity": {"value": value, "unit": unit}
            }));
        }
    }

    // A message from the practice.
    if b.rng.gen_bool(0.3) {
        let id = b.id();
        let day = b.days_ago(90);
        b.push(json!({
            "resourceType": "Communication", "id": id, "status": "completed",
            "subject": reference("Patient", &patient_id),
            "recipient": [reference("Patient", &patient_id)],
            "sender": reference("Practitioner", &gp.practitioner_id),
            "sent": fhir_datetime(day, 14, 5),
            "payload": [{"contentString": "Uw uitslagen zijn binnen en in orde. Met vriendelijke groet, de praktijk."}]
        }));
    }

    PatientRecord {
        patient_id,
        resources: b.out,
        login: format!("patient.{index:05}"),
        age,
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};
    use time::macros::date;
    use zorgkluis_domain::{Bsn, ResourceId};

    const TODAY: Date = date!(2026 - 11 - 23);

    #[test]
    fn bsns_are_valid_and_unique_for_a_hundred_thousand_patients() {
        let mut seen = HashSet::new();
        for i in 0..100_000 {
            let b = bsn_for_index(i);
            assert!(Bsn::parse(&b).is_ok(), "{i}");
            assert!(seen.insert(b), "duplicate for {i}");
        }
    }

    #[test]
    fn records_are_deterministic_and_seed_dependent() {
        let d = directory(1);
        let a = serde_json::to_string(&patient_record(1, 5, &d, TODAY).resources).unwrap();
        let b = serde_json::to_string(&patient_record(1, 5, &d, TODAY).resources).unwrap();
        assert_eq!(a, b);
        let d2 = directory(2);
        let c = serde_json::to_string(&patient_record(2, 5, &d2, TODAY).resources).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn every_reference_resolves_and_every_id_is_valid() {
        let d = directory(7);
        let mut known: HashSet<String> = HashSet::new();
        for r in d
            .organisations
            .iter()
            .chain(&d.practitioners)
            .chain(&d.practitioner_roles)
        {
            known.insert(format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            ));
        }
        for i in 0..200 {
            let rec = patient_record(7, i, &d, TODAY);
            let mut local = known.clone();
            for r in &rec.resources {
                let id = r["id"].as_str().unwrap();
                assert!(ResourceId::parse(id).is_ok());
                local.insert(format!("{}/{id}", r["resourceType"].as_str().unwrap()));
            }
            for r in &rec.resources {
                let text = r.to_string();
                for piece in text.split("\"reference\":\"").skip(1) {
                    let target = piece.split('"').next().unwrap();
                    assert!(local.contains(target), "{i}: dangling {target}");
                }
            }
        }
    }

    #[test]
    fn special_indexes_and_the_age_spread() {
        let d = directory(7);
        let r1 = patient_record(7, 1, &d, TODAY);
        assert!(r1.age < 12);
        assert!(r1
            .resources
            .iter()
            .any(|r| r["resourceType"] == "RelatedPerson"));
        assert!((12..16).contains(&patient_record(7, 2, &d, TODAY).age));
        let r3 = patient_record(7, 3, &d, TODAY);
        assert!(r3.age >= 18);
        assert!(r3
            .resources
            .iter()
            .any(|r| r["resourceType"] == "RelatedPerson"
                && r["relationship"][0]["text"] == "curator"));
        let ages: Vec<u32> = (0..1000)
            .map(|i| patient_record(7, i, &d, TODAY).age)
            .collect();
        assert!(ages.iter().any(|a| *a < 12) && ages.iter().any(|a| (16..18).contains(a)));
        assert!(ages.iter().any(|a| *a >= 85) && ages.iter().all(|a| *a <= 95));
    }

    #[test]
    fn the_directory_has_every_role() {
        let d = directory(7);
        for role in [
            "gp",
            "assistant",
            "practice_nurse",
            "nurse",
            "physiotherapist",
            "coach",
            "medical_specialist",
            "locum_gp",
            "pharmacist",
            "privacy_officer",
            "administrator",
            "maintainer",
        ] {
            assert!(d.staff.iter().any(|s| s.role == role), "{role}");
        }
        let logins: HashSet<_> = d.staff.iter().map(|s| &s.login).collect();
        assert_eq!(logins.len(), d.staff.len(), "logins are unique");
    }

    #[test]
    fn a_hundred_patients_have_a_realistic_mix() {
        let d = directory(7);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..100 {
            for r in patient_record(7, i, &d, TODAY).resources {
                *counts
                    .entry(r["resourceType"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        for t in [
            "Patient",
            "Observation",
            "Condition",
            "MedicationRequest",
            "Encounter",
            "Appointment",
            "CareTeam",
            "DocumentReference",
            "Immunization",
            "AllergyIntolerance",
            "RelatedPerson",
        ] {
            assert!(counts.get(t).copied().unwrap_or(0) > 0, "{t}: {counts:?}");
        }
        assert_eq!(counts["Patient"], 100);
        let total: usize = counts.values().sum();
        assert!(
            (3000..12_000).contains(&total),
            "{total} resources for 100 patients"
        );
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"Zorgkluis"), "Wm9yZ2tsdWlz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }
}

#[cfg(test)]
mod validity {
    use super::*;

    #[test]
    fn every_generated_resource_is_valid_fhir_with_one_compartment() {
        let d = directory(3);
        let today = time::macros::date!(2026 - 11 - 23);
        for r in d
            .organisations
            .iter()
            .chain(&d.practitioners)
            .chain(&d.practitioner_roles)
        {
            assert!(zorgkluis_fhir::validate(r).is_ok(), "{r}");
        }
        for i in 0..150 {
            let rec = patient_record(3, i, &d, today);
            for r in &rec.resources {
                let rt = zorgkluis_fhir::validate(r).unwrap_or_else(|e| panic!("{e:?}: {r}"));
                let p = zorgkluis_fhir::compartment_patient(rt, r).unwrap();
                if zorgkluis_fhir::is_in_patient_compartment(rt) {
                    assert_eq!(p.as_deref(), Some(rec.patient_id.as_str()), "{r}");
                }
            }
        }
    }
}
