//! HP-2: video consults on a Jitsi Meet server.
//!
//! Each video appointment has its own room, named by a keyed hash of the appointment id
//! (HMAC-SHA256 with a key derived from the vault's web secret under its own label), so
//! the name cannot be guessed from the id and is the same on every server of the vault.
//! The join link is shown from 15 minutes before the start until the end; following it
//! checks the window again and redirects to the room. With a JWT secret configured, the
//! link carries a signed HS256 token (`?jwt=`) for a Jitsi server with token
//! authentication.
//!
//! Settings (environment, read once): `ZORGKLUIS_VIDEO_URL` (default
//! `https://meet.jit.si`), `ZORGKLUIS_VIDEO_JWT_SECRET` (none: no token),
//! `ZORGKLUIS_VIDEO_JWT_APP_ID` (default `zorgkluis`; the token's `iss`).

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::AppState;

type HmacSha256 = Hmac<Sha256>;

/// Minutes before the start from which the join link is shown.
pub const OPEN_MINUTES_BEFORE: i64 = 15;

/// The video settings, from the environment (read once).
#[derive(Debug, Clone)]
pub struct VideoSettings {
    /// Base URL of the Jitsi Meet server, without a trailing slash.
    pub base_url: String,
    /// Host of the server (the token's `sub`).
    pub host: String,
    /// Secret of the HS256 token, if tokens are used.
    pub jwt_secret: Option<Vec<u8>>,
    /// The token's `iss` (the app id configured in Jitsi).
    pub app_id: String,
}

impl VideoSettings {
    /// From environment values (tests call this directly).
    pub fn from_values(
        url: Option<String>,
        secret: Option<String>,
        app_id: Option<String>,
    ) -> Self {
        let url = url
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .unwrap_or_else(|| "https://meet.jit.si".to_owned());
        let host = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_owned();
        Self {
            base_url: url,
            host,
            jwt_secret: secret.filter(|s| !s.is_empty()).map(String::into_bytes),
            app_id: app_id
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| "zorgkluis".to_owned()),
        }
    }
}

/// The settings of this process.
pub fn settings() -> &'static VideoSettings {
    static SETTINGS: OnceLock<VideoSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let var = |k: &str| std::env::var(k).ok();
        VideoSettings::from_values(
            var("ZORGKLUIS_VIDEO_URL"),
            var("ZORGKLUIS_VIDEO_JWT_SECRET"),
            var("ZORGKLUIS_VIDEO_JWT_APP_ID"),
        )
    })
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The room of an appointment: `zk-` and 32 hex digits of a keyed hash of its id.
pub fn room_name(state: &AppState, appointment_id: &str) -> String {
    let key = hmac(&state.vault.web_secret(), b"zorgkluis/video-room/v1");
    let tag = hmac(&key, format!("Appointment/{appointment_id}").as_bytes());
    let hex: String = tag[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("zk-{hex}")
}

/// Whether the join link is open at `now` for an appointment from `start` to `end`.
pub fn in_window(now: OffsetDateTime, start: OffsetDateTime, end: OffsetDateTime) -> bool {
    now >= start - Duration::minutes(OPEN_MINUTES_BEFORE) && now < end
}

/// A signed HS256 JWT for Jitsi (claims `aud`, `iss`, `sub`, `room`, `iat`, `nbf`, `exp`,
/// `context.user`).
pub fn jwt(
    settings: &VideoSettings,
    secret: &[u8],
    room: &str,
    user_name: &str,
    moderator: bool,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let claims = json!({
        "aud": "jitsi",
        "iss": settings.app_id,
        "sub": settings.host,
        "room": room,
        "iat": now.unix_timestamp(),
        "nbf": (now - Duration::minutes(1)).unix_timestamp(),
        "exp": expires.unix_timestamp(),
        "context": {"user": {"name": user_name, "moderator": moderator}}
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = hmac(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The URL that joins the appointment's room (with a token when configured).
pub fn join_url(
    state: &AppState,
    appointment_id: &str,
    user_name: &str,
    moderator: bool,
    end: OffsetDateTime,
) -> String {
    let s = settings();
    let room = room_name(state, appointment_id);
    let mut url = format!("{}/{room}", s.base_url);
    if let Some(secret) = &s.jwt_secret {
        let now = state.vault.now();
        let token = jwt(
            s,
            secret,
            &room,
            user_name,
            moderator,
            now,
            end + Duration::minutes(30),
        );
        url.push_str("?jwt=");
        url.push_str(&token);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_public_jitsi_server_without_tokens() {
        let s = VideoSettings::from_values(None, None, None);
        assert_eq!(s.base_url, "https://meet.jit.si");
        assert_eq!(s.host, "meet.jit.si");
        assert!(s.jwt_secret.is_none());
        assert_eq!(s.app_id, "zorgkluis");
        let s = VideoSettings::from_values(
            Some("https://video.praktijk.nl:8443/".into()),
            Some("geheim".into()),
            Some("praktijk".into()),
        );
        assert_eq!(s.base_url, "https://video.praktijk.nl:8443");
        assert_eq!(s.host, "video.praktijk.nl");
        assert_eq!(s.jwt_secret.as_deref(), Some(&b"geheim"[..]));
        // Not a URL: the default.
        let s = VideoSettings::from_values(Some("javascript:alert(1)".into()), None, None);
        assert_eq!(s.base_url, "https://meet.jit.si");
    }

    #[test]
    fn the_token_is_signed_with_hs256() {
        let s = VideoSettings::from_values(None, Some("k".into()), None);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let t = jwt(
            &s,
            b"k",
            "zk-room",
            "Anna",
            false,
            now,
            now + Duration::hours(1),
        );
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let expected = hmac(b"k", format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(parts[2], URL_SAFE_NO_PAD.encode(expected));
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(claims["room"], "zk-room");
        assert_eq!(claims["context"]["user"]["name"], "Anna");
        assert_eq!(claims["exp"], 1_800_003_600);
    }

    #[test]
    fn the_window_opens_fifteen_minutes_before_and_closes_at_the_end() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let end = start + Duration::minutes(10);
        assert!(!in_window(start - Duration::minutes(16), start, end));
        assert!(in_window(start - Duration::minutes(15), start, end));
        assert!(in_window(start + Duration::minutes(9), start, end));
        assert!(!in_window(end, start, end));
    }
}
