//! One scenario per rule, named after the promise it proves. Each builds the smallest
//! world in which the rule matters and checks both sides: who may, and who may not.

use time::{Date, Duration, Month};
use zorgkluis_domain::{Actor, FunctionalRole};
use zorgkluis_policy::*;

fn today() -> Date {
    Date::from_calendar_date(2026, Month::November, 23).unwrap_or(Date::MIN)
}
const NOW: i64 = 1_795_000_000;

fn ctx() -> Context<'static> {
    Context {
        today: today(),
        now: NOW,
        emergency_reason: None,
    }
}

fn actor(user: &str) -> Actor {
    Actor {
        user_id: user.into(),
        role: FunctionalRole::DirectlyInvolved,
        role_name: "test".into(),
        display: None,
        organisation: None,
        access_point: "127.0.0.1".into(),
        on_behalf_of: None,
    }
}

fn org(id: &str, kind: OrgKind, region: Option<&str>) -> Organisation {
    Organisation {
        id: id.into(),
        kind,
        region: region.map(Into::into),
        parental_consent_below: None,
        locum_for: vec![],
    }
}

fn staff(user: &str, role: StaffRole, organisation: Organisation, practitioner: &str) -> Principal {
    Principal::Staff(Box::new(Staff {
        actor: actor(user),
        role,
        organisation,
        practitioner_id: Some(practitioner.into()),
        rights: Rights::role_default(role),
        confidentiality_accepted: true,
        grants: vec![],
    }))
}

fn gp_practice() -> Organisation {
    org("gp", OrgKind::GpPractice, Some("noord-veluwe"))
}

fn adult_in_gp_care() -> PatientFacts {
    PatientFacts {
        patient_id: "p".into(),
        registered: true,
        birth_date: Some(today() - Duration::days(40 * 366)),
        memberships: vec![member("dr-jansen", "gp"), member("assistant-amrani", "gp")],
        gp_practice: Some("gp".into()),
        home_region: Some("noord-veluwe".into()),
        ..Default::default()
    }
}

fn member(practitioner: &str, org: &str) -> Membership {
    Membership {
        practitioner_id: practitioner.into(),
        organisation_id: org.into(),
        period: Period::ALWAYS,
        active: true,
    }
}

fn may(p: &Principal, a: Action, facts: &PatientFacts, category: Category) -> bool {
    may_in(p, a, facts, category, &ctx())
}

fn may_in(
    p: &Principal,
    a: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context,
) -> bool {
    decide(
        p,
        a,
        Target::Record {
            facts,
            resource_type: "Observation",
            category,
        },
        ctx,
    )
    .allowed()
}

#[test]
fn gp7_gp_in_the_care_team_reads_and_writes_the_dossier() {
    let gp = staff("u-jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let f = adult_in_gp_care();
    assert!(may(&gp, Action::Read, &f, Category::Results));
    assert!(may(&gp, Action::Create, &f, Category::Conditions));
    let d = decide(
        &gp,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert!(
        d.basis().relationship_checked,
        "the relationship check is logged"
    );
    assert_eq!(d.basis().consent_profile, "treatment-relationship");
}

#[test]
fn gp7_assistant_without_relation_is_denied() {
    let assistant = staff(
        "u-bakker",
        StaffRole::Assistant,
        gp_practice(),
        "assistant-other",
    );
    let f = adult_in_gp_care();
    let d = decide(
        &assistant,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Patient",
            category: Category::Demographics,
        },
        &ctx(),
    );
    assert!(!d.allowed());
    assert_eq!(d.reason(), "GP-7 no treatment relationship");
}

#[test]
fn gp7_assistant_in_the_team_sees_only_what_the_role_allows() {
    let assistant = staff(
        "u-amrani",
        StaffRole::Assistant,
        gp_practice(),
        "assistant-amrani",
    );
    let f = adult_in_gp_care();
    assert!(may(&assistant, Action::Read, &f, Category::Appointments));
    assert!(may(&assistant, Action::Read, &f, Category::Medication));
    assert!(!may(&assistant, Action::Read, &f, Category::Results));
    assert!(!may(&assistant, Action::Read, &f, Category::Reports));
}

#[test]
fn gp7_care_team_membership_counts_only_at_the_members_own_organisation_and_within_its_period() {
    let physio_org = org("physio", OrgKind::PhysioPractice, Some("noord-veluwe"));
    // The same practitioner logged in for another organisation has no relationship there.
    let elsewhere = staff("u-jansen", StaffRole::Gp, physio_org, "dr-jansen");
    let f = adult_in_gp_care();
    assert!(!may(&elsewhere, Action::Read, &f, Category::Results));
    let gp = staff("u-jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let mut ended = adult_in_gp_care();
    ended.memberships[0].period.end = Some(today() - Duration::days(1));
    assert!(!may(&gp, Action::Read, &ended, Category::Results));
}

#[test]
fn co8_personal_rights_narrow_the_role_and_confidentiality_comes_first() {
    let f = adult_in_gp_care();
    let mut nurse = Staff {
        actor: actor("u-poh"),
        role: StaffRole::PracticeNurse,
        organisation: gp_practice(),
        practitioner_id: Some("dr-jansen".into()),
        rights: Rights::role_default(StaffRole::PracticeNurse),
        confidentiality_accepted: true,
        grants: vec![],
    };
    assert!(may(
        &Principal::Staff(Box::new(nurse.clone())),
        Action::Update,
        &f,
        Category::Results
    ));
    assert!(!may(
        &Principal::Staff(Box::new(nurse.clone())),
        Action::Delete,
        &f,
        Category::Results
    ));
    nurse.rights.change = Categories::NONE;
    assert!(!may(
        &Principal::Staff(Box::new(nurse.clone())),
        Action::Update,
        &f,
        Category::Results
    ));
    nurse.confidentiality_accepted = false;
    let d = decide(
        &Principal::Staff(Box::new(nurse)),
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert_eq!(d.reason(), "CO-8 confidentiality agreement not accepted");
}

#[test]
fn gp8_locum_sees_the_record_under_the_locum_arrangement_only() {
    let mut post = org("post", OrgKind::GpPost, Some("noord-veluwe"));
    post.locum_for.push(LocumArrangement {
        practice: "gp".into(),
        period: Period {
            start: Some(today() - Duration::days(7)),
            end: Some(today() + Duration::days(7)),
        },
    });
    let locum = staff("u-waarnemer", StaffRole::LocumGp, post.clone(), "dr-locum");
    let f = adult_in_gp_care();
    assert!(may(&locum, Action::Read, &f, Category::Results));
    assert!(may(&locum, Action::Create, &f, Category::CareRecord));
    assert!(!may(&locum, Action::Delete, &f, Category::CareRecord));
    post.locum_for[0].period.end = Some(today() - Duration::days(1));
    let after = staff("u-waarnemer", StaffRole::LocumGp, post, "dr-locum");
    assert!(
        !may(&after, Action::Read, &f, Category::Results),
        "the arrangement has ended"
    );
}

#[test]
fn gp10_pharmacist_sees_medication_and_allergies_in_the_region() {
    let pharmacist = staff(
        "u-apotheker",
        StaffRole::Pharmacist,
        org("pharmacy", OrgKind::Pharmacy, Some("noord-veluwe")),
        "ph",
    );
    let f = adult_in_gp_care();
    assert!(may(&pharmacist, Action::Read, &f, Category::Medication));
    assert!(may(&pharmacist, Action::Read, &f, Category::Allergies));
    assert!(may(
        &pharmacist,
        Action::Read,
        &f,
        Category::ContraIndications
    ));
    assert!(!may(&pharmacist, Action::Read, &f, Category::Conditions));
    assert!(!may(&pharmacist, Action::Read, &f, Category::Results));
    let elsewhere = staff(
        "u-apotheker2",
        StaffRole::Pharmacist,
        org("pharmacy2", OrgKind::Pharmacy, Some("utrecht")),
        "ph2",
    );
    assert!(!may(&elsewhere, Action::Read, &f, Category::Medication));
}

#[test]
fn gp10_pharmacist_after_objection_is_denied() {
    let pharmacist = staff(
        "u-apotheker",
        StaffRole::Pharmacist,
        org("pharmacy", OrgKind::Pharmacy, Some("noord-veluwe")),
        "ph",
    );
    let mut f = adult_in_gp_care();
    f.directives.push(Directive::RegionalObjection);
    let d = decide(
        &pharmacist,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "MedicationRequest",
            category: Category::Medication,
        },
        &ctx(),
    );
    assert!(!d.allowed());
    assert_eq!(
        d.reason(),
        "GP-10 the patient objected to the regional exchange"
    );
    assert!(d.basis().consent_checked);
}

#[test]
fn gp11_national_exchange_shows_a_summary_only_after_opt_in() {
    let far_gp = staff(
        "u-ver",
        StaffRole::Gp,
        org("gp-utrecht", OrgKind::GpPractice, Some("utrecht")),
        "dr-far",
    );
    let mut f = adult_in_gp_care();
    assert!(
        !may(&far_gp, Action::Read, &f, Category::Medication),
        "no opt-in, no access"
    );
    f.directives.push(Directive::NationalExchange {
        permit: true,
        scope: ExchangeScope {
            data_holder: Some("gp".into()),
            consulting: Some(ConsultingCategory::GpAndPosts),
        },
        given_by: vec![GivenBy::Patient],
    });
    assert!(may(&far_gp, Action::Read, &f, Category::Medication));
    assert!(may(&far_gp, Action::Read, &f, Category::Conditions));
    assert!(
        !may(&far_gp, Action::Read, &f, Category::Reports),
        "only the summary"
    );
    // At equal specificity an objection beats a consent (Mitz).
    f.directives.push(Directive::NationalExchange {
        permit: false,
        scope: ExchangeScope {
            data_holder: Some("gp".into()),
            consulting: Some(ConsultingCategory::GpAndPosts),
        },
        given_by: vec![GivenBy::Patient],
    });
    assert!(!may(&far_gp, Action::Read, &f, Category::Medication));
    // A hospital is another consulting category: the GP consent does not open it.
    let mut g = adult_in_gp_care();
    g.directives.push(Directive::NationalExchange {
        permit: true,
        scope: ExchangeScope {
            data_holder: None,
            consulting: Some(ConsultingCategory::GpAndPosts),
        },
        given_by: vec![GivenBy::Patient],
    });
    let specialist = staff(
        "u-spec",
        StaffRole::MedicalSpecialist,
        org("hosp", OrgKind::HospitalClinic, Some("utrecht")),
        "dr-spec",
    );
    assert!(!may(&specialist, Action::Read, &g, Category::Medication));
}

#[test]
fn pc2_health_log_visible_only_after_accepted_link_and_revocation_is_immediate() {
    let gp = staff("u-jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let mut f = adult_in_gp_care();
    assert!(!may(&gp, Action::Read, &f, Category::HealthLog), "no link");
    f.directives.push(Directive::HealthLogLink {
        organisation_id: "gp".into(),
        status: LinkStatus::Requested,
    });
    assert!(
        !may(&gp, Action::Read, &f, Category::HealthLog),
        "asked, not yet accepted"
    );
    f.directives[0] = Directive::HealthLogLink {
        organisation_id: "gp".into(),
        status: LinkStatus::Accepted,
    };
    assert!(may(&gp, Action::Read, &f, Category::HealthLog));
    assert!(
        !may(&gp, Action::Update, &f, Category::HealthLog),
        "the patient writes it"
    );
    f.directives[0] = Directive::HealthLogLink {
        organisation_id: "gp".into(),
        status: LinkStatus::Revoked,
    };
    assert!(!may(&gp, Action::Read, &f, Category::HealthLog), "revoked");
}

#[test]
fn hp4_personal_notes_are_readable_by_the_patient_alone() {
    let mut f = adult_in_gp_care();
    f.directives.push(Directive::Shielded);
    f.directives.push(Directive::LegalHold);
    let patient = Principal::Patient {
        actor: actor("u-p"),
        patient_id: "p".into(),
    };
    assert!(may(&patient, Action::Read, &f, Category::PersonalNote));
    assert!(may(&patient, Action::Create, &f, Category::PersonalNote));
    let f = adult_in_gp_care();
    for role in StaffRole::ALL {
        let s = staff("u-x", role, gp_practice(), "dr-jansen");
        assert!(
            !may(&s, Action::Read, &f, Category::PersonalNote),
            "{role:?}"
        );
    }
    let rep = Principal::Representative {
        actor: actor("u-rep"),
        represents: vec![("p".into(), "rp".into())],
    };
    let mut with_rep = adult_in_gp_care();
    with_rep.representatives.push(Representation {
        related_person_id: "rp".into(),
        kind: RepresentativeKind::Curator,
        scope: Categories::of(&Category::ALL),
        period: Period::ALWAYS,
        active: true,
    });
    assert!(may(&rep, Action::Read, &with_rep, Category::Results));
    assert!(!may(&rep, Action::Read, &with_rep, Category::PersonalNote));
}

#[test]
fn break_the_glass_needs_a_reason_is_flagged_and_time_boxed() {
    let specialist = staff(
        "u-spec",
        StaffRole::MedicalSpecialist,
        org("hosp", OrgKind::HospitalClinic, None),
        "dr-spec",
    );
    let mut f = adult_in_gp_care();
    let no_reason = decide(
        &specialist,
        Action::BreakGlass,
        Target::Record {
            facts: &f,
            resource_type: "Patient",
            category: Category::Demographics,
        },
        &ctx(),
    );
    assert!(!no_reason.allowed());
    let with_reason = Context {
        emergency_reason: Some("bewusteloos binnengebracht op de SEH"),
        ..ctx()
    };
    let started = decide(
        &specialist,
        Action::BreakGlass,
        Target::Record {
            facts: &f,
            resource_type: "Patient",
            category: Category::Demographics,
        },
        &with_reason,
    );
    assert!(started.allowed());
    assert!(started.basis().emergency);
    assert!(
        !may(&specialist, Action::Read, &f, Category::Results),
        "nothing before it is started"
    );
    f.emergencies.push(EmergencyAccess {
        user_id: "u-spec".into(),
        until: NOW + 3600,
        reason: "bewusteloos".into(),
    });
    let d = decide(
        &specialist,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert!(
        d.allowed() && d.basis().emergency,
        "flagged: controls position 4"
    );
    assert_eq!(d.basis().purpose, "ETREAT");
    assert!(
        !may(&specialist, Action::Update, &f, Category::Results),
        "read only"
    );
    assert!(!may(&specialist, Action::Read, &f, Category::HealthLog));
    let later = Context {
        now: NOW + 3601,
        ..ctx()
    };
    assert!(
        !may_in(&specialist, Action::Read, &f, Category::Results, &later),
        "time-boxed"
    );
    let coach = staff(
        "u-coach",
        StaffRole::Coach,
        org("care", OrgKind::CareOrganisation, None),
        "coach",
    );
    assert!(!decide(
        &coach,
        Action::BreakGlass,
        Target::Record {
            facts: &f,
            resource_type: "Patient",
            category: Category::Demographics
        },
        &with_reason
    )
    .allowed());
}

#[test]
fn co13_shielded_dossier_is_closed_to_staff_and_opened_only_by_the_privacy_officer_for_a_hold() {
    let gp = staff("u-jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let po = staff("u-fg", StaffRole::PrivacyOfficer, gp_practice(), "fg");
    let pharmacist = staff(
        "u-apotheker",
        StaffRole::Pharmacist,
        org("pharmacy", OrgKind::Pharmacy, Some("noord-veluwe")),
        "ph",
    );
    let mut f = adult_in_gp_care();
    f.emergencies.push(EmergencyAccess {
        user_id: "u-jansen".into(),
        until: NOW + 3600,
        reason: "reanimatie".into(),
    });
    f.directives.push(Directive::Shielded);
    assert!(!may(&gp, Action::Read, &f, Category::Results));
    assert!(!may(&pharmacist, Action::Read, &f, Category::Medication));
    assert!(
        !may(&po, Action::Read, &f, Category::Results),
        "no hold recorded"
    );
    f.directives.push(Directive::LegalHold);
    assert!(may(&po, Action::Read, &f, Category::Results));
    assert!(!may(&po, Action::Update, &f, Category::Results));
    assert!(!may(&gp, Action::Read, &f, Category::Results));
}

#[test]
fn pc5_administrators_have_no_clinical_access_without_a_time_limited_grant() {
    let f = adult_in_gp_care();
    let admin = staff(
        "u-beheer",
        StaffRole::Administrator,
        gp_practice(),
        "dr-jansen",
    );
    assert!(!may(&admin, Action::Read, &f, Category::Demographics));
    assert!(decide(&admin, Action::ManageAccounts, Target::System, &ctx()).allowed());
    let Principal::Staff(mut s) = admin else {
        unreachable!()
    };
    s.grants.push(TechnicalGrant {
        patient_id: "p".into(),
        until: NOW + 600,
    });
    let granted = Principal::Staff(s);
    let d = decide(
        &granted,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert!(d.allowed());
    assert_eq!(d.basis().consent_profile, "technical-grant");
    assert!(!may(&granted, Action::Update, &f, Category::Results));
    let expired = Context {
        now: NOW + 601,
        ..ctx()
    };
    assert!(!may_in(
        &granted,
        Action::Read,
        &f,
        Category::Results,
        &expired
    ));
    let privacy_officer = staff(
        "u-fg",
        StaffRole::PrivacyOfficer,
        gp_practice(),
        "dr-jansen",
    );
    assert!(
        !may(&privacy_officer, Action::Read, &f, Category::Results),
        "no routine clinical access"
    );
    assert!(may(
        &privacy_officer,
        Action::ReadAudit,
        &f,
        Category::Administrative
    ));
}

fn child(age_years: i64) -> PatientFacts {
    PatientFacts {
        patient_id: "kid".into(),
        registered: true,
        birth_date: Some(today() - Duration::days(age_years * 365 + age_years / 4 + 30)),
        representatives: vec![Representation {
            related_person_id: "mum".into(),
            kind: RepresentativeKind::Parent,
            scope: zorgkluis_policy::records::DEFAULT_REPRESENTATION_SCOPE,
            period: Period::ALWAYS,
            active: true,
        }],
        memberships: vec![member("fysio", "physio")],
        ..Default::default()
    }
}

#[test]
fn wgbo_minors_under_12_parents_12_to_15_both_16_the_patient_alone() {
    let kid = Principal::Patient {
        actor: actor("u-kid"),
        patient_id: "kid".into(),
    };
    let mum = Principal::Representative {
        actor: actor("u-mum"),
        represents: vec![("kid".into(), "mum".into())],
    };
    let f = child(10);
    assert!(!may(&kid, Action::Read, &f, Category::Results));
    assert!(may(&mum, Action::Read, &f, Category::Results));
    let f = child(13);
    assert!(may(&kid, Action::Read, &f, Category::Results));
    assert!(may(&mum, Action::Read, &f, Category::Results));
    let f = child(16);
    assert!(may(&kid, Action::Read, &f, Category::Results));
    assert!(!may(&mum, Action::Read, &f, Category::Results));
}

#[test]
fn pt3_physiotherapy_needs_a_parents_consent_for_every_patient_under_18() {
    let mut physio_org = org("physio", OrgKind::PhysioPractice, Some("noord-veluwe"));
    physio_org.parental_consent_below = Some(18);
    let physio = staff("u-fysio", StaffRole::Physiotherapist, physio_org, "fysio");
    let mut f = child(17);
    let d = decide(
        &physio,
        Action::Read,
        Target::Record {
            facts: &f,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert_eq!(
        d.reason(),
        "PT-3 treating a minor needs the consent a parent gave"
    );
    f.directives.push(Directive::TreatmentConsent {
        organisation_id: "physio".into(),
        given_by: vec![GivenBy::Patient],
    });
    assert!(
        !may(&physio, Action::Read, &f, Category::Results),
        "the patient's own consent is not enough under 18"
    );
    f.directives.push(Directive::TreatmentConsent {
        organisation_id: "physio".into(),
        given_by: vec![GivenBy::Representative("mum".into())],
    });
    assert!(may(&physio, Action::Read, &f, Category::Results));
    // 12–15: the parent and the child.
    let mut g = child(13);
    g.directives.push(Directive::TreatmentConsent {
        organisation_id: "physio".into(),
        given_by: vec![GivenBy::Representative("mum".into())],
    });
    assert!(!may(&physio, Action::Read, &g, Category::Results));
    g.directives.push(Directive::TreatmentConsent {
        organisation_id: "physio".into(),
        given_by: vec![GivenBy::Representative("mum".into()), GivenBy::Patient],
    });
    assert!(may(&physio, Action::Read, &g, Category::Results));
    // An adult needs nothing extra.
    let mut adult = child(30);
    adult.representatives.clear();
    assert!(may(&physio, Action::Read, &adult, Category::Results));
}

#[test]
fn gp1_representatives_act_within_their_scope_and_validity() {
    let curator = Principal::Representative {
        actor: actor("u-cur"),
        represents: vec![("p".into(), "cur".into())],
    };
    let mut f = adult_in_gp_care();
    f.representatives.push(Representation {
        related_person_id: "cur".into(),
        kind: RepresentativeKind::Curator,
        scope: Categories::of(&[Category::Demographics, Category::Appointments]),
        period: Period {
            start: None,
            end: Some(today() + Duration::days(30)),
        },
        active: true,
    });
    assert!(may(&curator, Action::Read, &f, Category::Appointments));
    assert!(
        !may(&curator, Action::Read, &f, Category::Results),
        "outside scope"
    );
    let later = Context {
        today: today() + Duration::days(31),
        ..ctx()
    };
    assert!(
        !may_in(&curator, Action::Read, &f, Category::Appointments, &later),
        "expired"
    );
    let stranger = Principal::Representative {
        actor: actor("u-x"),
        represents: vec![("p".into(), "someone-else".into())],
    };
    assert!(!may(&stranger, Action::Read, &f, Category::Appointments));
}

#[test]
fn pc3_patient_writes_own_health_log_but_not_professional_findings() {
    let patient = Principal::Patient {
        actor: actor("u-p"),
        patient_id: "p".into(),
    };
    let f = adult_in_gp_care();
    assert!(may(&patient, Action::Create, &f, Category::HealthLog));
    assert!(may(&patient, Action::Delete, &f, Category::HealthLog));
    assert!(
        may(&patient, Action::Update, &f, Category::Demographics),
        "PC-12 own details"
    );
    assert!(!may(&patient, Action::Update, &f, Category::Results));
    assert!(!may(&patient, Action::Delete, &f, Category::Conditions));
    let other = Principal::Patient {
        actor: actor("u-q"),
        patient_id: "q".into(),
    };
    assert!(!may(&other, Action::Read, &f, Category::Demographics));
}

#[test]
fn every_decision_records_policy_rule_and_purpose_allow_and_deny() {
    let gp = staff("u-jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let f = adult_in_gp_care();
    for category in Category::ALL {
        let d = decide(
            &gp,
            Action::Read,
            Target::Record {
                facts: &f,
                resource_type: "Observation",
                category,
            },
            &ctx(),
        );
        assert_eq!(d.basis().policy, POLICY_ID);
        assert!(!d.reason().is_empty());
        assert!(!d.basis().purpose.is_empty());
    }
}

#[test]
fn pc5_operator_access_is_limited_to_its_declared_purpose() {
    let f = adult_in_gp_care();
    let allowed = |purpose, a| may(&Principal::operator("t", purpose), a, &f, Category::Results);
    assert!(allowed(OperatorPurpose::Load, Action::Create));
    assert!(!allowed(OperatorPurpose::Load, Action::Export));
    assert!(allowed(OperatorPurpose::PatientRequest, Action::Export));
    assert!(!allowed(OperatorPurpose::PatientRequest, Action::Update));
    assert!(!allowed(OperatorPurpose::KeyManagement, Action::Read));
    assert!(!allowed(OperatorPurpose::AuditReview, Action::Read));
    assert!(!allowed(OperatorPurpose::Backup, Action::Read));
    assert!(!allowed(OperatorPurpose::Accounts, Action::Read));
    assert!(decide(
        &Principal::operator("t", OperatorPurpose::Accounts),
        Action::ManageAccounts,
        Target::System,
        &ctx()
    )
    .allowed());
}

#[test]
fn gp7_a_new_patient_is_registered_by_staff_and_then_only_the_care_team_decides() {
    let assistant = staff(
        "u-amrani",
        StaffRole::Assistant,
        gp_practice(),
        "assistant-amrani",
    );
    let new = PatientFacts {
        patient_id: "new".into(),
        ..Default::default()
    };
    assert!(may(
        &assistant,
        Action::Create,
        &new,
        Category::Demographics
    ));
    assert!(
        may(&assistant, Action::Create, &new, Category::Administrative),
        "the first care team"
    );
    assert!(
        !may(&assistant, Action::Create, &new, Category::Results),
        "within the rights to enter"
    );
    assert!(
        !may(&assistant, Action::Read, &new, Category::Demographics),
        "registration is not reading"
    );
    let admin = staff("u-beheer", StaffRole::Administrator, gp_practice(), "x");
    assert!(!may(&admin, Action::Create, &new, Category::Demographics));
    // Once the record exists, registration no longer applies.
    let existing = PatientFacts {
        registered: true,
        ..new
    };
    assert!(!may(
        &assistant,
        Action::Create,
        &existing,
        Category::Demographics
    ));
}

fn system_client(organisation: Organisation) -> Principal {
    Principal::System(Box::new(SystemClient {
        actor: Actor {
            user_id: "client:lab-koppeling".into(),
            role: FunctionalRole::Supporting,
            role_name: "system-client".into(),
            display: Some("Labkoppeling".into()),
            organisation: Some(organisation.id.clone()),
            access_point: "10.0.0.7".into(),
            on_behalf_of: None,
        },
        organisation,
    }))
}

fn decide_on(p: &Principal, a: Action, target: Target) -> bool {
    decide(p, a, target, &ctx()).allowed()
}

#[test]
fn gp9_system_client_reads_only_patients_in_care_at_its_organisation() {
    let client = system_client(gp_practice());
    let in_care = adult_in_gp_care();
    for a in [Action::Read, Action::Search, Action::Export] {
        assert!(may(&client, a, &in_care, Category::Results), "{a:?}");
    }
    let d = decide(
        &client,
        Action::Read,
        Target::Record {
            facts: &in_care,
            resource_type: "Observation",
            category: Category::Results,
        },
        &ctx(),
    );
    assert!(d.reason().starts_with("GP-9"), "{}", d.reason());
    assert!(d.basis().relationship_checked);

    // Care elsewhere only: not this organisation's patient.
    let mut elsewhere = adult_in_gp_care();
    elsewhere.memberships = vec![member("fysio-de-vries", "physio")];
    assert!(!may(&client, Action::Read, &elsewhere, Category::Results));
    assert!(!may(
        &client,
        Action::Search,
        &elsewhere,
        Category::Demographics
    ));

    // An ended or inactive membership is no relationship.
    let mut ended = adult_in_gp_care();
    for m in &mut ended.memberships {
        m.period.end = Some(today() - Duration::days(1));
    }
    assert!(!may(&client, Action::Read, &ended, Category::Results));
    let mut inactive = adult_in_gp_care();
    for m in &mut inactive.memberships {
        m.active = false;
    }
    assert!(!may(&client, Action::Read, &inactive, Category::Results));
}

#[test]
fn gp9_system_client_imports_into_its_own_records_but_never_deletes() {
    let client = system_client(gp_practice());
    let in_care = adult_in_gp_care();
    assert!(may(&client, Action::Create, &in_care, Category::Results));
    assert!(may(&client, Action::Update, &in_care, Category::Medication));
    assert!(!may(&client, Action::Delete, &in_care, Category::Results));
    let mut elsewhere = adult_in_gp_care();
    elsewhere.memberships = vec![member("fysio-de-vries", "physio")];
    assert!(!may(&client, Action::Create, &elsewhere, Category::Results));
    // Directory resources: exchanged, not deleted.
    let dir = Target::Directory {
        resource_type: "Practitioner",
    };
    assert!(decide_on(&client, Action::Read, dir));
    assert!(decide_on(&client, Action::Create, dir));
    assert!(decide_on(&client, Action::Update, dir));
    assert!(!decide_on(&client, Action::Delete, dir));
    // A search only finds; each hit is decided on its own.
    assert!(decide_on(
        &client,
        Action::Search,
        Target::Search {
            resource_type: Some("Observation")
        }
    ));
}

#[test]
fn pc5_system_client_has_no_account_key_audit_or_backup_actions() {
    let client = system_client(gp_practice());
    let in_care = adult_in_gp_care();
    for a in [
        Action::ManageAccounts,
        Action::ReadAudit,
        Action::ShredKey,
        Action::RotateKeys,
        Action::Backup,
        Action::BreakGlass,
    ] {
        assert!(!decide_on(&client, a, Target::System), "{a:?}");
        assert!(!may(&client, a, &in_care, Category::Results), "{a:?}");
    }
}

#[test]
fn hp4_pc2_co13_system_client_never_sees_notes_an_unlinked_health_log_or_a_shielded_dossier() {
    let client = system_client(gp_practice());
    let mut f = adult_in_gp_care();
    assert!(!may(&client, Action::Read, &f, Category::PersonalNote));
    assert!(!may(&client, Action::Read, &f, Category::HealthLog));
    f.directives.push(Directive::HealthLogLink {
        organisation_id: "gp".into(),
        status: LinkStatus::Accepted,
    });
    assert!(may(&client, Action::Read, &f, Category::HealthLog));
    assert!(!may(&client, Action::Create, &f, Category::HealthLog));
    assert!(!may(&client, Action::Read, &f, Category::PersonalNote));
    f.directives.push(Directive::Shielded);
    f.directives.push(Directive::LegalHold);
    assert!(!may(&client, Action::Read, &f, Category::Results));
    assert!(!may(&client, Action::Create, &f, Category::Results));
}

#[test]
fn pt3_system_client_of_a_stricter_organisation_needs_a_parents_consent_for_minors() {
    let mut physio = org("physio", OrgKind::PhysioPractice, Some("noord-veluwe"));
    physio.parental_consent_below = Some(18);
    let client = system_client(physio);
    let mut f = child(17);
    f.memberships = vec![member("fysio-de-vries", "physio")];
    assert!(!may(&client, Action::Read, &f, Category::Results));
    f.directives.push(Directive::TreatmentConsent {
        organisation_id: "physio".into(),
        given_by: vec![GivenBy::Representative("mum".into())],
    });
    assert!(may(&client, Action::Read, &f, Category::Results));
}

#[test]
fn hp2_clinicians_open_slots_but_only_administrators_change_the_agenda_directly() {
    let slot = Target::Directory {
        resource_type: "Slot",
    };
    let schedule = Target::Directory {
        resource_type: "Schedule",
    };
    let gp = staff("jansen", StaffRole::Gp, gp_practice(), "dr-jansen");
    let nurse = staff(
        "bakker",
        StaffRole::PracticeNurse,
        gp_practice(),
        "poh-bakker",
    );
    let admin = staff("smit", StaffRole::Administrator, gp_practice(), "beheer");
    // Clinicians open (create) slots; the vault admits only their own agenda.
    assert!(decide_on(&gp, Action::Create, slot));
    assert!(decide_on(&nurse, Action::Create, slot));
    // They do not change or delete existing slots, nor create agendas.
    assert!(!decide_on(&gp, Action::Update, slot));
    assert!(!decide_on(&gp, Action::Delete, slot));
    assert!(!decide_on(&gp, Action::Create, schedule));
    // Without a Practitioner there is no agenda of one's own.
    let mut anonymous = staff("x", StaffRole::Gp, gp_practice(), "x");
    if let Principal::Staff(s) = &mut anonymous {
        s.practitioner_id = None;
    }
    assert!(!decide_on(&anonymous, Action::Create, slot));
    // The privacy officer does not; the administrator maintains the directory.
    let fg = staff("vandijk", StaffRole::PrivacyOfficer, gp_practice(), "fg");
    assert!(!decide_on(&fg, Action::Create, slot));
    assert!(decide_on(&admin, Action::Update, slot));
    // Patients read and search agendas and slots, never write them.
    let patient = Principal::Patient {
        actor: actor("p"),
        patient_id: "p".into(),
    };
    assert!(decide_on(&patient, Action::Search, slot));
    assert!(!decide_on(&patient, Action::Create, slot));
    assert!(!decide_on(&patient, Action::Update, slot));
}

fn link(org: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Consent",
        "status": status,
        "category": [{"coding": [{"system": "urn:zorgkluis:directive", "code": "health-log-link"}]}],
        "patient": {"reference": "Patient/p"},
        "organization": [{"reference": format!("Organization/{org}")}],
    })
}

#[test]
fn pc2_only_the_patient_asks_only_the_addressed_provider_answers_and_revoked_stays_revoked() {
    use zorgkluis_policy::records::check_link_change as check;
    let patient = Principal::Patient {
        actor: actor("u-p"),
        patient_id: "p".into(),
    };
    let nurse = staff("u-n", StaffRole::PracticeNurse, gp_practice(), "pr-n");
    let other_org_gp = staff(
        "u-o",
        StaffRole::Gp,
        org("other", OrgKind::GpPractice, None),
        "pr-o",
    );
    // The patient asks, and may end the link at any time, but never accepts it.
    assert!(check(&patient, None, &link("gp", "proposed")).is_ok());
    assert!(check(&patient, None, &link("gp", "active")).is_err());
    assert!(check(
        &patient,
        Some(&link("gp", "proposed")),
        &link("gp", "active")
    )
    .is_err());
    assert!(check(
        &patient,
        Some(&link("gp", "active")),
        &link("gp", "inactive")
    )
    .is_ok());
    // The addressed provider answers a pending request.
    assert!(check(&nurse, Some(&link("gp", "proposed")), &link("gp", "active")).is_ok());
    assert!(check(
        &nurse,
        Some(&link("gp", "proposed")),
        &link("gp", "rejected")
    )
    .is_ok());
    // ...but cannot make a link itself, revive a revoked one, or answer for another
    // organisation, or move the link to another organisation.
    let refused = check(&nurse, None, &link("gp", "active")).unwrap_err();
    assert!(refused.rule.starts_with("PC-2"), "{}", refused.rule);
    assert!(check(&nurse, Some(&link("gp", "inactive")), &link("gp", "active")).is_err());
    assert!(check(
        &other_org_gp,
        Some(&link("gp", "proposed")),
        &link("gp", "active")
    )
    .is_err());
    assert!(check(
        &nurse,
        Some(&link("other", "proposed")),
        &link("gp", "active")
    )
    .is_err());
    // Other consents are not links and pass this check (the decision point decides them).
    let other_consent = serde_json::json!({"resourceType": "Consent", "status": "active"});
    assert!(check(&nurse, None, &other_consent).is_ok());
}
