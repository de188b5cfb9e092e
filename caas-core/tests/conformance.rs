//! Runs the conformance suite in `tests/conformance/cases` (see its README for the format)
//! through the Rust engine: tables are written as CSV files and registered from them, the
//! definition is read as text, and members, attrition or the error are compared.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use caas_core::{
    CaasError, CodeSystem, Cohort, ColumnMapping, Engine, Format, Parameters, Role, TableSpec,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    tables: BTreeMap<String, CaseTable>,
    #[serde(default)]
    cohorts: Vec<String>,
    definition: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    parameters: Parameters,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseTable {
    role: Role,
    #[serde(default)]
    code_system: Option<CodeSystem>,
    #[serde(default)]
    mapping: ColumnMapping,
    csv: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    members: Option<String>,
    #[serde(default)]
    attrition: Option<String>,
    #[serde(default)]
    error: Option<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    code: String,
    #[serde(default)]
    message_contains: Vec<String>,
    #[serde(default)]
    line: Option<usize>,
    #[serde(default)]
    column: Option<usize>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/cases")
}

/// Canonical text of a cell: empty for null, `true`/`false`, ISO dates, plain numbers.
fn cell(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    let options = FormatOptions::default();
    ArrayFormatter::try_new(array, &options)
        .map(|f| f.value(row).to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("expected CSV header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("expected CSV row")
                .iter()
                .map(String::from)
                .collect()
        })
        .collect();
    (header, rows)
}

fn cells_equal(actual: &str, expected: &str, data_type: &DataType) -> bool {
    if data_type.is_floating() {
        match (actual.parse::<f64>(), expected.parse::<f64>()) {
            (Ok(a), Ok(e)) => (a - e).abs() < 1e-9,
            _ => actual == expected,
        }
    } else {
        actual == expected
    }
}

fn compare_table(what: &str, batch: &RecordBatch, expected: &str) -> Result<(), String> {
    let (header, rows) = parse_csv(expected);
    let schema = batch.schema();
    let mut indexes = Vec::new();
    for name in &header {
        indexes.push(schema.index_of(name).map_err(|_| {
            format!(
                "{what}: no column `{name}` (have {:?})",
                schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
            )
        })?);
    }
    if what == "members" {
        let actual: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        if actual != header.iter().collect::<Vec<_>>() {
            return Err(format!("members: columns {actual:?}, expected {header:?}"));
        }
    }
    let render = |r: usize| -> Vec<String> {
        indexes
            .iter()
            .map(|&i| cell(batch.column(i).as_ref(), r))
            .collect()
    };
    let actual_rows: Vec<Vec<String>> = (0..batch.num_rows()).map(render).collect();
    let same = actual_rows.len() == rows.len()
        && actual_rows.iter().zip(&rows).all(|(a, e)| {
            a.iter()
                .zip(e)
                .zip(&indexes)
                .all(|((a, e), &i)| cells_equal(a, e, schema.field(i).data_type()))
        });
    if same {
        Ok(())
    } else {
        Err(format!(
            "{what} differ\n  expected: {rows:?}\n  actual:   {actual_rows:?}"
        ))
    }
}

fn check_error(err: &CaasError, expected: &ExpectedError) -> Result<(), String> {
    let message = err.to_string();
    if err.code() != expected.code {
        return Err(format!(
            "expected a `{}` error, got `{}`: {message}",
            expected.code,
            err.code()
        ));
    }
    for part in &expected.message_contains {
        if !message.contains(part.as_str()) {
            return Err(format!("error message lacks {part:?}: {message}"));
        }
    }
    if expected.line.is_some() || expected.column.is_some() {
        let (line, column) = err.line_column().unwrap_or((0, 0));
        let column_of_expression = match err {
            CaasError::ExpressionSyntax { column, .. } => Some(*column),
            _ => None,
        };
        if expected.line.is_some_and(|l| l != line) {
            return Err(format!(
                "expected line {:?}, got {line}: {message}",
                expected.line
            ));
        }
        if let Some(c) = expected.column
            && c != column
            && Some(c) != column_of_expression
        {
            return Err(format!("expected column {c}, got {column}: {message}"));
        }
    }
    Ok(())
}

async fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_yaml_ng::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    assert!(!case.description.is_empty());
    let base = path.parent().unwrap_or(Path::new("."));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    let outcome: Result<caas_core::Evaluation, CaasError> = async {
        let engine = Engine::new();
        for (name, table) in &case.tables {
            let file = dir.path().join(format!("{name}.csv"));
            std::fs::write(&file, &table.csv).map_err(|source| CaasError::Io {
                path: file.clone(),
                source,
            })?;
            let mut spec = match table.role {
                Role::Person => TableSpec::person(),
                Role::Periods => TableSpec::periods(),
                Role::Events => {
                    TableSpec::events(table.code_system.unwrap_or(CodeSystem::SnomedCt))
                }
            };
            spec.code_system = table.code_system;
            spec = spec.with_mapping(table.mapping.clone());
            engine.register_file(name, &file, spec).await?;
        }
        for other in &case.cohorts {
            engine.register_cohort(Cohort::from_str_in(other, Format::Yaml, base)?)?;
        }
        let format = match case.format.as_deref() {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        let cohort = Cohort::from_str_in(&case.definition, format, base)?;
        engine.evaluate(&cohort, &case.parameters).await
    }
    .await;

    match (outcome, &case.expect.error) {
        (Ok(result), None) => {
            if let Some(members) = &case.expect.members {
                compare_table("members", &result.members, members)?;
            }
            if let Some(attrition) = &case.expect.attrition {
                compare_table("attrition", &result.attrition, attrition)?;
            }
            if case.expect.members.is_none() && case.expect.attrition.is_none() {
                return Err("the case expects nothing".into());
            }
            Ok(())
        }
        (Ok(_), Some(e)) => Err(format!(
            "expected a `{}` error, but evaluation succeeded",
            e.code
        )),
        (Err(err), Some(expected)) => check_error(&err, expected),
        (Err(err), None) => Err(format!("unexpected error `{}`: {err}", err.code())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/conformance/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if let Err(message) = run_case(path).await {
            failures.push(format!("{name}: {message}"));
        }
    }
    println!(
        "conformance: {} cases, {} failed",
        paths.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
    assert!(paths.len() >= 40, "only {} conformance cases", paths.len());
}
