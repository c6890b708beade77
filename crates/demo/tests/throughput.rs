//! Throughput of the generator. Run in release:
//! `cargo test -p zorgkluis-demo --release --test throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn ten_thousand_patients_generate_in_well_under_ten_seconds() {
    let today = time::macros::date!(2026 - 11 - 23);
    let dir = zorgkluis_demo::directory(7513);
    let n = 10_000u32;
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    let (mut resources, mut min, mut max) = (0usize, usize::MAX, 0usize);
    let mut generating = 0.0;
    let mut sizes = Vec::with_capacity(n as usize);
    for i in 0..n {
        let started = Instant::now();
        let rec = zorgkluis_demo::patient_record(7513, i, &dir, today);
        generating += started.elapsed().as_secs_f64();
        resources += rec.resources.len();
        sizes.push((rec.resources.len(), rec.age));
        min = min.min(rec.resources.len());
        max = max.max(rec.resources.len());
        let mut teams = 0;
        for r in &rec.resources {
            let rt = r["resourceType"].as_str().unwrap();
            if rt == "CareTeam" {
                teams += 1;
                *per_type
                    .entry(format!("~ team {}", r["name"].as_str().unwrap()))
                    .or_default() += 1;
            }
            *per_type.entry(rt.to_owned()).or_default() += 1;
        }
        *per_type
            .entry(format!("~ with {teams} care teams"))
            .or_default() += 1;
    }
    println!(
        "{n} patients, {resources} resources ({:.1}/patient, min {min}, max {max}); generating took {generating:.2} s = {:.0} patients/s",
        resources as f64 / f64::from(n),
        f64::from(n) / generating
    );
    sizes.sort_unstable();
    let at = |q: usize| sizes[sizes.len() * q / 100].0;
    println!(
        "resources per patient: p5 {} p25 {} median {} p75 {} p95 {}",
        at(5),
        at(25),
        at(50),
        at(75),
        at(95)
    );
    for (t, c) in &per_type {
        println!("  {t:<24} {:>8.2}/patient", *c as f64 / f64::from(n));
    }
    assert!(generating < 10.0, "{generating:.2} s");
}
