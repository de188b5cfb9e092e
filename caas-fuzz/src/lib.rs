//! The bodies of caas's fuzz targets, and the [reference evaluator](mod@reference) that the
//! `evaluate` target and the differential property test (`tests/differential.rs`) compare
//! the engine with. `fuzz/` drives the targets with cargo-fuzz (coverage-guided, for long
//! runs: `scripts/fuzz.sh`); the tests of this crate replay them over the conformance
//! cases' definitions and thousands of mutations of them on every CI run, so a target that
//! panics fails the build even without the fuzzer.
//!
//! Each body reports a finding by panicking, as libFuzzer expects: a definition that makes
//! caas panic, accepts a definition it then cannot print back, or plans one it cannot turn
//! into SQL without a typed error; a case on which the engine and the reference disagree.

// This is test code: a fuzz target reports a finding by panicking (libFuzzer keeps the
// input that did), and the reference evaluator and the cases assert as tests do.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod differential;
pub mod reference;
mod stream;

pub use stream::stream;

use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use caas_core::model::expr::parse;
use caas_core::sql::{Dialect, TableNames};
use caas_core::{
    CodeSystem, Cohort, Engine, EvaluationOptions, Format, Limits, Parameters, Place, TableSpec,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Definition text, read as YAML and as JSON, then checked: a typed error or a cohort. An
/// accepted cohort's expressions print as text that parses back to the same expressions.
pub fn definition(data: &[u8]) {
    let Some(cohort) = read(data) else {
        return;
    };
    let expressions = cohort
        .rules()
        .iter()
        .map(|r| &r.expr)
        .chain(cohort.variables().filter_map(|v| match &v.kind {
            caas_core::model::VariableKind::Derived { expr } => Some(expr),
            _ => None,
        }));
    for expr in expressions {
        let text = expr.to_string();
        match parse(&text, &Place::Definition) {
            Ok(back) => assert_eq!(&back, expr, "`{text}` parses to another expression"),
            Err(e) => panic!("`{text}`, printed from an accepted expression, fails: {e}"),
        }
    }
}

/// Definition text, read and checked, then planned over small tables: the backend-neutral
/// plan, the DataFusion plan, and the SQL of every dialect — each a result or a typed error.
pub fn plan(data: &[u8]) {
    let Some(cohort) = read(data) else {
        return;
    };
    let Some(engine) = engine() else {
        return;
    };
    let parameters = Parameters::new();
    let _ = engine.cohort_plan(&cohort, &parameters);
    let _ = engine.plan_blocking(&cohort, &parameters);
    for dialect in Dialect::ALL {
        let names = TableNames::default();
        let _ = engine.to_sql(
            &cohort,
            &parameters,
            dialect,
            &names,
            &EvaluationOptions::new(),
        );
    }
}

/// A differential case drawn from `data` (its bytes seed the case's random source), run by
/// the engine and by the reference evaluator: they must agree, as in the property test.
pub fn evaluate(data: &[u8]) {
    let mut seed = [0u8; 32];
    for (i, byte) in data.iter().enumerate() {
        seed[i % 32] ^= byte.rotate_left((i / 32) as u32);
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let Ok(tree) = differential::case().new_tree(&mut runner) else {
        return;
    };
    let case = tree.current();
    if let Err(disagreement) = differential::check(&case) {
        panic!("the engine and the reference disagree: {disagreement}\n{case:?}");
    }
}

/// The cohort of `data`, read within limits small enough that each input runs quickly.
fn read(data: &[u8]) -> Option<Cohort> {
    let text = std::str::from_utf8(data).ok()?;
    let limits = Limits {
        max_definition_bytes: 64 << 10,
        max_codelist_codes: 10_000,
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    // Codelist files resolve from a folder with none: fuzzed paths read nothing of ours.
    let base = std::env::temp_dir().join("caas-fuzz-no-codelists");
    [Format::Yaml, Format::Json]
        .into_iter()
        .find_map(|format| Cohort::from_str_with(text, format, &base, &limits).ok())
}

/// One engine for every input, with a person table and an event table that the
/// conformance cases' definitions name.
fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| build_engine().ok()).as_ref()
}

fn build_engine() -> caas_core::Result<Engine> {
    let engine = Engine::new();
    let persons = RecordBatch::try_from_iter([
        (
            "person_id",
            Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
        ),
        (
            "date_of_birth",
            Arc::new(Date32Array::from(vec![Some(0), None])),
        ),
        ("sex", Arc::new(StringArray::from(vec![Some("F"), None]))),
        ("x", Arc::new(Int64Array::from(vec![Some(1), None]))),
    ])?;
    let events = RecordBatch::try_from_iter([
        (
            "person_id",
            Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
        ),
        ("date", Arc::new(Date32Array::from(vec![Some(19000), None]))),
        (
            "code",
            Arc::new(StringArray::from(vec![Some("195967001"), None])),
        ),
        (
            "value",
            Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(1.5)])),
        ),
    ])?;
    let gp = TableSpec::events(CodeSystem::SnomedCt);
    for (name, spec, batch) in [
        ("persons", TableSpec::person(), persons),
        ("gp", gp, events),
    ] {
        engine.register_batches(name, spec, batch.schema(), vec![batch])?;
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plan_target_has_its_tables() -> caas_core::Result<()> {
        // Without them every `plan` input would stop at "table not registered".
        let engine = super::build_engine()?;
        assert_eq!(engine.table_names()?, ["persons", "gp"]);
        Ok(())
    }
}
