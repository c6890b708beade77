//! `zorgkluis bench vault`: in-process measurements of the vault (no HTTP): load
//! throughput, audited read latency and throughput at a given concurrency, and the audit
//! events the trail absorbs per second. The HTTP load tool comes with the FHIR API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::{Rng, SeedableRng};
use zorgkluis_vault::{OperatorPurpose, Principal, Vault};

/// Options of `bench vault`.
#[derive(Debug, Clone, Copy)]
pub struct VaultBench {
    pub patients: u32,
    pub reads: u32,
    pub concurrency: u32,
    pub seed: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub async fn run(vault: &Vault, opts: VaultBench) -> Result<()> {
    let have: i64 = vault
        .resource_counts()
        .await?
        .iter()
        .find(|(t, _)| t == "Patient")
        .map_or(0, |(_, n)| *n);
    if have < i64::from(opts.patients) {
        println!(
            "loading {} demo patients (seed {}) …",
            opts.patients, opts.seed
        );
        crate::generate::run(vault, opts.patients, opts.seed).await?;
    }
    // The ids to read: the resources of the first patients, as generated.
    let dir = zorgkluis_demo::directory(opts.seed);
    let today = time::OffsetDateTime::now_utc().date();
    let mut targets: Vec<(String, String)> = Vec::new();
    for i in 0..opts.patients.min(500) {
        for r in zorgkluis_demo::patient_record(opts.seed, i, &dir, today).resources {
            if let (Some(t), Some(id)) = (r["resourceType"].as_str(), r["id"].as_str()) {
                targets.push((t.to_owned(), id.to_owned()));
            }
        }
    }
    let targets = Arc::new(targets);
    let audited = read_run(vault, &targets, opts).await?;
    print_run(
        "audited reads (decide + decrypt + durable audit event)",
        &audited,
        opts,
    );
    #[cfg(feature = "bench-unaudited-reads")]
    {
        vault.set_unaudited_reads_for_benchmark(true);
        let bare = read_run(vault, &targets, opts).await?;
        vault.set_unaudited_reads_for_benchmark(false);
        print_run("UNAUDITED reads (benchmark build only)", &bare, opts);
        println!(
            "  audit overhead: {:.1}% of read throughput ({:.0} vs {:.0} reads/s)",
            (1.0 - audited.reads_per_s / bare.reads_per_s) * 100.0,
            audited.reads_per_s,
            bare.reads_per_s
        );
    }
    #[cfg(feature = "bench-unaudited-reads")]
    {
        // The decision inside a read, for a GP of the demo practice (facts cached after
        // the first touch of each patient, as in a running server).
        let logins = crate::accounts::provision_demo(vault, opts.seed, opts.patients).await?;
        let gp_login = logins
            .iter()
            .find(|l| l.role == "gp")
            .map(|l| l.login.clone())
            .unwrap_or_default();
        if let Some(gp) = vault.principal_for_login(&gp_login, "bench").await? {
            let _warm = vault.time_read_decisions(&gp, &targets).await?;
            let mut times = Vec::new();
            for _ in 0..5 {
                times.extend(vault.time_read_decisions(&gp, &targets).await?);
            }
            times.sort();
            println!();
            println!(
                "access decision inside a read ({} decisions as {gp_login}, warm facts cache)",
                times.len()
            );
            println!(
                "  p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs",
                percentile(&times, 0.5).as_secs_f64() * 1e6,
                percentile(&times, 0.99).as_secs_f64() * 1e6,
                times.last().copied().unwrap_or_default().as_secs_f64() * 1e6
            );
        }
    }
    #[cfg(not(feature = "bench-unaudited-reads"))]
    println!(
        "  (build with --features bench-unaudited-reads to measure the audit overhead as a ratio)"
    );
    Ok(())
}

struct RunResult {
    lat: Vec<Duration>,
    errors: u32,
    reads_per_s: f64,
    with_flush_per_s: f64,
}

async fn read_run(
    vault: &Vault,
    targets: &Arc<Vec<(String, String)>>,
    opts: VaultBench,
) -> Result<RunResult> {
    let principal = Arc::new(Principal::operator(
        "bench",
        OperatorPurpose::PatientRequest,
    ));
    let per_task = opts.reads / opts.concurrency.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..opts.concurrency {
        let (vault, targets, principal) = (vault.clone(), targets.clone(), principal.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(t));
            let mut lat = Vec::with_capacity(per_task as usize);
            let mut errors = 0u32;
            for _ in 0..per_task {
                let (rt, id) = &targets[rng.gen_range(0..targets.len())];
                let t0 = Instant::now();
                if vault.read(&principal, rt, id).await.is_err() {
                    errors += 1;
                }
                lat.push(t0.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let read_elapsed = started.elapsed();
    vault.flush_audit().await?;
    let flushed_elapsed = started.elapsed();
    lat.sort();
    let n = lat.len() as f64;
    Ok(RunResult {
        lat,
        errors,
        reads_per_s: n / read_elapsed.as_secs_f64(),
        with_flush_per_s: n / flushed_elapsed.as_secs_f64(),
    })
}

fn print_run(title: &str, r: &RunResult, opts: VaultBench) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!();
    println!("{title}, in process, {} tasks", opts.concurrency);
    println!("  {:<40} {:>12}", "reads", r.lat.len());
    println!("  {:<40} {:>12}", "errors", r.errors);
    println!("  {:<40} {:>12.0}", "reads/s", r.reads_per_s);
    println!(
        "  {:<40} {:>12.1}",
        "latency p50 (µs)",
        us(percentile(&r.lat, 0.50))
    );
    println!(
        "  {:<40} {:>12.1}",
        "latency p99 (µs)",
        us(percentile(&r.lat, 0.99))
    );
    println!(
        "  {:<40} {:>12.1}",
        "latency max (µs)",
        us(r.lat.last().copied().unwrap_or_default())
    );
    println!(
        "  {:<40} {:>12.0}",
        "reads/s incl. folding events into the chain", r.with_flush_per_s
    );
}
