//! `zorgkluis import` and `zorgkluis export`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use zorgkluis_vault::{ImportReport, OperatorPurpose, Principal, Vault, VaultError};

fn json_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|x| x == "json") {
                json_files(&p, out)?;
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// Files imported at the same time.
const FILES_IN_FLIGHT: usize = 4;

async fn import_file(
    vault: &Vault,
    principal: &Principal,
    f: &Path,
) -> Result<ImportReport, String> {
    let bytes = tokio::fs::read(f)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    let doc =
        tokio::task::spawn_blocking(move || serde_json::from_slice::<serde_json::Value>(&bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))?;
    match vault.import_document(principal, doc).await {
        Ok(r) => Ok(r),
        Err(VaultError::Invalid(issues)) => Err(issues
            .iter()
            .map(|i| format!("{}: {}", i.location, i.message))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

/// Imports files and directories; prints a progress bar, then a summary per resource type.
/// Returns false when any file failed.
pub async fn import(vault: &Vault, paths: &[PathBuf]) -> Result<bool> {
    let mut files = Vec::new();
    for p in paths {
        json_files(p, &mut files)?;
    }
    let principal = Principal::operator("import", OperatorPurpose::Load);
    let bar = crate::generate::bar(files.len() as u64, "files");
    let started = Instant::now();
    let mut total = ImportReport::default();
    let mut failures = Vec::new();
    // Several files in flight: the writer commits their jobs together. Files that create
    // the same shared resource (a hospital in many bundles) may race; the vault retries
    // the loser, which then finds the resource present.
    let mut jobs: tokio::task::JoinSet<(PathBuf, Result<ImportReport, String>)> =
        tokio::task::JoinSet::new();
    let mut queue = files.iter().cloned();
    loop {
        while jobs.len() < FILES_IN_FLIGHT {
            let Some(f) = queue.next() else { break };
            let (vault, principal) = (vault.clone(), principal.clone());
            jobs.spawn(async move {
                let outcome = import_file(&vault, &principal, &f).await;
                (f, outcome)
            });
        }
        let Some(done) = jobs.join_next().await else {
            break;
        };
        let (f, outcome) = done?;
        match outcome {
            Ok(r) => total.merge(r),
            Err(reason) => failures.push((f, reason)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let written = total.load.written();
    println!(
        "imported {} of {} files: {written} resources written, {} already present (not duplicated), {} patients matched by identifier, in {secs:.1} s ({:.0} resources/s)",
        files.len() - failures.len(),
        files.len(),
        total.load.skipped.values().sum::<usize>(),
        total.patients_matched,
        written as f64 / secs.max(0.001)
    );
    let mut types: Vec<&String> = total
        .load
        .created
        .keys()
        .chain(total.load.updated.keys())
        .chain(total.load.skipped.keys())
        .collect();
    types.sort();
    types.dedup();
    if !types.is_empty() {
        println!(
            "  {:<28} {:>9} {:>9} {:>9}",
            "resource type", "created", "updated", "present"
        );
        for t in types {
            let get =
                |m: &std::collections::BTreeMap<String, usize>| m.get(t).copied().unwrap_or(0);
            println!(
                "  {t:<28} {:>9} {:>9} {:>9}",
                get(&total.load.created),
                get(&total.load.updated),
                get(&total.load.skipped)
            );
        }
    }
    if !total.load.warnings.is_empty() {
        println!("warnings ({}):", total.load.warnings.len());
        for w in total.load.warnings.iter().take(20) {
            println!("  {w}");
        }
    }
    for (f, reason) in &failures {
        println!("FAILED {}: {reason}", f.display());
    }
    Ok(failures.is_empty())
}

/// Exports one patient's record.
pub async fn export(
    vault: &Vault,
    patient: Option<String>,
    identifier: Option<String>,
    out: Option<PathBuf>,
) -> Result<()> {
    let principal = Principal::operator("export", OperatorPurpose::PatientRequest);
    let patient_id = match (patient, identifier) {
        (Some(id), None) => id,
        (None, Some(ident)) => {
            let (system, value) = match ident.split_once('|') {
                Some((s, v)) if !s.is_empty() => (Some(s.to_owned()), v.to_owned()),
                Some((_, v)) => (None, v.to_owned()),
                None => (None, ident.clone()),
            };
            let hits = vault
                .find_by_identifier(&principal, Some("Patient"), system.as_deref(), &value)
                .await?;
            match hits.as_slice() {
                [one] => one.id.clone(),
                [] => bail!("no patient has that identifier"),
                _ => bail!(
                    "{} patients have that identifier; export by --patient ID",
                    hits.len()
                ),
            }
        }
        _ => bail!("give exactly one of --patient ID or --identifier SYSTEM|VALUE"),
    };
    let bundle = vault.export_patient(&principal, &patient_id).await?;
    let text = serde_json::to_string_pretty(&bundle)?;
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "exported {} resources of patient {patient_id} to {}",
                bundle["total"],
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}
