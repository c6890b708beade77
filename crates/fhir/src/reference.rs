//! References between resources (<http://hl7.org/fhir/R4/references.html>).

use std::fmt::Write as _;

use serde_json::Value;
use zorgkluis_domain::ResourceId;

use crate::types::ResourceType;

/// What a reference string points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefTarget {
    /// A relative reference `Type/id`, optionally `Type/id/_history/version`: a resource on
    /// this server.
    Local {
        /// Target type.
        rtype: ResourceType,
        /// Target id.
        id: String,
        /// Version, when the reference pins one.
        version: Option<String>,
    },
    /// `#id`: a resource contained in the same resource (`#` alone: the container itself).
    Contained(String),
    /// `urn:uuid:…` or `urn:oid:…`: a reference inside a Bundle, resolved through the
    /// entries' `fullUrl` when the Bundle is processed.
    Urn(String),
    /// An absolute `http(s)` URL, on this or another server.
    Absolute(String),
    /// `Type?query`: a conditional reference, resolved by search when a transaction is
    /// processed.
    Conditional {
        /// Target type.
        rtype: ResourceType,
        /// The search query (after `?`).
        query: String,
    },
}

impl RefTarget {
    /// The `(type, id)` this reference names, if it names one: a [`RefTarget::Local`]
    /// reference, or an absolute URL ending in `/Type/id` (optionally `/_history/v`).
    pub fn type_and_id(&self) -> Option<(ResourceType, &str)> {
        match self {
            Self::Local { rtype, id, .. } => Some((*rtype, id)),
            Self::Absolute(url) => split_type_id(url, true).map(|(t, id, _)| (t, id)),
            _ => None,
        }
    }
}

/// A reference found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Path of the Reference element from the resource root, e.g. `subject`,
    /// `contained[0].patient`, `item[2].encounter[0]`.
    pub path: String,
    /// The reference string as written.
    pub raw: String,
    /// What it points to.
    pub target: RefTarget,
}

/// The string is not a valid reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid reference (Type/id, #id, urn:uuid:<uuid>, an http(s) URL or Type?query)")]
pub struct BadReference;

fn is_id(s: &str) -> bool {
    ResourceId::parse(s).is_ok()
}

/// Splits `…Type/id` or `…Type/id/_history/v` from the end of `s`. With `prefixed`, other
/// segments may come before (an absolute URL); without, `s` must be exactly that.
fn split_type_id(s: &str, prefixed: bool) -> Option<(ResourceType, &str, Option<&str>)> {
    let mut parts = s.rsplit('/');
    let last = parts.next()?;
    let before = parts.next()?;
    let (rtype, id, version) = if before == "_history" {
        let id = parts.next()?;
        (parts.next()?, id, Some(last))
    } else {
        (before, last, None)
    };
    if !prefixed && parts.next().is_some() {
        return None;
    }
    let rtype = ResourceType::parse(rtype).ok()?;
    if !is_id(id) || !version.is_none_or(is_id) {
        return None;
    }
    Some((rtype, id, version))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_oid(s: &str) -> bool {
    let mut arcs = 0;
    for arc in s.split('.') {
        let ok = !arc.is_empty()
            && arc.bytes().all(|c| c.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'));
        if !ok {
            return false;
        }
        arcs += 1;
    }
    arcs >= 2
}

/// Parses a reference string. Never panics; anything not in one of the forms of
/// [`RefTarget`] is a [`BadReference`].
pub fn parse_reference(raw: &str) -> Result<RefTarget, BadReference> {
    if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BadReference);
    }
    if let Some(id) = raw.strip_prefix('#') {
        return if id.is_empty() || is_id(id) {
            Ok(RefTarget::Contained(id.to_owned()))
        } else {
            Err(BadReference)
        };
    }
    if let Some(uuid) = raw.strip_prefix("urn:uuid:") {
        return if is_uuid(uuid) {
            Ok(RefTarget::Urn(raw.to_owned()))
        } else {
            Err(BadReference)
        };
    }
    if let Some(oid) = raw.strip_prefix("urn:oid:") {
        return if is_oid(oid) {
            Ok(RefTarget::Urn(raw.to_owned()))
        } else {
            Err(BadReference)
        };
    }
    for scheme in ["http://", "https://"] {
        if let Some(rest) = raw.strip_prefix(scheme) {
            return if rest.is_empty() || rest.starts_with('/') {
                Err(BadReference)
            } else {
                Ok(RefTarget::Absolute(raw.to_owned()))
            };
        }
    }
    if let Some((rtype, query)) = raw.split_once('?') {
        let rtype = ResourceType::parse(rtype).map_err(|_| BadReference)?;
        if query.is_empty() {
            return Err(BadReference);
        }
        return Ok(RefTarget::Conditional {
            rtype,
            query: query.to_owned(),
        });
    }
    let (rtype, id, version) = split_type_id(raw, false).ok_or(BadReference)?;
    Ok(RefTarget::Local {
        rtype,
        id: id.to_owned(),
        version: version.map(str::to_owned),
    })
}

/// One object with a string `reference`, as met while walking a resource.
pub(crate) struct Site<'a> {
    /// Path with indices: `item[0].encounter[1]`.
    pub path: &'a str,
    /// Path without indices: `item.encounter`.
    pub shape: &'a str,
    /// The reference string.
    pub raw: &'a str,
}

fn push_step(buf: &mut String, key: &str) {
    if !buf.is_empty() {
        buf.push('.');
    }
    buf.push_str(key);
}

fn walk<'a>(value: &'a Value, path: &mut String, shape: &mut String, f: &mut dyn FnMut(&Site<'_>)) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(raw)) = map.get("reference") {
                f(&Site { path, shape, raw });
            }
            for (k, v) in map {
                if !matches!(v, Value::Object(_) | Value::Array(_)) {
                    continue;
                }
                let (pl, sl) = (path.len(), shape.len());
                push_step(path, k);
                push_step(shape, k);
                walk(v, path, shape, f);
                path.truncate(pl);
                shape.truncate(sl);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(v, path, shape, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Calls `f` for every object with a string `reference` anywhere in `resource` (including
/// `contained` resources and extensions), in document order.
pub(crate) fn visit_references(resource: &Value, f: &mut dyn FnMut(&Site<'_>)) {
    walk(resource, &mut String::new(), &mut String::new(), f);
}

/// Every valid reference in the resource (including inside `contained` and extensions),
/// with its path. Strings that do not parse are left out: [`crate::validate`] reports them.
pub fn references(resource: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    visit_references(resource, &mut |site| {
        if let Ok(target) = parse_reference(site.raw) {
            out.push(Reference {
                path: site.path.to_owned(),
                raw: site.raw.to_owned(),
                target,
            });
        }
    });
    out
}

/// Replaces reference strings everywhere in the resource (e.g. `urn:uuid:…` by `Type/id`
/// while importing a Bundle): `f` gets each string and returns its replacement, or `None`
/// to keep it. Returns how many strings changed. Nothing but `reference` strings is touched.
pub fn rewrite_references(
    resource: &mut Value,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> usize {
    match resource {
        Value::Object(map) => {
            let mut n = 0;
            if let Some(Value::String(r)) = map.get_mut("reference") {
                if let Some(new) = f(r) {
                    if new != *r {
                        *r = new;
                        n += 1;
                    }
                }
            }
            for v in map.values_mut() {
                if matches!(v, Value::Object(_) | Value::Array(_)) {
                    n += rewrite_references(v, f);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(|v| rewrite_references(v, f)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UUID: &str = "urn:uuid:0b0d3f2e-1111-4a4a-9a9a-1234567890ab";

    #[test]
    fn relative_references_are_local() {
        assert_eq!(
            parse_reference("Patient/p1"),
            Ok(RefTarget::Local {
                rtype: ResourceType::PATIENT,
                id: "p1".into(),
                version: None
            })
        );
        assert!(
            matches!(parse_reference("Patient/p1/_history/2"), Ok(RefTarget::Local { version: Some(v), .. }) if v == "2")
        );
        assert!(
            matches!(parse_reference("Observation/nl-core-Burnwound-01.x"), Ok(RefTarget::Local { id, .. }) if id == "nl-core-Burnwound-01.x")
        );
    }

    #[test]
    fn other_forms_parse() {
        assert_eq!(
            parse_reference("https://x.nl/fhir/Patient/p1"),
            Ok(RefTarget::Absolute("https://x.nl/fhir/Patient/p1".into()))
        );
        assert_eq!(
            parse_reference("https://x.nl/fhir/Patient/p1/_history/4")
                .unwrap()
                .type_and_id(),
            Some((ResourceType::PATIENT, "p1"))
        );
        assert_eq!(
            parse_reference("http://terminology.example/other")
                .unwrap()
                .type_and_id(),
            None
        );
        assert_eq!(
            parse_reference("#referral"),
            Ok(RefTarget::Contained("referral".into()))
        );
        assert_eq!(
            parse_reference("#"),
            Ok(RefTarget::Contained(String::new()))
        );
        assert_eq!(parse_reference(UUID), Ok(RefTarget::Urn(UUID.into())));
        assert!(matches!(
            parse_reference("urn:oid:2.16.840.1.113883"),
            Ok(RefTarget::Urn(_))
        ));
        assert!(
            matches!(parse_reference("Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|111222333"),
            Ok(RefTarget::Conditional { rtype, .. }) if rtype == ResourceType::PATIENT)
        );
    }

    #[test]
    fn malformed_references_are_refused_without_panicking() {
        for bad in [
            "",
            "Patient",
            "Patient/",
            "/Patient/1",
            "Nope/1",
            "patient/1",
            "Patient/bad id",
            " Patient/1",
            "Patient/1\n",
            "a/b/c",
            "x/Patient/1",
            "Patient/1/_history/",
            "Patient/1/_history/a b",
            "Patient/ééé",
            "#bad id",
            "urn:uuid:1234",
            "urn:uuid:0b0d3f2e-1111-4a4a-9a9a-1234567890zz",
            "urn:oid:1.02",
            "urn:oid:",
            "http://",
            "https:///x",
            "Patient?",
            "Nope?x=1",
            "/",
            "//",
            "_history/1",
        ] {
            assert_eq!(parse_reference(bad), Err(BadReference), "{bad:?}");
        }
        assert_eq!(
            parse_reference(&format!("Patient/{}", "a".repeat(65))),
            Err(BadReference)
        );
    }

    #[test]
    fn references_are_found_everywhere_with_paths() {
        let r = json!({"resourceType": "Claim", "patient": {"reference": UUID},
            "contained": [{"resourceType": "ServiceRequest", "id": "referral", "subject": {"reference": "Patient/p"}}],
            "item": [{"encounter": [{"reference": "Encounter/e0"}, {"reference": "Encounter/e1"}]}],
            "extension": [{"url": "http://x", "valueReference": {"reference": "Practitioner/d"}}],
            "provider": {"reference": "not a reference"}, "referral": {"reference": "#referral"}});
        let refs = references(&r);
        let paths: Vec<_> = refs.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "patient",
                "contained[0].subject",
                "item[0].encounter[0]",
                "item[0].encounter[1]",
                "extension[0].valueReference",
                "referral"
            ]
        );
        let mut shapes = Vec::new();
        visit_references(&r, &mut |s| shapes.push(s.shape.to_owned()));
        assert!(shapes.contains(&"item.encounter".to_owned()));
    }

    #[test]
    fn rewriting_replaces_only_reference_strings() {
        let mut r = json!({"resourceType": "Claim", "patient": {"reference": UUID, "display": UUID},
            "contained": [{"resourceType": "ServiceRequest", "subject": {"reference": UUID}}],
            "note": [{"text": UUID}], "provider": {"reference": "Practitioner/d"}});
        let n = rewrite_references(&mut r, &mut |s| {
            (s == UUID).then(|| "Patient/p9".to_owned())
        });
        assert_eq!(n, 2);
        assert_eq!(r["patient"]["reference"], "Patient/p9");
        assert_eq!(r["patient"]["display"], UUID);
        assert_eq!(r["contained"][0]["subject"]["reference"], "Patient/p9");
        assert_eq!(r["note"][0]["text"], UUID);
        assert_eq!(
            rewrite_references(&mut r, &mut |s| Some(s.to_owned())),
            0,
            "unchanged strings are not counted"
        );
    }
}
