//! The bodies of caas's fuzz targets: what one input of each target does. `fuzz/` drives them
//! with cargo-fuzz (coverage-guided, for long runs: `scripts/fuzz.sh`); the tests of this
//! crate replay them over the conformance cases' definitions and thousands of mutations of
//! them on every CI run, so a target that panics fails the build even without the fuzzer.
//!
//! Each body reports a finding by panicking, as libFuzzer expects: a definition that makes
//! caas panic, accepts a definition it then cannot print back, or plans one it cannot turn
//! into SQL without a typed error.

// A fuzz target reports a finding by panicking: libFuzzer keeps the input that did.
#![allow(clippy::panic)]

use std::sync::{Arc, OnceLock};

use arrow::array::{Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use caas_core::model::expr::parse;
use caas_core::sql::{Dialect, TableNames};
use caas_core::{
    CodeSystem, Cohort, Engine, EvaluationOptions, Format, Limits, Parameters, Place, TableSpec,
};

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
    let persons = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date_of_birth", DataType::Date32, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("x", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        persons.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(Date32Array::from(vec![Some(0), None])),
            Arc::new(StringArray::from(vec![Some("F"), None])),
            Arc::new(Int64Array::from(vec![Some(1), None])),
        ],
    )?;
    engine.register_batches("persons", TableSpec::person(), persons, vec![batch])?;
    let events = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        events.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(Date32Array::from(vec![Some(19000), None])),
            Arc::new(StringArray::from(vec![Some("195967001"), None])),
            Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(1.5)])),
        ],
    )?;
    let gp = TableSpec::events(CodeSystem::SnomedCt);
    engine.register_batches("gp", gp, events, vec![batch])?;
    Ok(engine)
}
