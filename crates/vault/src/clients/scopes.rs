//! SMART on FHIR (v1) scopes. Scopes only **narrow**: a token never does more than its
//! principal may do; the decision point still decides every access on the principal's
//! own rights.
//!
//! Understood: `patient/`, `user/` and `system/` resource scopes (`<Type>` or `*`, then
//! `.read`, `.write` or `.*`), and `openid`, `fhirUser`, `launch/patient`,
//! `offline_access` (accepted; only `launch/patient` has an effect: a patient in context).

use std::fmt;

/// Whose data a resource scope is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeContext {
    /// `patient/`: the patient in context only.
    Patient,
    /// `user/`: whatever the user may see.
    User,
    /// `system/`: whatever the (system) client may see.
    System,
}

impl ScopeContext {
    fn prefix(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::User => "user",
            Self::System => "system",
        }
    }
}

/// One resource scope, e.g. `patient/Observation.read`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    /// `patient/`, `user/` or `system/`.
    pub context: ScopeContext,
    /// The FHIR type; `None` for `*`.
    pub resource_type: Option<String>,
    /// Reading (read, vread, search, history).
    pub read: bool,
    /// Writing (create, update, delete).
    pub write: bool,
}

impl ResourceScope {
    fn covers(&self, other: &ResourceScope) -> bool {
        self.context == other.context
            && (self.resource_type.is_none() || self.resource_type == other.resource_type)
            && (self.read || !other.read)
            && (self.write || !other.write)
    }

    fn matches(&self, resource_type: &str, write: bool) -> bool {
        self.resource_type
            .as_deref()
            .is_none_or(|t| t == resource_type)
            && if write { self.write } else { self.read }
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match (self.read, self.write) {
            (true, true) => "*",
            (false, true) => "write",
            _ => "read",
        };
        write!(
            f,
            "{}/{}.{access}",
            self.context.prefix(),
            self.resource_type.as_deref().unwrap_or("*")
        )
    }
}

/// One scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A resource scope.
    Resource(ResourceScope),
    /// `openid` (accepted; no ID token is issued).
    OpenId,
    /// `fhirUser` (accepted, no effect).
    FhirUser,
    /// `launch/patient`: a patient in context (standalone launch).
    LaunchPatient,
    /// `offline_access` (accepted; no refresh tokens are issued).
    OfflineAccess,
}

impl Scope {
    /// Parses one scope.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let bad = || ScopeError(s.chars().take(80).collect());
        match s {
            "openid" => return Ok(Self::OpenId),
            "fhirUser" => return Ok(Self::FhirUser),
            "launch/patient" => return Ok(Self::LaunchPatient),
            "offline_access" => return Ok(Self::OfflineAccess),
            _ => {}
        }
        let (context, rest) = s.split_once('/').ok_or_else(bad)?;
        let context = match context {
            "patient" => ScopeContext::Patient,
            "user" => ScopeContext::User,
            "system" => ScopeContext::System,
            _ => return Err(bad()),
        };
        let (resource, access) = rest.split_once('.').ok_or_else(bad)?;
        let resource_type = match resource {
            "*" => None,
            t if t.len() <= 64
                && t.starts_with(|c: char| c.is_ascii_uppercase())
                && t.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Some(t.to_owned())
            }
            _ => return Err(bad()),
        };
        let (read, write) = match access {
            "read" => (true, false),
            "write" => (false, true),
            "*" => (true, true),
            _ => return Err(bad()),
        };
        Ok(Self::Resource(ResourceScope {
            context,
            resource_type,
            read,
            write,
        }))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resource(r) => r.fmt(f),
            Self::OpenId => f.write_str("openid"),
            Self::FhirUser => f.write_str("fhirUser"),
            Self::LaunchPatient => f.write_str("launch/patient"),
            Self::OfflineAccess => f.write_str("offline_access"),
        }
    }
}

/// A scope that is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or malformed scope {0:?}")]
pub struct ScopeError(pub String);

/// The scopes of a client or token, with the patient in context (if any).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes {
    scopes: Vec<Scope>,
    patient: Option<String>,
}

impl Scopes {
    /// Parses space-separated scopes; any scope not understood is an error.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut out = Self::default();
        for s in text.split_whitespace() {
            out.push(Scope::parse(s)?);
        }
        Ok(out)
    }

    /// Parses space-separated scopes of a request, leaving out any not understood (a
    /// server may grant fewer scopes than asked).
    pub fn parse_lenient(text: &str) -> Self {
        let mut out = Self::default();
        for s in text.split_whitespace().filter_map(|s| Scope::parse(s).ok()) {
            out.push(s);
        }
        out
    }

    fn push(&mut self, s: Scope) {
        if !self.scopes.contains(&s) {
            self.scopes.push(s);
        }
    }

    /// These scopes with `patient` as the patient in context.
    pub fn with_patient(mut self, patient: Option<String>) -> Self {
        self.patient = patient;
        self
    }

    /// Every scope.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    /// The resource scopes.
    pub fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.scopes.iter().filter_map(|s| match s {
            Scope::Resource(r) => Some(r),
            _ => None,
        })
    }

    /// Whether there is no resource scope (such a token reaches no data).
    pub fn is_empty(&self) -> bool {
        self.resource_scopes().next().is_none()
    }

    /// Whether any resource scope is of this context.
    pub fn has_context(&self, context: ScopeContext) -> bool {
        self.resource_scopes().any(|r| r.context == context)
    }

    /// Whether `launch/patient` is among them.
    pub fn launch_patient(&self) -> bool {
        self.scopes.contains(&Scope::LaunchPatient)
    }

    /// Whether a patient in context is needed (`patient/` scopes or `launch/patient`).
    pub fn wants_patient(&self) -> bool {
        self.launch_patient() || self.has_context(ScopeContext::Patient)
    }

    /// The patient in context: the patient the `patient/` scopes are limited to (the
    /// patient themself, or for a representative the patient chosen at authorization).
    pub fn patient_context(&self) -> Option<&str> {
        self.patient.as_deref()
    }

    /// The patient every access of this token is limited to: `Some` when all resource
    /// scopes are `patient/` scopes (the FHIR layer then limits every query to it).
    pub fn patient_only(&self) -> Option<&str> {
        let only_patient = !self.is_empty()
            && self
                .resource_scopes()
                .all(|r| r.context == ScopeContext::Patient);
        if only_patient {
            self.patient.as_deref()
        } else {
            None
        }
    }

    /// Whether some scope permits reading (`write == false`) or writing `resource_type`.
    /// `patient/` scopes count only with a patient in context; use
    /// [`Scopes::permits_for_patient`] to check the compartment as well.
    pub fn permits(&self, resource_type: &str, write: bool) -> bool {
        self.resource_scopes().any(|r| {
            r.matches(resource_type, write)
                && (r.context != ScopeContext::Patient || self.patient.is_some())
        })
    }

    /// Like [`Scopes::permits`], for data in `patient_id`'s compartment (`None`: outside
    /// every compartment): `patient/` scopes count only for the patient in context.
    pub fn permits_for_patient(
        &self,
        resource_type: &str,
        write: bool,
        patient_id: Option<&str>,
    ) -> bool {
        self.resource_scopes().any(|r| {
            r.matches(resource_type, write)
                && match r.context {
                    ScopeContext::Patient => {
                        self.patient.is_some() && self.patient.as_deref() == patient_id
                    }
                    ScopeContext::User | ScopeContext::System => true,
                }
        })
    }

    /// The scopes of `self` that `allowed` covers (a request narrowed to what a client
    /// is registered for). The patient in context is not carried over.
    pub fn narrowed_to(&self, allowed: &Scopes) -> Scopes {
        let mut out = Scopes::default();
        for s in &self.scopes {
            let ok = match s {
                Scope::Resource(r) => allowed.resource_scopes().any(|a| a.covers(r)),
                other => allowed.scopes.contains(other),
            };
            if ok {
                out.push(s.clone());
            }
        }
        out
    }

    /// Without `patient/` scopes and `launch/patient` (when no patient can be in context).
    pub fn without_patient_scopes(&self) -> Scopes {
        Scopes {
            scopes: self
                .scopes
                .iter()
                .filter(|s| match s {
                    Scope::Resource(r) => r.context != ScopeContext::Patient,
                    Scope::LaunchPatient => false,
                    _ => true,
                })
                .cloned()
                .collect(),
            patient: None,
        }
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            s.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_v1_scopes_parse_and_print_back() {
        let text = "patient/*.read patient/Observation.write patient/*.* user/*.read \
                    user/Patient.write system/*.* system/*.read openid fhirUser \
                    launch/patient offline_access";
        let s = Scopes::parse(text).unwrap();
        assert_eq!(
            s.to_string(),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        for bad in [
            "patient/*.delete",
            "admin/*.read",
            "patient/observation.read",
            "patient/*",
            "launch",
            "user/Obs-ervation.read",
        ] {
            assert!(Scopes::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Scopes::parse_lenient("nonsense patient/*.read").to_string(),
            "patient/*.read"
        );
    }

    #[test]
    fn permits_reads_and_writes_per_type() {
        let s = Scopes::parse("user/*.read user/Observation.write").unwrap();
        assert!(s.permits("Patient", false));
        assert!(!s.permits("Patient", true));
        assert!(s.permits("Observation", true));
        let sys = Scopes::parse("system/*.*").unwrap();
        assert!(sys.permits("Condition", true) && sys.permits("Condition", false));
        assert!(!Scopes::parse("openid fhirUser")
            .unwrap()
            .permits("Patient", false));
    }

    #[test]
    fn patient_scopes_need_and_are_limited_to_the_patient_in_context() {
        let s = Scopes::parse("patient/*.read launch/patient").unwrap();
        assert!(s.wants_patient());
        assert!(!s.permits("Observation", false), "no patient in context");
        let s = s.with_patient(Some("p1".into()));
        assert_eq!(s.patient_context(), Some("p1"));
        assert_eq!(s.patient_only(), Some("p1"));
        assert!(s.permits("Observation", false));
        assert!(s.permits_for_patient("Observation", false, Some("p1")));
        assert!(!s.permits_for_patient("Observation", false, Some("p2")));
        assert!(!s.permits_for_patient("Organization", false, None));
        let mixed = Scopes::parse("patient/*.read user/Organization.read")
            .unwrap()
            .with_patient(Some("p1".into()));
        assert_eq!(mixed.patient_only(), None);
        assert!(mixed.permits_for_patient("Organization", false, None));
        assert_eq!(
            mixed.without_patient_scopes().to_string(),
            "user/Organization.read"
        );
    }

    #[test]
    fn requests_are_narrowed_to_what_the_client_is_registered_for() {
        let registered = Scopes::parse("patient/*.read user/Observation.* openid").unwrap();
        let asked = Scopes::parse_lenient(
            "patient/Observation.read patient/*.write user/Observation.read system/*.* openid fhirUser",
        );
        assert_eq!(
            asked.narrowed_to(&registered).to_string(),
            "patient/Observation.read user/Observation.read openid"
        );
    }
}
