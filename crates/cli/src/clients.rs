//! `zorgkluis clients …`: API clients (OAuth 2 / SMART on FHIR). Registering and revoking
//! are audited account changes (operator purpose Accounts); the secret is shown once.

use anyhow::{bail, Result};
use clap::Subcommand;
use zorgkluis_vault::{NewClient, NewClientKind, OperatorPurpose, Principal, Vault};

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client acting as a user (--user LOGIN) or for an organisation as a
    /// system (--system --organisation ORG). Prints client_id and client_secret once.
    Add {
        /// Name shown on the consent page.
        #[arg(long)]
        name: String,
        /// The account a user client acts as.
        #[arg(long, conflicts_with_all = ["system", "organisation"])]
        user: Option<String>,
        /// A system client (client credentials) of --organisation.
        #[arg(long, requires = "organisation")]
        system: bool,
        /// The organisation a system client acts for.
        #[arg(long)]
        organisation: Option<String>,
        /// Space-separated SMART scopes, e.g. "user/*.read patient/*.read" or "system/*.*".
        #[arg(long)]
        scopes: String,
        /// Redirect URI for the authorization-code flow (user clients; repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
    },
    /// List clients (no secrets).
    List,
    /// Revoke a client and every token it holds.
    Revoke {
        /// Client id.
        id: String,
    },
}

fn operator() -> Principal {
    Principal::operator("clients", OperatorPurpose::Accounts)
}

pub async fn run(vault: &Vault, command: ClientsCommand) -> Result<()> {
    let admin = operator();
    match command {
        ClientsCommand::Add {
            name,
            user,
            system,
            organisation,
            scopes,
            redirect_uris,
        } => {
            let kind = match (user, system, organisation) {
                (Some(login), false, None) => NewClientKind::User { login },
                (None, true, Some(organisation_id)) => NewClientKind::System { organisation_id },
                _ => bail!("give --user LOGIN, or --system --organisation ORG"),
            };
            let created = vault
                .register_client(
                    &admin,
                    NewClient {
                        name,
                        kind,
                        scopes,
                        redirect_uris,
                    },
                )
                .await?;
            println!("client_id     {}", created.client_id);
            println!("client_secret {}", created.client_secret);
            println!("(the secret is shown once; only its hash is stored)");
        }
        ClientsCommand::List => {
            println!(
                "{:<36} {:<6} {:<24} {:<8} {:<30} name",
                "client_id", "kind", "acts as", "status", "scopes"
            );
            for c in vault.list_clients(&admin).await? {
                let acts_as = c
                    .user_login
                    .or(c.organisation_id)
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<36} {:<6} {:<24} {:<8} {:<30} {}",
                    c.id,
                    c.kind,
                    acts_as,
                    if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    c.scopes,
                    c.name
                );
            }
        }
        ClientsCommand::Revoke { id } => {
            let tokens = vault.revoke_client(&admin, &id).await?;
            println!("client {id} revoked; {tokens} token(s) revoked with it");
        }
    }
    Ok(())
}
