//! `zorgkluis bench policy`: decisions per second on one core, and the time one decision
//! takes (the part the decision adds to an audited read), over a mix of principals,
//! actions and patients with care teams, representatives and directives.

use std::time::{Duration, Instant};

use zorgkluis_domain::{Actor, FunctionalRole};
use zorgkluis_policy::{
    decide, Action, Category, Context, Directive, LinkStatus, Membership, OrgKind, Organisation,
    PatientFacts, Period, Principal, Representation, RepresentativeKind, Rights, Staff, StaffRole,
    Target,
};

fn actor(id: &str) -> Actor {
    Actor {
        user_id: id.into(),
        role: FunctionalRole::DirectlyInvolved,
        role_name: "bench".into(),
        display: None,
        organisation: None,
        access_point: "127.0.0.1".into(),
        on_behalf_of: None,
    }
}

fn staff(i: usize, role: StaffRole, kind: OrgKind, org: &str) -> Principal {
    Principal::Staff(Box::new(Staff {
        actor: actor(&format!("u-{i}")),
        role,
        organisation: Organisation {
            id: org.into(),
            kind,
            region: Some("noord-veluwe".into()),
            parental_consent_below: (kind == OrgKind::PhysioPractice).then_some(18),
            locum_for: vec![],
        },
        practitioner_id: Some(format!("pr-{}", i % 8)),
        rights: Rights::role_default(role),
        confidentiality_accepted: true,
        grants: vec![],
    }))
}

pub fn run(decisions: u32) {
    let today = time::OffsetDateTime::now_utc();
    let ctx = Context {
        today: today.date(),
        now: today.unix_timestamp(),
        emergency_reason: None,
    };
    let principals = [
        staff(0, StaffRole::Gp, OrgKind::GpPractice, "gp"),
        staff(1, StaffRole::Assistant, OrgKind::GpPractice, "gp"),
        staff(2, StaffRole::Pharmacist, OrgKind::Pharmacy, "pharmacy"),
        staff(3, StaffRole::LocumGp, OrgKind::GpPost, "post"),
        staff(
            4,
            StaffRole::Physiotherapist,
            OrgKind::PhysioPractice,
            "physio",
        ),
        staff(9, StaffRole::Gp, OrgKind::GpPractice, "gp"),
        Principal::Patient {
            actor: actor("p"),
            patient_id: "patient-3".into(),
        },
        Principal::Representative {
            actor: actor("r"),
            represents: vec![("patient-5".into(), "rp-5".into())],
        },
    ];
    let facts: Vec<PatientFacts> = (0..16)
        .map(|p| PatientFacts {
            registered: true,
            patient_id: format!("patient-{p}"),
            birth_date: Some(today.date() - time::Duration::days(365 * (p as i64 * 5 + 1))),
            memberships: (0..4)
                .map(|m| Membership {
                    practitioner_id: format!("pr-{}", (p + m) % 8),
                    organisation_id: if m % 2 == 0 {
                        "gp".into()
                    } else {
                        "physio".into()
                    },
                    period: Period::ALWAYS,
                    active: true,
                })
                .collect(),
            representatives: vec![Representation {
                related_person_id: format!("rp-{p}"),
                kind: if p < 3 {
                    RepresentativeKind::Parent
                } else {
                    RepresentativeKind::Mentor
                },
                scope: zorgkluis_policy::records::DEFAULT_REPRESENTATION_SCOPE,
                period: Period::ALWAYS,
                active: true,
            }],
            directives: vec![
                Directive::HealthLogLink {
                    organisation_id: "gp".into(),
                    status: LinkStatus::Accepted,
                },
                if p % 3 == 0 {
                    Directive::RegionalObjection
                } else {
                    Directive::LegalHold
                },
            ],
            emergencies: vec![],
            gp_practice: Some("gp".into()),
            home_region: Some("noord-veluwe".into()),
        })
        .collect();
    let actions = [Action::Read, Action::Search, Action::Update, Action::Create];
    let categories = Category::ALL;
    let mut allowed = 0u64;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(decisions as usize / 64 + 1);
    let mut batch_start = Instant::now();
    for i in 0..decisions as usize {
        let d = decide(
            &principals[i % principals.len()],
            actions[(i / 7) % actions.len()],
            Target::Record {
                facts: &facts[(i / 3) % facts.len()],
                resource_type: "Observation",
                category: categories[(i / 11) % categories.len()],
            },
            &ctx,
        );
        allowed += u64::from(d.allowed());
        if i % 64 == 63 {
            samples.push(batch_start.elapsed() / 64);
            batch_start = Instant::now();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    samples.sort();
    let pct = |p: f64| -> Duration {
        samples
            .get(((samples.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{decisions} decisions on one thread in {secs:.2} s: {:.0} decisions/s ({allowed} allowed)",
        f64::from(decisions) / secs
    );
    println!(
        "time per decision (mean over batches of 64): p50 {:?}, p99 {:?}, max {:?}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
