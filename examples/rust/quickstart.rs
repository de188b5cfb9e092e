//! Evaluates `examples/definitions/quickstart.yaml` over the CSV files in `examples/data`.
//!
//! Run with `cargo run -p caas-core --example quickstart`.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use caas_core::{CodeSystem, Cohort, Engine, Parameters, TableSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let started = Instant::now();

    let engine = Engine::new();
    engine.register_file_blocking(
        "persons",
        root.join("data/persons.csv"),
        TableSpec::person(),
    )?;
    engine.register_file_blocking(
        "gp_events",
        root.join("data/gp_events.csv"),
        TableSpec::events(CodeSystem::SnomedCt),
    )?;

    let cohort = Cohort::from_path(root.join("definitions/quickstart.yaml"))?;
    let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;

    println!("{}", result.attrition_table()?);
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(std::slice::from_ref(&result.members))?
    );
    println!(
        "{} of {} people in {:.1?}",
        result.member_count(),
        result.population,
        started.elapsed()
    );
    Ok(())
}
