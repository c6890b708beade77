//! `zorgkluis bench http`: load on a running FHIR server over loopback HTTP (see
//! `zorgkluis_load`): optionally a set-up of new patients (with a progress bar), discovery
//! through FHIR search (with `--practitioner`, through that practitioner's care teams),
//! then a timed phase with one keep-alive connection per worker; prints a table and
//! optionally writes the JSON report. Credentials: a bearer token, a session cookie, or an
//! API client's id and secret, which the tool exchanges for tokens itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use zorgkluis_load::{Auth, ClientCredentials, LoadConfig, Workload};

/// How `bench http` authenticates: at most one of a token, a cookie and an API client.
/// `Debug` shows which, never a secret.
#[derive(Clone, clap::Args)]
pub struct Credentials {
    /// Bearer token (Authorization: Bearer …).
    #[arg(long, conflicts_with = "cookie")]
    pub token: Option<String>,
    /// Session cookie: NAME=VALUE, or the value of zk_session alone.
    #[arg(long)]
    pub cookie: Option<String>,
    /// An API client's id (`clients add` prints it): the tool gets bearer tokens itself,
    /// through the server's SMART configuration and the client-credentials grant.
    ///
    /// A token is renewed before discovery and before the timed phase when it would run
    /// out during them; --duration must be a minute shorter than a token lives (an hour on
    /// Zorgkluis).
    #[arg(
        long,
        value_name = "ID",
        requires = "client_secret",
        conflicts_with_all = ["token", "cookie"]
    )]
    pub client_id: Option<String>,
    /// With --client-id: the client's secret (better from ZORGKLUIS_CLIENT_SECRET than
    /// on the command line, where other users of the machine can see it).
    #[arg(
        long,
        value_name = "SECRET",
        env = "ZORGKLUIS_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// With --client-id: the scopes to ask for, space-separated (default: none asked
    /// for, so the server grants the client's own).
    #[arg(long, requires = "client_id")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |v: &Option<String>| v.as_ref().map(|_| "…");
        f.debug_struct("Credentials")
            .field("token", &given(&self.token))
            .field("cookie", &given(&self.cookie))
            .field("client_id", &self.client_id)
            .field("client_secret", &given(&self.client_secret))
            .field("scope", &self.scope)
            .finish()
    }
}

impl Credentials {
    fn into_auth(self) -> Result<Auth> {
        Ok(match (self.token, self.cookie, self.client_id) {
            (Some(t), _, _) => Auth::Bearer(t),
            (None, Some(c), _) => Auth::Cookie(c),
            (None, None, Some(client_id)) => Auth::ClientCredentials(ClientCredentials {
                client_id,
                // clap requires the secret with the id (flag or ZORGKLUIS_CLIENT_SECRET).
                client_secret: self
                    .client_secret
                    .context("--client-id needs --client-secret (or ZORGKLUIS_CLIENT_SECRET)")?,
                scope: self.scope,
            }),
            (None, None, None) => Auth::None,
        })
    }
}

/// Options of `bench http`.
#[derive(Debug, Clone)]
pub struct HttpBench {
    pub url: String,
    pub credentials: Credentials,
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
    let auth = opts.credentials.into_auth()?;
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
