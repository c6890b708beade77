//! `zorgkluis`: parse arguments, load settings, call the library.

mod bench;
mod exchange;
mod generate;
mod settings;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use zorgkluis_domain::SystemClock;
use zorgkluis_vault::{OperatorPurpose, Principal, Vault, VaultConfig};

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
    },
    /// Generate demo data if the database is empty, then serve.
    Demo {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Number of demo patients.
        #[arg(long, default_value_t = 500)]
        patients: u32,
    },
    /// Serve the API and web application.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
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
    /// Measurements (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
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
        Command::Demo { listen, .. } | Command::Serve { listen } => listen.clone(),
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
        Command::Generate { patients, seed } => {
            let vault = open_vault(&settings, true).await?;
            generate::run(&vault, patients, seed).await?;
            vault.close().await?;
        }
        Command::Demo { patients, .. } => {
            let vault = open_vault(&settings, true).await?;
            if vault.resource_counts().await?.is_empty() {
                println!("Empty vault: generating {patients} demo patients (seed 7513)…");
                generate::run(&vault, patients, 7513).await?;
            }
            serve(vault, &settings, true).await?;
        }
        Command::Serve { .. } => {
            let vault = open_vault(&settings, true).await?;
            serve(vault, &settings, false).await?;
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

async fn serve(vault: Vault, settings: &Settings, demo: bool) -> Result<()> {
    let bound = zorgkluis_server::bind(&settings.listen).await?;
    let url = format!("http://{}", bound.addr);
    println!(
        "Zorgkluis is running at {url}  (backend: {})",
        vault.dialect().name()
    );
    println!("  health: {url}/health");
    if demo {
        generate::print_demo_identities();
    }
    println!("Press Ctrl-C to stop.");
    zorgkluis_server::serve(vault, bound, shutdown_signal()).await?;
    println!("stopped; audit trail flushed");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
