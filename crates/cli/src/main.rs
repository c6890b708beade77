//! `zorgkluis`: parse arguments, load settings, call the library.

mod accounts;
mod bench;
mod bench_audit;
mod bench_http;
mod bench_policy;
mod clients;
mod exchange;
mod generate;
mod settings;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use zorgkluis_domain::SystemClock;
use zorgkluis_vault::{AccountKind, NewAccount, OperatorPurpose, Principal, Vault, VaultConfig};

use settings::{Flags, Settings};

/// Zorgkluis: the care vault. Encrypted, versioned, audited patient records.
#[derive(Debug, Parser)]
#[command(name = "zorgkluis", version, about)]
struct Cli {
    /// Configuration file (TOML); also ZORGKLUIS_CONFIG.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// Data directory: SQLite database, audit journal, key store (default ./zorgkluis-data).
    #[arg(long, global = true)]
    data_dir: Option<std::path::PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// PC-8: HTTPS served directly. Without both, the server speaks plain HTTP (for loopback or
/// behind a TLS-terminating proxy).
#[derive(Debug, clap::Args)]
struct TlsArgs {
    /// PEM certificate chain (leaf first): serve HTTPS (TLS 1.2+) with HSTS.
    #[arg(
        long,
        env = "ZORGKLUIS_TLS_CERT",
        requires = "tls_key",
        value_name = "PEM"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "ZORGKLUIS_TLS_KEY",
        requires = "tls_cert",
        value_name = "PEM"
    )]
    tls_key: Option<std::path::PathBuf>,
    /// Serve plain HTTP on a non-loopback address because a TLS-terminating proxy is in
    /// front (PC-8: without this or a certificate, only loopback is served in plain HTTP).
    #[arg(long, env = "ZORGKLUIS_BEHIND_TLS_PROXY")]
    behind_tls_proxy: bool,
}

impl TlsArgs {
    /// Loads the certificate and key now, so a bad file stops the start-up at once.
    fn load(&self) -> Result<Option<zorgkluis_server::tls::TlsConfig>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(zorgkluis_server::tls::TlsConfig::from_pem_files(
                cert, key,
            )?)),
            _ => Ok(None),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create deterministic demo data, then exit.
    Generate {
        /// Number of patients.
        #[arg(long)]
        patients: u32,
        /// Seed: the same seed gives the same data.
        #[arg(long, default_value_t = 7513)]
        seed: u64,
        /// Also create the demo organisations and one demo account per role (DEMO ONLY:
        /// fixed password and second-factor secret, printed).
        #[arg(long)]
        with_demo_accounts: bool,
        /// full (about 86 resources per patient) or compact (about 53: the access facts,
        /// conditions and observations; for measuring growth with the number of patients).
        #[arg(long, value_enum, default_value_t = generate::Profile::Full)]
        profile: generate::Profile,
    },
    /// Generate demo data if the database is empty, then serve.
    Demo {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Number of demo patients.
        #[arg(long, default_value_t = 500)]
        patients: u32,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Serve the API and web application.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        #[command(flatten)]
        tls: TlsArgs,
        /// BENCHMARK BUILDS ONLY (feature `bench-unaudited-reads`, absent from normal
        /// builds): serve reads without their audit event, to measure the audit overhead.
        #[cfg(feature = "bench-unaudited-reads")]
        #[arg(long, hide = true)]
        bench_unaudited_reads: bool,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import FHIR R4 bundles (transaction, batch, collection) and resources from files
    /// and directories.
    Import {
        /// Files or directories (every *.json below them).
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Export one patient's whole record as a FHIR collection Bundle.
    Export {
        /// The patient's id.
        #[arg(long, conflicts_with = "identifier")]
        patient: Option<String>,
        /// An identifier of the patient: SYSTEM|VALUE (e.g. http://fhir.nl/fhir/NamingSystem/bsn|999996708).
        #[arg(long)]
        identifier: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Write a consistent backup of the (running) vault to FILE; the key store is not in it.
    Backup {
        /// The backup file to write.
        file: std::path::PathBuf,
    },
    /// Restore FILE into an empty data directory or database and verify its audit chain.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
    },
    /// Accounts: add, disable, enable, list; technical access grants (PC-5).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// API clients (OAuth 2 / SMART on FHIR): add, list, revoke.
    Clients {
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Organisations: kind, region, minors rule, locum arrangements.
    Organisations {
        #[command(subcommand)]
        command: OrganisationsCommand,
    },
    /// Measurements (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// HTTP load on a running FHIR server over loopback: discovery through FHIR search,
    /// then requests from keep-alive connections; prints throughput and latency.
    Http {
        /// FHIR base URL on loopback, e.g. http://127.0.0.1:8080/fhir.
        #[arg(long)]
        url: String,
        /// Credentials (none: the server must answer anonymous requests).
        #[command(flatten)]
        credentials: Box<bench_http::Credentials>,
        /// read, search, mixed (80/10/10 read/search/create), everything, create,
        /// generic (standard FHIR R4 only, for any server), or bulk (transaction Bundles of
        /// one new Patient and 20 Observations).
        #[arg(
            long,
            default_value = "read",
            value_parser = clap::builder::PossibleValuesParser::new(zorgkluis_load::Workload::NAMES)
        )]
        workload: String,
        /// Workers, one keep-alive connection each.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds of the timed phase (at most).
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Stop after this many requests.
        #[arg(long)]
        requests: Option<u64>,
        /// The server's process id: report its peak resident memory.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Seed of the random choices.
        #[arg(long, default_value_t = 7513)]
        seed: u64,
        /// Before discovery, create N patients with their observations through standard
        /// FHIR (transaction Bundles, or single creates where transactions are refused).
        #[arg(long, default_value_t = 0, value_name = "N")]
        setup_patients: u32,
        /// Observations per set-up patient.
        #[arg(long, default_value_t = zorgkluis_load::SETUP_OBSERVATIONS, value_name = "M")]
        setup_observations: u32,
        /// A Practitioner id (`users list` shows a staff account's): discover patients
        /// through the care teams that name them (CareTeam?participant=Practitioner/ID)
        /// instead of Patient?_count=…, which Zorgkluis refuses above 50,000 patients; and
        /// register every patient the tool creates (bulk, set-up) with a CareTeam naming
        /// them, so that they may read it afterwards.
        #[arg(long, value_name = "ID")]
        practitioner: Option<String>,
        /// With --practitioner: the Organization id on whose behalf they are in the care
        /// teams the tool writes (default: the organisation of their PractitionerRole).
        #[arg(
            long,
            value_name = "ID",
            alias = "organization",
            requires = "practitioner"
        )]
        organisation: Option<String>,
        /// Also write the report as JSON to FILE.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// The privacy officer's audit queries over a large trail: fills a benchmark vault
    /// (its own data directory) with synthetic events through the audit fold, then times
    /// "who viewed this patient" and "which patients did this user access in a month".
    Audit {
        /// Synthetic events to add to the trail (0: only run the queries again).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Patients the events are about.
        #[arg(long, default_value_t = 10_000)]
        patients: u32,
        /// Users (staff) the events are by.
        #[arg(long, default_value_t = 500)]
        users: u32,
        /// Calendar months the events spread over (ending where this month begins).
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Events chained per transaction.
        #[arg(long, default_value_t = 20_000)]
        batch: usize,
        /// "Who viewed this patient" queries to time.
        #[arg(long, default_value_t = 200)]
        patient_queries: u32,
        /// "Which patients did this user access in a month" queries to time.
        #[arg(long, default_value_t = 50)]
        user_queries: u32,
        /// Seed of the synthetic trail and of the query choices.
        #[arg(long, default_value_t = 7513)]
        seed: u64,
        /// Seed of the query choices only (default: --seed): repeated query phases
        /// (--events 0) sample other patients, users and months.
        #[arg(long)]
        query_seed: Option<u64>,
        /// Also write the report as JSON to FILE.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Access decisions per second on one core, and time per decision.
    Policy {
        /// Decisions to make.
        #[arg(long, default_value_t = 5_000_000)]
        decisions: u32,
    },
    /// In-process vault benchmark: load, audited reads, audit throughput.
    Vault {
        /// Demo patients to load first (if fewer are present).
        #[arg(long, default_value_t = 1000)]
        patients: u32,
        /// Reads to run.
        #[arg(long, default_value_t = 100_000)]
        reads: u32,
        /// Concurrent readers.
        #[arg(long, default_value_t = 16)]
        concurrency: u32,
        /// Seed of the demo data.
        #[arg(long, default_value_t = 7513)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add an account. The password comes from ZORGKLUIS_NEW_PASSWORD or standard input;
    /// staff always get a second factor (its secret and recovery codes are printed once).
    Add {
        /// Login name.
        #[arg(long)]
        login: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// staff, patient or representative.
        #[arg(long, default_value = "staff")]
        kind: String,
        /// Staff: the organisation (Organization id).
        #[arg(long)]
        organisation: Option<String>,
        /// Staff: gp, assistant, practice_nurse, nurse, physiotherapist, coach,
        /// medical_specialist, locum_gp, pharmacist, privacy_officer, administrator, maintainer.
        #[arg(long)]
        role: Option<String>,
        /// Staff: their Practitioner resource id (care-team member).
        #[arg(long)]
        practitioner: Option<String>,
        /// Staff: AGB code.
        #[arg(long)]
        agb: Option<String>,
        /// Staff: BIG number.
        #[arg(long)]
        big: Option<String>,
        /// Patient: their Patient resource id.
        #[arg(long)]
        patient: Option<String>,
        /// Representative: PATIENT_ID:RELATEDPERSON_ID (repeatable).
        #[arg(long)]
        represents: Vec<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Patients: also set up a second factor.
        #[arg(long)]
        totp: bool,
        /// Staff: record that the confidentiality agreement was signed (CO-8).
        #[arg(long)]
        confidentiality_signed: bool,
    },
    /// Disable an account; its sessions end on their next request.
    Disable {
        /// Login name.
        login: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Login name.
        login: String,
    },
    /// List accounts (no secrets): login, kind, the Practitioner id of staff (for
    /// `bench http --practitioner`), roles, second factor, status and name.
    List,
    /// CO-8: a member of staff's rights per data category at an organisation. Lists are
    /// comma-separated categories (demographics, appointments, medication, allergies,
    /// contra_indications, conditions, results, reports, care_record, messages,
    /// administrative; `clinical` and `all` as shorthands); an omitted list keeps the
    /// role's default.
    Rights {
        /// Login name.
        #[arg(long)]
        login: String,
        /// The organisation the role is at.
        #[arg(long)]
        organisation: String,
        /// May see.
        #[arg(long)]
        read: Option<String>,
        /// May enter.
        #[arg(long)]
        enter: Option<String>,
        /// May change.
        #[arg(long)]
        change: Option<String>,
        /// May delete.
        #[arg(long)]
        delete: Option<String>,
        /// Back to the role's defaults.
        #[arg(long)]
        defaults: bool,
    },
    /// PC-5: a time-limited technical access grant for an administrator or maintainer.
    Grant {
        /// Login of the administrator or maintainer.
        #[arg(long)]
        login: String,
        /// The patient's id.
        #[arg(long)]
        patient: String,
        /// Minutes (1 to 1440).
        #[arg(long, default_value_t = 60)]
        minutes: i64,
        /// Why (logged).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrganisationsCommand {
    /// Add or change an organisation.
    Set {
        /// Organization resource id.
        #[arg(long)]
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// gp_practice, physio_practice, care_organisation, hospital_clinic, pharmacy, gp_post, laboratory.
        #[arg(long)]
        kind: String,
        /// Regional exchange region.
        #[arg(long)]
        region: Option<String>,
        /// PT-3: below this age staff need a parent's consent.
        #[arg(long)]
        parental_consent_below: Option<u32>,
        /// GP-8: GP practice (Organization id) this organisation's locums stand in for.
        #[arg(long)]
        locum_for: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole audit chain; exit 1 and name the first bad event.
    Verify,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// New master key; re-wrap all data keys (bodies are not re-encrypted).
    Rotate,
    /// Destroy one patient's data key (crypto-shredding). Irreversible. Audited.
    Shred {
        /// The patient's id (the Patient resource id).
        #[arg(long)]
        patient: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZORGKLUIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn vault_config(settings: &Settings, create: bool) -> VaultConfig {
    VaultConfig {
        database_url: settings.database_url.clone(),
        data_dir: settings.data_dir.clone(),
        master_key_file: settings.master_key_file.clone(),
        create,
        journal_fsync: settings.journal_fsync,
        clock: Arc::new(SystemClock),
        source: "zorgkluis".into(),
    }
}

async fn open_vault(settings: &Settings, create: bool) -> Result<Vault> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    Vault::open(vault_config(settings, create))
        .await
        .context("opening the vault")
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let listen = match &cli.command {
        Command::Demo { listen, .. } | Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let settings = Settings::resolve(
        Flags {
            config: cli.config,
            data_dir: cli.data_dir,
            database_url: cli.database_url,
            listen,
        },
        &|k| std::env::var(k).ok(),
    )?;
    match cli.command {
        Command::Generate {
            patients,
            seed,
            with_demo_accounts,
            profile,
        } => {
            let vault = open_vault(&settings, true).await?;
            generate::run_profile(&vault, patients, seed, profile).await?;
            if with_demo_accounts {
                let logins = accounts::provision_demo(&vault, seed, patients).await?;
                accounts::print_demo_logins(&logins);
            }
            vault.close().await?;
        }
        Command::Demo { patients, tls, .. } => {
            let behind_proxy = tls.behind_tls_proxy;
            let tls = tls.load()?;
            let vault = open_vault(&settings, true).await?;
            if vault.resource_counts().await?.is_empty() {
                println!("Empty vault: generating {patients} demo patients (seed 7513)…");
                generate::run(&vault, patients, 7513).await?;
            }
            let logins = accounts::provision_demo(&vault, 7513, patients).await?;
            serve(vault, &settings, tls, behind_proxy, Some(logins)).await?;
        }
        Command::Bench {
            command: BenchCommand::Policy { decisions },
        } => bench_policy::run(decisions),
        Command::Bench {
            command:
                BenchCommand::Audit {
                    events,
                    patients,
                    users,
                    months,
                    batch,
                    patient_queries,
                    user_queries,
                    seed,
                    query_seed,
                    json,
                },
        } => {
            let vault = open_vault(&settings, true).await?;
            let sqlite_file = settings
                .database_url
                .strip_prefix("sqlite://")
                .map(|rest| std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest)));
            let result = bench_audit::run(
                &vault,
                bench_audit::AuditBench {
                    events,
                    patients,
                    users,
                    months,
                    batch,
                    patient_queries,
                    user_queries,
                    seed,
                    query_seed,
                    json,
                    sqlite_file,
                },
            )
            .await;
            vault.close().await?;
            result?;
        }
        Command::Bench {
            command:
                BenchCommand::Http {
                    url,
                    credentials,
                    workload,
                    concurrency,
                    duration,
                    requests,
                    server_pid,
                    seed,
                    setup_patients,
                    setup_observations,
                    practitioner,
                    organisation,
                    json,
                },
        } => {
            bench_http::run(bench_http::HttpBench {
                url,
                credentials: *credentials,
                workload,
                concurrency,
                duration,
                requests,
                server_pid,
                seed,
                setup_patients,
                setup_observations,
                practitioner,
                organisation,
                json,
            })
            .await?;
        }
        Command::Users { command } => {
            let vault = open_vault(&settings, false).await?;
            let result = users(&vault, command).await;
            vault.close().await?;
            result?;
        }
        Command::Clients { command } => {
            let vault = open_vault(&settings, false).await?;
            let result = clients::run(&vault, command).await;
            vault.close().await?;
            result?;
        }
        Command::Organisations {
            command:
                OrganisationsCommand::Set {
                    id,
                    name,
                    kind,
                    region,
                    parental_consent_below,
                    locum_for,
                },
        } => {
            let vault = open_vault(&settings, false).await?;
            let org = zorgkluis_vault::OrganisationSettings {
                id,
                name,
                kind,
                region,
                agb: None,
                ura: None,
                parental_consent_below,
                locum_for: locum_for.into_iter().map(|p| (p, None, None)).collect(),
            };
            let result = vault.upsert_organisation(&accounts::operator(), &org).await;
            vault.close().await?;
            result?;
            println!("organisation {} saved", org.id);
        }
        Command::Serve {
            tls,
            #[cfg(feature = "bench-unaudited-reads")]
            bench_unaudited_reads,
            ..
        } => {
            let behind_proxy = tls.behind_tls_proxy;
            let tls = tls.load()?;
            let vault = open_vault(&settings, true).await?;
            #[cfg(feature = "bench-unaudited-reads")]
            if bench_unaudited_reads {
                eprintln!("BENCHMARK BUILD: reads are served WITHOUT audit events");
                vault.set_unaudited_reads_for_benchmark(true);
            }
            serve(vault, &settings, tls, behind_proxy, None).await?;
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let vault = open_vault(&settings, false).await?;
            let principal = Principal::operator("audit-verify", OperatorPurpose::AuditReview);
            let bar = generate::bar(0, "verifying");
            let outcome = vault
                .verify_audit(&principal, &|done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                })
                .await?;
            bar.finish_and_clear();
            vault.close().await?;
            match outcome {
                Ok(report) => println!(
                    "audit chain intact: {} events, {} signed checkpoints, head {}",
                    report.events, report.checkpoints, report.head_hash
                ),
                Err(failure) => {
                    println!("AUDIT CHAIN BROKEN");
                    println!(
                        "  first bad event: #{} (event id {})",
                        failure.seq, failure.event_id
                    );
                    println!("  problem: {}", failure.problem);
                    return Ok(std::process::ExitCode::FAILURE);
                }
            }
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let vault = open_vault(&settings, false).await?;
            let principal = Principal::operator("keys-rotate", OperatorPurpose::KeyManagement);
            let report = vault.rotate_master_key(&principal).await?;
            vault.close().await?;
            println!(
                "master key rotated to {}: {} data keys re-wrapped; the old master key is destroyed",
                report.new_master_key, report.rewrapped
            );
            println!(
                "back up the new key file now: {}",
                settings.master_key_file.display()
            );
        }
        Command::Keys {
            command: KeysCommand::Shred { patient, yes },
        } => {
            if !yes && std::io::stdin().is_terminal() {
                println!("This destroys the data key of patient {patient}: every version of their record becomes unreadable, for good, also in backups.");
                println!("Type the patient id again to confirm:");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if line.trim() != patient {
                    println!("not confirmed; nothing was changed");
                    return Ok(std::process::ExitCode::FAILURE);
                }
            }
            let vault = open_vault(&settings, false).await?;
            let principal = Principal::operator("keys-shred", OperatorPurpose::KeyManagement);
            vault.shred_patient(&principal, &patient).await?;
            vault.close().await?;
            println!("data key of patient {patient} destroyed; the key destruction is in the audit trail");
        }
        Command::Import { paths } => {
            let vault = open_vault(&settings, true).await?;
            let ok = exchange::import(&vault, &paths).await?;
            vault.close().await?;
            if !ok {
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
        Command::Export {
            patient,
            identifier,
            out,
        } => {
            let vault = open_vault(&settings, false).await?;
            exchange::export(&vault, patient, identifier, out).await?;
            vault.close().await?;
        }
        Command::Backup { file } => {
            let vault = open_vault(&settings, false).await?;
            let principal = Principal::operator("backup", OperatorPurpose::Backup);
            let report = vault.backup(&principal, &file).await?;
            vault.close().await?;
            println!(
                "backup written to {}: {} bytes, {} audit events, payload sha256 {}",
                file.display(),
                report.bytes,
                report.audit_events,
                report.sha256
            );
            println!(
                "the key store is NOT in the backup: keep {} safe, apart from it",
                settings.master_key_file.display()
            );
        }
        Command::Restore { file } => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let report = zorgkluis_vault::restore(vault_config(&settings, false), &file).await?;
            println!(
                "restored the {} backup of {} into {}: audit chain verified ({} events)",
                report.backend,
                report.created,
                zorgkluis_vault::redact_url(&settings.database_url),
                report.audit_events
            );
        }
        Command::Bench {
            command:
                BenchCommand::Vault {
                    patients,
                    reads,
                    concurrency,
                    seed,
                },
        } => {
            let vault = open_vault(&settings, true).await?;
            bench::run(
                &vault,
                bench::VaultBench {
                    patients,
                    reads,
                    concurrency,
                    seed,
                },
            )
            .await?;
            vault.close().await?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn users(vault: &Vault, command: UsersCommand) -> Result<()> {
    let admin = accounts::operator();
    match command {
        UsersCommand::Add {
            login,
            name,
            kind,
            organisation,
            role,
            practitioner,
            agb,
            big,
            patient,
            represents,
            email,
            totp,
            confidentiality_signed,
        } => {
            let account_kind = match kind.as_str() {
                "staff" => {
                    let role = role.context("--role is needed for staff")?;
                    AccountKind::Staff {
                        organisation_id: organisation
                            .context("--organisation is needed for staff")?,
                        role: zorgkluis_policy::StaffRole::parse(&role)
                            .with_context(|| format!("unknown role {role}"))?,
                        practitioner_id: practitioner,
                        agb,
                        big,
                        rights: None,
                    }
                }
                "patient" => AccountKind::Patient {
                    patient_id: patient.context("--patient is needed for a patient account")?,
                },
                "representative" => AccountKind::Representative {
                    represents: represents
                        .iter()
                        .map(|r| accounts::parse_representation(r))
                        .collect::<Result<_>>()?,
                },
                other => anyhow::bail!("unknown kind {other} (staff, patient, representative)"),
            };
            let organisation_id = match &account_kind {
                AccountKind::Staff {
                    organisation_id, ..
                } => Some(organisation_id.clone()),
                _ => None,
            };
            let created = vault
                .add_account(
                    &admin,
                    NewAccount {
                        login: login.clone(),
                        display_name: name,
                        email,
                        password: accounts::read_password()?,
                        kind: account_kind,
                        with_totp: totp,
                        fixed_totp_secret: None,
                    },
                    zorgkluis_auth::Argon2Cost::Interactive,
                )
                .await?;
            if let (true, Some(org)) = (confidentiality_signed, organisation_id) {
                vault
                    .accept_confidentiality(
                        &created.user_id,
                        &org,
                        zorgkluis_vault::CONFIDENTIALITY_VERSION,
                    )
                    .await?;
            }
            println!("account {login} created ({})", created.user_id);
            if let (Some(secret), Some(uri)) = (&created.totp_secret, &created.otpauth_uri) {
                println!("second factor (shown once): secret {secret}");
                println!("  {uri}");
                println!("recovery codes (shown once; each works once):");
                for c in &created.recovery_codes {
                    println!("  {c}");
                }
            }
        }
        UsersCommand::Disable { login } => {
            vault.set_account_disabled(&admin, &login, true).await?;
            println!("account {login} disabled; its sessions end on their next request");
        }
        UsersCommand::Enable { login } => {
            vault.set_account_disabled(&admin, &login, false).await?;
            println!("account {login} enabled");
        }
        UsersCommand::List => {
            // (login, kind, practitioner, roles, 2FA, status, name)
            let mut rows = Vec::new();
            for a in vault.accounts(&admin).await? {
                let roles = a
                    .roles
                    .iter()
                    .map(|(_, r, signed)| {
                        if *signed {
                            r.clone()
                        } else {
                            format!("{r} (unsigned)")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                rows.push([
                    a.login,
                    a.kind,
                    a.practitioner_id.unwrap_or_else(|| "-".into()),
                    roles,
                    if a.second_factor { "yes" } else { "no" }.into(),
                    if a.disabled { "disabled" } else { "active" }.into(),
                    a.display_name,
                ]);
            }
            // The practitioner (UUIDs in generated data) and roles columns as wide as
            // their longest value; the practitioner id stays the third word of a line.
            let width = |i: usize, heading: &str| {
                rows.iter()
                    .map(|r: &[String; 7]| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(heading.len())
            };
            let (pw, rw) = (width(2, "practitioner"), width(3, "roles"));
            println!(
                "{:<28} {:<15} {:<pw$} {:<rw$} {:<4} {:<8} name",
                "login", "kind", "practitioner", "roles", "2FA", "status"
            );
            for [login, kind, practitioner, roles, second_factor, status, name] in rows {
                println!(
                    "{login:<28} {kind:<15} {practitioner:<pw$} {roles:<rw$} \
                     {second_factor:<4} {status:<8} {name}"
                );
            }
        }
        UsersCommand::Rights {
            login,
            organisation,
            read,
            enter,
            change,
            delete,
            defaults,
        } => {
            let rights = if defaults {
                None
            } else {
                let account = vault
                    .accounts(&admin)
                    .await?
                    .into_iter()
                    .find(|a| a.login == login.to_lowercase())
                    .with_context(|| format!("no account {login}"))?;
                let role = account
                    .roles
                    .iter()
                    .find(|(org, _, _)| *org == organisation)
                    .and_then(|(_, r, _)| zorgkluis_policy::StaffRole::parse(r))
                    .with_context(|| format!("{login} has no role at {organisation}"))?;
                let base = zorgkluis_policy::Rights::role_default(role);
                let parse =
                    |list: Option<String>, default| -> Result<zorgkluis_policy::Categories> {
                        match list {
                            None => Ok(default),
                            Some(l) => zorgkluis_policy::Categories::parse_list(&l)
                                .with_context(|| format!("unknown category in {l:?}")),
                        }
                    };
                Some(zorgkluis_policy::Rights {
                    read: parse(read, base.read)?,
                    enter: parse(enter, base.enter)?,
                    change: parse(change, base.change)?,
                    delete: parse(delete, base.delete)?,
                })
            };
            vault
                .set_rights(&admin, &login, &organisation, rights)
                .await?;
            println!("rights of {login} at {organisation} saved; they apply from the next request");
        }
        UsersCommand::Grant {
            login,
            patient,
            minutes,
            reason,
        } => {
            let until = vault
                .grant_technical_access(&admin, &login, &patient, minutes, &reason)
                .await?;
            println!(
                "technical access for {login} to patient {patient} until unix time {until}; logged"
            );
        }
    }
    Ok(())
}

async fn serve(
    vault: Vault,
    settings: &Settings,
    tls: Option<zorgkluis_server::tls::TlsConfig>,
    behind_tls_proxy: bool,
    demo: Option<Vec<accounts::DemoLogin>>,
) -> Result<()> {
    let shutdown = shutdown_signal();
    let mut bound = zorgkluis_server::bind(&settings.listen).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", bound.addr);
    println!(
        "Zorgkluis is running at {url}  (backend: {})",
        vault.dialect().name()
    );
    match tls {
        Some(tls) => {
            println!(
                "  HTTPS: TLS 1.2/1.3 with certificate {}; HSTS on",
                tls.cert_file().display()
            );
            bound = bound.with_tls(tls);
        }
        None if bound.addr.ip().is_loopback() => println!(
            "  plain HTTP on loopback (no TLS): put a TLS-terminating proxy in front, or pass --tls-cert and --tls-key"
        ),
        None if behind_tls_proxy => println!(
            "  plain HTTP on {} behind a TLS-terminating proxy (--behind-tls-proxy)",
            bound.addr
        ),
        None => anyhow::bail!(
            "PC-8: refusing plain HTTP on the non-loopback address {}: pass --tls-cert and --tls-key, \
             or --behind-tls-proxy when a TLS-terminating proxy is in front",
            bound.addr
        ),
    }
    // Browsers keep `Secure` cookies on http://localhost (a secure context); name it so.
    let portal = if bound.addr.ip().is_loopback() && scheme == "http" {
        format!("http://localhost:{}", bound.addr.port())
    } else {
        url.clone()
    };
    println!("  portal:  {portal}/  (log in at {portal}/login; Nederlands / English)");
    println!("  FHIR:    {url}/fhir  (metadata at {url}/fhir/metadata)");
    println!("  health:  {url}/health");
    if let Some(logins) = demo {
        accounts::print_demo_logins(&logins);
        println!("Open {portal}/login in a browser and log in with one of these.");
    }
    println!("Press Ctrl-C to stop.");
    zorgkluis_server::serve(vault, bound, shutdown).await?;
    println!("stopped; audit trail flushed");
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C). The handlers are registered when this is called, not when
/// the future is first polled, so a signal that arrives while the server is still starting
/// (after the URL and logins are printed) stops it cleanly instead of killing it.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
