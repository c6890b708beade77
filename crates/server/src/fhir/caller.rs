//! Who calls the FHIR API: a bearer token (API clients, SMART apps) or the web session
//! (the portal's own pages). Either way a principal the vault decides for.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use zorgkluis_vault::Principal;

use super::error::FhirError;
use crate::auth::{cookie, ClientAddress, SESSION_COOKIE};
use crate::AppState;

/// The caller of a FHIR interaction.
pub struct FhirCaller {
    /// Who; the vault decides every access for this principal.
    pub principal: Principal,
    /// The token's scopes, which can only narrow what the principal may do.
    pub scopes: Option<crate::oauth::Scopes>,
}

impl FhirCaller {
    /// Checks the token's scopes for an interaction on `resource_type` (reads or writes);
    /// the decision point still decides on the principal's own rights afterwards.
    pub fn check_scope(&self, resource_type: &str, write: bool) -> Result<(), FhirError> {
        match &self.scopes {
            Some(s) if !s.permits(resource_type, write) => Err(FhirError::Forbidden),
            _ => Ok(()),
        }
    }
}

impl FhirCaller {
    /// Checks the token's scopes for data in `patient`'s compartment (`None`: outside every
    /// compartment): a `patient/` scope covers only the patient in context.
    pub fn check_patient(
        &self,
        resource_type: &str,
        write: bool,
        patient: Option<&str>,
    ) -> Result<(), FhirError> {
        let Some(s) = &self.scopes else {
            return Ok(());
        };
        let ok = match patient {
            Some(p) => s.permits_for_patient(resource_type, write, Some(p)),
            None => s.permits(resource_type, write),
        };
        if ok {
            Ok(())
        } else {
            Err(FhirError::Forbidden)
        }
    }

    /// Checks a resource about to be written against the token's patient context.
    pub fn check_write(&self, resource: &serde_json::Value) -> Result<(), FhirError> {
        let Some(rt) = resource
            .get("resourceType")
            .and_then(serde_json::Value::as_str)
            .and_then(|t| zorgkluis_fhir::ResourceType::parse(t).ok())
        else {
            return Ok(());
        };
        let patient = zorgkluis_fhir::compartment_patient(rt, resource)
            .ok()
            .flatten();
        self.check_patient(rt.as_str(), true, patient.as_deref())
    }

    /// The patient every query of this token is limited to, if any.
    pub fn patient_only(&self) -> Option<&str> {
        self.scopes.as_ref().and_then(|s| s.patient_only())
    }
}

impl<S> FromRequestParts<S> for FhirCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, &state)
            .await
            .unwrap_or_else(|never| match never {});
        if let Some(auth) = parts.headers.get(AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or(FhirError::Unauthenticated)?;
            return match crate::oauth::bearer_caller(&state, token, &address).await {
                Ok((principal, scopes)) => Ok(Self {
                    principal,
                    scopes: Some(scopes),
                }),
                Err(crate::oauth::BearerError::Unavailable) => {
                    Err(FhirError::Unavailable("token store unavailable".into()))
                }
                Err(_) => Err(FhirError::Unauthenticated),
            };
        }
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(FhirError::Unauthenticated)?;
        match state.vault.principal_for_session(token, &address).await {
            Ok(principal) => Ok(Self {
                principal,
                scopes: None,
            }),
            Err(zorgkluis_vault::SessionError::Unauthenticated) => Err(FhirError::Unauthenticated),
            Err(zorgkluis_vault::SessionError::Unavailable) => {
                Err(FhirError::Unavailable("session store unavailable".into()))
            }
        }
    }
}
