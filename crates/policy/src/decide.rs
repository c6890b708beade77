//! The rules. Read top to bottom: for each kind of principal, the first rule that
//! matches decides; nothing matches, nothing is allowed (default deny). Each rule cites
//! the promise it keeps and, where known, the law.

use crate::facts::{
    Context, Directive, GivenBy, LinkStatus, Organisation, PatientFacts, Principal,
    RepresentativeKind, Staff, SystemClient,
};
use crate::model::{
    Category, ConsultingCategory, StaffRole, CLINICAL, NATIONAL_SUMMARY, REGIONAL_EXCHANGE,
};
use crate::{Action, Allowed, Basis, Decision, OperatorPurpose, Target, POLICY_ID};

/// Minimum length of a reason for the emergency procedure (a few words, not "x").
pub const MIN_EMERGENCY_REASON: usize = 10;

struct Rule {
    allow: bool,
    rule: &'static str,
    relationship: bool,
    consent: bool,
    emergency: bool,
    profile: &'static str,
    purpose: &'static str,
}

const fn allow(rule: &'static str, profile: &'static str, purpose: &'static str) -> Rule {
    Rule {
        allow: true,
        rule,
        relationship: false,
        consent: false,
        emergency: false,
        profile,
        purpose,
    }
}

const fn deny(rule: &'static str) -> Rule {
    Rule {
        allow: false,
        rule,
        relationship: false,
        consent: false,
        emergency: false,
        profile: "none",
        purpose: "TREAT",
    }
}

impl Rule {
    const fn relationship(mut self) -> Self {
        self.relationship = true;
        self
    }
    const fn consent(mut self) -> Self {
        self.consent = true;
        self
    }
    const fn emergency(mut self) -> Self {
        self.emergency = true;
        self
    }
    const fn purpose(mut self, purpose: &'static str) -> Self {
        self.purpose = purpose;
        self
    }
}

/// The single access decision: may `principal` do `action` on `target`, given `ctx`?
pub fn decide(
    principal: &Principal,
    action: Action,
    target: Target<'_>,
    ctx: &Context<'_>,
) -> Decision {
    let rule = match principal {
        Principal::Operator { purpose, .. } => operator(*purpose, action),
        Principal::Staff(staff) => staff_rules(staff, action, target, ctx),
        Principal::Patient { patient_id, .. } => patient_rules(patient_id, action, target, ctx),
        Principal::Representative { represents, .. } => {
            representative_rules(represents, action, target, ctx)
        }
        Principal::System(client) => system_rules(client, action, target, ctx),
    };
    let basis = Basis {
        policy: POLICY_ID,
        rule: rule.rule,
        authorisation_checked: true,
        relationship_checked: rule.relationship,
        consent_checked: rule.consent,
        emergency: rule.emergency,
        consent_profile: rule.profile,
        purpose: rule.purpose,
    };
    if rule.allow {
        Decision::Allow(Allowed { basis, _sealed: () })
    } else {
        Decision::Deny(basis)
    }
}

// ---------------------------------------------------------------------------------------
// Operator commands on the server.

/// PC-5, NEN 7510: an operator command acts as a technical, logged access with a declared
/// purpose and is allowed only what that purpose needs.
fn operator(purpose: OperatorPurpose, action: Action) -> Rule {
    use Action::*;
    let fits = match purpose {
        // Loading writes (transaction bundles may also delete) and reads back what it
        // loads (duplicate checks).
        OperatorPurpose::Load => matches!(action, Create | Update | Delete | Read | Search),
        // An access or portability request: find the patient, read and export the record.
        OperatorPurpose::PatientRequest => matches!(action, Search | Read | Export),
        OperatorPurpose::KeyManagement => matches!(action, ShredKey | RotateKeys | Search),
        OperatorPurpose::AuditReview => matches!(action, ReadAudit),
        // A backup copies sealed bytes and checks the chain it copied; it opens no record.
        OperatorPurpose::Backup => matches!(action, Backup | ReadAudit),
        OperatorPurpose::Accounts => matches!(action, ManageAccounts),
    };
    let purpose_of_use = purpose.purpose_of_use();
    if fits {
        allow(
            "PC-5 operator technical access for a declared purpose",
            "not-applicable: technical access",
            purpose_of_use,
        )
    } else {
        deny("PC-5 action outside the operator's declared purpose").purpose(purpose_of_use)
    }
}

// ---------------------------------------------------------------------------------------
// Staff.

fn staff_rules(s: &Staff, action: Action, target: Target<'_>, ctx: &Context<'_>) -> Rule {
    // CO-8: each user signed a confidentiality agreement before their first access.
    if !s.confidentiality_accepted {
        return deny("CO-8 confidentiality agreement not accepted");
    }
    match target {
        Target::System => staff_system(s, action),
        Target::Directory { resource_type } => staff_directory(s, action, resource_type),
        Target::Search { .. } => staff_search(s, action),
        Target::Record {
            facts, category, ..
        } => staff_record(s, action, facts, category, ctx),
    }
}

fn staff_system(s: &Staff, action: Action) -> Rule {
    match (s.role, action) {
        // PC-5: administrators and maintainers manage accounts and configuration.
        (StaffRole::Administrator | StaffRole::Maintainer, Action::ManageAccounts) => allow(
            "PC-5 administrators manage accounts and configuration",
            "not-applicable",
            "HSYSADMIN",
        ),
        // NEN 7513: the log is read by an explicit role (the privacy officer).
        (StaffRole::PrivacyOfficer, Action::ReadAudit) => allow(
            "NEN 7513 the privacy officer reviews the audit trail",
            "not-applicable",
            "HSYSADMIN",
        ),
        _ => deny("system action outside the role"),
    }
}

fn staff_directory(s: &Staff, action: Action, resource_type: &str) -> Rule {
    match action {
        Action::Read | Action::Search => allow(
            "directory data (organisations, practitioners) is visible to staff",
            "not-applicable",
            "TREAT",
        ),
        // HP-2, GP-13: a clinician with a Practitioner opens free slots in the agenda; the
        // vault's `open_slots` admits only the clinician's own agenda. Changing existing
        // slots (booked or free) stays with bookings and administrators.
        Action::Create
            if resource_type == "Slot" && s.role.is_clinical() && s.practitioner_id.is_some() =>
        {
            allow(
                "HP-2 clinicians open slots in their own agenda",
                "not-applicable",
                "TREAT",
            )
        }
        Action::Create | Action::Update | Action::Delete if s.role == StaffRole::Administrator => {
            allow(
                "PC-5 administrators maintain the directory",
                "not-applicable",
                "HSYSADMIN",
            )
        }
        _ => deny("directory change outside the role"),
    }
}

fn staff_search(s: &Staff, action: Action) -> Rule {
    // A search across patients only finds; every hit is decided on its own.
    if action == Action::Search && s.role.is_clinical() {
        allow(
            "GP-7 clinicians may search; each hit is decided separately",
            "per-hit",
            "TREAT",
        )
    } else {
        deny("GP-7 search outside the role")
    }
}

fn staff_record(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Rule {
    let reading = matches!(action, Action::Read | Action::Search);
    // HP-4+: personal notes are readable by the patient alone, by no member of staff.
    if category == Category::PersonalNote {
        return deny("HP-4+ personal notes are the patient's alone");
    }
    match s.role {
        // PC-5: no clinical access; technical access only by an explicit, time-limited,
        // logged grant for one patient.
        StaffRole::Administrator | StaffRole::Maintainer => {
            let granted = s
                .grants
                .iter()
                .any(|g| g.patient_id == facts.patient_id && ctx.now <= g.until);
            return if granted && reading && !is_shielded(facts) {
                allow(
                    "PC-5 time-limited technical access grant",
                    "technical-grant",
                    "HSYSADMIN",
                )
            } else {
                deny("PC-5 administrators and maintainers have no clinical access")
            };
        }
        // CO-13: only the privacy officer opens a shielded dossier, for a recorded legal
        // hold; no routine clinical access otherwise.
        StaffRole::PrivacyOfficer => {
            return match action {
                Action::ReadAudit => allow(
                    "NEN 7513 the privacy officer reviews the audit trail",
                    "not-applicable",
                    "HSYSADMIN",
                ),
                Action::Read | Action::Search
                    if is_shielded(facts) && has(facts, |d| matches!(d, Directive::LegalHold)) =>
                {
                    allow(
                        "CO-13 privacy officer opens a shielded dossier for a legal hold",
                        "legal-hold",
                        "HLEGAL",
                    )
                    .consent()
                }
                _ => deny("privacy officer: no routine clinical access"),
            };
        }
        _ => {}
    }
    // CO-13: a shielded dossier is closed to all staff and to exchange.
    if is_shielded(facts) {
        return deny("CO-13 shielded dossier is closed to staff and exchange").consent();
    }
    match action {
        Action::ReadAudit
        | Action::ShredKey
        | Action::RotateKeys
        | Action::Backup
        | Action::ManageAccounts => return deny("action outside the role"),
        Action::BreakGlass => return break_glass(s, ctx),
        _ => {}
    }

    // The grounds on which staff see a record. Each ground that applies answers; the first
    // that allows decides; if none allows, the first refusal is the reason given.
    let grounds = [
        registration(s, action, facts, category),
        treatment_relationship(s, action, facts, category, ctx),
        locum_arrangement(s, action, facts, category, ctx),
        emergency_access(s, action, facts, category, ctx),
        regional_exchange(s, action, facts, category),
        national_exchange(s, action, facts, category, ctx),
    ];
    let mut refusal = None;
    for rule in grounds.into_iter().flatten() {
        if rule.allow {
            return rule;
        }
        refusal.get_or_insert(rule);
    }
    refusal.unwrap_or_else(|| deny("GP-7 no treatment relationship").relationship())
}

/// Registering a new patient: when no record exists yet for this patient id, a clinician
/// or assistant may create it within their rights to enter data (the Patient, the care
/// team that names them, first entries), best as one transaction. Nothing existing is
/// exposed: the rule applies only while there is no record at all; from then on the care
/// team decides (GP-7).
fn registration(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
) -> Option<Rule> {
    let applies = !facts.registered
        && action == Action::Create
        && s.role.is_clinical()
        && !matches!(category, Category::HealthLog | Category::PersonalNote);
    if !applies {
        return None;
    }
    Some(if s.rights.enter.contains(category) {
        allow("registration of a new patient", "registration", "TREAT")
    } else {
        deny("CO-8 outside the user's rights for this category")
    })
}

/// GP-7, WGBO 7:457: those directly involved in the treatment: an active care-team
/// membership at the staff member's own organisation, within their own rights (CO-8).
fn treatment_relationship(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Option<Rule> {
    if !in_care_team(s, facts, ctx) {
        return None;
    }
    // PT-3 (stricter than the WGBO): below the organisation's age, a parent's consent.
    if let Some(below) = s.organisation.parental_consent_below {
        if facts.age_on(ctx.today).is_some_and(|age| age < below)
            && !treatment_consent(facts, &s.organisation, ctx)
        {
            return Some(
                deny("PT-3 treating a minor needs the consent a parent gave")
                    .relationship()
                    .consent(),
            );
        }
    }
    // PC-2: self-entered data only through a link the patient asked for and the provider
    // accepted; the provider reads it, the patient writes it.
    if category == Category::HealthLog {
        let rule = if !health_log_linked(facts, &s.organisation.id) {
            deny("PC-2 health log not linked with this provider")
        } else if matches!(action, Action::Read | Action::Search) {
            allow(
                "PC-2 health log linked with this provider",
                "health-log-link",
                "TREAT",
            )
        } else {
            deny("PC-2 providers read the health log, the patient writes it")
        };
        return Some(rule.relationship().consent());
    }
    // CO-8: within the user's own rights per category.
    Some(if s.rights.allows(action, category) {
        allow(
            "GP-7 treatment relationship",
            "treatment-relationship",
            "TREAT",
        )
        .relationship()
    } else {
        deny("CO-8 outside the user's rights for this category").relationship()
    })
}

/// GP-8: a locum stands in for the patient's GP practice under an arrangement, within
/// the locum's rights; the health log stays with the providers it is linked to.
fn locum_arrangement(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Option<Rule> {
    if s.role != StaffRole::LocumGp || !locum_covers(&s.organisation, facts, ctx) {
        return None;
    }
    Some(
        if category != Category::HealthLog && s.rights.allows(action, category) {
            allow(
                "GP-8 locum arrangement with the patient's practice",
                "locum-arrangement",
                "TREAT",
            )
            .relationship()
        } else {
            deny("GP-8 outside what the locum arrangement allows").relationship()
        },
    )
}

/// Break-the-glass in force: time-boxed, read only, the medical dossier only.
fn emergency_access(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Option<Rule> {
    if !emergency_in_force(s, facts, ctx) {
        return None;
    }
    Some(
        if matches!(action, Action::Read | Action::Search) && CLINICAL.contains(category) {
            allow(
                "emergency procedure (break-the-glass) in force",
                "emergency",
                "ETREAT",
            )
            .relationship()
            .emergency()
        } else {
            deny("the emergency procedure opens the dossier for reading only")
                .relationship()
                .emergency()
        },
    )
}

/// GP-10: the regional exchange shows pharmacies and the out-of-hours post in the
/// patient's region what they need, unless the patient objected.
fn regional_exchange(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
) -> Option<Rule> {
    let applies = matches!(action, Action::Read | Action::Search)
        && takes_part_in_regional_exchange(s)
        && s.organisation.region.is_some()
        && s.organisation.region == facts.home_region
        && REGIONAL_EXCHANGE.contains(category)
        && s.rights.read.contains(category);
    if !applies {
        return None;
    }
    let rule = if has(facts, |d| matches!(d, Directive::RegionalObjection)) {
        deny("GP-10 the patient objected to the regional exchange")
    } else {
        allow(
            "GP-10 regional exchange, no objection",
            "regional-exchange:no-objection",
            "TREAT",
        )
    };
    Some(rule.relationship().consent())
}

/// GP-11, Wabvpz 15a: the national exchange shows GPs and GP posts a summary only after
/// the patient opted in (Mitz rules); the emergency procedure never opens it.
fn national_exchange(
    s: &Staff,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Option<Rule> {
    let applies = matches!(action, Action::Read | Action::Search)
        && NATIONAL_SUMMARY.contains(category)
        && s.rights.read.contains(category)
        && matches!(s.role, StaffRole::Gp | StaffRole::LocumGp);
    if !applies {
        return None;
    }
    let consulting = s.organisation.kind.consulting_category();
    let rule = if national_exchange_permits(facts, consulting, ctx) {
        allow(
            "GP-11 national exchange summary after opt-in",
            "national-exchange:opt-in",
            "TREAT",
        )
    } else {
        deny("GP-11 no national-exchange consent")
    };
    Some(rule.relationship().consent())
}

/// Break-the-glass: a physician or nurse without a relationship opens a record in an
/// emergency only by giving a reason (DOMAIN.md, NEN 7513 controls position 4).
fn break_glass(s: &Staff, ctx: &Context<'_>) -> Rule {
    let reason_given = ctx
        .emergency_reason
        .is_some_and(|r| r.trim().chars().count() >= MIN_EMERGENCY_REASON);
    if !s.role.may_break_glass() {
        deny("emergency procedure is for physicians and nurses")
    } else if !reason_given {
        deny("emergency procedure needs a reason")
    } else {
        allow(
            "emergency procedure started with a reason",
            "emergency",
            "ETREAT",
        )
        .emergency()
    }
}

fn in_care_team(s: &Staff, facts: &PatientFacts, ctx: &Context<'_>) -> bool {
    let Some(me) = s.practitioner_id.as_deref() else {
        return false;
    };
    s.role.is_clinical()
        && facts.memberships.iter().any(|m| {
            m.active
                && m.practitioner_id == me
                && m.organisation_id == s.organisation.id
                && m.period.contains(ctx.today)
        })
}

fn locum_covers(org: &Organisation, facts: &PatientFacts, ctx: &Context<'_>) -> bool {
    let Some(practice) = facts.gp_practice.as_deref() else {
        return false;
    };
    org.locum_for
        .iter()
        .any(|a| a.practice == practice && a.period.contains(ctx.today))
}

fn emergency_in_force(s: &Staff, facts: &PatientFacts, ctx: &Context<'_>) -> bool {
    s.role.may_break_glass()
        && facts
            .emergencies
            .iter()
            .any(|e| e.user_id == s.actor.user_id && ctx.now <= e.until)
}

fn takes_part_in_regional_exchange(s: &Staff) -> bool {
    use crate::model::OrgKind;
    matches!(
        (s.organisation.kind, s.role),
        (OrgKind::Pharmacy, StaffRole::Pharmacist)
            | (OrgKind::GpPost, StaffRole::LocumGp | StaffRole::Gp)
    )
}

fn has(facts: &PatientFacts, f: impl Fn(&Directive) -> bool) -> bool {
    facts.directives.iter().any(f)
}

fn is_shielded(facts: &PatientFacts) -> bool {
    has(facts, |d| matches!(d, Directive::Shielded))
}

fn health_log_linked(facts: &PatientFacts, org: &str) -> bool {
    has(facts, |d| {
        matches!(d, Directive::HealthLogLink { organisation_id, status: LinkStatus::Accepted }
            if organisation_id == org)
    })
}

/// A parent or guardian recorded for the patient, active on `today` (for consent; the
/// 16-year limit on *seeing* is applied where representatives act).
fn is_parent(facts: &PatientFacts, related_person: &str, ctx: &Context<'_>) -> bool {
    facts.representatives.iter().any(|r| {
        r.related_person_id == related_person
            && r.kind.is_for_minor()
            && r.active
            && r.period.contains(ctx.today)
    })
}

fn by_parent(facts: &PatientFacts, given_by: &[GivenBy], ctx: &Context<'_>) -> bool {
    given_by
        .iter()
        .any(|g| matches!(g, GivenBy::Representative(rp) if is_parent(facts, rp, ctx)))
}

/// WGBO 7:450/7:465: who consents for a minor: under 12 a parent; 12 to 15 both the
/// parent and the child; from 16 the patient alone.
pub(crate) fn wgbo_consent(facts: &PatientFacts, given_by: &[GivenBy], ctx: &Context<'_>) -> bool {
    let by_patient = given_by.contains(&GivenBy::Patient);
    match facts.age_on(ctx.today) {
        Some(age) if age < 12 => by_parent(facts, given_by, ctx),
        Some(age) if age < 16 => by_patient && by_parent(facts, given_by, ctx),
        _ => by_patient,
    }
}

/// PT-3 on top of the WGBO: below the organisation's age a parent's consent is needed
/// (and from 12 to 15 the child's as well).
fn treatment_consent(facts: &PatientFacts, org: &Organisation, ctx: &Context<'_>) -> bool {
    facts.directives.iter().any(|d| match d {
        Directive::TreatmentConsent {
            organisation_id,
            given_by,
        } if *organisation_id == org.id => {
            by_parent(facts, given_by, ctx) && wgbo_consent_or_parent(facts, given_by, ctx)
        }
        _ => false,
    })
}

fn wgbo_consent_or_parent(facts: &PatientFacts, given_by: &[GivenBy], ctx: &Context<'_>) -> bool {
    match facts.age_on(ctx.today) {
        Some(age) if (12..16).contains(&age) => given_by.contains(&GivenBy::Patient),
        _ => true,
    }
}

/// Mitz: the most specific matching consent or objection decides; at equal specificity
/// an objection beats a consent; without a matching consent there is no access.
fn national_exchange_permits(
    facts: &PatientFacts,
    consulting: ConsultingCategory,
    ctx: &Context<'_>,
) -> bool {
    let holder = facts.gp_practice.as_deref();
    let mut best: Option<(u8, bool)> = None;
    for d in &facts.directives {
        let Directive::NationalExchange {
            permit,
            scope,
            given_by,
        } = d
        else {
            continue;
        };
        let holder_matches = match (&scope.data_holder, holder) {
            (None, _) => true,
            (Some(h), Some(p)) => h == p,
            (Some(_), None) => false,
        };
        let consulting_matches = scope.consulting.is_none_or(|c| c == consulting);
        if !holder_matches || !consulting_matches {
            continue;
        }
        if *permit && !wgbo_consent(facts, given_by, ctx) {
            continue;
        }
        let s = scope.specificity();
        best = match best {
            Some((bs, _)) if bs > s => best,
            Some((bs, bp)) if bs == s => Some((s, bp && *permit)),
            _ => Some((s, *permit)),
        };
    }
    best.is_some_and(|(_, permit)| permit)
}

// ---------------------------------------------------------------------------------------
// System clients: an organisation's own systems over the API (client credentials).

/// An organisation's system client (a lab system, an import, an exchange gateway) acts
/// for the organisation as a whole, with no person behind each request. It never manages
/// accounts, keys, backups or the audit trail (PC-5), and never deletes.
fn system_rules(c: &SystemClient, action: Action, target: Target<'_>, ctx: &Context<'_>) -> Rule {
    use Action::*;
    match target {
        Target::System => {
            deny("PC-5 system clients have no account, key, audit or backup actions")
        }
        Target::Directory { .. } => match action {
            Read | Search => allow(
                "directory data (organisations, practitioners) is visible to the organisation's systems",
                "not-applicable",
                "TREAT",
            ),
            Create | Update => allow(
                "GP-9 a system client exchanges directory data (organisations, practitioners)",
                "not-applicable",
                "TREAT",
            ),
            _ => deny("system clients do not delete"),
        },
        Target::Search { .. } if action == Search => allow(
            "GP-9 system clients may search; each hit is decided separately",
            "per-hit",
            "TREAT",
        ),
        Target::Search { .. } => deny("GP-9 search outside what system clients do"),
        Target::Record {
            facts, category, ..
        } => system_record(c, action, facts, category, ctx),
    }
}

/// GP-9, WGBO 7:457: the providers involved in the treatment: a system client of
/// organisation X reads, exports, creates and updates the records of patients with an
/// active care-team membership at X (an organisation-level treatment relationship).
fn system_record(
    c: &SystemClient,
    action: Action,
    facts: &PatientFacts,
    category: Category,
    ctx: &Context<'_>,
) -> Rule {
    use Action::*;
    // HP-4+: personal notes are the patient's alone, through no path.
    if category == Category::PersonalNote {
        return deny("HP-4+ personal notes are the patient's alone");
    }
    if !matches!(action, Read | Search | Export | Create | Update) {
        return deny("system clients read, export, create and update records; nothing else");
    }
    // CO-13: a shielded dossier is closed to exchange.
    if is_shielded(facts) {
        return deny("CO-13 shielded dossier is closed to staff and exchange").consent();
    }
    if !organisation_in_care(&c.organisation, facts, ctx) {
        return deny("GP-9 no active care-team membership at the client's organisation")
            .relationship();
    }
    // PT-3: the organisation's stricter minors rule binds its systems as it binds its staff.
    if let Some(below) = c.organisation.parental_consent_below {
        if facts.age_on(ctx.today).is_some_and(|age| age < below)
            && !treatment_consent(facts, &c.organisation, ctx)
        {
            return deny("PT-3 treating a minor needs the consent a parent gave")
                .relationship()
                .consent();
        }
    }
    // PC-2: the health log only through an accepted link, and only read.
    if category == Category::HealthLog {
        let rule = if !health_log_linked(facts, &c.organisation.id) {
            deny("PC-2 health log not linked with this provider")
        } else if matches!(action, Read | Search) {
            allow(
                "PC-2 health log linked with this provider",
                "health-log-link",
                "TREAT",
            )
        } else {
            deny("PC-2 providers read the health log, the patient writes it")
        };
        return rule.relationship().consent();
    }
    if matches!(action, Create | Update) {
        allow(
            "GP-9 import and exchange into the records of a patient in care at the organisation",
            "organisation-care-relationship",
            "TREAT",
        )
        .relationship()
    } else {
        allow(
            "GP-9 system client of an organisation involved in the treatment",
            "organisation-care-relationship",
            "TREAT",
        )
        .relationship()
    }
}

/// An active care-team membership of anyone at `org`, today.
fn organisation_in_care(org: &Organisation, facts: &PatientFacts, ctx: &Context<'_>) -> bool {
    facts
        .memberships
        .iter()
        .any(|m| m.active && m.organisation_id == org.id && m.period.contains(ctx.today))
}

// ---------------------------------------------------------------------------------------
// Patients and representatives.

/// What a patient may change in their own record: their health log and notes (PC-3,
/// HP-4+), their contact details (PC-12), messages (HP-3), and their consents and link
/// requests (PC-2, PC-13). Professional findings are not rewritten by the patient
/// (DOMAIN.md "Correction"): they add a statement instead, as a message.
fn patient_may_write(action: Action, category: Category) -> bool {
    match category {
        Category::HealthLog | Category::PersonalNote => {
            matches!(action, Action::Create | Action::Update | Action::Delete)
        }
        Category::Demographics => action == Action::Update,
        Category::Messages | Category::Administrative | Category::Appointments => {
            matches!(action, Action::Create | Action::Update)
        }
        _ => false,
    }
}

fn own_access(action: Action, category: Category) -> bool {
    matches!(
        action,
        Action::Read | Action::Search | Action::Export | Action::ReadAudit
    ) || patient_may_write(action, category)
}

fn patient_rules(own: &str, action: Action, target: Target<'_>, ctx: &Context<'_>) -> Rule {
    match target {
        Target::Directory { .. } if matches!(action, Action::Read | Action::Search) => allow(
            "directory data is public to patients",
            "not-applicable",
            "PATRQT",
        ),
        Target::Search { .. } if action == Action::Search => allow(
            "patients search their own record; each hit is decided separately",
            "per-hit",
            "PATRQT",
        ),
        Target::Record {
            facts, category, ..
        } if facts.patient_id == own => {
            // WGBO: under 12 the parents act, not the child.
            if facts.age_on(ctx.today).is_some_and(|a| a < 12) {
                return deny("WGBO under 12 the parents act for the child");
            }
            if own_access(action, category) {
                allow("the patient's own record", "own-record", "PATRQT")
            } else {
                deny("patients do not rewrite professional findings")
            }
        }
        _ => deny("not the patient's own record"),
    }
}

fn representative_rules(
    represents: &[(String, String)],
    action: Action,
    target: Target<'_>,
    ctx: &Context<'_>,
) -> Rule {
    match target {
        Target::Directory { .. } if matches!(action, Action::Read | Action::Search) => allow(
            "directory data is public to patients",
            "not-applicable",
            "PATRQT",
        ),
        Target::Search { .. } if action == Action::Search => allow(
            "representatives search the records they act for; each hit is decided separately",
            "per-hit",
            "PATRQT",
        ),
        Target::Record {
            facts, category, ..
        } => {
            // HP-4+: not even a representative reads the patient's personal notes.
            if category == Category::PersonalNote {
                return deny("HP-4+ personal notes are the patient's alone");
            }
            let age = facts.age_on(ctx.today);
            let valid = facts.representatives.iter().find(|r| {
                represents
                    .iter()
                    .any(|(p, rp)| *p == facts.patient_id && *rp == r.related_person_id)
                    && r.active
                    && r.period.contains(ctx.today)
                    && match r.kind {
                        // WGBO: parents act for a child until 16.
                        RepresentativeKind::Parent | RepresentativeKind::Guardian => {
                            age.is_some_and(|a| a < 16)
                        }
                        // Curator, mentor, authorised person: for an adult.
                        RepresentativeKind::Curator
                        | RepresentativeKind::Mentor
                        | RepresentativeKind::Authorised => age.is_none_or(|a| a >= 18),
                    }
            });
            match valid {
                None => deny("GP-1 no representation in force for this patient"),
                Some(r) if !r.scope.contains(category) => {
                    deny("GP-1 outside the scope of the representation").consent()
                }
                Some(_) if own_access(action, category) => allow(
                    "GP-1 representative acting within scope",
                    "representation",
                    "PATRQT",
                )
                .consent(),
                Some(_) => deny("patients do not rewrite professional findings").consent(),
            }
        }
        _ => deny("not a record the representative acts for"),
    }
}

impl crate::model::Rights {
    /// Whether these rights cover `action` on `category`.
    pub fn allows(&self, action: Action, category: Category) -> bool {
        match action {
            Action::Read | Action::Search | Action::Export => self.read.contains(category),
            Action::Create => self.enter.contains(category),
            Action::Update => self.change.contains(category),
            Action::Delete => self.delete.contains(category),
            _ => false,
        }
    }
}
