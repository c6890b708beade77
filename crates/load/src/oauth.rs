//! OAuth 2 client credentials for [`Auth::ClientCredentials`](crate::Auth): the tool reads
//! the server's SMART configuration (`[base]/.well-known/smart-configuration`, as the SMART
//! App Launch specification places it, else the origin's, where Zorgkluis serves it), asks
//! its `token_endpoint` for a token with `grant_type=client_credentials` and HTTP Basic
//! client authentication (RFC 6749 4.4 and 2.3.1), and sends it as a bearer token.
//!
//! The token endpoint must be on the loopback host of the FHIR base (any port), like every
//! other request of the tool. A token is renewed, with the same grant, before a phase it
//! would not last through ([`Tokens::last`]).

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::http::Connection;
use crate::{snippet, target, Auth, ClientCredentials, LoadError, Target, REQUEST_TIMEOUT};

/// A token must still be valid this long after the phase that uses it ends (requests in
/// flight, clocks that differ).
pub const TOKEN_MARGIN: Duration = Duration::from_secs(60);

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// `application/x-www-form-urlencoded` encoding of one name or value: letters, digits and
/// `*-._` stay, a space becomes `+`, every other byte `%XX`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The body of the token request.
fn token_form(scope: Option<&str>) -> String {
    let mut form = String::from("grant_type=client_credentials");
    if let Some(s) = scope.map(str::trim).filter(|s| !s.is_empty()) {
        form.push_str("&scope=");
        form.push_str(&form_encode(s));
    }
    form
}

/// The `Authorization` value of HTTP Basic client authentication: id and secret each
/// form-encoded first (RFC 6749 2.3.1), so that a `:` in either survives.
fn basic_authorization(id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// A token endpoint: where it is and the request target to POST to.
#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    target: Target,
}

/// One request outside the timed phase; a transport error or a timeout stops the run.
async fn exchange(
    conn: &mut Connection,
    url: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> Result<crate::http::Response, LoadError> {
    let connect = |source| LoadError::Connect {
        url: url.to_owned(),
        source,
    };
    tokio::time::timeout(
        REQUEST_TIMEOUT,
        conn.request_typed(method, path, JSON, body),
    )
    .await
    .map_err(|_| {
        connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        ))
    })?
    .map_err(connect)
}

/// Finds the token endpoint in the SMART configuration of the server of `base`: at
/// `[base]/.well-known/smart-configuration` first, then at the origin's.
async fn token_endpoint(base: &Target) -> Result<Endpoint, LoadError> {
    let mut paths = vec![format!(
        "{}/.well-known/smart-configuration",
        base.base_path
    )];
    if !base.base_path.is_empty() {
        paths.push("/.well-known/smart-configuration".to_owned());
    }
    // No credentials: discovery is public.
    let mut conn = Connection::new(base.addr, base.host.clone(), String::new());
    let mut tried = Vec::new();
    for path in paths {
        let url = format!("http://{}{path}", base.host);
        let r = exchange(&mut conn, &url, "GET", &path, None).await?;
        let named = (r.status == 200)
            .then(|| serde_json::from_slice::<Value>(&r.body).ok())
            .flatten()
            .and_then(|v| v.get("token_endpoint")?.as_str().map(str::to_owned));
        match named {
            Some(endpoint) => return checked_endpoint(base, &url, &endpoint).await,
            None if r.status == 200 => {
                tried.push(format!("{url} answered 200 without a token_endpoint"));
            }
            None => tried.push(format!("{url} answered {}", r.status)),
        }
    }
    Err(LoadError::SmartConfiguration(format!(
        "{} (is this the FHIR base URL of a server with OAuth 2?)",
        tried.join("; ")
    )))
}

/// The token endpoint `endpoint` that the configuration at `source` names, when it is a
/// plain-HTTP URL on the loopback host of `base`.
async fn checked_endpoint(
    base: &Target,
    source: &str,
    endpoint: &str,
) -> Result<Endpoint, LoadError> {
    let named = || format!("the token endpoint {endpoint} (named by {source})");
    let t = match target(endpoint).await {
        Ok(t) => t,
        Err(LoadError::NotLoopback(_)) => return Err(LoadError::NotLoopback(named())),
        Err(LoadError::BadUrl { reason, .. }) => {
            return Err(LoadError::SmartConfiguration(format!(
                "{} cannot be used: {reason}",
                named()
            )))
        }
        Err(e) => return Err(e),
    };
    if t.addr.ip() != base.addr.ip() {
        return Err(LoadError::SmartConfiguration(format!(
            "{} is not on the host of the FHIR base ({}): the tool asks only that host for tokens",
            named(),
            base.host
        )));
    }
    Ok(Endpoint {
        url: endpoint.trim().to_owned(),
        target: t,
    })
}

/// A token from the token endpoint.
#[derive(Clone)]
struct Token {
    access_token: String,
    /// `expires_in`, when the answer had one.
    lifetime: Option<Duration>,
    /// When it was asked for (the lifetime counts from then, to be safe).
    asked_at: Instant,
}

impl Token {
    /// Whether the token is still valid for `needed` plus [`TOKEN_MARGIN`] from now.
    fn lasts(&self, needed: Duration) -> bool {
        self.lifetime
            .is_none_or(|l| self.asked_at.elapsed() + needed + TOKEN_MARGIN <= l)
    }
}

/// Reads a successful token answer: `access_token`, a `token_type` of `Bearer` (when
/// given) and `expires_in` (a number, or digits in a string), if any.
fn parse_token(body: &[u8], asked_at: Instant) -> Result<Token, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e}): {}", snippet(body)))?;
    let access_token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| format!("no access_token in {}", snippet(body)))?;
    if access_token.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the access_token holds spaces or control characters".into());
    }
    if let Some(kind) = v.get("token_type").and_then(Value::as_str) {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "token_type {kind:?}: the tool sends bearer tokens only"
            ));
        }
    }
    let lifetime = match v.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(e) => {
            let seconds = e
                .as_u64()
                .or_else(|| e.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| format!("expires_in {e} is not a number of seconds"))?;
            Some(Duration::from_secs(seconds))
        }
    };
    Ok(Token {
        access_token: access_token.to_owned(),
        lifetime,
        asked_at,
    })
}

/// The error of an unsuccessful token answer: for a 4xx the OAuth 2 `error` and
/// `error_description` (RFC 6749 5.2) when the body has them.
fn refusal(url: &str, status: u16, body: &[u8]) -> LoadError {
    if (400..500).contains(&status) {
        let v: Option<Value> = serde_json::from_slice(body).ok();
        let field = |k: &str| {
            v.as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let detail = match (field("error"), field("error_description")) {
            (Some(e), Some(d)) => format!("{e} ({d})"),
            (Some(e), None) => e,
            _ => snippet(body),
        };
        return LoadError::TokenRefused {
            url: url.to_owned(),
            status,
            detail,
        };
    }
    LoadError::Token {
        url: url.to_owned(),
        status,
        detail: snippet(body),
    }
}

/// The client's credentials, where to exchange them and the last token they got.
pub(crate) struct Tokens {
    credentials: ClientCredentials,
    endpoint: Endpoint,
    current: Token,
}

impl Tokens {
    /// Finds the token endpoint of the server of `base` and gets a first token.
    pub(crate) async fn obtain(
        base: &Target,
        credentials: &ClientCredentials,
    ) -> Result<Self, LoadError> {
        let endpoint = token_endpoint(base).await?;
        let current = request(&endpoint, credentials).await?;
        Ok(Self {
            credentials: credentials.clone(),
            endpoint,
            current,
        })
    }

    /// The token as credentials.
    pub(crate) fn auth(&self) -> Auth {
        Auth::Bearer(self.current.access_token.clone())
    }

    /// Makes sure the token is valid for `needed` more (plus [`TOKEN_MARGIN`]), asking
    /// for a new one when it is not; an error when the server's tokens do not live that
    /// long at all. Whether a new one was asked for.
    pub(crate) async fn last(&mut self, needed: Duration) -> Result<bool, LoadError> {
        self.long_enough(needed)?;
        if self.current.lasts(needed) {
            return Ok(false);
        }
        self.current = request(&self.endpoint, &self.credentials).await?;
        self.long_enough(needed)?;
        Ok(true)
    }

    /// An error when a token of the current one's lifetime, new, would not be valid for
    /// `needed` plus [`TOKEN_MARGIN`].
    pub(crate) fn long_enough(&self, needed: Duration) -> Result<(), LoadError> {
        match self.current.lifetime {
            Some(lifetime) if lifetime < needed + TOKEN_MARGIN => Err(LoadError::Config(format!(
                "the tokens of {} last {} s, too short for {} s of load plus {} s to \
                     spare: shorten --duration (or pass --token with a longer-lived token)",
                self.endpoint.url,
                lifetime.as_secs(),
                needed.as_secs(),
                TOKEN_MARGIN.as_secs()
            ))),
            _ => Ok(()),
        }
    }
}

/// `POST` of the client-credentials grant to the token endpoint.
async fn request(endpoint: &Endpoint, credentials: &ClientCredentials) -> Result<Token, LoadError> {
    let authorization = basic_authorization(&credentials.client_id, &credentials.client_secret);
    let mut conn = Connection::new(
        endpoint.target.addr,
        endpoint.target.host.clone(),
        format!("Authorization: {authorization}\r\n"),
    );
    let form = token_form(credentials.scope.as_deref());
    let path = if endpoint.target.base_path.is_empty() {
        "/"
    } else {
        &endpoint.target.base_path
    };
    let asked_at = Instant::now();
    let r = exchange(
        &mut conn,
        &endpoint.url,
        "POST",
        path,
        Some((FORM, form.as_bytes())),
    )
    .await?;
    if r.status != 200 {
        return Err(refusal(&endpoint.url, r.status, &r.body));
    }
    parse_token(&r.body, asked_at).map_err(|detail| LoadError::Token {
        url: endpoint.url.clone(),
        status: r.status,
        detail,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names_and_values_are_form_encoded() {
        assert_eq!(
            form_encode("user/*.* system/*.read"),
            "user%2F*.*+system%2F*.read"
        );
        assert_eq!(form_encode("aZ09-._*"), "aZ09-._*");
        assert_eq!(form_encode("a:b+c%d&e=f~"), "a%3Ab%2Bc%25d%26e%3Df%7E");
        assert_eq!(form_encode("é"), "%C3%A9");
        assert_eq!(token_form(None), "grant_type=client_credentials");
        assert_eq!(token_form(Some("  ")), "grant_type=client_credentials");
        assert_eq!(
            token_form(Some("user/*.read openid")),
            "grant_type=client_credentials&scope=user%2F*.read+openid"
        );
    }

    #[test]
    fn basic_authentication_encodes_id_and_secret_before_base64() {
        // RFC 6749 2.3.1: each form-encoded, then joined by ':' and base64-encoded.
        let value = basic_authorization("load", "s3cr:et +%");
        let encoded = value.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "load:s3cr%3Aet+%2B%25");
        assert_eq!(
            basic_authorization("Aladdin", "opensesame"),
            "Basic QWxhZGRpbjpvcGVuc2VzYW1l"
        );
    }

    #[test]
    fn token_answers_are_read_and_checked() {
        let now = Instant::now();
        let t = parse_token(
            br#"{"access_token":"abc","token_type":"bearer","expires_in":3600,"scope":"user/*.*"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.access_token, "abc");
        assert_eq!(t.lifetime, Some(Duration::from_secs(3600)));
        // 3600 s from when it was asked for, less the margin of 60 s.
        assert!(t.lasts(Duration::from_secs(3539)));
        assert!(!t.lasts(Duration::from_secs(3540)));
        let t = parse_token(br#"{"access_token":"abc","expires_in":"120"}"#, now).unwrap();
        assert_eq!(t.lifetime, Some(Duration::from_secs(120)));
        let t = parse_token(br#"{"access_token":"abc"}"#, now).unwrap();
        assert!(t.lifetime.is_none() && t.lasts(Duration::from_secs(1 << 40)));
        for (body, says) in [
            (&b"<html>"[..], "not JSON"),
            (br#"{"token_type":"Bearer"}"#, "no access_token"),
            (br#"{"access_token":""}"#, "no access_token"),
            (br#"{"access_token":"a b"}"#, "spaces"),
            (
                br#"{"access_token":"a","token_type":"mac"}"#,
                "bearer tokens only",
            ),
            (br#"{"access_token":"a","expires_in":"soon"}"#, "expires_in"),
        ] {
            let e = parse_token(body, now).err().unwrap();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn refusals_carry_the_oauth_error() {
        let url = "http://127.0.0.1:1/oauth/token";
        let e = refusal(
            url,
            401,
            br#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
        );
        assert!(
            matches!(&e, LoadError::TokenRefused { status: 401, detail, .. }
                if detail == "invalid_client (client authentication failed)"),
            "{e:?}"
        );
        let e = refusal(url, 400, b"nope");
        assert!(
            matches!(&e, LoadError::TokenRefused { status: 400, detail, .. } if detail == "nope")
        );
        let e = refusal(url, 503, b"later");
        assert!(matches!(&e, LoadError::Token { status: 503, .. }), "{e:?}");
        assert!(e.to_string().contains(url), "{e}");
    }
}
