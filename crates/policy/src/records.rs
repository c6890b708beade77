//! Reading the facts the policy needs from the patient's versioned FHIR records: care
//! teams (CareTeam), representations (RelatedPerson) and privacy directives (Consent).
//! Keeping them as FHIR resources keeps their history (every change is a version).
//!
//! Directives are Consent resources with scope `patient-privacy` and one category from
//! [`DIRECTIVE_SYSTEM`]:
//!
//! | code | meaning | status / provision |
//! |---|---|---|
//! | `health-log-link` | PC-2 link of the health log with `organization[0]` | `proposed` asked, `active` accepted, `rejected` declined, `inactive` revoked |
//! | `regional-exchange` | GP-10 objection to the regional exchange | `active`, `provision.type = deny` |
//! | `national-exchange` | GP-11 LSP/Mitz consent (`permit`) or objection (`deny`); data holder `organization[0]` (absent: all), consulting category in `provision.code` ([`CONSULTING_SYSTEM`], absent: all); `performer` who gave it | `active` |
//! | `treatment` | PT-3 / WGBO consent to treatment at `organization[0]`, `performer` who gave it | `active` |
//! | `shielded` | CO-13 dossier shielded after an erasure request | `active` |
//! | `legal-hold` | CO-13 legal hold recorded by the privacy officer | `active` |

use serde_json::Value;
use time::Date;

use crate::facts::{
    Directive, ExchangeScope, GivenBy, LinkStatus, Membership, PatientFacts, Period, Principal,
    Representation, RepresentativeKind,
};
use crate::model::{Categories, Category, ConsultingCategory, OrgKind, CLINICAL};

/// CodeSystem of the directive kinds (Consent.category).
pub const DIRECTIVE_SYSTEM: &str = "urn:zorgkluis:directive";
/// CodeSystem of Mitz consulting categories (Consent.provision.code).
pub const CONSULTING_SYSTEM: &str = "urn:zorgkluis:consulting-category";
/// CodeSystem of representation kinds (RelatedPerson.relationship).
pub const REPRESENTATION_SYSTEM: &str = "urn:zorgkluis:representation";
/// Extension on RelatedPerson with the representation's scope (comma-separated category
/// codes; absent: everything a representative may see).
pub const REPRESENTATION_SCOPE_URL: &str = "urn:zorgkluis:representation-scope";

/// The resource types facts are read from.
pub const FACT_TYPES: [&str; 4] = ["Patient", "CareTeam", "RelatedPerson", "Consent"];

/// What a representative sees when the RelatedPerson records no narrower scope.
pub const DEFAULT_REPRESENTATION_SCOPE: Categories = CLINICAL.with(Categories::of(&[
    Category::Messages,
    Category::Administrative,
    Category::HealthLog,
]));

/// An organisation's kind and region, as the directory knows it.
pub type OrgLookup<'a> = dyn Fn(&str) -> Option<(OrgKind, Option<String>)> + 'a;

fn date(v: Option<&Value>) -> Option<Date> {
    let s = v?.as_str()?;
    let s = s.get(..10)?;
    Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

fn period(v: Option<&Value>) -> Period {
    Period {
        start: date(v.and_then(|p| p.get("start"))),
        end: date(v.and_then(|p| p.get("end"))),
    }
}

fn intersect(a: Period, b: Period) -> Period {
    Period {
        start: match (a.start, b.start) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
        end: match (a.end, b.end) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
    }
}

/// `Type/id` of a reference, if it is a local one.
fn reference_id<'v>(v: Option<&'v Value>, rtype: &str) -> Option<&'v str> {
    let r = v?.get("reference")?.as_str()?;
    let (t, id) = r.rsplit_once('/')?;
    let t = t.rsplit('/').next()?;
    (t == rtype).then_some(id)
}

fn codings(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c.get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

fn code_in<'v>(v: Option<&'v Value>, system: &str) -> Option<&'v str> {
    codings(v)
        .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
        .and_then(|c| c.get("code").and_then(Value::as_str))
}

fn membership_list(team: &Value) -> Vec<Membership> {
    let active = team.get("status").and_then(Value::as_str) == Some("active");
    let team_period = period(team.get("period"));
    let managing = team
        .get("managingOrganization")
        .and_then(Value::as_array)
        .and_then(|a| reference_id(a.first(), "Organization"));
    let mut out = Vec::new();
    for p in team
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(practitioner) = reference_id(p.get("member"), "Practitioner") else {
            continue;
        };
        let Some(org) = reference_id(p.get("onBehalfOf"), "Organization").or(managing) else {
            continue;
        };
        out.push(Membership {
            practitioner_id: practitioner.to_owned(),
            organisation_id: org.to_owned(),
            period: intersect(team_period, period(p.get("period"))),
            active,
        });
    }
    out
}

fn representation(rp: &Value) -> Option<Representation> {
    let id = rp.get("id")?.as_str()?;
    let relationship = rp.get("relationship");
    let kind = match code_in(relationship, REPRESENTATION_SYSTEM) {
        Some("parent") => RepresentativeKind::Parent,
        Some("guardian") => RepresentativeKind::Guardian,
        Some("curator") => RepresentativeKind::Curator,
        Some("mentor") => RepresentativeKind::Mentor,
        Some("authorised") => RepresentativeKind::Authorised,
        _ => {
            let v3 = code_in(
                relationship,
                "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
            )?;
            let text = relationship
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|c| c.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            match v3 {
                "MTH" | "FTH" | "PRN" | "NPRN" | "NMTH" | "NFTH" | "ADOPTP" | "STPPRN" => {
                    RepresentativeKind::Parent
                }
                "GUARD" if text.contains("curator") => RepresentativeKind::Curator,
                "GUARD" if text.contains("mentor") => RepresentativeKind::Mentor,
                "GUARD" => RepresentativeKind::Guardian,
                "POWATT" | "HPOWATT" | "DPOWATT" | "SPOWATT" => RepresentativeKind::Authorised,
                _ => return None,
            }
        }
    };
    let scope = rp
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(REPRESENTATION_SCOPE_URL))
        .and_then(|e| e.get("valueString").and_then(Value::as_str))
        .map_or(Some(DEFAULT_REPRESENTATION_SCOPE), Categories::parse_list)
        // An unreadable scope grants nothing rather than everything.
        .unwrap_or(Categories::NONE);
    Some(Representation {
        related_person_id: id.to_owned(),
        kind,
        scope,
        period: period(rp.get("period")),
        active: rp.get("active").and_then(Value::as_bool).unwrap_or(true),
    })
}

fn given_by(consent: &Value) -> Vec<GivenBy> {
    consent
        .get("performer")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            if reference_id(Some(p), "Patient").is_some() {
                Some(GivenBy::Patient)
            } else {
                reference_id(Some(p), "RelatedPerson").map(|r| GivenBy::Representative(r.into()))
            }
        })
        .collect()
}

fn consulting(code: &str) -> Option<ConsultingCategory> {
    Some(match code {
        "gp_and_posts" => ConsultingCategory::GpAndPosts,
        "hospitals" => ConsultingCategory::Hospitals,
        "mental_health" => ConsultingCategory::MentalHealth,
        "nursing_and_care" => ConsultingCategory::NursingAndCare,
        "pharmacies" => ConsultingCategory::Pharmacies,
        "laboratories" => ConsultingCategory::Laboratories,
        _ => return None,
    })
}

/// The directive a Consent records, if it is one in force (or a link at any stage).
pub fn directive(consent: &Value) -> Option<Directive> {
    let kind = code_in(consent.get("category"), DIRECTIVE_SYSTEM)?;
    let status = consent.get("status").and_then(Value::as_str)?;
    let organisation = consent
        .get("organization")
        .and_then(Value::as_array)
        .and_then(|a| reference_id(a.first(), "Organization"))
        .map(str::to_owned);
    let permit = consent.pointer("/provision/type").and_then(Value::as_str) != Some("deny");
    if kind == "health-log-link" {
        let status = match status {
            "proposed" | "draft" => LinkStatus::Requested,
            "active" => LinkStatus::Accepted,
            "rejected" => LinkStatus::Declined,
            _ => LinkStatus::Revoked,
        };
        return Some(Directive::HealthLogLink {
            organisation_id: organisation?,
            status,
        });
    }
    if status != "active" {
        return None;
    }
    match kind {
        "regional-exchange" if !permit => Some(Directive::RegionalObjection),
        "national-exchange" => {
            let consulting = match consent.pointer("/provision/code") {
                None => None,
                Some(c) => Some(consulting(code_in(Some(c), CONSULTING_SYSTEM)?)?),
            };
            Some(Directive::NationalExchange {
                permit,
                scope: ExchangeScope {
                    data_holder: organisation,
                    consulting,
                },
                given_by: given_by(consent),
            })
        }
        "treatment" if permit => Some(Directive::TreatmentConsent {
            organisation_id: organisation?,
            given_by: given_by(consent),
        }),
        "shielded" => Some(Directive::Shielded),
        "legal-hold" => Some(Directive::LegalHold),
        _ => None,
    }
}

/// The facts about `patient_id` from the current versions of its Patient, CareTeam,
/// RelatedPerson and Consent resources. `orgs` tells an organisation's kind and region
/// (to find the patient's GP practice and its region).
pub fn patient_facts(patient_id: &str, resources: &[Value], orgs: &OrgLookup<'_>) -> PatientFacts {
    let mut facts = PatientFacts {
        patient_id: patient_id.to_owned(),
        ..PatientFacts::default()
    };
    for r in resources {
        match r.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => {
                facts.registered = true;
                facts.birth_date = date(r.get("birthDate"));
            }
            Some("CareTeam") => facts.memberships.extend(membership_list(r)),
            Some("RelatedPerson") => facts.representatives.extend(representation(r)),
            Some("Consent") => facts.directives.extend(directive(r)),
            _ => {}
        }
    }
    // The patient's GP practice: the organisation of an active membership that is a GP
    // practice (the earliest-listed one when there are several).
    for m in facts.memberships.iter().filter(|m| m.active) {
        if let Some((OrgKind::GpPractice, region)) = orgs(&m.organisation_id) {
            facts.gp_practice = Some(m.organisation_id.clone());
            facts.home_region = region;
            break;
        }
    }
    facts
}

/// PC-2: who may put a health-log link into which state. The decision point decides on
/// categories; a link is an administrative record (a Consent) whose *content* carries the
/// promise, so every write of one is also checked here, with the version before it:
///
/// - the patient (or a representative) asks for a link (`proposed`), asks again after a
///   decline or a revocation, or ends it (`inactive`) at any time; never accepts it;
/// - a member of staff answers a pending request addressed to their own organisation
///   (`proposed` → `active` or `rejected`) and nothing else: no new links, no revived ones,
///   no other organisation's;
/// - system clients do not write links; operator tools (import, migration) may.
///
/// Writes of other resources, and of Consents that are not health-log links before or
/// after, pass.
pub fn check_link_change(
    principal: &Principal,
    before: Option<&Value>,
    after: &Value,
) -> Result<(), crate::Basis> {
    let link = |v: &Value| match directive(v) {
        Some(Directive::HealthLogLink {
            organisation_id,
            status,
        }) => Some((organisation_id, status)),
        _ => None,
    };
    let was_link = before
        .is_some_and(|b| code_in(b.get("category"), DIRECTIVE_SYSTEM) == Some("health-log-link"));
    let is_link = code_in(after.get("category"), DIRECTIVE_SYSTEM) == Some("health-log-link");
    if !was_link && !is_link {
        return Ok(());
    }
    let refuse = |rule: &'static str| crate::Basis {
        policy: crate::POLICY_ID,
        rule,
        authorisation_checked: true,
        relationship_checked: false,
        consent_checked: true,
        emergency: false,
        consent_profile: "none",
        purpose: "TREAT",
    };
    let old = before.and_then(link);
    let Some((org, status)) = link(after) else {
        return Err(refuse(
            "PC-2 a health-log link names the organisation and a known status",
        ));
    };
    if was_link && old.is_none() || before.is_some() && !was_link {
        return Err(refuse(
            "PC-2 a consent cannot become or stop being a health-log link",
        ));
    }
    if let Some((old_org, _)) = &old {
        if *old_org != org {
            return Err(refuse(
                "PC-2 a health-log link cannot move to another organisation",
            ));
        }
    }
    let old_status = old.map(|(_, s)| s);
    match principal {
        Principal::Operator { .. } => Ok(()),
        Principal::Patient { .. } | Principal::Representative { .. } => match status {
            LinkStatus::Requested | LinkStatus::Revoked => Ok(()),
            _ if old_status == Some(status) => Ok(()),
            _ => Err(refuse("PC-2 only the provider accepts or declines a link")),
        },
        Principal::Staff(s) => {
            if s.organisation.id != org {
                return Err(refuse(
                    "PC-2 a provider answers only link requests addressed to its own organisation",
                ));
            }
            match (old_status, status) {
                (Some(LinkStatus::Requested), LinkStatus::Accepted | LinkStatus::Declined) => {
                    Ok(())
                }
                (Some(a), b) if a == b => Ok(()),
                (None, _) => Err(refuse("PC-2 only the patient asks for a link")),
                _ => Err(refuse(
                    "PC-2 a provider only answers a pending request; a revoked link stays revoked",
                )),
            }
        }
        Principal::System(_) => Err(refuse("PC-2 system clients do not write health-log links")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn care_team_members_representatives_and_directives_are_read() {
        let resources = vec![
            json!({"resourceType": "Patient", "id": "p", "birthDate": "2012-05-01"}),
            json!({"resourceType": "CareTeam", "status": "active", "period": {"start": "2020-01-01"},
                "managingOrganization": [{"reference": "Organization/gp"}],
                "participant": [{"member": {"reference": "Practitioner/dr"}, "period": {"end": "2030-01-01"}}]}),
            json!({"resourceType": "RelatedPerson", "id": "mum",
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}]}),
            json!({"resourceType": "RelatedPerson", "id": "cur",
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "GUARD"}], "text": "curator"}],
                "extension": [{"url": REPRESENTATION_SCOPE_URL, "valueString": "demographics,appointments"}]}),
            json!({"resourceType": "Consent", "status": "active",
                "category": [{"coding": [{"system": DIRECTIVE_SYSTEM, "code": "regional-exchange"}]}],
                "provision": {"type": "deny"}}),
            json!({"resourceType": "Consent", "status": "active",
                "category": [{"coding": [{"system": DIRECTIVE_SYSTEM, "code": "national-exchange"}]}],
                "organization": [{"reference": "Organization/gp"}],
                "performer": [{"reference": "Patient/p"}, {"reference": "RelatedPerson/mum"}],
                "provision": {"type": "permit", "code": [{"coding": [{"system": CONSULTING_SYSTEM, "code": "gp_and_posts"}]}]}}),
            json!({"resourceType": "Consent", "status": "inactive",
                "category": [{"coding": [{"system": DIRECTIVE_SYSTEM, "code": "health-log-link"}]}],
                "organization": [{"reference": "Organization/physio"}]}),
        ];
        let orgs = |id: &str| (id == "gp").then(|| (OrgKind::GpPractice, Some("nv".to_owned())));
        let f = patient_facts("p", &resources, &orgs);
        assert_eq!(f.birth_date.map(|d| d.year()), Some(2012));
        assert_eq!(f.memberships.len(), 1);
        assert_eq!(f.memberships[0].organisation_id, "gp");
        assert!(f.memberships[0].period.start.is_some() && f.memberships[0].period.end.is_some());
        assert_eq!(f.gp_practice.as_deref(), Some("gp"));
        assert_eq!(f.home_region.as_deref(), Some("nv"));
        assert_eq!(f.representatives[0].kind, RepresentativeKind::Parent);
        assert_eq!(f.representatives[1].kind, RepresentativeKind::Curator);
        assert!(!f.representatives[1].scope.contains(Category::Results));
        assert!(f.directives.contains(&Directive::RegionalObjection));
        assert!(f.directives.contains(&Directive::NationalExchange {
            permit: true,
            scope: ExchangeScope {
                data_holder: Some("gp".into()),
                consulting: Some(ConsultingCategory::GpAndPosts)
            },
            given_by: vec![GivenBy::Patient, GivenBy::Representative("mum".into())],
        }));
        assert!(f.directives.contains(&Directive::HealthLogLink {
            organisation_id: "physio".into(),
            status: LinkStatus::Revoked
        }));
    }

    #[test]
    fn an_unreadable_representation_scope_grants_nothing() {
        let rp = json!({"resourceType": "RelatedPerson", "id": "x",
            "relationship": [{"coding": [{"system": REPRESENTATION_SYSTEM, "code": "mentor"}]}],
            "extension": [{"url": REPRESENTATION_SCOPE_URL, "valueString": "everything-please"}]});
        let r = representation(&rp);
        assert_eq!(r.map(|r| r.scope), Some(Categories::NONE));
    }
}
