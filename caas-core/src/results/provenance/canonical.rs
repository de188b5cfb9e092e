//! Canonical forms and hashes: of a definition, so that its formatting does not change its
//! hash, and of a codelist, so that the order and spelling of its codes do not.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::codelist::Codelist;
use crate::error::{CaasError, Place, Result};
use crate::model::Definition;
use crate::model::expr::parse;

/// The canonical form of a definition: the definition as JSON (as caas reads it, so YAML
/// and JSON spellings of one document agree), every expression replaced by its canonical
/// text (see [`Expr`](crate::model::expr::Expr)'s `Display`), object keys sorted by their
/// UTF-8 bytes and no whitespace between tokens.
///
/// The order of rules and of output columns is kept (it changes the result); the order of
/// parameters, codelists and variables is not (names identify them).
///
/// ```
/// use caas_core::Cohort;
/// use caas_core::provenance::canonical_definition;
/// let a = Cohort::from_yaml_str("
/// id: c
/// title: T
/// purpose: direct_care
/// variables:
///   age: { kind: age, on: DATE '2025-01-01' }
///   old: { kind: derived, expr: age>=65 }
/// ").unwrap();
/// let b = Cohort::from_json_str(r#"{"purpose": "direct_care", "title": "T", "id": "c",
///   "variables": {"old": {"expr": "(age >= 65)", "kind": "derived"},
///                 "age": {"on": "date '2025-01-01'", "kind": "age"}}}"#).unwrap();
/// assert_eq!(canonical_definition(a.definition())?, canonical_definition(b.definition())?);
/// # Ok::<(), caas_core::CaasError>(())
/// ```
pub fn canonical_definition(definition: &Definition) -> Result<String> {
    // A definition is plain data with text keys, so this cannot fail; if it ever did, a
    // hash of nothing would silently stand for every definition.
    let mut json = serde_json::to_value(definition)
        .map_err(|e| CaasError::internal(format!("cannot write the definition as JSON: {e}")))?;
    if let Some(rules) = json.get_mut("rules").and_then(Json::as_array_mut) {
        for rule in rules {
            canonical_expressions(rule, &["include", "exclude"]);
        }
    }
    if let Some(variables) = json.get_mut("variables").and_then(Json::as_object_mut) {
        for variable in variables.values_mut() {
            canonical_expressions(variable, &["expr", "on", "from", "to", "where"]);
        }
    }
    let mut out = String::new();
    write_sorted(&json, &mut out);
    Ok(out)
}

/// SHA-256 (lower-case hex) of [`canonical_definition`].
///
/// ```
/// use caas_core::Cohort;
/// use caas_core::provenance::definition_hash;
/// let a = Cohort::from_yaml_str("{id: c, title: T, purpose: research}").unwrap();
/// let b = Cohort::from_yaml_str("title: T\nid: c\npurpose: research\n").unwrap();
/// let c = Cohort::from_yaml_str("{id: c, title: T, purpose: planning}").unwrap();
/// assert_eq!(definition_hash(a.definition())?, definition_hash(b.definition())?);
/// assert_ne!(definition_hash(a.definition())?, definition_hash(c.definition())?);
/// assert_eq!(definition_hash(a.definition())?.len(), 64);
/// # Ok::<(), caas_core::CaasError>(())
/// ```
pub fn definition_hash(definition: &Definition) -> Result<String> {
    Ok(sha256_hex(canonical_definition(definition)?.as_bytes()))
}

/// SHA-256 (lower-case hex) of a codelist's codes as matched — normalised, distinct,
/// sorted — each followed by a line feed.
///
/// ```
/// use caas_core::{CodeSystem, Codelist};
/// use caas_core::provenance::codelist_hash;
/// let a = Codelist::new("asthma", CodeSystem::Icd10, ["J45", "J46"]);
/// let b = Codelist::new("asthma_admission", CodeSystem::Icd10, ["j46.x", "J45.0", "J45"]);
/// assert_eq!(codelist_hash(&a), codelist_hash(&b));
/// ```
pub fn codelist_hash(codelist: &Codelist) -> String {
    let mut text = String::new();
    for code in codelist.codes() {
        text.push_str(code);
        text.push('\n');
    }
    sha256_hex(text.as_bytes())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replaces the expression texts of `object`'s `fields` by their canonical text. A text
/// that does not parse (a checked definition has none) is kept as written.
fn canonical_expressions(object: &mut Json, fields: &[&str]) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    for field in fields {
        if let Some(Json::String(text)) = object.get_mut(*field)
            && let Ok(expr) = parse(text, &Place::Definition)
        {
            *text = expr.to_string();
        }
    }
}

fn write_sorted(json: &Json, out: &mut String) {
    match json {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                write_sorted(value, out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
