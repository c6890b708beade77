//! One patient's record: the Patient and everything in their compartment.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use time::{Date, Duration};

use crate::catalogue::*;
use crate::elements::*;
use crate::{Directory, StaffMember};

/// One patient's record.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    /// The Patient's id (pseudonymous, UUID-shaped).
    pub patient_id: String,
    /// The Patient first, then every other resource of the record. References point only
    /// to resources of this record or of the [`Directory`] it was made with.
    pub resources: Vec<Value>,
    /// Login of the patient portal, e.g. `patient.00042`.
    pub login: String,
    /// Age in whole years on the reference date.
    pub age: u32,
}

/// Stands in when a directory lacks a role (only possible for a hand-edited directory).
static NOBODY: StaffMember = StaffMember {
    login: String::new(),
    role: "gp",
    display: String::new(),
    organisation_id: String::new(),
    practitioner_id: String::new(),
    practitioner_role_id: String::new(),
};

/// A valid test BSN for a patient index: `999` (or `998` where `999` has no check digit),
/// five digits of the index and the 11-test check digit. Unique for every index below
/// 5,000,000 (each further 100,000 indexes use the next pair of prefixes, `997`/`996`
/// and so on down to `901`/`900`); repeats after that.
pub fn bsn_for_index(index: u32) -> String {
    let block = (index / 100_000) % 50;
    let low = index % 100_000;
    let first = 999 - 2 * block;
    let with_prefix = |prefix: u32| {
        let eight = prefix * 100_000 + low;
        let (mut sum, mut rest) = (0, eight);
        for weight in 2..=9 {
            sum += (rest % 10) * weight;
            rest /= 10;
        }
        (eight, sum % 11)
    };
    // The prefixes differ by one in the third digit (weight 7), so when the first leaves
    // remainder 10 the second leaves 3.
    let (eight, check) = match with_prefix(first) {
        (_, 10) => with_prefix(first - 1),
        ok => ok,
    };
    format!("{eight:08}{check}")
}

/// SplitMix64: spreads consecutive indexes over the whole seed space.
fn mix(index: u32) -> u64 {
    let mut z = u64::from(index).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The organisations a record refers to.
struct Orgs<'a> {
    gp: &'a str,
    physio: &'a str,
    care: &'a str,
    hospital: &'a str,
    pharmacy: &'a str,
    post: &'a str,
}

/// A diagnosis on the problem list, before it is written.
struct Problem {
    spec: &'static ConditionSpec,
    id: String,
    onset: Date,
    abatement: Option<Date>,
    encounter: Option<String>,
}

/// A contact (Encounter) before it is written.
struct Contact<'a> {
    id: String,
    day: Date,
    hour: u8,
    minutes: i64,
    who: &'a StaffMember,
    org: &'a str,
    care: Care,
    reason: Option<usize>,
    after_hours: bool,
}

struct Team<'a> {
    id: String,
    care: Care,
    org: &'a str,
    start: Date,
    lead: &'a StaffMember,
    reason: Option<usize>,
}

struct Gen<'a> {
    rng: ChaCha8Rng,
    dir: &'a Directory,
    orgs: Orgs<'a>,
    today: Date,
    patient_id: String,
    out: Vec<Value>,
}

impl<'a> Gen<'a> {
    fn id(&mut self) -> String {
        uuid(&mut self.rng)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn patient(&self) -> Value {
        reference("Patient", &self.patient_id)
    }

    /// A day between `from` and `to` days before today (inclusive).
    fn days_ago(&mut self, from: i64, to: i64) -> Date {
        let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
        self.today - Duration::days(self.rng.gen_range(lo..=hi))
    }

    /// A member of staff with this role.
    fn pick(&mut self, role: &str) -> &'a StaffMember {
        let dir: &'a Directory = self.dir;
        let matches = |s: &&'a StaffMember| s.role == role;
        let n = dir.staff.iter().filter(matches).count();
        if n == 0 {
            return &NOBODY;
        }
        let k = self.rng.gen_range(0..n);
        dir.staff.iter().filter(matches).nth(k).unwrap_or(&NOBODY)
    }

    fn practitioner(who: &StaffMember) -> Value {
        reference_display("Practitioner", &who.practitioner_id, &who.display)
    }
}

/// Age in years for a patient index: indexes 1, 2 and 3 are fixed kinds of patient; the
/// others follow roughly the Dutch population pyramid.
fn target_age(rng: &mut ChaCha8Rng, index: u32) -> u32 {
    match index {
        1 => rng.gen_range(4..=11),
        2 => rng.gen_range(12..=15),
        3 => rng.gen_range(35..=80),
        _ => match rng.gen_range(0..1000) {
            0..=119 => rng.gen_range(0..=11),
            120..=164 => rng.gen_range(12..=15),
            165..=189 => rng.gen_range(16..=17),
            190..=789 => rng.gen_range(18..=64),
            790..=939 => rng.gen_range(65..=79),
            _ => rng.gen_range(80..=95),
        },
    }
}

fn given_name(rng: &mut ChaCha8Rng, female: bool, age: u32) -> &'static str {
    let pool = if female { FEMALE_NAMES } else { MALE_NAMES };
    let traditional = rng.gen_bool(match age {
        65.. => 0.7,
        40..=64 => 0.35,
        _ => 0.05,
    });
    let mut name = "Sam";
    for _ in 0..8 {
        if let Some((n, t)) = pool.choose(rng) {
            name = n;
            if *t == traditional {
                break;
            }
        }
    }
    name
}

fn family_name(rng: &mut ChaCha8Rng) -> &'static str {
    // About a third of Dutch family names have a prefix (tussenvoegsel).
    let pool = if rng.gen_bool(0.3) {
        PREFIXED_FAMILY_NAMES
    } else {
        FAMILY_NAMES
    };
    pool.choose(rng).copied().unwrap_or("Jansen")
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    format!("06{}", digits(rng, 8))
}

fn address(rng: &mut ChaCha8Rng) -> Value {
    // Postal code letters: no F, I, O, Q, U, Y, and no S (so never SA, SD or SS).
    const LETTERS: &[u8] = b"ABCDEGHJKLMNPRTVWXZ";
    let (city, first) = CITIES.choose(rng).copied().unwrap_or(("Harderwijk", 3841));
    let street = STREETS.choose(rng).copied().unwrap_or("Dorpsstraat");
    let letter = |rng: &mut ChaCha8Rng| char::from(LETTERS[rng.gen_range(0..LETTERS.len())]);
    let postal = format!(
        "{} {}{}",
        first + rng.gen_range(0..8),
        letter(rng),
        letter(rng)
    );
    let number = rng.gen_range(1..240);
    let line = if rng.gen_bool(0.1) {
        format!("{street} {number}A")
    } else {
        format!("{street} {number}")
    };
    obj([
        ("use", s("home")),
        ("line", arr([Value::String(line)])),
        ("city", Value::String(city.to_owned())),
        ("postalCode", Value::String(postal)),
        ("country", s("NL")),
    ])
}

/// Height (cm) and weight (kg) of a child at `years`, roughly on the Dutch growth curve.
fn child_growth(years: f64, female: bool) -> (f64, f64) {
    let height = if years < 1.0 {
        50.0 + 25.0 * years
    } else if years < 2.0 {
        75.0 + 12.0 * (years - 1.0)
    } else if years < 12.0 {
        87.0 + 6.0 * (years - 2.0)
    } else {
        (147.0 + if female { 3.5 } else { 5.5 } * (years - 12.0)).min(if female {
            169.0
        } else {
            183.0
        })
    };
    let weight = if years < 1.0 {
        3.5 + 6.0 * years
    } else if years < 12.0 {
        9.5 + 2.7 * (years - 1.0)
    } else {
        (height / 100.0) * (height / 100.0) * 19.5
    };
    (height, weight)
}

/// One patient's record, deterministic in `(seed, index, today)` and independent of
/// every other record: it has its own generator, seeded from the seed and a hash of the
/// index, so records can be made in any order or in parallel.
///
/// The record holds the Patient (with a test BSN from [`bsn_for_index`]), parents of
/// minors or a legal representative, care teams with episodes of care, encounters,
/// conditions, medication, lab series with reports, vital signs, allergies,
/// immunisations, procedures, consult letters, appointments, self-entered measurements
/// and messages.
///
/// Index 1 is always a child under 12, index 2 a child of 12–15, and index 3 an adult
/// with a curator, so tests and demos can rely on them.
pub fn patient_record(seed: u64, index: u32, dir: &Directory, today: Date) -> PatientRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ mix(index));
    let org = |kind: &str| dir.organisation_id(kind).unwrap_or_default();
    let orgs = Orgs {
        gp: org("gp_practice"),
        physio: org("physio_practice"),
        care: org("care_organisation"),
        hospital: org("hospital_clinic"),
        pharmacy: org("pharmacy"),
        post: org("gp_post"),
    };

    // Who the patient is.
    let target = target_age(&mut rng, index);
    let anniversary = today
        .replace_year(today.year() - target as i32)
        .unwrap_or_else(|_| today - Duration::days(i64::from(target) * 365));
    let birth = anniversary - Duration::days(rng.gen_range(0..=364));
    let age = age_on(birth, today);
    let female = rng.gen_bool(0.51);
    let given = given_name(&mut rng, female, age);
    let family = family_name(&mut rng);
    let patient_id = uuid(&mut rng);

    let mut g = Gen {
        rng,
        dir,
        orgs,
        today,
        patient_id: patient_id.clone(),
        out: Vec::with_capacity(128),
    };
    let gp = g.pick("gp");
    let registered = (today - Duration::days(g.rng.gen_range(120..=9000))).max(birth);

    let email = format!(
        "{}.{}.{index}@mail.voorbeeld.nl",
        ascii(given),
        ascii(family)
    );
    let name_text = format!("{given} {family}");
    let patient_phone = phone(&mut g.rng);
    let patient_address = address(&mut g.rng);
    g.out.push(obj([
        ("resourceType", s("Patient")),
        ("id", s(&patient_id)),
        (
            "identifier",
            arr([
                obj([
                    ("system", s(BSN)),
                    ("value", Value::String(bsn_for_index(index))),
                ]),
                obj([
                    ("system", s(PATIENT_NUMBER)),
                    ("value", Value::String(format!("P{index:06}"))),
                ]),
            ]),
        ),
        ("active", Value::Bool(true)),
        (
            "name",
            arr([obj([
                ("use", s("official")),
                ("text", s(&name_text)),
                ("family", s(family)),
                ("given", arr([s(given)])),
            ])]),
        ),
        (
            "telecom",
            arr([
                obj([
                    ("system", s("phone")),
                    ("value", Value::String(patient_phone)),
                    ("use", s("mobile")),
                ]),
                obj([
                    ("system", s("email")),
                    ("value", s(&email)),
                    ("use", s("home")),
                ]),
            ]),
        ),
        ("gender", s(if female { "female" } else { "male" })),
        ("birthDate", Value::String(date(birth))),
        ("address", arr([patient_address])),
        (
            "communication",
            arr([obj([
                (
                    "language",
                    concept("urn:ietf:bcp:47", "nl", "Dutch", "Nederlands"),
                ),
                ("preferred", Value::Bool(true)),
            ])]),
        ),
        ("generalPractitioner", arr([Gen::practitioner(gp)])),
        ("managingOrganization", reference("Organization", g.orgs.gp)),
    ]));

    representatives(&mut g, index, age, birth, family);

    // The problem list, then the care teams it calls for.
    let mut problems = choose_problems(&mut g, age, birth);
    let teams = care_teams(&mut g, age, birth, gp, registered, &mut problems);
    let mut contacts = encounters(&mut g, gp, registered, &teams, &mut problems);
    contacts.sort_by_key(|c| (c.day, c.hour));
    write_encounters(&mut g, &contacts, &problems);
    write_conditions(&mut g, gp, &problems, &contacts);
    write_episodes(&mut g, &teams, &problems);
    write_medication(&mut g, gp, &problems);
    let adult_size = write_vital_signs(&mut g, age, birth, female, &problems);
    write_labs(&mut g, age, birth, gp, &problems);
    write_allergies(&mut g, age, birth, gp);
    write_immunisations(&mut g, age, birth);
    write_procedures(&mut g, age, birth, &problems);
    write_letters(&mut g, &name_text, birth, &contacts, &problems);
    write_appointments(&mut g, gp, &teams);
    if age >= 18 && g.chance(0.4) {
        write_health_log(&mut g, adult_size);
    }
    write_messages(&mut g, given, gp);
    if index == 0 {
        write_video_consult(&mut g, gp);
    }

    PatientRecord {
        patient_id,
        resources: g.out,
        login: format!("patient.{index:05}"),
        age,
    }
}

/// Parents of children under 16; a curator, mentor or authorised representative for
/// about one adult in fifty (always for index 3).
fn representatives(g: &mut Gen, index: u32, age: u32, birth: Date, family: &str) {
    if age < 16 {
        let both = g.chance(0.6);
        let first_is_mother = g.chance(0.6);
        for k in 0..if both { 2 } else { 1 } {
            let mother = (k == 0) == first_is_mother;
            let given = given_name(&mut g.rng, mother, 40);
            let parent_family = if mother && g.chance(0.5) {
                family_name(&mut g.rng)
            } else {
                family
            };
            let (code, display, text) = if mother {
                ("MTH", "mother", "Moeder")
            } else {
                ("FTH", "father", "Vader")
            };
            let id = g.id();
            let number = phone(&mut g.rng);
            let patient = g.patient();
            g.out.push(obj([
                ("resourceType", s("RelatedPerson")),
                ("id", Value::String(id)),
                ("active", Value::Bool(true)),
                ("patient", patient),
                (
                    "relationship",
                    arr([concept(ROLE_CODE, code, display, text)]),
                ),
                (
                    "name",
                    arr([obj([
                        ("text", Value::String(format!("{given} {parent_family}"))),
                        ("family", s(parent_family)),
                        ("given", arr([s(given)])),
                    ])]),
                ),
                (
                    "telecom",
                    arr([obj([
                        ("system", s("phone")),
                        ("value", Value::String(number)),
                        ("use", s("mobile")),
                    ])]),
                ),
                ("gender", s(if mother { "female" } else { "male" })),
                ("period", obj([("start", Value::String(date(birth)))])),
            ]));
        }
    } else if index == 3 || (age >= 18 && g.rng.gen_range(0..50) == 0) {
        let kind = if index == 3 {
            "curator"
        } else {
            ["curator", "mentor", "gemachtigde"]
                .choose(&mut g.rng)
                .copied()
                .unwrap_or("mentor")
        };
        let (code, display) = if kind == "gemachtigde" {
            ("POWATT", "power of attorney")
        } else {
            ("GUARD", "guardian")
        };
        let female = g.chance(0.5);
        let given = given_name(&mut g.rng, female, 50);
        let rep_family = family_name(&mut g.rng);
        let id = g.id();
        let number = phone(&mut g.rng);
        let since = g.days_ago(60, 3000);
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("RelatedPerson")),
            ("id", Value::String(id)),
            ("active", Value::Bool(true)),
            ("patient", patient),
            (
                "relationship",
                arr([concept(ROLE_CODE, code, display, kind)]),
            ),
            (
                "name",
                arr([obj([
                    ("text", Value::String(format!("{given} {rep_family}"))),
                    ("family", s(rep_family)),
                    ("given", arr([s(given)])),
                ])]),
            ),
            (
                "telecom",
                arr([obj([
                    ("system", s("phone")),
                    ("value", Value::String(number)),
                    ("use", s("work")),
                ])]),
            ),
            ("gender", s(if female { "female" } else { "male" })),
            ("period", obj([("start", Value::String(date(since)))])),
        ]));
    }
}

/// Three to ten diagnoses, more and more chronic with age.
fn choose_problems(g: &mut Gen, age: u32, birth: Date) -> Vec<Problem> {
    let n = match age {
        0..=17 => g.rng.gen_range(3..=4),
        18..=39 => g.rng.gen_range(3..=5),
        40..=64 => g.rng.gen_range(4..=7),
        _ => g.rng.gen_range(5..=9),
    };
    let chronic_factor = match age {
        0..=29 => 1,
        30..=49 => 2,
        _ => 4,
    };
    let mut pool: Vec<(&'static ConditionSpec, u32)> = CONDITIONS
        .iter()
        .filter(|c| (c.min_age..=c.max_age).contains(&age))
        .map(|c| {
            (
                c,
                if c.chronic {
                    c.weight * chronic_factor
                } else {
                    c.weight
                },
            )
        })
        .collect();
    let mut problems = Vec::with_capacity(n + 2);
    while problems.len() < n && !pool.is_empty() {
        let total: u32 = pool.iter().map(|(_, w)| w).sum();
        let mut r = g.rng.gen_range(0..total.max(1));
        let mut k = 0;
        while k + 1 < pool.len() && r >= pool[k].1 {
            r -= pool[k].1;
            k += 1;
        }
        let (spec, _) = pool.swap_remove(k);
        problems.push(new_problem(g, spec, age, birth));
    }
    problems
}

fn new_problem(g: &mut Gen, spec: &'static ConditionSpec, age: u32, birth: Date) -> Problem {
    let lived = (g.today - birth).whole_days().max(8);
    let (onset, abatement) = if spec.chronic {
        let since_eligible = i64::from(age.saturating_sub(spec.min_age)) * 365;
        let onset = g.days_ago(30, since_eligible.clamp(31, 25 * 365).min(lived - 1));
        (onset, None)
    } else {
        let onset = g.days_ago(7, lived.min(2000) - 1);
        let end = (onset + Duration::days(g.rng.gen_range(5..=30))).min(g.today);
        (onset, Some(end))
    };
    Problem {
        spec,
        id: g.id(),
        onset: onset.max(birth),
        abatement,
        encounter: None,
    }
}

/// Adds a diagnosis that explains a care team, unless one of that kind is present.
fn ensure_reason(
    g: &mut Gen,
    problems: &mut Vec<Problem>,
    care: Care,
    (older, younger): (&str, &str),
    age: u32,
    birth: Date,
) -> Option<usize> {
    if let Some(k) = problems.iter().position(|p| p.spec.care == care) {
        return Some(k);
    }
    let spec = [older, younger]
        .iter()
        .filter_map(|code| CONDITIONS.iter().find(|c| c.snomed == *code))
        .find(|c| (c.min_age..=c.max_age).contains(&age))?;
    let p = new_problem(g, spec, age, birth);
    problems.push(p);
    Some(problems.len() - 1)
}

/// A care team some patients have besides the GP practice.
struct OptionalCare {
    care: Care,
    min_age: u32,
    /// Chance when a diagnosis calls for this care, and otherwise.
    with_reason: f64,
    otherwise: f64,
    /// Diagnoses that explain it, for older and younger patients.
    reasons: (&'static str, &'static str),
    roles: &'static [&'static str],
    /// The team started between these many days ago.
    started_days_ago: (i64, i64),
}

const OPTIONAL_CARE: &[OptionalCare] = &[
    OptionalCare {
        care: Care::Physio,
        min_age: 6,
        with_reason: 0.5,
        otherwise: 0.13,
        reasons: PHYSIO_REASONS,
        roles: &["physiotherapist"],
        started_days_ago: (21, 400),
    },
    OptionalCare {
        care: Care::Coach,
        min_age: 8,
        with_reason: 0.35,
        otherwise: 0.09,
        reasons: COACH_REASONS,
        roles: &["coach"],
        started_days_ago: (30, 900),
    },
    OptionalCare {
        care: Care::Hospital,
        min_age: 25,
        with_reason: 0.55,
        otherwise: 0.12,
        reasons: HOSPITAL_REASONS,
        roles: &["medical_specialist", "nurse"],
        started_days_ago: (60, 1500),
    },
];

/// The GP-practice team for everyone; physiotherapy, coaching and hospital teams for
/// some, more often when a diagnosis calls for them.
fn care_teams<'a>(
    g: &mut Gen<'a>,
    age: u32,
    birth: Date,
    gp: &'a StaffMember,
    registered: Date,
    problems: &mut Vec<Problem>,
) -> Vec<Team<'a>> {
    let has = |problems: &[Problem], care| problems.iter().any(|p| p.spec.care == care);
    let mut teams = Vec::with_capacity(4);
    let assistant = g.pick("assistant");
    let nurse = g.pick("practice_nurse");
    teams.push(write_care_team(
        g,
        Care::Gp,
        registered,
        &[
            ("gp", gp),
            ("assistant", assistant),
            ("practice_nurse", nurse),
        ],
        None,
    ));

    for c in OPTIONAL_CARE {
        let likelihood = if has(problems, c.care) {
            c.with_reason
        } else {
            c.otherwise
        };
        if age < c.min_age || !g.chance(likelihood) {
            continue;
        }
        let reason = ensure_reason(g, problems, c.care, c.reasons, age, birth);
        let members: Vec<(&str, &StaffMember)> = c.roles.iter().map(|r| (*r, g.pick(r))).collect();
        let start = g
            .days_ago(c.started_days_ago.0, c.started_days_ago.1)
            .max(birth);
        teams.push(write_care_team(g, c.care, start, &members, reason));
    }
    teams
}

fn team_names(care: Care) -> (&'static str, &'static str, &'static str) {
    // (CareTeam name, LOINC care team category, its display)
    match care {
        Care::Gp | Care::PracticeNurse => (
            "Huisartsenzorg De Linde",
            "LA28865-6",
            "Longitudinal care-coordination focused care team",
        ),
        Care::Physio => (
            "Fysiotherapie Veluwezoom",
            "LA27977-0",
            "Episode of care-focused care team",
        ),
        Care::Coach => (
            "Begeleiding Samen Sterk",
            "LA28866-4",
            "Home & Community Based Services (HCBS)-focused care team",
        ),
        Care::Hospital => (
            "Polikliniek Interne Geneeskunde",
            "LA27977-0",
            "Episode of care-focused care team",
        ),
    }
}

fn write_care_team<'a>(
    g: &mut Gen<'a>,
    care: Care,
    start: Date,
    members: &[(&str, &'a StaffMember)],
    reason: Option<usize>,
) -> Team<'a> {
    let org = match care {
        Care::Gp | Care::PracticeNurse => g.orgs.gp,
        Care::Physio => g.orgs.physio,
        Care::Coach => g.orgs.care,
        Care::Hospital => g.orgs.hospital,
    };
    let (name, category, category_display) = team_names(care);
    let since = Value::String(date(start));
    let participants = members
        .iter()
        .map(|(role, who)| {
            obj([
                (
                    "role",
                    arr([concept(LOCAL_ROLE, role, role, &role.replace('_', " "))]),
                ),
                ("member", Gen::practitioner(who)),
                ("onBehalfOf", reference("Organization", org)),
                ("period", obj([("start", since.clone())])),
            ])
        })
        .collect();
    let id = g.id();
    let patient = g.patient();
    g.out.push(obj([
        ("resourceType", s("CareTeam")),
        ("id", s(&id)),
        ("status", s("active")),
        (
            "category",
            arr([concept(LOINC, category, category_display, category_display)]),
        ),
        ("name", s(name)),
        ("subject", patient),
        ("period", obj([("start", since)])),
        ("participant", Value::Array(participants)),
        (
            "managingOrganization",
            arr([reference("Organization", org)]),
        ),
    ]));
    Team {
        id,
        care,
        org,
        start,
        lead: members.first().map_or(&NOBODY, |m| m.1),
        reason,
    }
}

/// Contacts: a diagnosis visit per problem, follow-ups for chronic care, and the visits
/// of the physiotherapy, coaching and hospital care.
fn encounters<'a>(
    g: &mut Gen<'a>,
    gp: &'a StaffMember,
    registered: Date,
    teams: &[Team<'a>],
    problems: &mut [Problem],
) -> Vec<Contact<'a>> {
    let mut contacts = Vec::with_capacity(24);
    let hospital = teams.iter().find(|t| t.care == Care::Hospital);
    let mut follow_ups = 0;
    for (k, p) in problems.iter_mut().enumerate() {
        if p.onset < registered {
            continue;
        }
        let (who, org, care, after_hours) = match hospital {
            Some(h) if p.spec.care == Care::Hospital && p.onset >= h.start => {
                (h.lead, h.org, Care::Hospital, false)
            }
            _ if !p.spec.chronic && g.chance(0.12) => {
                (g.pick("locum_gp"), g.orgs.post, Care::Gp, true)
            }
            _ if g.chance(0.8) => (gp, g.orgs.gp, Care::Gp, false),
            _ => (g.pick("gp"), g.orgs.gp, Care::Gp, false),
        };
        let contact = new_contact(g, p.onset, who, org, care, Some(k), after_hours);
        p.encounter = Some(contact.id.clone());
        contacts.push(contact);
        if p.spec.chronic && follow_ups < 4 {
            let (n, role) = match p.spec.care {
                Care::PracticeNurse => (g.rng.gen_range(1..=3), "practice_nurse"),
                _ => (g.rng.gen_range(0..=1), "gp"),
            };
            let since = (g.today - p.onset).whole_days().clamp(2, 3 * 365);
            for _ in 0..n {
                let day = g.days_ago(1, since - 1);
                let who = if role == "gp" { gp } else { g.pick(role) };
                let org = g.orgs.gp;
                contacts.push(new_contact(
                    g,
                    day,
                    who,
                    org,
                    Care::PracticeNurse,
                    Some(k),
                    false,
                ));
                follow_ups += 1;
            }
        }
    }
    for team in teams.iter().filter(|t| t.care != Care::Gp) {
        let (n, spacing) = match team.care {
            Care::Physio => (g.rng.gen_range(3..=8), 5..=10),
            Care::Coach => (g.rng.gen_range(2..=5), 14..=40),
            _ => (g.rng.gen_range(2..=4), 40..=150),
        };
        let mut day = team.start;
        for visit in 0..n {
            if day >= g.today {
                break;
            }
            let who = if team.care == Care::Hospital && visit % 2 == 1 {
                g.pick("nurse")
            } else {
                team.lead
            };
            contacts.push(new_contact(
                g,
                day,
                who,
                team.org,
                team.care,
                team.reason,
                false,
            ));
            day += Duration::days(g.rng.gen_range(spacing.clone()));
        }
    }
    contacts
}

fn new_contact<'a>(
    g: &mut Gen<'a>,
    day: Date,
    who: &'a StaffMember,
    org: &'a str,
    care: Care,
    reason: Option<usize>,
    after_hours: bool,
) -> Contact<'a> {
    let hour = if after_hours {
        g.rng.gen_range(18..=22)
    } else {
        g.rng.gen_range(8..=16)
    };
    let minutes = match care {
        Care::Physio | Care::Coach => 30,
        Care::Hospital => 20,
        _ => [10, 10, 15, 20][g.rng.gen_range(0..4)],
    };
    Contact {
        id: g.id(),
        day,
        hour,
        minutes,
        who,
        org,
        care,
        reason,
        after_hours,
    }
}

fn write_encounters(g: &mut Gen, contacts: &[Contact], problems: &[Problem]) {
    for c in contacts {
        let video = !c.after_hours && c.care != Care::Physio && g.chance(0.15);
        let (class, class_display) = if video {
            ("VR", "virtual")
        } else {
            ("AMB", "ambulatory")
        };
        let kind = match c.care {
            Care::Physio => concept(
                SNOMED,
                "91251008",
                "Physical therapy procedure",
                "Fysiotherapie",
            ),
            Care::Coach => concept(SNOMED, "409063005", "Counseling", "Begeleidingsgesprek"),
            Care::PracticeNurse => concept(SNOMED, "390906007", "Follow-up encounter", "Controle"),
            _ if c.after_hours => concept(
                SNOMED,
                "11429006",
                "Consultation",
                "Spoedconsult huisartsenpost",
            ),
            _ => concept(SNOMED, "11429006", "Consultation", "Consult"),
        };
        let end_minute = c.minutes.min(59) as u8;
        let patient = g.patient();
        let reason = c
            .reason
            .and_then(|k| problems.get(k))
            .map(|p| arr([concept(SNOMED, p.spec.snomed, p.spec.display, p.spec.text)]));
        g.out.push(obj([
            ("resourceType", s("Encounter")),
            ("id", s(&c.id)),
            ("status", s("finished")),
            (
                "class",
                obj([
                    ("system", s(ACT_CODE)),
                    ("code", s(class)),
                    ("display", s(class_display)),
                ]),
            ),
            ("type", arr([kind])),
            ("subject", patient),
            (
                "participant",
                arr([obj([
                    (
                        "type",
                        arr([concept(
                            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "PPRF",
                            "primary performer",
                            "Behandelaar",
                        )]),
                    ),
                    ("individual", Gen::practitioner(c.who)),
                ])]),
            ),
            (
                "period",
                obj([
                    ("start", Value::String(date_time(c.day, c.hour, 0))),
                    ("end", Value::String(date_time(c.day, c.hour, end_minute))),
                ]),
            ),
            ("reasonCode", opt(reason)),
            ("serviceProvider", reference("Organization", c.org)),
        ]));
    }
}

fn write_conditions(g: &mut Gen, gp: &StaffMember, problems: &[Problem], contacts: &[Contact]) {
    for p in problems {
        let (status, status_display) = if p.abatement.is_some() {
            ("resolved", "Resolved")
        } else {
            ("active", "Active")
        };
        let (category, category_display, category_text) = if p.spec.chronic {
            ("problem-list-item", "Problem List Item", "Probleemlijst")
        } else {
            (
                "encounter-diagnosis",
                "Encounter Diagnosis",
                "Diagnose bij contact",
            )
        };
        let recorder = p
            .encounter
            .as_ref()
            .and_then(|e| contacts.iter().find(|c| &c.id == e))
            .map_or(gp, |c| c.who);
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("Condition")),
            ("id", s(&p.id)),
            (
                "clinicalStatus",
                concept(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    status,
                    status_display,
                    status_display,
                ),
            ),
            (
                "verificationStatus",
                concept(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed",
                    "Confirmed",
                    "Bevestigd",
                ),
            ),
            (
                "category",
                arr([concept(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    category,
                    category_display,
                    category_text,
                )]),
            ),
            (
                "code",
                concept(SNOMED, p.spec.snomed, p.spec.display, p.spec.text),
            ),
            ("subject", patient),
            (
                "encounter",
                opt(p.encounter.as_ref().map(|e| reference("Encounter", e))),
            ),
            ("onsetDateTime", Value::String(date(p.onset))),
            (
                "abatementDateTime",
                opt(p.abatement.map(|d| Value::String(date(d)))),
            ),
            ("recordedDate", Value::String(date(p.onset))),
            ("recorder", Gen::practitioner(recorder)),
        ]));
    }
}

fn write_episodes(g: &mut Gen, teams: &[Team], problems: &[Problem]) {
    for t in teams {
        let kind = match t.care {
            Care::Gp | Care::PracticeNurse => "Huisartsenzorg",
            Care::Physio => "Fysiotherapie",
            Care::Coach => "Begeleiding (Wmo/Jeugdwet)",
            Care::Hospital => "Medisch-specialistische zorg",
        };
        let diagnosis = t.reason.and_then(|k| problems.get(k)).map(|p| {
            arr([obj([
                ("condition", reference("Condition", &p.id)),
                ("rank", Value::from(1)),
            ])])
        });
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("EpisodeOfCare")),
            ("id", Value::String(id)),
            ("status", s("active")),
            ("type", arr([concept_text(kind)])),
            ("diagnosis", opt(diagnosis)),
            ("patient", patient),
            ("managingOrganization", reference("Organization", t.org)),
            ("period", obj([("start", Value::String(date(t.start)))])),
            ("careManager", Gen::practitioner(t.lead)),
            ("team", arr([reference("CareTeam", &t.id)])),
        ]));
    }
}

fn medicine_concept(m: &Medicine) -> Value {
    concept(ATC, m.0, m.1, m.2)
}

/// A MedicationStatement per medicine in use, and its prescriptions: repeat
/// prescriptions for chronic use (the latest active), one course for acute problems.
fn write_medication(g: &mut Gen, gp: &StaffMember, problems: &[Problem]) {
    for p in problems {
        if p.spec.medicines.is_empty() {
            continue;
        }
        let used = if p.spec.chronic {
            g.rng.gen_range(1..=p.spec.medicines.len().min(2))
        } else {
            1
        };
        for m in &p.spec.medicines[..used] {
            let start = (p.onset + Duration::days(g.rng.gen_range(0..=30))).min(g.today);
            let stopped = p.abatement.or_else(|| {
                if g.chance(0.08) {
                    Some(g.days_ago(1, (g.today - start).whole_days().max(1)))
                } else {
                    None
                }
            });
            let statement = g.id();
            let patient = g.patient();
            g.out.push(obj([
                ("resourceType", s("MedicationStatement")),
                ("id", Value::String(statement)),
                (
                    "status",
                    s(if stopped.is_some() {
                        "completed"
                    } else {
                        "active"
                    }),
                ),
                ("medicationCodeableConcept", medicine_concept(m)),
                ("subject", patient),
                (
                    "effectivePeriod",
                    obj([
                        ("start", Value::String(date(start))),
                        ("end", opt(stopped.map(|d| Value::String(date(d))))),
                    ]),
                ),
                ("dateAsserted", Value::String(date(start))),
                ("informationSource", Gen::practitioner(gp)),
                ("reasonReference", arr([reference("Condition", &p.id)])),
                ("dosage", arr([obj([("text", s(m.3))])])),
            ]));

            // Prescriptions, oldest first: for chronic use up to three repeats, ending
            // at the latest within the last three months (or when it was stopped).
            let mut days = Vec::with_capacity(3);
            if p.spec.chronic {
                let mut day = stopped.unwrap_or_else(|| g.days_ago(3, 90));
                for _ in 0..g.rng.gen_range(1..=2) {
                    if day < start {
                        break;
                    }
                    days.push(day);
                    day -= Duration::days(g.rng.gen_range(90..=180));
                }
                days.reverse();
            }
            if days.is_empty() {
                days.push(start);
            }
            let last = days.len() - 1;
            for (k, day) in days.into_iter().enumerate() {
                let active = k == last && stopped.is_none() && p.spec.chronic;
                let id = g.id();
                let patient = g.patient();
                g.out.push(obj([
                    ("resourceType", s("MedicationRequest")),
                    ("id", Value::String(id)),
                    ("status", s(if active { "active" } else { "completed" })),
                    ("intent", s("order")),
                    ("medicationCodeableConcept", medicine_concept(m)),
                    ("subject", patient),
                    ("authoredOn", Value::String(date(day))),
                    ("requester", Gen::practitioner(gp)),
                    ("reasonReference", arr([reference("Condition", &p.id)])),
                    (
                        "courseOfTherapyType",
                        concept(
                            "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                            if p.spec.chronic { "continuous" } else { "acute" },
                            if p.spec.chronic {
                                "Continuous long term therapy"
                            } else {
                                "Short course (acute) therapy"
                            },
                            if p.spec.chronic { "Chronisch" } else { "Kuur" },
                        ),
                    ),
                    ("dosageInstruction", arr([obj([("text", s(m.3))])])),
                    (
                        "dispenseRequest",
                        obj([("performer", reference("Organization", g.orgs.pharmacy))]),
                    ),
                ]));
            }
        }
    }
}

/// Vital signs measured at the practice; returns the adult (or current) height and
/// weight for the health log.
fn write_vital_signs(
    g: &mut Gen,
    age: u32,
    birth: Date,
    female: bool,
    problems: &[Problem],
) -> (f64, f64) {
    let hypertension = problems.iter().any(|p| p.spec.snomed == "38341003");
    let heart = problems
        .iter()
        .any(|p| matches!(p.spec.snomed, "49436004" | "84114007" | "22298006"));
    let vital = observation_category("vital-signs", "Vital Signs");
    let nurse = g.pick("practice_nurse");
    let years_now = f64::from(age) + 0.5;

    // Height and weight: a growth series for children, a measurement or three for adults.
    let (height, weight) = if age < 18 {
        child_growth(years_now, female)
    } else {
        let h = if female {
            g.rng.gen_range(158.0..178.0)
        } else {
            g.rng.gen_range(170.0..193.0)
        };
        let bmi = g.rng.gen_range(20.0..33.0);
        (h, bmi * (h / 100.0) * (h / 100.0))
    };
    let points = if age < 18 {
        g.rng.gen_range(2..=4)
    } else {
        g.rng.gen_range(1..=3)
    };
    for k in 0..points {
        let back = i64::from(k) * g.rng.gen_range(150..=500) + g.rng.gen_range(10..=90);
        let day = (g.today - Duration::days(back)).max(birth);
        let (h, w) = if age < 18 {
            let years = (day - birth).whole_days() as f64 / 365.25;
            child_growth(years, female)
        } else {
            (height, weight + g.rng.gen_range(-2.5..2.5))
        };
        if age < 18 || k == 0 {
            let obs = vital_sign(
                g,
                &vital,
                nurse,
                day,
                ("8302-2", "Body height", "Lengte"),
                decimal(h, 1),
                "cm",
            );
            g.out.push(obs);
        }
        let obs = vital_sign(
            g,
            &vital,
            nurse,
            day,
            ("29463-7", "Body weight", "Gewicht"),
            decimal(w, 1),
            "kg",
        );
        g.out.push(obs);
    }
    if age >= 4 {
        for _ in 0..g.rng.gen_range(1..=3) {
            let day = g.days_ago(10, 1000).max(birth);
            let base = if age < 12 {
                90.0
            } else if heart {
                78.0
            } else {
                70.0
            };
            let rate = base + g.rng.gen_range(-10.0..14.0);
            let obs = vital_sign(
                g,
                &vital,
                nurse,
                day,
                ("8867-4", "Heart rate", "Hartfrequentie"),
                decimal(rate, 0),
                "/min",
            );
            g.out.push(obs);
        }
    }
    if age >= 12 {
        let n = if hypertension {
            g.rng.gen_range(4..=8)
        } else {
            g.rng.gen_range(1..=3)
        };
        let (sys, dia) = if hypertension {
            (148.0, 90.0)
        } else {
            (122.0, 78.0)
        };
        for k in 0..n {
            let back = i64::from(k) * g.rng.gen_range(60..=180) + g.rng.gen_range(5..=60);
            let day = (g.today - Duration::days(back)).max(birth);
            let systolic = sys + g.rng.gen_range(-12.0..15.0);
            let diastolic = dia + g.rng.gen_range(-8.0..9.0);
            let obs = blood_pressure(g, &vital, nurse, day, systolic, diastolic);
            g.out.push(obs);
        }
    }
    (height, weight)
}

fn vital_sign(
    g: &mut Gen,
    category: &Value,
    performer: &StaffMember,
    day: Date,
    (code, display, text): (&str, &str, &str),
    value: Value,
    unit: &str,
) -> Value {
    let hour = g.rng.gen_range(8..=16);
    let id = g.id();
    obj([
        ("resourceType", s("Observation")),
        ("id", Value::String(id)),
        ("status", s("final")),
        ("category", arr([category.clone()])),
        ("code", concept(LOINC, code, display, text)),
        ("subject", g.patient()),
        ("effectiveDateTime", Value::String(date_time(day, hour, 20))),
        ("performer", arr([Gen::practitioner(performer)])),
        ("valueQuantity", quantity(value, unit)),
    ])
}

fn blood_pressure_components(systolic: f64, diastolic: f64) -> Value {
    arr([
        obj([
            (
                "code",
                concept(
                    LOINC,
                    "8480-6",
                    "Systolic blood pressure",
                    "Systolische bloeddruk",
                ),
            ),
            ("valueQuantity", quantity(decimal(systolic, 0), "mm[Hg]")),
        ]),
        obj([
            (
                "code",
                concept(
                    LOINC,
                    "8462-4",
                    "Diastolic blood pressure",
                    "Diastolische bloeddruk",
                ),
            ),
            ("valueQuantity", quantity(decimal(diastolic, 0), "mm[Hg]")),
        ]),
    ])
}

fn blood_pressure(
    g: &mut Gen,
    category: &Value,
    performer: &StaffMember,
    day: Date,
    systolic: f64,
    diastolic: f64,
) -> Value {
    let hour = g.rng.gen_range(8..=16);
    let id = g.id();
    obj([
        ("resourceType", s("Observation")),
        ("id", Value::String(id)),
        ("status", s("final")),
        ("category", arr([category.clone()])),
        (
            "code",
            concept(
                LOINC,
                "85354-9",
                "Blood pressure panel with all children optional",
                "Bloeddruk",
            ),
        ),
        ("subject", g.patient()),
        ("effectiveDateTime", Value::String(date_time(day, hour, 25))),
        ("performer", arr([Gen::practitioner(performer)])),
        ("component", blood_pressure_components(systolic, diastolic)),
    ])
}

/// Lab series over several years (4–12 draws, the same draws for every test) for the
/// tests a patient's conditions call for and some routine ones, with a report on each of
/// the last two draws.
fn write_labs(g: &mut Gen, age: u32, birth: Date, gp: &StaffMember, problems: &[Problem]) {
    let mut panel: Vec<(usize, bool)> = Vec::with_capacity(8);
    for p in problems.iter().filter(|p| p.abatement.is_none()) {
        for &lab in p.spec.labs {
            let affected = g.chance(0.6);
            match panel.iter_mut().find(|(l, _)| *l == lab) {
                Some(entry) => entry.1 |= affected,
                None => panel.push((lab, affected)),
            }
        }
    }
    let followed = !panel.is_empty();
    if age >= 18 && (followed || g.chance(0.6)) {
        for _ in 0..g.rng.gen_range(1..=2) {
            if let Some(&lab) = ROUTINE_LABS.choose(&mut g.rng) {
                if !panel.iter().any(|(l, _)| *l == lab) {
                    panel.push((lab, false));
                }
            }
        }
    }
    panel.truncate(4);
    if panel.is_empty() {
        return;
    }
    let n = if followed {
        g.rng.gen_range(5..=12)
    } else {
        g.rng.gen_range(4..=5)
    };
    let mut draws = Vec::with_capacity(n);
    let mut day = g.days_ago(3, 90);
    for _ in 0..n {
        if day <= birth + Duration::days(365) {
            break;
        }
        draws.push(day);
        day -= Duration::days(g.rng.gen_range(90..=200));
    }
    draws.reverse();
    if draws.len() < 4 {
        return;
    }
    let lab_category = observation_category("laboratory", "Laboratory");
    let performer = reference("Organization", g.orgs.hospital);
    let reported_from = draws.len() - 2;
    let mut reported: Vec<Vec<String>> = vec![Vec::new(); 2];
    let mut abnormal = [Vec::new(), Vec::new()];
    for &(lab, affected) in &panel {
        let spec = &LABS[lab];
        let (lo, hi) = if affected {
            spec.affected
        } else {
            spec.healthy
        };
        let (centre, width) = ((lo + hi) / 2.0, hi - lo);
        let mut value = centre + g.rng.gen_range(-0.5..0.5) * width;
        let range = arr([obj([
            ("low", quantity(decimal(spec.low, spec.decimals), spec.unit)),
            (
                "high",
                quantity(decimal(spec.high, spec.decimals), spec.unit),
            ),
        ])]);
        for (k, &day) in draws.iter().enumerate() {
            value += 0.35 * (centre - value) + g.rng.gen_range(-0.3..0.3) * width;
            let scale = f64::from(10u32.pow(spec.decimals));
            let shown = ((value.max(0.0)) * scale).round() / scale;
            let flag = if shown > spec.high {
                Some(("H", "High", "Hoog"))
            } else if shown < spec.low {
                Some(("L", "Low", "Laag"))
            } else {
                None
            };
            let id = g.id();
            if k >= reported_from {
                reported[k - reported_from].push(id.clone());
                if let Some((_, _, text)) = flag {
                    abnormal[k - reported_from].push(format!(
                        "{} {}",
                        spec.text,
                        text.to_lowercase()
                    ));
                }
            }
            let patient = g.patient();
            g.out.push(obj([
                ("resourceType", s("Observation")),
                ("id", Value::String(id)),
                ("status", s("final")),
                ("category", arr([lab_category.clone()])),
                ("code", concept(LOINC, spec.loinc, spec.display, spec.text)),
                ("subject", patient),
                ("effectiveDateTime", Value::String(date_time(day, 8, 30))),
                ("issued", Value::String(date_time(day, 15, 45))),
                ("performer", arr([performer.clone()])),
                (
                    "valueQuantity",
                    quantity(decimal(shown, spec.decimals), spec.unit),
                ),
                (
                    "interpretation",
                    opt(flag.map(|(code, display, text)| {
                        arr([concept(INTERPRETATION, code, display, text)])
                    })),
                ),
                ("referenceRange", range.clone()),
            ]));
        }
    }
    for (k, ids) in reported.into_iter().enumerate() {
        let day = draws[reported_from + k];
        let conclusion = if abnormal[k].is_empty() {
            "Alle uitslagen binnen de referentiewaarden. Geen actie nodig.".to_owned()
        } else {
            format!(
                "Afwijkend: {}. Besproken met patiënt; controle over drie maanden.",
                abnormal[k].join(", ")
            )
        };
        let results = ids.iter().map(|id| reference("Observation", id)).collect();
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("DiagnosticReport")),
            ("id", Value::String(id)),
            ("status", s("final")),
            (
                "category",
                arr([concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0074",
                    "LAB",
                    "Laboratory",
                    "Laboratorium",
                )]),
            ),
            (
                "code",
                concept(
                    LOINC,
                    "11502-2",
                    "Laboratory report",
                    "Laboratoriumuitslagen",
                ),
            ),
            ("subject", patient),
            ("effectiveDateTime", Value::String(date_time(day, 8, 30))),
            ("issued", Value::String(date_time(day, 16, 0))),
            ("performer", arr([performer.clone()])),
            ("resultsInterpreter", arr([Gen::practitioner(gp)])),
            ("result", Value::Array(results)),
            ("conclusion", Value::String(conclusion)),
        ]));
    }
}

fn write_allergies(g: &mut Gen, age: u32, birth: Date, gp: &StaffMember) {
    if !g.chance(0.3) {
        return;
    }
    let n = if g.chance(0.2) { 2 } else { 1 };
    let mut picks: Vec<_> = ALLERGIES.iter().collect();
    picks.shuffle(&mut g.rng);
    for (code, display, text, category, criticality, reaction, reaction_display) in
        picks.into_iter().take(n)
    {
        let day = g.days_ago(30, i64::from(age.max(1)) * 365).max(birth);
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("AllergyIntolerance")),
            ("id", Value::String(id)),
            (
                "clinicalStatus",
                concept(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active",
                    "Active",
                    "Actief",
                ),
            ),
            (
                "verificationStatus",
                concept(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "confirmed",
                    "Confirmed",
                    "Bevestigd",
                ),
            ),
            ("type", s("allergy")),
            ("category", arr([s(category)])),
            ("criticality", s(criticality)),
            ("code", concept(SNOMED, code, display, text)),
            ("patient", patient),
            ("recordedDate", Value::String(date(day))),
            ("recorder", Gen::practitioner(gp)),
            (
                "reaction",
                arr([obj([
                    (
                        "manifestation",
                        arr([concept(
                            SNOMED,
                            reaction,
                            reaction_display,
                            reaction_display,
                        )]),
                    ),
                    (
                        "severity",
                        s(if *criticality == "high" {
                            "severe"
                        } else {
                            "mild"
                        }),
                    ),
                ])]),
            ),
        ]));
    }
}

/// The national programme for children and young adults; flu, pneumococcal and COVID-19
/// vaccinations for adults.
fn write_immunisations(g: &mut Gen, age: u32, birth: Date) {
    let mut given: Vec<(Date, (&str, &str, &str), bool)> = Vec::with_capacity(12);
    if age <= 25 {
        for (code, display, text, months) in CHILDHOOD_VACCINATIONS {
            let day = birth + Duration::days(i64::from(*months) * 30 + g.rng.gen_range(0..=20));
            if day < g.today {
                given.push((day, (code, display, text), false));
            }
        }
    }
    if age >= 18 && g.chance(0.6) {
        for k in 0..g.rng.gen_range(1..=2) {
            let day = Date::from_ordinal_date(2021, 110 + k * 42 + g.rng.gen_range(0..=20))
                .unwrap_or(g.today);
            if day < g.today && age_on(birth, day) >= 12 {
                given.push((day, COVID, false));
            }
        }
    }
    if age >= 60 {
        for k in 0..g.rng.gen_range(1..=3) {
            let day = Date::from_ordinal_date(g.today.year() - k, 285 + g.rng.gen_range(0..=40))
                .unwrap_or(g.today);
            if day < g.today {
                given.push((day, FLU, true));
            }
        }
        if g.chance(0.4) {
            let day = g.days_ago(30, 1000);
            given.push((day, PNEUMOCOCCAL, true));
        }
    }
    given.sort_by_key(|(day, _, _)| *day);
    for (day, (code, display, text), at_practice) in given {
        let performer = if at_practice {
            let nurse = g.pick("practice_nurse");
            Some(arr([obj([("actor", Gen::practitioner(nurse))])]))
        } else {
            None
        };
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("Immunization")),
            ("id", Value::String(id)),
            ("status", s("completed")),
            ("vaccineCode", concept(CVX, code, display, text)),
            ("patient", patient),
            ("occurrenceDateTime", Value::String(date(day))),
            ("primarySource", Value::Bool(true)),
            ("performer", opt(performer)),
        ]));
    }
}

fn write_procedures(g: &mut Gen, age: u32, birth: Date, problems: &[Problem]) {
    if !g.chance(0.3) {
        return;
    }
    let eligible: Vec<_> = PROCEDURES.iter().filter(|p| age >= p.3).collect();
    let Some((code, display, text, min_age)) = eligible.choose(&mut g.rng).copied() else {
        return;
    };
    let earliest = birth + Duration::days(i64::from(*min_age) * 365);
    let day = g.days_ago(30, 5000).max(earliest).min(g.today);
    let reason = if *code == "609588000" {
        problems
            .iter()
            .find(|p| p.spec.snomed == "239873007")
            .map(|p| arr([reference("Condition", &p.id)]))
    } else {
        None
    };
    let id = g.id();
    let patient = g.patient();
    g.out.push(obj([
        ("resourceType", s("Procedure")),
        ("id", Value::String(id)),
        ("status", s("completed")),
        ("code", concept(SNOMED, code, display, text)),
        ("subject", patient),
        ("performedDateTime", Value::String(date(day))),
        (
            "performer",
            arr([obj([("actor", reference("Organization", g.orgs.hospital))])]),
        ),
        ("reasonReference", opt(reason)),
    ]));
}

/// Consult reports of the last two GP contacts, and a letter from the physiotherapist or
/// the specialist when there was such care. They name the patient, as real letters do.
fn write_letters(g: &mut Gen, name: &str, birth: Date, contacts: &[Contact], problems: &[Problem]) {
    let mut chosen: Vec<&Contact> = contacts
        .iter()
        .rev()
        .filter(|c| matches!(c.care, Care::Gp | Care::PracticeNurse))
        .take(2)
        .collect();
    for care in [Care::Physio, Care::Hospital] {
        if let Some(c) = contacts.iter().rev().find(|c| c.care == care) {
            chosen.push(c);
        }
    }
    for c in chosen {
        let reason = c
            .reason
            .and_then(|k| problems.get(k))
            .map_or("algemene controle", |p| p.spec.text);
        let (title, opening, plan) = match c.care {
            Care::Physio => (
                "Verslag fysiotherapie",
                "Geachte collega,\n\nUw patiënt(e) is bij ons in behandeling geweest.",
                "Oefenprogramma meegegeven; afronding na nog enkele behandelingen.",
            ),
            Care::Hospital => (
                "Brief polikliniek interne geneeskunde",
                "Geachte collega,\n\nUw patiënt(e) bezocht onze polikliniek.",
                "Beleid ongewijzigd; controle op de polikliniek over drie maanden.",
            ),
            _ => (
                "Consultverslag",
                "Verslag van het consult.",
                "Uitleg gegeven; bij aanhoudende of toenemende klachten opnieuw contact.",
            ),
        };
        let letter = format!(
            "{title}, {day}\n\n{opening}\n\nPatiënt: {name}, geboren {born}.\nReden van komst: {reason}.\nBeleid: {plan}\n\nMet vriendelijke groet,\n{who}",
            day = date(c.day),
            born = date(birth),
            who = c.who.display,
        );
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("DocumentReference")),
            ("id", Value::String(id)),
            ("status", s("current")),
            ("docStatus", s("final")),
            ("type", concept(LOINC, "11488-4", "Consult note", title)),
            ("subject", patient),
            ("date", Value::String(date_time(c.day, 17, 0))),
            ("author", arr([Gen::practitioner(c.who)])),
            ("custodian", reference("Organization", c.org)),
            ("description", s(title)),
            (
                "content",
                arr([obj([(
                    "attachment",
                    obj([
                        ("contentType", s("text/plain")),
                        ("language", s("nl")),
                        ("data", Value::String(base64(letter.as_bytes()))),
                        ("title", s(title)),
                        ("creation", Value::String(date_time(c.day, 17, 0))),
                    ]),
                )])]),
            ),
            (
                "context",
                obj([
                    ("encounter", arr([reference("Encounter", &c.id)])),
                    (
                        "period",
                        obj([("start", Value::String(date_time(c.day, c.hour, 0)))]),
                    ),
                ]),
            ),
        ]));
    }
}

/// Past and future appointments, some of them by video.
fn write_appointments(g: &mut Gen, gp: &StaffMember, teams: &[Team]) {
    let future = g.rng.gen_range(1..=2);
    let total = future + g.rng.gen_range(1..=3);
    for k in 0..total {
        let upcoming = k < future;
        let day = if upcoming {
            g.today + Duration::days(g.rng.gen_range(1..=60))
        } else {
            g.days_ago(1, 400)
        };
        let team = teams.choose(&mut g.rng).filter(|t| t.care != Care::Gp);
        let (who, service, minutes) = match team {
            Some(t) => {
                let service = match t.care {
                    Care::Physio => "Fysiotherapie",
                    Care::Coach => "Begeleidingsgesprek",
                    _ => "Polikliniek interne geneeskunde",
                };
                (t.lead, service, 30)
            }
            None if g.chance(0.3) => (
                g.pick("practice_nurse"),
                "Controle praktijkondersteuner",
                20,
            ),
            None => (gp, "Huisartsconsult", 10),
        };
        let video = who.role != "physiotherapist" && g.chance(0.25);
        let status = if upcoming {
            if g.chance(0.05) {
                "cancelled"
            } else {
                "booked"
            }
        } else {
            match g.rng.gen_range(0..100) {
                0..=79 => "fulfilled",
                80..=91 => "cancelled",
                _ => "noshow",
            }
        };
        let hour = g.rng.gen_range(8..=16);
        let minute = [0u8, 15, 30, 45][g.rng.gen_range(0..4)];
        let end_minutes = u32::from(minute) + minutes;
        let created = (day - Duration::days(g.rng.gen_range(1..=30))).min(g.today);
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("Appointment")),
            ("id", Value::String(id)),
            (
                "extension",
                opt(video.then(|| {
                    arr([obj([
                        ("url", s(VIDEO_CONSULT)),
                        ("valueBoolean", Value::Bool(true)),
                    ])])
                })),
            ),
            ("status", s(status)),
            (
                "cancelationReason",
                opt((status == "cancelled").then(|| concept_text("Afgezegd door patiënt"))),
            ),
            ("serviceType", arr([concept_text(service)])),
            (
                "appointmentType",
                concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0276",
                    if k % 2 == 0 { "ROUTINE" } else { "FOLLOWUP" },
                    if k % 2 == 0 {
                        "Routine appointment"
                    } else {
                        "A follow up visit from a previous appointment"
                    },
                    if k % 2 == 0 {
                        "Afspraak"
                    } else {
                        "Vervolgafspraak"
                    },
                ),
            ),
            ("description", s(service)),
            ("start", Value::String(date_time(day, hour, minute))),
            (
                "end",
                Value::String(date_time(
                    day,
                    hour + (end_minutes / 60) as u8,
                    (end_minutes % 60) as u8,
                )),
            ),
            ("minutesDuration", Value::from(minutes)),
            ("created", Value::String(date(created))),
            (
                "comment",
                opt(video.then(|| s("Videoconsult: u ontvangt de link in de portal."))),
            ),
            (
                "participant",
                arr([
                    obj([
                        ("actor", patient),
                        ("required", s("required")),
                        ("status", s("accepted")),
                    ]),
                    obj([
                        ("actor", Gen::practitioner(who)),
                        ("required", s("required")),
                        ("status", s("accepted")),
                    ]),
                ]),
            ),
        ]));
    }
}

/// HP-2: an upcoming video consult with the GP on the next working day at 11:00 (outside
/// the agenda's open slots), so the demo patient has one to join. Written last, so the
/// rest of the record is the same as without it.
fn write_video_consult(g: &mut Gen, gp: &StaffMember) {
    let day = crate::agenda::next_working_day(g.today);
    let id = g.id();
    let patient = g.patient();
    g.out.push(obj([
        ("resourceType", s("Appointment")),
        ("id", Value::String(id)),
        (
            "extension",
            arr([obj([
                ("url", s(VIDEO_CONSULT)),
                ("valueBoolean", Value::Bool(true)),
            ])]),
        ),
        ("status", s("booked")),
        ("serviceType", arr([concept_text("Videoconsult huisarts")])),
        (
            "appointmentType",
            concept(ACT_CODE, "VR", "virtual", "Videoconsult"),
        ),
        ("description", s("Bespreken van de uitslagen")),
        ("start", Value::String(date_time(day, 11, 0))),
        ("end", Value::String(date_time(day, 11, 15))),
        ("minutesDuration", Value::from(15)),
        ("created", Value::String(date(g.today))),
        (
            "comment",
            s("Videoconsult: de link verschijnt in de portal vanaf 15 minuten voor de afspraak."),
        ),
        (
            "participant",
            arr([
                obj([
                    ("actor", patient),
                    ("required", s("required")),
                    ("status", s("accepted")),
                ]),
                obj([
                    ("actor", Gen::practitioner(gp)),
                    ("required", s("required")),
                    ("status", s("accepted")),
                ]),
            ]),
        ),
    ]));
}

/// A few weeks of self-entered measurements (the health log), marked as entered by the
/// patient and performed by the patient.
fn write_health_log(g: &mut Gen, (_height, weight): (f64, f64)) {
    let tag = obj([(
        "tag",
        arr([obj([
            ("system", s(PROVENANCE)),
            ("code", s("patient-entered")),
            ("display", s("Ingevoerd door patiënt")),
        ])]),
    )]);
    let vital = observation_category("vital-signs", "Vital Signs");
    let survey = observation_category("survey", "Survey");
    let activity = observation_category("activity", "Activity");
    let social = observation_category("social-history", "Social History");

    let series = |g: &mut Gen, lo: i64, hi: i64, gap: i64| -> Vec<Date> {
        let n = g.rng.gen_range(lo..=hi);
        let mut day = g.days_ago(0, 2);
        let mut days = Vec::with_capacity(n as usize);
        for _ in 0..n {
            days.push(day);
            day -= Duration::days(g.rng.gen_range(1..=gap));
        }
        days.reverse();
        days
    };
    let push = |g: &mut Gen,
                categories: Value,
                code: Value,
                day: Date,
                hour: u8,
                value: (&'static str, Value)| {
        let id = g.id();
        let patient = g.patient();
        let performer = g.patient();
        g.out.push(obj([
            ("resourceType", s("Observation")),
            ("id", Value::String(id)),
            ("meta", tag.clone()),
            ("status", s("final")),
            ("category", categories),
            ("code", code),
            ("subject", patient),
            ("effectiveDateTime", Value::String(date_time(day, hour, 0))),
            ("performer", arr([performer])),
            value,
        ]));
    };

    let mut w = weight;
    for day in series(g, 3, 6, 6) {
        w += g.rng.gen_range(-0.6..0.5);
        let code = concept(LOINC, "29463-7", "Body weight", "Gewicht");
        push(
            g,
            arr([vital.clone()]),
            code,
            day,
            7,
            ("valueQuantity", quantity(decimal(w, 1), "kg")),
        );
    }
    let (sys, dia) = (g.rng.gen_range(115.0..150.0), g.rng.gen_range(70.0..92.0));
    for day in series(g, 3, 6, 6) {
        let code = concept(
            LOINC,
            "85354-9",
            "Blood pressure panel with all children optional",
            "Bloeddruk",
        );
        let components = blood_pressure_components(
            sys + g.rng.gen_range(-8.0..8.0),
            dia + g.rng.gen_range(-5.0..5.0),
        );
        push(
            g,
            arr([vital.clone()]),
            code,
            day,
            8,
            ("component", components),
        );
    }
    let steps_base: f64 = g.rng.gen_range(3000.0..10000.0);
    for day in series(g, 6, 10, 3) {
        let code = concept(
            LOINC,
            "55423-8",
            "Number of steps in unspecified time Pedometer",
            "Aantal stappen per dag",
        );
        let steps = (steps_base * g.rng.gen_range(0.5..1.5)).round();
        push(
            g,
            arr([survey.clone(), activity.clone()]),
            code,
            day,
            22,
            ("valueQuantity", quantity(decimal(steps, 0), "/d")),
        );
    }
    let sleep_base = g.rng.gen_range(6.0..8.5);
    for day in series(g, 6, 10, 3) {
        let code = concept(LOINC, "93832-4", "Sleep duration", "Slaapduur");
        let hours = sleep_base + g.rng.gen_range(-1.5..1.2);
        push(
            g,
            arr([survey.clone(), activity.clone()]),
            code,
            day,
            8,
            ("valueQuantity", quantity(decimal(hours, 1), "h")),
        );
    }
    let mood_base = g.rng.gen_range(4..=8);
    for day in series(g, 3, 6, 5) {
        let code = obj([
            ("coding", arr([coding(SELF_MEASURE, "mood", "Mood (1-10)")])),
            ("text", s("Stemming (1-10)")),
        ]);
        let mood = (mood_base + g.rng.gen_range(-2..=2)).clamp(1, 10);
        push(
            g,
            arr([survey.clone()]),
            code,
            day,
            21,
            ("valueInteger", Value::from(mood)),
        );
    }
    let (smoking_code, smoking_display, smoking_text) = match g.rng.gen_range(0..100) {
        0..=59 => ("266919005", "Never smoked tobacco", "Nooit gerookt"),
        60..=84 => ("8517006", "Ex-smoker", "Gestopt met roken"),
        _ => ("77176002", "Smoker", "Rookt"),
    };
    let day = g.days_ago(0, 28);
    let code = concept(LOINC, "72166-2", "Tobacco smoking status", "Rookstatus");
    let value = concept(SNOMED, smoking_code, smoking_display, smoking_text);
    push(
        g,
        arr([survey.clone(), social.clone()]),
        code,
        day,
        20,
        ("valueCodeableConcept", value),
    );
    for day in series(g, 1, 2, 14) {
        let code = concept(
            LOINC,
            "74013-4",
            "Alcoholic drinks per day",
            "Glazen alcohol per dag",
        );
        let drinks = g.rng.gen_range(0..=3);
        push(
            g,
            arr([survey.clone(), social.clone()]),
            code,
            day,
            20,
            ("valueQuantity", quantity(Value::from(drinks), "{drinks}/d")),
        );
    }
    for day in series(g, 1, 2, 10) {
        let code = obj([
            ("coding", arr([coding(SELF_MEASURE, "note", "Note")])),
            ("text", s("Notitie")),
        ]);
        let note = PATIENT_NOTES
            .choose(&mut g.rng)
            .copied()
            .unwrap_or("Geen bijzonderheden.");
        push(
            g,
            arr([survey.clone()]),
            code,
            day,
            21,
            ("valueString", s(note)),
        );
    }
}

/// Messages from the practice, sometimes with a reply from the patient.
fn write_messages(g: &mut Gen, given: &str, gp: &StaffMember) {
    if !g.chance(0.4) {
        return;
    }
    for _ in 0..g.rng.gen_range(1..=2) {
        let sender = match g.rng.gen_range(0..3) {
            0 => gp,
            1 => g.pick("practice_nurse"),
            _ => g.pick("assistant"),
        };
        let day = g.days_ago(2, 200);
        let text = PRACTICE_MESSAGES
            .choose(&mut g.rng)
            .copied()
            .unwrap_or("Beste {naam}, er is een bericht voor u.")
            .replace("{naam}", given);
        let id = g.id();
        let patient = g.patient();
        g.out.push(obj([
            ("resourceType", s("Communication")),
            ("id", s(&id)),
            ("status", s("completed")),
            ("category", arr([concept_text("Bericht van de praktijk")])),
            ("subject", patient.clone()),
            ("recipient", arr([patient])),
            ("sender", Gen::practitioner(sender)),
            ("sent", Value::String(date_time(day, 14, 5))),
            (
                "payload",
                arr([obj([("contentString", Value::String(text))])]),
            ),
        ]));
        if g.chance(0.4) {
            let reply = PATIENT_REPLIES
                .choose(&mut g.rng)
                .copied()
                .unwrap_or("Dank u wel.");
            let reply_id = g.id();
            let patient = g.patient();
            let sent = (day + Duration::days(1)).min(g.today);
            g.out.push(obj([
                ("resourceType", s("Communication")),
                ("id", Value::String(reply_id)),
                ("inResponseTo", arr([reference("Communication", &id)])),
                ("status", s("completed")),
                ("category", arr([concept_text("Bericht van de patiënt")])),
                ("subject", patient.clone()),
                ("recipient", arr([Gen::practitioner(sender)])),
                ("sender", patient),
                ("sent", Value::String(date_time(sent, 19, 30))),
                ("payload", arr([obj([("contentString", s(reply))])])),
            ]));
        }
    }
}
