//! Reading a patient's data for the pages: always through the vault with the logged-in
//! principal (decided and audited there), never from the store.

use std::collections::HashMap;

use serde_json::Value;
use zorgkluis_vault::{Principal, SearchQuery, Stored};

use crate::portal::fhirtext::{human_name, str_at};
use crate::portal::PortalError;
use crate::AppState;

/// At most this many resources of one type are shown (the vault's page limit).
const PAGE: &str = "1000";

/// Reads one patient's record as one principal may see it.
pub(super) struct Loader<'a> {
    state: &'a AppState,
    principal: &'a Principal,
    /// The patient.
    pub patient_id: String,
    /// Display names of directory resources already looked up (`Type/id` → name).
    names: HashMap<String, String>,
}

impl<'a> Loader<'a> {
    pub(super) fn new(state: &'a AppState, principal: &'a Principal, patient_id: &str) -> Self {
        Self {
            state,
            principal,
            patient_id: patient_id.to_owned(),
            names: HashMap::new(),
        }
    }

    /// The Patient resource: the gate of every page (a refusal here is the 403 page).
    pub(super) async fn patient(&self) -> Result<Stored, PortalError> {
        self.state
            .vault
            .read(self.principal, "Patient", &self.patient_id)
            .await
            .map_err(PortalError::from_vault)
    }

    /// The patient's resources of one type (what the principal may see of them).
    pub(super) async fn search(
        &self,
        resource_type: &str,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Stored>, PortalError> {
        let mut pairs = vec![
            ("patient".to_owned(), self.patient_id.clone()),
            ("_count".to_owned(), PAGE.to_owned()),
        ];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let query = SearchQuery::parse(resource_type, &pairs).map_err(|issues| {
            tracing::error!(
                ?issues,
                resource_type,
                "portal record: a search of ours is invalid"
            );
            PortalError::Unavailable
        })?;
        let page = self
            .state
            .vault
            .search(self.principal, &query)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(page
            .hits
            .into_iter()
            .filter(|s| s.patient_id.as_deref() == Some(self.patient_id.as_str()))
            .collect())
    }

    /// How many of the patient's resources of one type match (no bodies are opened).
    pub(super) async fn count(
        &self,
        resource_type: &str,
        extra: &[(&str, &str)],
    ) -> Result<usize, PortalError> {
        let mut pairs = vec![
            ("patient".to_owned(), self.patient_id.clone()),
            ("_summary".to_owned(), "count".to_owned()),
        ];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let query = SearchQuery::parse(resource_type, &pairs).map_err(|issues| {
            tracing::error!(
                ?issues,
                resource_type,
                "portal record: a count of ours is invalid"
            );
            PortalError::Unavailable
        })?;
        let page = self
            .state
            .vault
            .search(self.principal, &query)
            .await
            .map_err(PortalError::from_vault)?;
        Ok(page.total)
    }

    /// One resource of this patient (another patient's, or one not seen, is a refusal).
    pub(super) async fn read(&self, resource_type: &str, id: &str) -> Result<Stored, PortalError> {
        let stored = self
            .state
            .vault
            .read(self.principal, resource_type, id)
            .await
            .map_err(PortalError::from_vault)?;
        if stored.patient_id.as_deref() != Some(self.patient_id.as_str()) {
            return Err(PortalError::Forbidden);
        }
        Ok(stored)
    }

    /// The name behind a Reference: its `display`, else the referenced Practitioner's or
    /// Organization's name (directory data), else nothing.
    pub(super) async fn display(&mut self, reference: Option<&Value>) -> String {
        let Some(r) = reference else {
            return String::new();
        };
        if let Some(d) = str_at(r, "/display") {
            return d.to_owned();
        }
        let Some(target) = str_at(r, "/reference") else {
            return String::new();
        };
        self.directory_name(target).await
    }

    /// The name of `Practitioner/id` or `Organization/id` (empty when unknown).
    pub(super) async fn directory_name(&mut self, target: &str) -> String {
        if let Some(n) = self.names.get(target) {
            return n.clone();
        }
        let Some((rt, id)) = target.split_once('/') else {
            return String::new();
        };
        if !matches!(rt, "Practitioner" | "Organization" | "PractitionerRole") {
            return String::new();
        }
        let name = match self.state.vault.read(self.principal, rt, id).await {
            Ok(Stored {
                resource: Some(r), ..
            }) => match rt {
                "Organization" => str_at(&r, "/name").unwrap_or("").to_owned(),
                _ => human_name(r.get("name")),
            },
            _ => String::new(),
        };
        self.names.insert(target.to_owned(), name.clone());
        name
    }
}
