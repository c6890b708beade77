//! The compliance matrix stays true: every promise of PROMISES.md has a row, and every
//! test the matrix names exists in the code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_sources(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                rust_sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn every_test_named_in_the_matrix_exists() {
    let matrix = std::fs::read_to_string(root().join("docs/compliance-matrix.md")).unwrap();
    let mut code = String::new();
    rust_sources(&root().join("crates"), &mut code);
    let mut missing = Vec::new();
    let mut named = 0;
    for line in matrix.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let Some(tests) = cells.get(3) else { continue };
        for name in tests.split('`').skip(1).step_by(2) {
            named += 1;
            if !code.contains(&format!("fn {name}(")) {
                missing.push(name.to_owned());
            }
        }
    }
    assert!(named > 10, "the matrix names too few tests ({named})");
    assert!(
        missing.is_empty(),
        "tests named in the matrix but not found: {missing:?}"
    );
}

#[test]
fn every_promise_has_a_row() {
    let promises = root().join("../shared/PROMISES.md");
    let Ok(promises) = std::fs::read_to_string(&promises) else {
        eprintln!("SKIPPED: ../shared/PROMISES.md is not beside the repository");
        return;
    };
    let matrix = std::fs::read_to_string(root().join("docs/compliance-matrix.md")).unwrap();
    for line in promises.lines() {
        if let Some(id) = line
            .strip_prefix("| ")
            .and_then(|l| l.split(' ').next())
            .filter(|id| id.len() >= 4 && id.as_bytes()[2] == b'-')
        {
            assert!(matrix.contains(&format!("| {id} |")), "no row for {id}");
        }
    }
}
