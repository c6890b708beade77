//! References between resources.

use serde_json::Value;
use zorgkluis_domain::ResourceId;

use crate::types::ResourceType;

/// What a reference points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefTarget {
    /// `Type/id` (optionally `/_history/v`), also as an absolute URL ending so.
    Local {
        /// Target type.
        rtype: ResourceType,
        /// Target id.
        id: String,
        /// Version, when the reference pins one.
        version: Option<String>,
    },
    /// `#id`: a contained resource.
    Contained(String),
    /// `urn:uuid:…` or `urn:oid:…`: a bundle-internal reference.
    Urn(String),
    /// Another absolute URL (an external resource).
    Absolute(String),
    /// `Type?query`: a conditional reference, resolved by search when a bundle is processed.
    Conditional {
        /// Target type.
        rtype: ResourceType,
        /// The search query.
        query: String,
    },
}

/// A reference found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where: element path from the resource root, e.g. `subject`, `contained[0].patient`.
    pub path: String,
    /// The reference string as written.
    pub raw: String,
    /// What it points to.
    pub target: RefTarget,
}

/// The reference string is not a valid reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid reference")]
pub struct BadReference;

fn local(rtype: &str, id: &str, version: Option<&str>) -> Result<RefTarget, BadReference> {
    let rtype = ResourceType::parse(rtype).map_err(|_| BadReference)?;
    ResourceId::parse(id).map_err(|_| BadReference)?;
    Ok(RefTarget::Local {
        rtype,
        id: id.to_owned(),
        version: version.map(str::to_owned),
    })
}

/// Parses a reference string.
pub fn parse_reference(raw: &str) -> Result<RefTarget, BadReference> {
    if raw.is_empty() || raw.trim() != raw {
        return Err(BadReference);
    }
    if let Some(id) = raw.strip_prefix('#') {
        return Ok(RefTarget::Contained(id.to_owned()));
    }
    if raw.starts_with("urn:uuid:") || raw.starts_with("urn:oid:") {
        return Ok(RefTarget::Urn(raw.to_owned()));
    }
    if let Some((rtype, query)) = raw.split_once('?') {
        if !rtype.contains('/') {
            let rtype = ResourceType::parse(rtype).map_err(|_| BadReference)?;
            return Ok(RefTarget::Conditional {
                rtype,
                query: query.to_owned(),
            });
        }
    }
    let is_absolute = raw.starts_with("http://") || raw.starts_with("https://");
    let parts: Vec<&str> = raw.split('/').collect();
    // …/Type/id/_history/v
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        let n = parts.len();
        if let Ok(t) = local(parts[n - 4], parts[n - 3], Some(parts[n - 1])) {
            if is_absolute || n == 4 {
                return Ok(t);
            }
        }
    }
    if parts.len() >= 2 {
        let n = parts.len();
        if let Ok(t) = local(parts[n - 2], parts[n - 1], None) {
            if is_absolute || n == 2 {
                return Ok(t);
            }
        }
    }
    if is_absolute {
        return Ok(RefTarget::Absolute(raw.to_owned()));
    }
    Err(BadReference)
}

fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("reference") {
                out.push((path.clone(), r.clone()));
            }
            for (k, v) in map {
                if k == "reference" {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Every reference in the resource (including inside `contained`), with its path.
/// References that do not parse are left out (validation reports them).
pub fn references(resource: &Value) -> Vec<Reference> {
    raw_references(resource)
        .into_iter()
        .filter_map(|(path, raw)| {
            parse_reference(&raw)
                .ok()
                .map(|target| Reference { path, raw, target })
        })
        .collect()
}

/// Every `reference` string with its path, parsed or not.
pub fn raw_references(resource: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(resource, &mut String::new(), &mut out);
    out
}

/// Replaces reference strings: `f` returns the new string, or `None` to keep it.
/// Returns how many were changed.
pub fn rewrite_references(
    resource: &mut Value,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> usize {
    match resource {
        Value::Object(map) => {
            let mut n = 0;
            if let Some(Value::String(r)) = map.get_mut("reference") {
                if let Some(new) = f(r) {
                    *r = new;
                    n += 1;
                }
            }
            for (k, v) in map.iter_mut() {
                if k != "reference" {
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

    #[test]
    fn reference_forms_parse() {
        assert!(
            matches!(parse_reference("Patient/p1"), Ok(RefTarget::Local { id, version: None, .. }) if id == "p1")
        );
        assert!(
            matches!(parse_reference("Patient/p1/_history/2"), Ok(RefTarget::Local { version: Some(v), .. }) if v == "2")
        );
        assert!(matches!(
            parse_reference("https://x.nl/fhir/Patient/p1"),
            Ok(RefTarget::Local { .. })
        ));
        assert!(matches!(
            parse_reference("https://terminology.example/other"),
            Ok(RefTarget::Absolute(_))
        ));
        assert!(
            matches!(parse_reference("#referral"), Ok(RefTarget::Contained(c)) if c == "referral")
        );
        assert!(matches!(
            parse_reference("urn:uuid:1234"),
            Ok(RefTarget::Urn(_))
        ));
        assert!(matches!(
            parse_reference("Patient?identifier=a|b"),
            Ok(RefTarget::Conditional { .. })
        ));
        for bad in [
            "",
            "Patient",
            "Nope/1",
            "Patient/bad id",
            " Patient/1",
            "a/b/c",
        ] {
            assert_eq!(parse_reference(bad), Err(BadReference), "{bad}");
        }
    }

    #[test]
    fn references_are_found_everywhere_and_rewritten() {
        let mut r = json!({"resourceType": "Claim", "patient": {"reference": "urn:uuid:a"},
            "contained": [{"resourceType": "ServiceRequest", "subject": {"reference": "urn:uuid:a"}}],
            "item": [{"encounter": [{"reference": "Encounter/e1"}]}]});
        let refs = references(&r);
        let paths: Vec<_> = refs.iter().map(|x| x.path.as_str()).collect();
        assert!(paths.contains(&"patient"));
        assert!(paths.contains(&"contained[0].subject"));
        assert!(paths.contains(&"item[0].encounter[0]"));
        let n = rewrite_references(&mut r, &mut |s| {
            (s == "urn:uuid:a").then(|| "Patient/p9".to_owned())
        });
        assert_eq!(n, 2);
        assert_eq!(r["patient"]["reference"], "Patient/p9");
    }
}
