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

/// How much of each demo record is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Profile {
    /// The whole record: about 86 resources per patient (visits, medication, letters,
    /// results, appointments, …).
    #[default]
    Full,
    /// What access decisions and the common reads need: the Patient, care team,
    /// representatives, consents, conditions and observations, about 53 resources per
    /// patient. For measuring how cost grows with the number of patients (100,000 full
    /// records would take about 46 GB and over an hour on these machines).
    Compact,
}

/// Resource types a compact record keeps.
const COMPACT_TYPES: [&str; 6] = [
    "Patient",
    "CareTeam",
    "RelatedPerson",
    "Consent",
    "Condition",
    "Observation",
];

/// The compact form of one patient's record: the [`COMPACT_TYPES`] resources, with every
/// reference to a resource of the record that is left out removed (a reference to the
/// directory stays), so the record loads without dangling references.
fn compact(resources: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    fn rt(r: &serde_json::Value) -> &str {
        r.get("resourceType")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    }
    let dropped: std::collections::HashSet<String> = resources
        .iter()
        .filter(|r| !COMPACT_TYPES.contains(&rt(r)))
        .filter_map(|r| Some(format!("{}/{}", rt(r), r.get("id")?.as_str()?)))
        .collect();
    resources
        .into_iter()
        .filter(|r| COMPACT_TYPES.contains(&rt(r)))
        .map(|mut r| {
            drop_references(&mut r, &dropped);
            r
        })
        .collect()
}

fn points_to(v: &serde_json::Value, dropped: &std::collections::HashSet<String>) -> bool {
    v.get("reference")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| dropped.contains(t))
}

/// Removes, at any depth, fields and array elements that are references into `dropped`,
/// and arrays and objects left empty by that.
fn drop_references(v: &mut serde_json::Value, dropped: &std::collections::HashSet<String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            map.retain(|_, child| !points_to(child, dropped));
            for child in map.values_mut() {
                drop_references(child, dropped);
            }
            map.retain(|_, child| match child {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => {
            items.retain(|child| !points_to(child, dropped));
            for child in items.iter_mut() {
                drop_references(child, dropped);
            }
            items.retain(|child| !matches!(child, Value::Object(o) if o.is_empty()));
        }
        _ => {}
    }
}

/// Generates and loads `patients` demo patients (and the directory of organisations and
/// staff). Re-running with the same seed leaves existing resources alone.
pub async fn run(vault: &Vault, patients: u32, seed: u64) -> Result<LoadReport> {
    run_profile(vault, patients, seed, Profile::Full).await
}

/// [`run`] with records of the given [`Profile`].
pub async fn run_profile(
    vault: &Vault,
    patients: u32,
    seed: u64,
    profile: Profile,
) -> Result<LoadReport> {
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
                            let record =
                                zorgkluis_demo::patient_record(seed, i, &dir, today).resources;
                            match profile {
                                Profile::Full => record,
                                Profile::Compact => compact(record),
                            }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn compact_records_keep_the_access_facts_and_no_reference_to_what_they_leave_out() {
        let dir = zorgkluis_demo::directory(7513);
        let today = time::macros::date!(2026 - 11 - 23);
        for i in 0..40 {
            let full = zorgkluis_demo::patient_record(7513, i, &dir, today).resources;
            let small = compact(full.clone());
            assert!(small.len() < full.len(), "patient {i}");
            let keys = |rs: &[serde_json::Value]| -> std::collections::HashSet<String> {
                rs.iter()
                    .map(|r| {
                        format!(
                            "{}/{}",
                            r["resourceType"].as_str().unwrap(),
                            r["id"].as_str().unwrap()
                        )
                    })
                    .collect()
            };
            let (ids, full_ids) = (keys(&small), keys(&full));
            // Every kept type is kept whole; every reference into the record still resolves.
            for r in &full {
                let t = r["resourceType"].as_str().unwrap();
                let key = format!("{t}/{}", r["id"].as_str().unwrap());
                assert_eq!(COMPACT_TYPES.contains(&t), ids.contains(&key), "{key}");
            }
            let text = serde_json::to_string(&small).unwrap();
            for target in full_ids.difference(&ids) {
                assert!(
                    !text.contains(&format!("\"{target}\"")),
                    "patient {i}: {target} still referenced"
                );
            }
            assert!(small.iter().any(|r| r["resourceType"] == "Patient"));
        }
    }
}
