//! `zorgkluis bench audit`: the privacy officer's queries over a large audit trail.
//!
//! 1. Fills the trail of a benchmark vault (a data directory of its own) with N synthetic
//!    events through the vault's fold: the path journaled reads take into the chain (hashed,
//!    chained, indexed, checkpoints signed), in large transactions. The events spread over
//!    P patients and U users with Zipf-like skew (a few patients and users are busy), users
//!    mostly at the patients of their own team, over M calendar months, in time order.
//! 2. Times the two queries as the product runs them, through the vault with a privacy
//!    officer's principal (decision, flush of the journal, query, the query's own audit
//!    event), one at a time:
//!    * "who viewed this patient": the newest 100 events about a patient
//!      (`Vault::audit_for_patient`, the query behind the patient's and the privacy
//!      officer's overview);
//!    * "which patients did this user access in a month": `Vault::patients_accessed_by`
//!      over one calendar month (distinct patients with counts).
//!
//! Prints a table and optionally writes the report as JSON. `--events 0` runs the queries
//! again on a trail filled earlier with the same `--patients`, `--users`, `--months` and
//! `--seed` (in the same calendar month: the events end where the current month begins).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use time::OffsetDateTime;
use zorgkluis_audit::{Action, AuditEvent, AuditObject, Channel, Controls, EventCode, Outcome};
use zorgkluis_domain::{clock::rfc3339, Actor};
use zorgkluis_policy::StaffRole;
use zorgkluis_vault::{
    AccountKind, NewAccount, OperatorPurpose, OrganisationSettings, Principal, Vault, VaultError,
    CONFIDENTIALITY_VERSION,
};

/// Events per newest-first page of "who viewed this patient".
const PATIENT_PAGE: i64 = 100;
/// Aim: p99 of "who viewed this patient" over 10 million events (issue #8).
const PATIENT_AIM_MS: f64 = 20.0;
/// Aim: "which patients did this user access in a month" (issue #8).
const USER_AIM_MS: f64 = 500.0;
/// Seconds between progress lines while filling.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Users per team (a practice or ward): they share most of their patients.
const USERS_PER_TEAM: u32 = 8;
/// The benchmark's privacy officer.
const OFFICER_LOGIN: &str = "bench.privacy-officer";
const BENCH_ORG: &str = "bench-audit-practice";

/// Options of `bench audit`.
#[derive(Debug, Clone)]
pub struct AuditBench {
    pub events: u64,
    pub patients: u32,
    pub users: u32,
    pub months: u32,
    pub batch: usize,
    pub patient_queries: u32,
    pub user_queries: u32,
    pub seed: u64,
    /// Seed of the query choices (default: `seed`), so that repeated query phases can
    /// sample other patients and users.
    pub query_seed: Option<u64>,
    pub json: Option<PathBuf>,
    /// The SQLite database file, to report its size.
    pub sqlite_file: Option<PathBuf>,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report {
    backend: String,
    events_filled: u64,
    fill_seconds: f64,
    fill_events_per_s: f64,
    patients: u32,
    users: u32,
    months: u32,
    seed: u64,
    query_seed: u64,
    events_from: String,
    events_until: String,
    database_bytes: Option<u64>,
    queries: Vec<QueryStats>,
}

#[derive(Debug, Serialize)]
struct QueryStats {
    query: &'static str,
    vault_call: &'static str,
    runs: usize,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rows_min: u64,
    rows_p50: u64,
    rows_max: u64,
    /// Audit events behind the rows (user query: the sum of the counts), largest.
    events_max: u64,
    aim: String,
    aim_met: bool,
}

/// Ranks 0..n with weight 1/(rank+1)^s.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 0..n {
            total += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let u: f64 = rng.gen();
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.cdf.len().saturating_sub(1))
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b: [u8; 16] = rng.gen();
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

struct User {
    id: String,
    team: usize,
    role: StaffRole,
    display: String,
    access_point: String,
}

/// Who and what the synthetic trail is about; the same for the same options.
struct World {
    /// Patient ids, busiest first.
    patients: Vec<String>,
    /// Users, busiest first.
    users: Vec<User>,
    /// Per team, its patients (indexes into `patients`), busiest first.
    team_patients: Vec<Vec<usize>>,
    team_orgs: Vec<String>,
    team_zipf: Vec<Zipf>,
    patient_zipf: Zipf,
    user_zipf: Zipf,
    from: OffsetDateTime,
    until: OffsetDateTime,
    /// First day of each month of the period.
    month_starts: Vec<time::Date>,
}

fn month_start(d: time::Date) -> time::Date {
    d.replace_day(1).unwrap_or(d)
}

fn months_back(d: time::Date, n: u32) -> time::Date {
    let mut d = month_start(d);
    for _ in 0..n {
        d = month_start(d.previous_day().unwrap_or(d));
    }
    d
}

impl World {
    fn new(opts: &AuditBench, today: time::Date) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed_a0d1);
        let patients: Vec<String> = (0..opts.patients).map(|_| uuid(&mut rng)).collect();
        let teams = opts.users.div_ceil(USERS_PER_TEAM).max(1) as usize;
        let roles = [
            StaffRole::parse("gp"),
            StaffRole::parse("assistant"),
            StaffRole::parse("practice_nurse"),
            StaffRole::parse("gp"),
            StaffRole::parse("physiotherapist"),
            StaffRole::parse("pharmacist"),
        ];
        let mut users: Vec<User> = (0..opts.users)
            .map(|u| User {
                id: uuid(&mut rng),
                team: u as usize % teams,
                role: roles[u as usize % roles.len()].unwrap_or(StaffRole::PrivacyOfficer),
                display: format!("Zorgverlener {u:05}"),
                access_point: format!("10.{}.{}.{}", u / 65536 % 256, u / 256 % 256, u % 256),
            })
            .collect();
        // Busyness is not tied to the order in which ids were made.
        users.shuffle(&mut rng);
        let mut team_patients = vec![Vec::new(); teams];
        for p in 0..patients.len() {
            team_patients[p % teams].push(p);
        }
        let team_orgs = (0..teams).map(|_| uuid(&mut rng)).collect();
        let team_zipf = team_patients
            .iter()
            .map(|t| Zipf::new(t.len(), 1.0))
            .collect();
        let until_date = month_start(today);
        let from_date = months_back(until_date, opts.months.max(1));
        let mut month_starts = Vec::new();
        let mut m = from_date;
        while m < until_date {
            month_starts.push(m);
            m = month_start(m.saturating_add(time::Duration::days(31)));
        }
        Self {
            patient_zipf: Zipf::new(patients.len(), 1.0),
            user_zipf: Zipf::new(users.len(), 1.0),
            patients,
            users,
            team_patients,
            team_orgs,
            team_zipf,
            from: from_date.midnight().assume_utc(),
            until: until_date.midnight().assume_utc(),
            month_starts,
        }
    }

    /// Events `first..first + n` of a trail of `total`, in time order.
    fn batch(&self, seed: u64, first: u64, n: u64, total: u64) -> Vec<AuditEvent> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ first.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let span = (self.until - self.from).whole_milliseconds() as f64;
        (first..first + n)
            .map(|i| {
                let at_ms = span * (i as f64 + rng.gen::<f64>()) / total.max(1) as f64;
                let at = self.from + time::Duration::milliseconds(at_ms as i64);
                self.event(&mut rng, at)
            })
            .collect()
    }

    fn event(&self, rng: &mut ChaCha8Rng, at: OffsetDateTime) -> AuditEvent {
        const TYPES: [(&str, u32); 9] = [
            ("Observation", 40),
            ("Condition", 12),
            ("MedicationRequest", 12),
            ("Encounter", 10),
            ("Patient", 10),
            ("AllergyIntolerance", 5),
            ("Procedure", 4),
            ("DiagnosticReport", 4),
            ("Immunization", 3),
        ];
        let user = &self.users[self.user_zipf.sample(rng)];
        // Mostly the patients of the user's own team, sometimes anyone's (a locum, a
        // pharmacist, an exchange).
        let patient = if rng.gen_bool(0.9) {
            let team = &self.team_patients[user.team];
            if team.is_empty() {
                self.patient_zipf.sample(rng)
            } else {
                team[self.team_zipf[user.team].sample(rng)]
            }
        } else {
            self.patient_zipf.sample(rng)
        };
        let patient_id = self.patients.get(patient).cloned();
        let pick_type = |rng: &mut ChaCha8Rng| {
            let mut x = rng.gen_range(0..TYPES.iter().map(|t| t.1).sum::<u32>());
            for (t, w) in TYPES {
                if x < w {
                    return t;
                }
                x -= w;
            }
            "Observation"
        };
        let mut object = AuditObject {
            patient_id,
            ..Default::default()
        };
        let kind: u32 = rng.gen_range(0..100);
        let (code, action, outcome, rule) = match kind {
            0..=54 => {
                object.resource_type = Some(pick_type(rng).into());
                object.resource_id = Some(uuid(rng));
                object.version = Some(rng.gen_range(1..=3));
                (
                    EventCode::Read,
                    Action::R,
                    Outcome::Success,
                    "GP-7 treatment relationship",
                )
            }
            55..=79 => {
                let rt = pick_type(rng);
                let n = 1 + (rng.gen::<f64>().powi(2) * 20.0) as usize;
                object.resource_type = Some(rt.into());
                object.entities = (0..n)
                    .map(|_| format!("{rt}/{}/_history/{}", uuid(rng), rng.gen_range(1..=3)))
                    .collect();
                (
                    EventCode::SearchHit,
                    Action::R,
                    Outcome::Success,
                    "GP-7 treatment relationship",
                )
            }
            80..=86 => {
                let rt = pick_type(rng);
                object.resource_type = Some(rt.into());
                object.query = Some(format!("{rt}?patient=*&_count=50"));
                (
                    EventCode::Search,
                    Action::R,
                    Outcome::Success,
                    "GP-7 clinicians may search; each hit is decided separately",
                )
            }
            87..=93 => {
                let update = rng.gen_bool(0.5);
                object.resource_type = Some(pick_type(rng).into());
                object.resource_id = Some(uuid(rng));
                object.version = Some(if update { rng.gen_range(2..=4) } else { 1 });
                if update {
                    (
                        EventCode::Update,
                        Action::U,
                        Outcome::Success,
                        "GP-7 treatment relationship",
                    )
                } else {
                    (
                        EventCode::Create,
                        Action::C,
                        Outcome::Success,
                        "GP-7 treatment relationship",
                    )
                }
            }
            94..=96 => {
                object = AuditObject::default();
                (EventCode::Login, Action::E, Outcome::Success, "login")
            }
            _ => {
                object.resource_type = Some(pick_type(rng).into());
                object.resource_id = Some(uuid(rng));
                (
                    EventCode::AccessDenied,
                    Action::R,
                    Outcome::Refused,
                    "GP-7 no treatment relationship with the patient",
                )
            }
        };
        let event_type = match code {
            EventCode::Login => "login",
            _ => "patient-record",
        };
        let role = user.role;
        AuditEvent {
            event_id: uuid(rng),
            occurred_at: rfc3339(at),
            code,
            action,
            event_type: event_type.into(),
            outcome,
            reason: Some(rule.into()),
            controls: Controls {
                authorisation: true,
                relationship: code != EventCode::Login,
                consent: code != EventCode::Login,
                emergency: false,
            },
            actor: Actor {
                user_id: user.id.clone(),
                role: role.functional_role(),
                role_name: role.code().into(),
                display: Some(user.display.clone()),
                organisation: Some(self.team_orgs[user.team].clone()),
                access_point: user.access_point.clone(),
                on_behalf_of: None,
            },
            channel: Channel::OwnOrganisation,
            purpose: if code == EventCode::Login {
                "HSYSADMIN".into()
            } else {
                "TREAT".into()
            },
            object,
            authorisation_protocol: zorgkluis_policy::POLICY_ID.into(),
            consent_profile: "treatment-relationship".into(),
            relationship_protocol: None,
            // Set by the vault to the synthetic source.
            source: String::new(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fills `opts.events` events in batches; a thread makes the events while the vault
/// chains the previous batch.
async fn fill(vault: &Vault, world: std::sync::Arc<World>, opts: &AuditBench) -> Result<f64> {
    let operator = Principal::operator("bench-audit", OperatorPurpose::AuditReview);
    let total = opts.events;
    let batch = opts.batch.max(1) as u64;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<AuditEvent>>(2);
    let seed = opts.seed;
    let maker = {
        let world = world.clone();
        std::thread::spawn(move || {
            let mut first = 0;
            while first < total {
                let n = batch.min(total - first);
                if tx
                    .blocking_send(world.batch(seed, first, n, total))
                    .is_err()
                {
                    return;
                }
                first += n;
            }
        })
    };
    println!(
        "filling the audit trail with {} synthetic events ({} patients, {} users, {} months, {} events per transaction) …",
        thousands(total),
        opts.patients,
        opts.users,
        opts.months,
        thousands(batch)
    );
    let started = Instant::now();
    let mut last_report = (started, 0u64);
    let mut done = 0u64;
    while let Some(events) = rx.recv().await {
        let n = events.len() as u64;
        match vault.append_synthetic_audit_events(&operator, events).await {
            Ok(()) => {}
            Err(VaultError::Forbidden) => bail!(
                "refused: bench audit writes synthetic audit events and runs only on a data \
                 directory (or database) of its own: an empty one, or one an earlier bench \
                 audit filled. Use e.g. --data-dir /tmp/zk-bench-audit"
            ),
            Err(e) => return Err(e).context("chaining synthetic audit events"),
        }
        done += n;
        let now = Instant::now();
        if now - last_report.0 >= PROGRESS_EVERY || done == total {
            let rate = (done - last_report.1) as f64 / (now - last_report.0).as_secs_f64();
            let overall = done as f64 / (now - started).as_secs_f64();
            let eta = (total - done) as f64 / overall.max(1.0);
            println!(
                "  {:>12} / {} events ({:>3.0}%)  {:>8.0} events/s (last {:.0} s)  {:>6.0} s elapsed, ~{:.0} s to go",
                thousands(done),
                thousands(total),
                done as f64 * 100.0 / total as f64,
                rate,
                (now - last_report.0).as_secs_f64(),
                (now - started).as_secs_f64(),
                eta
            );
            last_report = (now, done);
        }
    }
    let _ = maker.join();
    vault.flush_audit().await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "filled {} events in {:.1} s: {:.0} events/s",
        thousands(done),
        seconds,
        done as f64 / seconds.max(1e-9)
    );
    Ok(seconds)
}

/// The benchmark's privacy officer (an account at a benchmark organisation; its password
/// is random and never shown).
async fn privacy_officer(vault: &Vault) -> Result<Principal> {
    if let Some(p) = vault
        .principal_for_login(OFFICER_LOGIN, "127.0.0.1")
        .await?
    {
        return Ok(p);
    }
    let admin = crate::accounts::operator();
    vault
        .upsert_organisation(
            &admin,
            &OrganisationSettings {
                id: BENCH_ORG.into(),
                name: "Benchmark practice".into(),
                kind: "gp_practice".into(),
                region: None,
                agb: None,
                ura: None,
                parental_consent_below: None,
                locum_for: Vec::new(),
            },
        )
        .await?;
    let mut rng = ChaCha8Rng::from_entropy();
    let password: String = (0..32)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    let created = vault
        .add_account(
            &admin,
            NewAccount {
                login: OFFICER_LOGIN.into(),
                display_name: "Benchmark privacy officer".into(),
                email: None,
                password,
                kind: AccountKind::Staff {
                    organisation_id: BENCH_ORG.into(),
                    role: StaffRole::PrivacyOfficer,
                    practitioner_id: None,
                    agb: None,
                    big: None,
                    rights: None,
                },
                with_totp: true,
                fixed_totp_secret: None,
            },
            zorgkluis_auth::Argon2Cost::Fast,
        )
        .await?;
    vault
        .accept_confidentiality(&created.user_id, BENCH_ORG, CONFIDENTIALITY_VERSION)
        .await?;
    vault
        .principal_for_login(OFFICER_LOGIN, "127.0.0.1")
        .await?
        .context("the benchmark privacy officer has no principal")
}

struct Timed {
    lat: Vec<Duration>,
    rows: Vec<u64>,
    events: Vec<u64>,
}

fn stats(query: &'static str, vault_call: &'static str, mut t: Timed, aim_ms: f64) -> QueryStats {
    t.lat.sort();
    t.rows.sort_unstable();
    let p99 = ms(percentile(&t.lat, 0.99));
    QueryStats {
        query,
        vault_call,
        runs: t.lat.len(),
        p50_ms: ms(percentile(&t.lat, 0.50)),
        p95_ms: ms(percentile(&t.lat, 0.95)),
        p99_ms: p99,
        max_ms: ms(t.lat.last().copied().unwrap_or_default()),
        rows_min: t.rows.first().copied().unwrap_or(0),
        rows_p50: percentile(&t.rows, 0.5),
        rows_max: t.rows.last().copied().unwrap_or(0),
        events_max: t.events.iter().copied().max().unwrap_or(0),
        aim: format!("p99 < {aim_ms} ms"),
        aim_met: p99 < aim_ms,
    }
}

pub async fn run(vault: &Vault, opts: AuditBench) -> Result<()> {
    if opts.patients == 0 || opts.users == 0 || opts.months == 0 {
        bail!("--patients, --users and --months must be at least 1");
    }
    let today = OffsetDateTime::now_utc().date();
    let world = std::sync::Arc::new(World::new(&opts, today));
    let fill_seconds = if opts.events > 0 {
        fill(vault, world.clone(), &opts).await?
    } else {
        println!("--events 0: querying the trail filled earlier");
        0.0
    };
    let officer = privacy_officer(vault).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.query_seed.unwrap_or(opts.seed) ^ 0x0ff1_ce00);

    // (a) Who viewed this patient: the busiest patient, then random ones.
    let mut patients = vec![0usize];
    patients.extend((1..opts.patient_queries).map(|_| rng.gen_range(0..world.patients.len())));
    // (b) Which patients did this user access in a month: the busiest user, then random
    // ones, each in a random month of the period.
    let mut users = vec![0usize];
    users.extend((1..opts.user_queries).map(|_| rng.gen_range(0..world.users.len())));
    let windows: Vec<(String, String)> = users
        .iter()
        .map(|_| {
            let m = world.month_starts[rng.gen_range(0..world.month_starts.len())];
            let next = month_start(m.saturating_add(time::Duration::days(31)));
            let last_day = next.previous_day().unwrap_or(m);
            (format!("{m}T00:00:00.000Z"), last_day.to_string())
        })
        .collect();

    println!(
        "timing {} \"who viewed this patient\" and {} \"which patients did this user access in a month\" queries, one at a time, as a privacy officer (after 5 untimed warm-up queries of each) …",
        patients.len(),
        users.len()
    );
    for &p in patients.iter().take(5) {
        vault
            .audit_for_patient(&officer, &world.patients[p], PATIENT_PAGE)
            .await?;
    }
    for (&u, (since, until)) in users.iter().zip(&windows).take(5) {
        vault
            .patients_accessed_by(&officer, &world.users[u].id, since, until)
            .await?;
    }
    let mut a = Timed {
        lat: Vec::new(),
        rows: Vec::new(),
        events: Vec::new(),
    };
    for &p in &patients {
        let t0 = Instant::now();
        let events = vault
            .audit_for_patient(&officer, &world.patients[p], PATIENT_PAGE)
            .await?;
        a.lat.push(t0.elapsed());
        a.rows.push(events.len() as u64);
        a.events.push(events.len() as u64);
    }
    let mut b = Timed {
        lat: Vec::new(),
        rows: Vec::new(),
        events: Vec::new(),
    };
    for (&u, (since, until)) in users.iter().zip(&windows) {
        let t0 = Instant::now();
        let rows = vault
            .patients_accessed_by(&officer, &world.users[u].id, since, until)
            .await?;
        b.lat.push(t0.elapsed());
        b.rows.push(rows.len() as u64);
        b.events
            .push(rows.iter().map(|r| r.events.max(0) as u64).sum());
    }
    vault.flush_audit().await?;

    let report = Report {
        backend: vault.dialect().name().into(),
        events_filled: opts.events,
        fill_seconds,
        fill_events_per_s: if fill_seconds > 0.0 {
            opts.events as f64 / fill_seconds
        } else {
            0.0
        },
        patients: opts.patients,
        users: opts.users,
        months: opts.months,
        seed: opts.seed,
        query_seed: opts.query_seed.unwrap_or(opts.seed),
        events_from: rfc3339(world.from),
        events_until: rfc3339(world.until),
        database_bytes: opts.sqlite_file.as_ref().map(|f| {
            ["", "-wal"]
                .iter()
                .filter_map(|s| {
                    let mut p = f.clone().into_os_string();
                    p.push(s);
                    std::fs::metadata(p).ok().map(|m| m.len())
                })
                .sum()
        }),
        queries: vec![
            stats(
                "who viewed this patient (newest 100 events)",
                "Vault::audit_for_patient",
                a,
                PATIENT_AIM_MS,
            ),
            stats(
                "which patients did this user access in a month",
                "Vault::patients_accessed_by",
                b,
                USER_AIM_MS,
            ),
        ],
    };
    print!("{}", table(&report));
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

fn table(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\naudit queries on {}: {} patients, {} users, events from {} until {}{}\n",
        r.backend,
        r.patients,
        r.users,
        r.events_from,
        r.events_until,
        r.database_bytes.map_or_else(String::new, |b| format!(
            ", database {:.2} GB",
            b as f64 / 1e9
        ))
    ));
    if r.events_filled > 0 {
        out.push_str(&format!(
            "filled {} events in {:.1} s ({:.0} events/s)\n",
            thousands(r.events_filled),
            r.fill_seconds,
            r.fill_events_per_s
        ));
    }
    let header = [
        "query",
        "runs",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "rows min/p50/max",
        "aim",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for q in &r.queries {
        rows.push([
            q.query.to_owned(),
            q.runs.to_string(),
            format!("{:.2}", q.p50_ms),
            format!("{:.2}", q.p95_ms),
            format!("{:.2}", q.p99_ms),
            format!("{:.2}", q.max_ms),
            format!("{}/{}/{}", q.rows_min, q.rows_p50, q.rows_max),
            format!("{}: {}", q.aim, if q.aim_met { "met" } else { "NOT met" }),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        out.push(' ');
        for (c, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            // Text left, figures right.
            if c == 0 || c == 7 {
                out.push_str(&format!(" {cell}{pad}"));
            } else {
                out.push_str(&format!(" {pad}{cell}"));
            }
        }
        out.push('\n');
    }
    if let Some(b) = r.queries.get(1) {
        out.push_str(&format!(
            "  (the user query counted at most {} events for one user and month)\n",
            thousands(b.events_max)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AuditBench {
        AuditBench {
            events: 1000,
            patients: 100,
            users: 20,
            months: 3,
            batch: 100,
            patient_queries: 10,
            user_queries: 5,
            seed: 1,
            query_seed: None,
            json: None,
            sqlite_file: None,
        }
    }

    #[test]
    fn events_are_in_time_order_within_the_period_and_skewed() {
        let today = time::macros::date!(2026 - 11 - 23);
        let w = World::new(&opts(), today);
        assert_eq!(w.month_starts.len(), 3);
        assert_eq!(rfc3339(w.from), "2026-08-01T00:00:00.000Z");
        assert_eq!(rfc3339(w.until), "2026-11-01T00:00:00.000Z");
        let mut all = w.batch(1, 0, 500, 1000);
        all.extend(w.batch(1, 500, 500, 1000));
        assert!(all.windows(2).all(|p| p[0].occurred_at <= p[1].occurred_at));
        assert!(all.first().unwrap().occurred_at.as_str() >= "2026-08-01");
        assert!(all.last().unwrap().occurred_at.as_str() < "2026-11-01");
        // The busiest user acts far more often than the average one.
        let busiest = all
            .iter()
            .filter(|e| e.actor.user_id == w.users[0].id)
            .count();
        assert!(busiest > 1000 / 20 * 2, "{busiest}");
        // The same options give the same events.
        assert_eq!(
            w.batch(1, 500, 3, 1000),
            World::new(&opts(), today).batch(1, 500, 3, 1000)
        );
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let hits = (0..10_000).filter(|_| z.sample(&mut rng) < 10).count();
        // The first 10 of 1000 ranks carry about 39% of the weight.
        assert!((3000..5000).contains(&hits), "{hits}");
    }
}
