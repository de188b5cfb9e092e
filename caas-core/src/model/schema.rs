//! The published JSON Schema of the definition document.

use crate::model::Definition;

/// The JSON Schema of a cohort definition, generated from the Rust types. The copy
/// committed at `schema/cohort-definition.schema.json` is checked against it by a test.
///
/// ```
/// let schema = caas_core::model::definition_schema();
/// assert!(schema.contains("\"purpose\""));
/// ```
pub fn definition_schema() -> String {
    let schema = schemars::schema_for!(Definition);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
