//! The organisations of the demo region and their staff.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::catalogue::{ORGANISATIONS, STAFF};
use crate::elements::*;

/// A member of staff in the demo directory: who logs in, in which role, for which
/// organisation, and the FHIR resources that describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Login name, e.g. `huisarts.jansen`. Unique in the directory.
    pub login: String,
    /// Role: `gp`, `assistant`, `practice_nurse`, `nurse`, `physiotherapist`, `coach`,
    /// `medical_specialist`, `locum_gp`, `pharmacist`, `privacy_officer`, `administrator`
    /// or `maintainer`. Also the code in `urn:zorgkluis:role` on the PractitionerRole.
    pub role: &'static str,
    /// Name as shown on screen, e.g. `Pieter de Vries`.
    pub display: String,
    /// Id of the Organization they work for.
    pub organisation_id: String,
    /// Id of their Practitioner resource.
    pub practitioner_id: String,
    /// Id of their PractitionerRole resource (practitioner, organisation and role).
    pub practitioner_role_id: String,
}

/// The organisations of the demo region and their staff, as FHIR resources and as
/// logins.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Organization resources: a GP practice, a physiotherapy practice, a care/coaching
    /// organisation (WMO, Jeugdwet), a hospital outpatient clinic, a pharmacy and an
    /// out-of-hours GP post. `type[0].coding[0]` has the kind in
    /// `urn:zorgkluis:organisation-kind` (`gp_practice`, `physio_practice`,
    /// `care_organisation`, `hospital_clinic`, `pharmacy`, `gp_post`).
    pub organisations: Vec<Value>,
    /// Practitioner resources, one per member of staff.
    pub practitioners: Vec<Value>,
    /// PractitionerRole resources, one per member of staff.
    pub practitioner_roles: Vec<Value>,
    /// The staff, in the same order as `practitioners` and `practitioner_roles`.
    pub staff: Vec<StaffMember>,
}

impl Directory {
    /// The id of the organisation of this kind (e.g. `gp_practice`), if there is one.
    pub fn organisation_id(&self, kind: &str) -> Option<&str> {
        self.organisations
            .iter()
            .find(|o| o["type"][0]["coding"][0]["code"] == kind)
            .and_then(|o| o["id"].as_str())
    }

    /// The staff with this role, in directory order.
    pub fn staff_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a StaffMember> {
        self.staff.iter().filter(move |s| s.role == role)
    }
}

/// SNOMED CT occupation codes, where one fits the role well.
fn snomed_occupation(role: &str) -> Option<(&'static str, &'static str)> {
    match role {
        "gp" | "locum_gp" => Some(("62247001", "General practitioner")),
        "physiotherapist" => Some(("36682004", "Physiotherapist")),
        "pharmacist" => Some(("46255001", "Pharmacist")),
        "nurse" => Some(("224535009", "Registered nurse")),
        "medical_specialist" => Some(("309343006", "Physician")),
        _ => None,
    }
}

/// Roles registered in the BIG register (and so with a BIG number).
fn big_registered(role: &str) -> bool {
    matches!(
        role,
        "gp" | "locum_gp"
            | "medical_specialist"
            | "nurse"
            | "practice_nurse"
            | "physiotherapist"
            | "pharmacist"
    )
}

/// The organisations and staff of the demo region, deterministic in `seed`. Names and
/// logins are the same for every seed (so demo instructions can name them); ids and
/// registration numbers follow the seed.
pub fn directory(seed: u64) -> Directory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5A5A_D1EC_7081_0000);
    let mut organisations = Vec::with_capacity(ORGANISATIONS.len());
    for org in ORGANISATIONS {
        let id = uuid(&mut rng);
        let mut identifiers = Vec::with_capacity(2);
        if let Some(prefix) = org.agb_prefix {
            identifiers.push(obj([
                ("system", s(AGB)),
                (
                    "value",
                    Value::String(format!("{prefix}{}", digits(&mut rng, 6))),
                ),
            ]));
        }
        if org.ura {
            identifiers.push(obj([
                ("system", s(URA)),
                ("value", Value::String(format!("9{}", digits(&mut rng, 7)))),
            ]));
        }
        organisations.push(obj([
            ("resourceType", s("Organization")),
            ("id", Value::String(id)),
            ("identifier", Value::Array(identifiers)),
            ("active", Value::Bool(true)),
            (
                "type",
                arr([obj([
                    (
                        "coding",
                        arr([
                            coding(LOCAL_ORGANISATION_KIND, org.kind, org.kind),
                            coding(
                                "http://terminology.hl7.org/CodeSystem/organization-type",
                                "prov",
                                "Healthcare Provider",
                            ),
                        ]),
                    ),
                    ("text", s(org.name)),
                ])]),
            ),
            ("name", s(org.name)),
            (
                "telecom",
                arr([
                    obj([
                        ("system", s("phone")),
                        (
                            "value",
                            Value::String(format!("0341-{}", digits(&mut rng, 6))),
                        ),
                        ("use", s("work")),
                    ]),
                    obj([
                        ("system", s("email")),
                        ("value", s(org.email)),
                        ("use", s("work")),
                    ]),
                ]),
            ),
            (
                "address",
                arr([obj([
                    ("use", s("work")),
                    ("line", arr([s(org.street)])),
                    ("city", s(org.city)),
                    ("postalCode", s(org.postal_code)),
                    ("country", s("NL")),
                ])]),
            ),
        ]));
    }

    let mut d = Directory {
        organisations,
        practitioners: Vec::with_capacity(STAFF.len()),
        practitioner_roles: Vec::with_capacity(STAFF.len()),
        staff: Vec::with_capacity(STAFF.len()),
    };
    for spec in STAFF {
        let org = d.organisation_id(spec.org).unwrap_or_default().to_owned();
        let (pid, rid) = (uuid(&mut rng), uuid(&mut rng));
        let display = format!("{} {}", spec.given, spec.family);
        let login = format!("{}.{}", spec.login_prefix, ascii(spec.family));
        let mut identifiers = Vec::with_capacity(2);
        if big_registered(spec.role) {
            identifiers.push(obj([
                ("system", s(BIG)),
                ("value", Value::String(digits(&mut rng, 11))),
            ]));
        }
        let agb_prefix = match spec.role {
            "gp" | "locum_gp" => Some("01"),
            "physiotherapist" => Some("04"),
            _ => None,
        };
        if let Some(prefix) = agb_prefix {
            identifiers.push(obj([
                ("system", s(AGB)),
                (
                    "value",
                    Value::String(format!("{prefix}{}", digits(&mut rng, 6))),
                ),
            ]));
        }
        let org_email = ORGANISATIONS
            .iter()
            .find(|o| o.kind == spec.org)
            .map_or("zorg.voorbeeld.nl", |o| {
                o.email.split('@').nth(1).unwrap_or("zorg.voorbeeld.nl")
            });
        d.practitioners.push(obj([
            ("resourceType", s("Practitioner")),
            ("id", s(&pid)),
            ("identifier", Value::Array(identifiers)),
            ("active", Value::Bool(true)),
            (
                "name",
                arr([obj([
                    ("use", s("official")),
                    ("text", s(&display)),
                    ("family", s(spec.family)),
                    ("given", arr([s(spec.given)])),
                ])]),
            ),
            (
                "telecom",
                arr([obj([
                    ("system", s("email")),
                    (
                        "value",
                        Value::String(format!(
                            "{}.{}@{org_email}",
                            ascii(spec.given),
                            ascii(spec.family)
                        )),
                    ),
                    ("use", s("work")),
                ])]),
            ),
            ("gender", s(if spec.female { "female" } else { "male" })),
        ]));
        let mut codings = vec![coding(LOCAL_ROLE, spec.role, spec.title)];
        if let Some((code, display)) = snomed_occupation(spec.role) {
            codings.push(coding(SNOMED, code, display));
        }
        d.practitioner_roles.push(obj([
            ("resourceType", s("PractitionerRole")),
            ("id", s(&rid)),
            ("active", Value::Bool(true)),
            ("period", obj([("start", s("2015-01-01"))])),
            (
                "practitioner",
                reference_display("Practitioner", &pid, &display),
            ),
            ("organization", reference("Organization", &org)),
            (
                "code",
                arr([obj([
                    ("coding", Value::Array(codings)),
                    ("text", s(spec.title)),
                ])]),
            ),
        ]));
        d.staff.push(StaffMember {
            login,
            role: spec.role,
            display,
            organisation_id: org,
            practitioner_id: pid,
            practitioner_role_id: rid,
        });
    }
    d
}
