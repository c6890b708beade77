//! A second, deliberately plain statement of the access rules, and property tests that
//! generate random organisations, people, care teams, representations, consents,
//! objections, ages and resources and check that the decision point agrees with it on
//! every case. Removing or weakening any rule in `src/decide.rs` makes these fail.

use proptest::prelude::*;
use time::{Date, Duration, Month};
use zorgkluis_domain::{Actor, FunctionalRole};
use zorgkluis_policy::model::{CLINICAL, NATIONAL_SUMMARY, REGIONAL_EXCHANGE};
use zorgkluis_policy::*;

// ----------------------------------------------------------------------------------------
// The reference model: yes/no only, one question at a time.

fn age(facts: &PatientFacts, today: Date) -> Option<i32> {
    let b = facts.birth_date?;
    let mut years = today.year() - b.year();
    let before_birthday = (today.month() as u8) < (b.month() as u8)
        || ((today.month() as u8) == (b.month() as u8) && today.day() < b.day());
    if before_birthday {
        years -= 1;
    }
    Some(years)
}

fn in_period(p: &Period, day: Date) -> bool {
    let after_start = match p.start {
        Some(s) => day >= s,
        None => true,
    };
    let before_end = match p.end {
        Some(e) => day <= e,
        None => true,
    };
    after_start && before_end
}

fn is_reading(a: Action) -> bool {
    a == Action::Read || a == Action::Search
}

fn rights_allow(r: &Rights, a: Action, c: Category) -> bool {
    match a {
        Action::Read | Action::Search | Action::Export => r.read.contains(c),
        Action::Create => r.enter.contains(c),
        Action::Update => r.change.contains(c),
        Action::Delete => r.delete.contains(c),
        _ => false,
    }
}

fn shielded(f: &PatientFacts) -> bool {
    f.directives.contains(&Directive::Shielded)
}

fn a_parent(f: &PatientFacts, rp: &str, today: Date) -> bool {
    for r in &f.representatives {
        let parent_kind =
            r.kind == RepresentativeKind::Parent || r.kind == RepresentativeKind::Guardian;
        if r.related_person_id == rp && parent_kind && r.active && in_period(&r.period, today) {
            return true;
        }
    }
    false
}

fn parent_among(f: &PatientFacts, by: &[GivenBy], today: Date) -> bool {
    for g in by {
        if let GivenBy::Representative(rp) = g {
            if a_parent(f, rp, today) {
                return true;
            }
        }
    }
    false
}

fn patient_among(by: &[GivenBy]) -> bool {
    by.contains(&GivenBy::Patient)
}

/// WGBO: under 12 a parent consents, 12–15 parent and child, 16+ the patient.
fn consent_valid(f: &PatientFacts, by: &[GivenBy], today: Date) -> bool {
    match age(f, today) {
        Some(a) if a < 12 => parent_among(f, by, today),
        Some(a) if a < 16 => parent_among(f, by, today) && patient_among(by),
        _ => patient_among(by),
    }
}

fn mitz_permits(f: &PatientFacts, consulting: ConsultingCategory, today: Date) -> bool {
    // Collect (specificity, permit) of every matching, valid directive.
    let mut matching: Vec<(u8, bool)> = Vec::new();
    for d in &f.directives {
        if let Directive::NationalExchange {
            permit,
            scope,
            given_by,
        } = d
        {
            let holder_ok = match &scope.data_holder {
                None => true,
                Some(h) => f.gp_practice.as_deref() == Some(h.as_str()),
            };
            let consulting_ok = match scope.consulting {
                None => true,
                Some(c) => c == consulting,
            };
            if !holder_ok || !consulting_ok {
                continue;
            }
            if *permit && !consent_valid(f, given_by, today) {
                continue;
            }
            let specificity = scope.data_holder.is_some() as u8 + scope.consulting.is_some() as u8;
            matching.push((specificity, *permit));
        }
    }
    let Some(top) = matching.iter().map(|m| m.0).max() else {
        return false;
    };
    let at_top: Vec<bool> = matching
        .iter()
        .filter(|m| m.0 == top)
        .map(|m| m.1)
        .collect();
    at_top.iter().all(|p| *p)
}

fn staff_may(s: &Staff, a: Action, f: &PatientFacts, c: Category, ctx: &Context) -> bool {
    if c == Category::PersonalNote {
        return false;
    }
    let role = s.role;
    if role == StaffRole::Administrator || role == StaffRole::Maintainer {
        let grant = s
            .grants
            .iter()
            .any(|g| g.patient_id == f.patient_id && ctx.now <= g.until);
        return grant && is_reading(a) && !shielded(f);
    }
    if role == StaffRole::PrivacyOfficer {
        if a == Action::ReadAudit {
            return true;
        }
        let hold = f.directives.contains(&Directive::LegalHold);
        return is_reading(a) && shielded(f) && hold;
    }
    if shielded(f) {
        return false;
    }
    if a == Action::BreakGlass {
        let physician_or_nurse = matches!(
            role,
            StaffRole::Gp
                | StaffRole::LocumGp
                | StaffRole::MedicalSpecialist
                | StaffRole::Nurse
                | StaffRole::PracticeNurse
        );
        let reason = ctx
            .emergency_reason
            .map(|r| r.trim().chars().count())
            .unwrap_or(0);
        return physician_or_nurse && reason >= 10;
    }
    if matches!(
        a,
        Action::ReadAudit
            | Action::ShredKey
            | Action::RotateKeys
            | Action::Backup
            | Action::ManageAccounts
    ) {
        return false;
    }

    // Ground 0: registering a patient whose record does not exist yet.
    if !f.registered
        && a == Action::Create
        && c != Category::HealthLog
        && s.rights.enter.contains(c)
    {
        return true;
    }

    // Ground 1: care team at own organisation.
    let mut in_team = false;
    if let Some(me) = &s.practitioner_id {
        for m in &f.memberships {
            if m.active
                && &m.practitioner_id == me
                && m.organisation_id == s.organisation.id
                && in_period(&m.period, ctx.today)
            {
                in_team = true;
            }
        }
    }
    if in_team {
        let mut minor_ok = true;
        if let Some(below) = s.organisation.parental_consent_below {
            if let Some(a) = age(f, ctx.today) {
                if a < below as i32 {
                    minor_ok = false;
                    for d in &f.directives {
                        if let Directive::TreatmentConsent {
                            organisation_id,
                            given_by,
                        } = d
                        {
                            if *organisation_id == s.organisation.id {
                                let child_too = !(12..16).contains(&a) || patient_among(given_by);
                                if parent_among(f, given_by, ctx.today) && child_too {
                                    minor_ok = true;
                                }
                            }
                        }
                    }
                }
            }
        }
        if minor_ok {
            if c == Category::HealthLog {
                let linked = f.directives.iter().any(|d| {
                    *d == Directive::HealthLogLink {
                        organisation_id: s.organisation.id.clone(),
                        status: LinkStatus::Accepted,
                    }
                });
                if linked && is_reading(a) {
                    return true;
                }
            } else if rights_allow(&s.rights, a, c) {
                return true;
            }
        }
    }

    // Ground 2: locum arrangement with the patient's practice.
    if role == StaffRole::LocumGp {
        if let Some(practice) = &f.gp_practice {
            let covered = s
                .organisation
                .locum_for
                .iter()
                .any(|l| &l.practice == practice && in_period(&l.period, ctx.today));
            if covered && c != Category::HealthLog && rights_allow(&s.rights, a, c) {
                return true;
            }
        }
    }

    // Ground 3: emergency access in force.
    let physician_or_nurse = matches!(
        role,
        StaffRole::Gp
            | StaffRole::LocumGp
            | StaffRole::MedicalSpecialist
            | StaffRole::Nurse
            | StaffRole::PracticeNurse
    );
    if physician_or_nurse && is_reading(a) && CLINICAL.contains(c) {
        for e in &f.emergencies {
            if e.user_id == s.actor.user_id && ctx.now <= e.until {
                return true;
            }
        }
    }

    // Ground 4: regional exchange.
    let in_exchange = (s.organisation.kind == OrgKind::Pharmacy && role == StaffRole::Pharmacist)
        || (s.organisation.kind == OrgKind::GpPost
            && (role == StaffRole::LocumGp || role == StaffRole::Gp));
    let same_region = s.organisation.region.is_some() && s.organisation.region == f.home_region;
    let objected = f.directives.contains(&Directive::RegionalObjection);
    if in_exchange
        && same_region
        && is_reading(a)
        && REGIONAL_EXCHANGE.contains(c)
        && s.rights.read.contains(c)
        && !objected
    {
        return true;
    }

    // Ground 5: national exchange after opt-in.
    if (role == StaffRole::Gp || role == StaffRole::LocumGp)
        && is_reading(a)
        && NATIONAL_SUMMARY.contains(c)
        && s.rights.read.contains(c)
        && mitz_permits(f, s.organisation.kind.consulting_category(), ctx.today)
    {
        return true;
    }
    false
}

/// PT-3 in plain words: below the organisation's age, a parent's treatment consent for
/// that organisation (from 12 to 15 the child's as well).
fn minors_rule_met(org: &Organisation, f: &PatientFacts, today: Date) -> bool {
    let Some(below) = org.parental_consent_below else {
        return true;
    };
    let Some(a) = age(f, today) else {
        return true;
    };
    if a >= below as i32 {
        return true;
    }
    for d in &f.directives {
        if let Directive::TreatmentConsent {
            organisation_id,
            given_by,
        } = d
        {
            if *organisation_id == org.id {
                let child_too = !(12..16).contains(&a) || patient_among(given_by);
                if parent_among(f, given_by, today) && child_too {
                    return true;
                }
            }
        }
    }
    false
}

/// GP-9: a system client of organisation X: records of patients in care at X (anyone of
/// X in an active care team), read/search/export/create/update, never personal notes,
/// the health log only read through an accepted link, never a shielded dossier.
fn system_client_may(
    c: &SystemClient,
    a: Action,
    f: &PatientFacts,
    cat: Category,
    ctx: &Context,
) -> bool {
    if cat == Category::PersonalNote {
        return false;
    }
    if !matches!(
        a,
        Action::Read | Action::Search | Action::Export | Action::Create | Action::Update
    ) {
        return false;
    }
    if shielded(f) {
        return false;
    }
    let mut in_care = false;
    for m in &f.memberships {
        if m.active && m.organisation_id == c.organisation.id && in_period(&m.period, ctx.today) {
            in_care = true;
        }
    }
    if !in_care || !minors_rule_met(&c.organisation, f, ctx.today) {
        return false;
    }
    if cat == Category::HealthLog {
        let linked = f.directives.contains(&Directive::HealthLogLink {
            organisation_id: c.organisation.id.clone(),
            status: LinkStatus::Accepted,
        });
        return linked && is_reading(a);
    }
    true
}

fn own_record_action(a: Action, c: Category) -> bool {
    if matches!(
        a,
        Action::Read | Action::Search | Action::Export | Action::ReadAudit
    ) {
        return true;
    }
    match c {
        Category::HealthLog | Category::PersonalNote => {
            matches!(a, Action::Create | Action::Update | Action::Delete)
        }
        Category::Demographics => a == Action::Update,
        Category::Messages | Category::Administrative | Category::Appointments => {
            matches!(a, Action::Create | Action::Update)
        }
        _ => false,
    }
}

fn model(p: &Principal, a: Action, t: Target, ctx: &Context) -> bool {
    match p {
        Principal::Operator { purpose, .. } => {
            let allowed: &[Action] = match purpose {
                OperatorPurpose::Load => &[
                    Action::Create,
                    Action::Update,
                    Action::Delete,
                    Action::Read,
                    Action::Search,
                ],
                OperatorPurpose::PatientRequest => &[Action::Search, Action::Read, Action::Export],
                OperatorPurpose::KeyManagement => {
                    &[Action::ShredKey, Action::RotateKeys, Action::Search]
                }
                OperatorPurpose::AuditReview => &[Action::ReadAudit],
                OperatorPurpose::Backup => &[Action::Backup, Action::ReadAudit],
                OperatorPurpose::Accounts => &[Action::ManageAccounts],
            };
            allowed.contains(&a)
        }
        Principal::Patient { patient_id, .. } => match t {
            Target::Directory { .. } => is_reading(a),
            Target::Search { .. } => a == Action::Search,
            Target::Record {
                facts, category, ..
            } => {
                let own = &facts.patient_id == patient_id;
                let old_enough = age(facts, ctx.today).is_none_or(|x| x >= 12);
                own && old_enough && own_record_action(a, category)
            }
            Target::System => false,
        },
        Principal::Representative { represents, .. } => match t {
            Target::Directory { .. } => is_reading(a),
            Target::Search { .. } => a == Action::Search,
            Target::Record {
                facts, category, ..
            } => {
                if category == Category::PersonalNote {
                    return false;
                }
                let x = age(facts, ctx.today);
                let mut ok = false;
                for r in &facts.representatives {
                    let mine = represents
                        .iter()
                        .any(|(pid, rp)| pid == &facts.patient_id && rp == &r.related_person_id);
                    let right_age = match r.kind {
                        RepresentativeKind::Parent | RepresentativeKind::Guardian => {
                            matches!(x, Some(y) if y < 16)
                        }
                        _ => x.is_none_or(|y| y >= 18),
                    };
                    if mine && r.active && in_period(&r.period, ctx.today) && right_age {
                        // The first valid representation decides (as recorded order).
                        ok = r.scope.contains(category) && own_record_action(a, category);
                        break;
                    }
                }
                ok
            }
            Target::System => false,
        },
        Principal::System(c) => match t {
            Target::System => false,
            Target::Directory { .. } => matches!(
                a,
                Action::Read | Action::Search | Action::Create | Action::Update
            ),
            Target::Search { .. } => a == Action::Search,
            Target::Record {
                facts, category, ..
            } => system_client_may(c, a, facts, category, ctx),
        },
        Principal::Staff(s) => {
            if !s.confidentiality_accepted {
                return false;
            }
            match t {
                Target::System => {
                    ((s.role == StaffRole::Administrator || s.role == StaffRole::Maintainer)
                        && a == Action::ManageAccounts)
                        || (s.role == StaffRole::PrivacyOfficer && a == Action::ReadAudit)
                }
                Target::Directory { .. } => {
                    is_reading(a)
                        || (s.role == StaffRole::Administrator
                            && matches!(a, Action::Create | Action::Update | Action::Delete))
                }
                Target::Search { .. } => {
                    a == Action::Search
                        && !matches!(
                            s.role,
                            StaffRole::PrivacyOfficer
                                | StaffRole::Administrator
                                | StaffRole::Maintainer
                        )
                }
                Target::Record {
                    facts, category, ..
                } => staff_may(s, a, facts, category, ctx),
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// Generators.

const ORGS: [&str; 4] = ["org-gp", "org-physio", "org-pharmacy", "org-post"];
const PRACTITIONERS: [&str; 3] = ["pr-1", "pr-2", "pr-3"];
const RELATED: [&str; 3] = ["rp-1", "rp-2", "rp-3"];
const REGIONS: [Option<&str>; 4] = [
    Some("noord-veluwe"),
    Some("noord-veluwe"),
    Some("utrecht"),
    None,
];

fn today() -> Date {
    Date::from_calendar_date(2026, Month::November, 23).unwrap_or(Date::MIN)
}
const NOW: i64 = 1_795_000_000;

fn period() -> impl Strategy<Value = Period> {
    let day = (-400i64..400).prop_map(|d| today() + Duration::days(d));
    (proptest::option::of(day.clone()), proptest::option::of(day))
        .prop_map(|(start, end)| Period { start, end })
}

fn categories() -> impl Strategy<Value = Categories> {
    proptest::collection::vec(proptest::sample::select(Category::ALL.to_vec()), 0..8)
        .prop_map(|cs| Categories::of(&cs))
}

fn rights(role: StaffRole) -> impl Strategy<Value = Rights> {
    prop_oneof![
        3 => Just(Rights::role_default(role)),
        1 => (categories(), categories(), categories(), categories())
            .prop_map(|(read, enter, change, delete)| Rights { read, enter, change, delete }),
    ]
}

fn organisation() -> impl Strategy<Value = Organisation> {
    (
        proptest::sample::select(ORGS.to_vec()),
        proptest::option::weighted(0.2, proptest::sample::select(OrgKind::ALL.to_vec())),
        proptest::sample::select(REGIONS.to_vec()),
        proptest::option::of(prop_oneof![Just(16u32), Just(18u32)]),
        proptest::collection::vec((proptest::sample::select(ORGS.to_vec()), period()), 0..2),
    )
        .prop_map(|(id, kind, region, parental, locum)| Organisation {
            id: id.into(),
            // Mostly the kind the id says, so that exchange rules meet their organisations.
            kind: kind.unwrap_or(match id {
                "org-gp" => OrgKind::GpPractice,
                "org-physio" => OrgKind::PhysioPractice,
                "org-pharmacy" => OrgKind::Pharmacy,
                _ => OrgKind::GpPost,
            }),
            region: region.map(Into::into),
            parental_consent_below: parental,
            locum_for: locum
                .into_iter()
                .map(|(practice, period)| LocumArrangement {
                    practice: practice.into(),
                    period,
                })
                .collect(),
        })
}

fn actor(user: &str) -> Actor {
    Actor {
        user_id: user.into(),
        role: FunctionalRole::DirectlyInvolved,
        role_name: "test".into(),
        display: None,
        organisation: None,
        access_point: "test".into(),
        on_behalf_of: None,
    }
}

fn staff() -> impl Strategy<Value = Principal> {
    proptest::sample::select(StaffRole::ALL.to_vec()).prop_flat_map(|role| {
        (
            Just(role),
            organisation(),
            proptest::option::of(proptest::sample::select(PRACTITIONERS.to_vec())),
            rights(role),
            proptest::bool::weighted(0.9),
            proptest::collection::vec(
                (
                    prop_oneof![Just("patient-a"), Just("patient-b")],
                    -100i64..100,
                ),
                0..2,
            ),
            proptest::sample::select(vec!["u-1", "u-2"]),
        )
            .prop_map(
                |(role, organisation, practitioner, rights, signed, grants, user)| {
                    Principal::Staff(Box::new(Staff {
                        actor: actor(user),
                        role,
                        organisation,
                        practitioner_id: practitioner.map(Into::into),
                        rights,
                        confidentiality_accepted: signed,
                        grants: grants
                            .into_iter()
                            .map(|(p, d)| TechnicalGrant {
                                patient_id: p.into(),
                                until: NOW + d,
                            })
                            .collect(),
                    }))
                },
            )
    })
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        6 => staff(),
        1 => prop_oneof![Just("patient-a"), Just("patient-b")].prop_map(|p| Principal::Patient {
            actor: actor("u-patient"),
            patient_id: p.into(),
        }),
        2 => proptest::collection::vec(
            (prop_oneof![Just("patient-a"), Just("patient-b")], proptest::sample::select(RELATED.to_vec())),
            0..3
        )
        .prop_map(|reps| Principal::Representative {
            actor: actor("u-rep"),
            represents: reps.into_iter().map(|(p, r)| (p.into(), r.into())).collect(),
        }),
        1 => proptest::sample::select(vec![
            OperatorPurpose::Load,
            OperatorPurpose::PatientRequest,
            OperatorPurpose::KeyManagement,
            OperatorPurpose::AuditReview,
            OperatorPurpose::Backup,
            OperatorPurpose::Accounts,
        ])
        .prop_map(|purpose| Principal::Operator { actor: actor("system:test"), purpose }),
        2 => organisation().prop_map(|organisation| Principal::System(Box::new(SystemClient {
            actor: actor("client:test"),
            organisation,
        }))),
    ]
}

fn given_by() -> impl Strategy<Value = Vec<GivenBy>> {
    proptest::collection::vec(
        prop_oneof![
            Just(GivenBy::Patient),
            proptest::sample::select(RELATED.to_vec())
                .prop_map(|r| GivenBy::Representative(r.into())),
        ],
        0..3,
    )
}

fn directive() -> impl Strategy<Value = Directive> {
    let consulting = proptest::option::of(proptest::sample::select(vec![
        ConsultingCategory::GpAndPosts,
        ConsultingCategory::Hospitals,
        ConsultingCategory::Pharmacies,
    ]));
    prop_oneof![
        (
            proptest::sample::select(ORGS.to_vec()),
            proptest::sample::select(vec![
                LinkStatus::Requested,
                LinkStatus::Accepted,
                LinkStatus::Declined,
                LinkStatus::Revoked
            ]),
        )
            .prop_map(|(o, status)| Directive::HealthLogLink {
                organisation_id: o.into(),
                status
            }),
        Just(Directive::RegionalObjection),
        (
            any::<bool>(),
            proptest::option::of(proptest::sample::select(ORGS.to_vec())),
            consulting,
            given_by()
        )
            .prop_map(|(permit, holder, consulting, given_by)| {
                Directive::NationalExchange {
                    permit,
                    scope: ExchangeScope {
                        data_holder: holder.map(Into::into),
                        consulting,
                    },
                    given_by,
                }
            }),
        (proptest::sample::select(ORGS.to_vec()), given_by()).prop_map(|(o, given_by)| {
            Directive::TreatmentConsent {
                organisation_id: o.into(),
                given_by,
            }
        }),
        Just(Directive::Shielded),
        Just(Directive::LegalHold),
    ]
}

fn facts() -> impl Strategy<Value = PatientFacts> {
    let kind = proptest::sample::select(vec![
        RepresentativeKind::Parent,
        RepresentativeKind::Guardian,
        RepresentativeKind::Curator,
        RepresentativeKind::Mentor,
        RepresentativeKind::Authorised,
    ]);
    (
        prop_oneof![Just("patient-a"), Just("patient-b")],
        proptest::option::weighted(
            0.9,
            prop_oneof![3 => 0i64..(20 * 366), 1 => 0i64..(90 * 366)],
        ),
        proptest::collection::vec(
            (
                proptest::sample::select(PRACTITIONERS.to_vec()),
                proptest::sample::select(ORGS.to_vec()),
                period(),
                proptest::bool::weighted(0.8),
            ),
            0..4,
        ),
        proptest::collection::vec(
            (
                proptest::sample::select(RELATED.to_vec()),
                kind,
                categories(),
                period(),
                proptest::bool::weighted(0.8),
            ),
            0..3,
        ),
        proptest::collection::vec(directive(), 0..5),
        proptest::collection::vec((prop_oneof![Just("u-1"), Just("u-2")], -100i64..100), 0..2),
        proptest::option::of(proptest::sample::select(ORGS.to_vec())),
        proptest::sample::select(REGIONS.to_vec()),
        proptest::bool::weighted(0.85),
    )
        .prop_map(
            |(id, age_days, members, reps, directives, emergencies, gp, region, registered)| {
                PatientFacts {
                    patient_id: id.into(),
                    registered,
                    birth_date: age_days.map(|d| today() - Duration::days(d)),
                    memberships: members
                        .into_iter()
                        .map(|(p, o, period, active)| Membership {
                            practitioner_id: p.into(),
                            organisation_id: o.into(),
                            period,
                            active,
                        })
                        .collect(),
                    representatives: reps
                        .into_iter()
                        .map(|(rp, kind, scope, period, active)| Representation {
                            related_person_id: rp.into(),
                            kind,
                            scope,
                            period,
                            active,
                        })
                        .collect(),
                    directives,
                    emergencies: emergencies
                        .into_iter()
                        .map(|(u, d)| EmergencyAccess {
                            user_id: u.into(),
                            until: NOW + d,
                            reason: "reanimatie op de SEH".into(),
                        })
                        .collect(),
                    gp_practice: gp.map(Into::into),
                    home_region: region.map(Into::into),
                }
            },
        )
}

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(vec![
        Action::Read,
        Action::Search,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Export,
        Action::ShredKey,
        Action::RotateKeys,
        Action::ReadAudit,
        Action::Backup,
        Action::BreakGlass,
        Action::ManageAccounts,
    ])
}

#[derive(Debug, Clone)]
enum TargetKind {
    System,
    Directory,
    Search,
    Record(Category),
}

fn target_kind() -> impl Strategy<Value = TargetKind> {
    prop_oneof![
        1 => Just(TargetKind::System),
        1 => Just(TargetKind::Directory),
        1 => Just(TargetKind::Search),
        4 => proptest::sample::select(Category::ALL.to_vec()).prop_map(TargetKind::Record),
        4 => proptest::sample::select(REGIONAL_EXCHANGE.iter().chain([Category::HealthLog, Category::Conditions]).collect::<Vec<_>>()).prop_map(TargetKind::Record),
    ]
}

fn reason() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("x".to_string()),
        Just("bewusteloos binnengebracht, medicatie onbekend".to_string()),
        Just("          ".to_string())
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, .. ProptestConfig::default() })]

    #[test]
    fn decision_point_agrees_with_the_reference_model(
        p in principal(),
        a in action(),
        f in facts(),
        t in target_kind(),
        r in reason(),
        day_offset in -3i64..3,
    ) {
        let ctx = Context { today: today() + Duration::days(day_offset), now: NOW + day_offset * 30, emergency_reason: r.as_deref() };
        let target = match t {
            TargetKind::System => Target::System,
            TargetKind::Directory => Target::Directory { resource_type: "Organization" },
            TargetKind::Search => Target::Search { resource_type: Some("Observation") },
            TargetKind::Record(category) => Target::Record { facts: &f, resource_type: "Observation", category },
        };
        let decision = decide(&p, a, target, &ctx);
        let expected = model(&p, a, target, &ctx);
        prop_assert_eq!(decision.allowed(), expected, "rule: {}", decision.reason());
        let basis = decision.basis();
        prop_assert!(basis.authorisation_checked);
        prop_assert_eq!(basis.policy, POLICY_ID);
    }
}
