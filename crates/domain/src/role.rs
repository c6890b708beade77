//! Who acts: the functional roles NEN 7513 logs (ISO 21298) and the actor of an event.

use serde::{Deserialize, Serialize};

/// ISO 21298 functional role, as logged in every audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionalRole {
    /// 01: the patient (subject of care).
    SubjectOfCare,
    /// 02: a representative acting for the patient (proxy).
    SubjectOfCareProxy,
    /// 03: personal healthcare professional.
    PersonalHealthcareProfessional,
    /// 05: healthcare professional directly involved in the care.
    DirectlyInvolved,
    /// 06: indirectly involved (research, teaching).
    IndirectlyInvolved,
    /// 07: supporting services (privacy officer, administrator, maintainer, operator tools).
    Supporting,
}

impl FunctionalRole {
    /// The two-digit ISO 21298 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::SubjectOfCare => "01",
            Self::SubjectOfCareProxy => "02",
            Self::PersonalHealthcareProfessional => "03",
            Self::DirectlyInvolved => "05",
            Self::IndirectlyInvolved => "06",
            Self::Supporting => "07",
        }
    }
}

/// The natural person or system on whose account an event happens, as the audit trail
/// records it. Built by the authentication layer (or the command line for operator
/// tools), never from request input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable user id (login account id, or `system:<name>` for operator tools).
    pub user_id: String,
    /// ISO 21298 functional role.
    pub role: FunctionalRole,
    /// Role as the organisation names it (e.g. `gp`, `assistant`, `operator`).
    pub role_name: String,
    /// Display name, where the organisation's policy shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Organisation the actor works for (AGB/URA or internal id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Access point: IP address or host name.
    pub access_point: String,
    /// When acting on behalf of another: the responsible natural person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Box<Actor>>,
}

impl Actor {
    /// The operator at this machine running a `zorgkluis` command (import, generate,
    /// key management). The OS user is recorded as the responsible person.
    pub fn operator_tool(tool: &str) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let os_user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self {
            user_id: format!("system:{tool}"),
            role: FunctionalRole::Supporting,
            role_name: "operator".into(),
            display: Some(format!("zorgkluis {tool}")),
            organisation: None,
            access_point: host.clone(),
            on_behalf_of: Some(Box::new(Self {
                user_id: format!("os:{os_user}"),
                role: FunctionalRole::Supporting,
                role_name: "operator".into(),
                display: None,
                organisation: None,
                access_point: host,
                on_behalf_of: None,
            })),
        }
    }
}
