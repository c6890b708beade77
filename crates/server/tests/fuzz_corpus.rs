//! The fuzz targets' safety net on the stable toolchain: every seed under `fuzz/seeds/`,
//! every saved crash under `fuzz/regressions/<target>/` and (when `../shared/data` is
//! beside the repository) real FHIR resources and bundles go through the same functions
//! the cargo-fuzz targets call (`zorgkluis_server::fhir::fuzz_targets`), so a fixed crash
//! stays fixed without cargo-fuzz. Drop a crash file into `fuzz/regressions/<target>/` to
//! keep it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde_json::Value;
use zorgkluis_server::fhir::fuzz_targets;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

fn shared_data() -> Option<PathBuf> {
    let p = repo().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        println!("(no shared test data at {}: seeds only)", p.display());
        None
    }
}

/// Runs every input; fails naming each one that panicked.
fn replay(target: &str, run: fn(&[u8]), inputs: Vec<(String, Vec<u8>)>) {
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    for kind in ["seeds", "regressions"] {
        for f in files(&repo().join("fuzz").join(kind).join(target)) {
            all.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    let seeds = all.len();
    assert!(seeds > 0, "no seeds for {target}");
    all.extend(inputs);
    let mut failed = Vec::new();
    for (name, bytes) in &all {
        if catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err() {
            failed.push(name.clone());
        }
    }
    println!(
        "{target}: {} inputs ({seeds} seeds and regressions), {} panicked",
        all.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "{target} panicked on: {failed:#?}");
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
        .collect()
}

/// The first `n` Synthea bundles (by name) and the two support bundles.
fn some_bundles(data: &Path, n: usize) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = json_files(&data.join("synthea-r4"))
        .into_iter()
        .take(n)
        .collect();
    out.extend(json_files(&data.join("synthea-r4-support")));
    out
}

#[test]
fn fhir_json_intake_replays_seeds_regressions_and_shared_resources() {
    let mut inputs = Vec::new();
    if let Some(data) = shared_data() {
        for f in json_files(&data.join("nl-nictiz-zib2020/resources")) {
            inputs.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
        for f in some_bundles(&data, 20) {
            let bundle: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            for (i, e) in bundle["entry"].as_array().unwrap().iter().enumerate() {
                inputs.push((
                    format!("{} entry[{i}]", f.display()),
                    serde_json::to_vec(&e["resource"]).unwrap(),
                ));
            }
        }
    }
    replay("fhir_json_intake", fuzz_targets::fhir_json_intake, inputs);
}

#[test]
fn search_params_replays_seeds_and_regressions() {
    replay("search_params", fuzz_targets::search_params, Vec::new());
}

#[test]
fn bundle_replays_seeds_regressions_and_shared_bundles() {
    let mut inputs = Vec::new();
    if let Some(data) = shared_data() {
        let mut bundles = some_bundles(&data, 20);
        bundles.push(data.join("nl-nictiz-zib2020/nl-zib2020-examples.transaction.json"));
        for f in bundles {
            let bytes = std::fs::read(&f).unwrap();
            // The same entries as a batch.
            let mut batch: Value = serde_json::from_slice(&bytes).unwrap();
            batch["type"] = Value::from("batch");
            inputs.push((f.display().to_string(), bytes));
            inputs.push((
                format!("{} as a batch", f.display()),
                serde_json::to_vec(&batch).unwrap(),
            ));
        }
    }
    replay("bundle", fuzz_targets::bundle, inputs);
}
