//! Issues and the OperationOutcome that reports them.

use serde_json::{json, Value};

/// Issue severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The action failed and cannot go on.
    Fatal,
    /// The action failed.
    Error,
    /// A problem that did not stop the action.
    Warning,
    /// For information.
    Information,
}

impl Severity {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fatal => "fatal",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Information => "information",
        }
    }
}

/// FHIR issue type (`OperationOutcome.issue.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    /// Content invalid against the specification.
    Invalid,
    /// Structural issue (not an object, wrong JSON type).
    Structure,
    /// A required element is missing.
    Required,
    /// An element's value is invalid.
    Value,
    /// Not supported.
    NotSupported,
    /// Reference or resource not found.
    NotFound,
    /// Version conflict.
    Conflict,
    /// Processing failure (business rule).
    Processing,
    /// Security problem.
    Security,
    /// Access forbidden.
    Forbidden,
    /// Too costly.
    TooCostly,
    /// Unexpected internal error.
    Exception,
    /// The resource was deleted.
    Deleted,
    /// Duplicate.
    Duplicate,
}

impl IssueCode {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Structure => "structure",
            Self::Required => "required",
            Self::Value => "value",
            Self::NotSupported => "not-supported",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::Processing => "processing",
            Self::Security => "security",
            Self::Forbidden => "forbidden",
            Self::TooCostly => "too-costly",
            Self::Exception => "exception",
            Self::Deleted => "deleted",
            Self::Duplicate => "duplicate",
        }
    }
}

/// One problem. `message` never contains element values (they may be personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Severity.
    pub severity: Severity,
    /// Issue type.
    pub code: IssueCode,
    /// FHIRPath-like location, e.g. `Observation.code`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl Issue {
    /// An error at `location`.
    pub fn error(code: IssueCode, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            location: location.into(),
            message: message.into(),
        }
    }
}

/// A FHIR OperationOutcome for `issues`.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": issues.iter().map(|i| json!({
            "severity": i.severity.as_str(),
            "code": i.code.as_str(),
            "diagnostics": i.message,
            "expression": [i.location],
        })).collect::<Vec<_>>(),
    })
}
