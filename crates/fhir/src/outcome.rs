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
    /// Authentication required.
    Login,
    /// Several matches where one was expected.
    MultipleMatches,
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
            Self::Login => "login",
            Self::MultipleMatches => "multiple-matches",
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

/// A FHIR R4 OperationOutcome for `issues`: each issue's severity, code, message (as
/// `diagnostics`) and location (as `expression`). With no issues, one informational "ok"
/// issue, since an OperationOutcome needs at least one.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issue: Vec<Value> = if issues.is_empty() {
        vec![json!({"severity": "information", "code": "informational", "diagnostics": "ok"})]
    } else {
        issues
            .iter()
            .map(|i| {
                json!({
                    "severity": i.severity.as_str(),
                    "code": i.code.as_str(),
                    "diagnostics": i.message,
                    "expression": [i.location],
                })
            })
            .collect()
    };
    json!({"resourceType": "OperationOutcome", "issue": issue})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_become_an_operation_outcome() {
        let oo = operation_outcome(&[
            Issue::error(
                IssueCode::Required,
                "Observation.status",
                "status is required",
            ),
            Issue {
                severity: Severity::Warning,
                code: IssueCode::NotSupported,
                location: "Observation.foo".into(),
                message: "unknown element".into(),
            },
        ]);
        assert_eq!(oo["resourceType"], "OperationOutcome");
        assert_eq!(oo["issue"][0]["severity"], "error");
        assert_eq!(oo["issue"][0]["code"], "required");
        assert_eq!(oo["issue"][0]["expression"][0], "Observation.status");
        assert_eq!(oo["issue"][1]["severity"], "warning");
        assert_eq!(oo["issue"][1]["code"], "not-supported");
        assert_eq!(
            crate::validate(&oo).ok(),
            Some(crate::ResourceType::OPERATION_OUTCOME)
        );
        let empty = operation_outcome(&[]);
        assert_eq!(empty["issue"][0]["severity"], "information");
    }

    #[test]
    fn every_issue_code_has_its_fhir_code() {
        use IssueCode::*;
        let all = [
            (Invalid, "invalid"),
            (Structure, "structure"),
            (Required, "required"),
            (Value, "value"),
            (NotSupported, "not-supported"),
            (NotFound, "not-found"),
            (Conflict, "conflict"),
            (Processing, "processing"),
            (Security, "security"),
            (Forbidden, "forbidden"),
            (TooCostly, "too-costly"),
            (Exception, "exception"),
            (Deleted, "deleted"),
            (Duplicate, "duplicate"),
        ];
        for (code, text) in all {
            assert_eq!(code.as_str(), text);
        }
        assert_eq!(Severity::Fatal.as_str(), "fatal");
        assert_eq!(Severity::Information.as_str(), "information");
    }
}
