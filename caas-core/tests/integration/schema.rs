//! The committed JSON Schema of the definition must be the one the Rust types generate.
//! Regenerate it with `CAAS_UPDATE_SCHEMA=1 cargo test -p caas-core --test integration schema`.

use std::path::Path;

#[test]
fn committed_schema_is_current() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/cohort-definition.schema.json");
    let generated = caas_core::model::definition_schema();
    if std::env::var_os("CAAS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write the schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `CAAS_UPDATE_SCHEMA=1 cargo test -p caas-core --test integration schema` and commit it",
        path.display()
    );
}
