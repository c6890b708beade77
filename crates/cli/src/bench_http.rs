//! `zorgkluis bench http`: load on a running FHIR server over loopback HTTP (see
//! `zorgkluis_load`): optionally a set-up of new patients (with a progress bar), discovery
//! through FHIR search (with `--practitioner`, through that practitioner's care teams),
//! then a timed phase with one keep-alive connection per worker; prints a table and
//! optionally writes the JSON report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use zorgkluis_load::{Auth, LoadConfig, Workload};

/// Options of `bench http`.
#[derive(Debug, Clone)]
pub struct HttpBench {
    pub url: String,
    pub token: Option<String>,
    pub cookie: Option<String>,
    pub workload: String,
    pub concurrency: usize,
    pub duration: u64,
    pub requests: Option<u64>,
    pub server_pid: Option<u32>,
    pub seed: u64,
    /// Patients to create before discovery (0: none).
    pub setup_patients: u32,
    /// Observations per set-up patient.
    pub setup_observations: u32,
    /// Practitioner id: discovery through their care teams, new patients in their care.
    pub practitioner: Option<String>,
    /// Organization id of the practitioner's care-team membership (else looked up).
    pub organisation: Option<String>,
    pub json: Option<PathBuf>,
}

pub async fn run(opts: HttpBench) -> Result<()> {
    let workload: Workload = opts.workload.parse()?;
    let auth = match (opts.token, opts.cookie) {
        (Some(t), _) => Auth::Bearer(t),
        (None, Some(c)) => Auth::Cookie(c),
        (None, None) => Auth::None,
    };
    let budget = opts
        .requests
        .map_or_else(String::new, |n| format!(", at most {n} requests"));
    let care = opts.practitioner.as_deref().map_or_else(String::new, |p| {
        format!(", patients in the care teams of Practitioner/{p}")
    });
    println!(
        "{workload} load on {}: {} workers, {} s{budget}{care} …",
        opts.url, opts.concurrency, opts.duration
    );
    let bar = (opts.setup_patients > 0).then(|| {
        println!(
            "set-up: {} patients with {} observations each ({} resources) …",
            opts.setup_patients,
            opts.setup_observations,
            u64::from(opts.setup_patients) * (1 + u64::from(opts.setup_observations))
        );
        crate::generate::bar(0, "set-up")
    });
    let progress = bar.clone().map(|bar| -> zorgkluis_load::Progress {
        Arc::new(move |done, total| {
            bar.set_length(total);
            bar.set_position(done);
            if done >= total {
                bar.finish_and_clear();
            }
        })
    });
    let config = LoadConfig {
        base_url: opts.url.clone(),
        auth,
        workload,
        concurrency: opts.concurrency,
        duration: Duration::from_secs(opts.duration),
        max_requests: opts.requests,
        server_pid: opts.server_pid,
        seed: opts.seed,
        setup_patients: opts.setup_patients,
        setup_observations: opts.setup_observations,
        practitioner: opts.practitioner,
        organisation: opts.organisation,
        progress,
    };
    let result = zorgkluis_load::run(config).await;
    if let Some(bar) = bar {
        // Also when the set-up stopped half-way.
        bar.finish_and_clear();
    }
    let report = result?;
    print!("{}", report.table());
    if let Some(path) = opts.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}
