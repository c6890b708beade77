//! `zorgkluis generate`: deterministic demo data, loaded through the vault (encrypted,
//! indexed, audited), with a progress bar.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;
use zorgkluis_vault::{LoadOptions, LoadReport, OperatorPurpose, Principal, Vault};

/// Patients per load job (one transaction savepoint each).
const PATIENTS_PER_JOB: u32 = 16;
/// Load jobs in flight; the writer commits them together.
const JOBS_IN_FLIGHT: usize = 6;

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>10} [{{bar:40}}] {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// The reference date of the demo data: today (UTC), so ages and appointments are current.
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Generates and loads `patients` demo patients (and the directory of organisations and
/// staff). Re-running with the same seed leaves existing resources alone.
pub async fn run(vault: &Vault, patients: u32, seed: u64) -> Result<LoadReport> {
    let started = Instant::now();
    let principal = Arc::new(Principal::operator("generate", OperatorPurpose::Load));
    let dir = Arc::new(zorgkluis_demo::directory(seed));
    let options = LoadOptions {
        skip_existing: true,
        allow_dangling: false,
    };
    let mut directory: Vec<serde_json::Value> = Vec::new();
    directory.extend(dir.organisations.iter().cloned());
    directory.extend(dir.practitioners.iter().cloned());
    directory.extend(dir.practitioner_roles.iter().cloned());
    // The practice's agendas with open slots for the coming weeks (HP-2, GP-13).
    directory.extend(zorgkluis_demo::agenda(seed, &dir, today()));
    let mut report = vault
        .load(&principal, directory, options)
        .await
        .context("loading the demo directory")?;

    let bar = bar(u64::from(patients), "patients");
    let today = today();
    let mut jobs: JoinSet<Result<(u32, LoadReport)>> = JoinSet::new();
    let mut next = 0u32;
    while next < patients || !jobs.is_empty() {
        while next < patients && jobs.len() < JOBS_IN_FLIGHT {
            let start = next;
            let end = (start + PATIENTS_PER_JOB).min(patients);
            next = end;
            let (vault, principal, dir) = (vault.clone(), principal.clone(), dir.clone());
            jobs.spawn(async move {
                let resources = tokio::task::spawn_blocking(move || {
                    (start..end)
                        .flat_map(|i| {
                            zorgkluis_demo::patient_record(seed, i, &dir, today).resources
                        })
                        .collect::<Vec<_>>()
                })
                .await?;
                let r = vault.load(&principal, resources, options).await?;
                Ok((end - start, r))
            });
        }
        if let Some(done) = jobs.join_next().await {
            let (n, r) = done??;
            report.merge(r);
            bar.inc(u64::from(n));
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let written = report.written();
    println!(
        "generated {patients} patients: {written} resources written, {} already present, in {secs:.1} s ({:.0} resources/s)",
        report.skipped.values().sum::<usize>(),
        written as f64 / secs.max(0.001)
    );
    print_counts(&report);
    Ok(report)
}

fn print_counts(report: &LoadReport) {
    let mut rows: Vec<(&String, usize)> = report
        .created
        .iter()
        .map(|(k, v)| (k, *v + report.updated.get(k).copied().unwrap_or(0)))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if rows.is_empty() {
        return;
    }
    println!("  {:<28} {:>9}", "resource type", "written");
    for (k, v) in rows {
        println!("  {k:<28} {v:>9}");
    }
}
