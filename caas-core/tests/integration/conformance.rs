//! Runs the conformance suite in `tests/conformance/cases` (see its README for the format)
//! through the Rust engine: tables are written as CSV files and registered from them, the
//! definition is read as text, it is evaluated with the case's options, and the members,
//! attrition, data-quality findings, explanations and provenance, or the error, are
//! compared with the case's expectations. Each case runs twice: alone, and as both runs of
//! an `evaluate_many_with` of its cohort twice, which share their scans (both results are
//! checked).
//!
//! Every case runs; one line per case and a summary go to standard error, and all failures
//! are listed together. `CAAS_CASE=001_age_leap_day,002_events_window_inclusive` runs only
//! the named cases. `CAAS_BLESS=1` rewrites the `expect:` block of each failing case from
//! what the engine gave (the rest of the file is kept), for review with `git diff`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use caas_core::explain::{Explanation, PersonId, Verdict};
use caas_core::quality::{ArithmeticFinding, DataQuality, Finding, FindingKind, Policy};
use caas_core::{
    CaasError, CodeSystem, Cohort, ColumnMapping, Engine, Evaluation, EvaluationOptions, Format,
    Parameters, Role, TableSpec,
};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml_ng::Value;

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
    /// Read by the engine's own deserialiser: the case format is the options' format.
    #[serde(default)]
    options: EvaluationOptions,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    members: Option<String>,
    #[serde(default)]
    attrition: Option<String>,
    #[serde(default)]
    error: Option<ExpectedError>,
    #[serde(default)]
    data_quality: Option<IndexMap<String, ExpectedTable>>,
    /// The people whose values arithmetic left missing, by derived variable or rule name;
    /// one not listed must have none.
    #[serde(default)]
    arithmetic: Option<IndexMap<String, u64>>,
    #[serde(default)]
    explain: Vec<ExpectedExplanation>,
    #[serde(default)]
    provenance: Option<ExpectedProvenance>,
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

/// The findings of one table: the tables listed are exactly the tables read, in order;
/// `rows` and `rows_excluded` are compared when given; a kind not listed must have no rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedTable {
    #[serde(default)]
    rows: Option<u64>,
    #[serde(default)]
    rows_excluded: Option<u64>,
    #[serde(default)]
    findings: IndexMap<FindingKind, ExpectedFinding>,
}

/// A finding: its count, or its count with any of the rows excluded, policy and column.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExpectedFinding {
    Count(u64),
    Detail(FindingDetail),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingDetail {
    count: u64,
    #[serde(default)]
    excluded: Option<u64>,
    #[serde(default)]
    policy: Option<Policy>,
    #[serde(default)]
    column: Option<String>,
}

/// Why one person is in or out: the verdict and deciding step, and where given each rule's
/// outcome and some variables' values; or the error explaining them gives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedExplanation {
    person: Value,
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default)]
    step: Option<usize>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    outcomes: Option<Vec<Value>>,
    #[serde(default)]
    values: Option<IndexMap<String, Value>>,
    #[serde(default)]
    error: Option<String>,
}

/// Parts of the provenance manifest, each compared when given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedProvenance {
    #[serde(default)]
    definition_sha256: Option<String>,
    #[serde(default)]
    codelists: Option<IndexMap<String, String>>,
    #[serde(default)]
    member_of: Option<IndexMap<String, String>>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    population: Option<u64>,
    #[serde(default)]
    members: Option<u64>,
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

fn parse_csv(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("bad CSV header: {e}"))?
        .iter()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("bad CSV row: {e}"))?;
        rows.push(record.iter().map(String::from).collect());
    }
    Ok((header, rows))
}

/// Two values in canonical text: when `numeric` and both are numbers, within 1e-9; else
/// exactly.
fn same_text(actual: &str, expected: &str, numeric: bool) -> bool {
    if numeric && let (Ok(a), Ok(e)) = (actual.parse::<f64>(), expected.parse::<f64>()) {
        return (a - e).abs() < 1e-9;
    }
    actual == expected
}

fn compare_table(what: &str, batch: &RecordBatch, expected: &str) -> Result<(), String> {
    let (header, rows) = parse_csv(expected)?;
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
    let actual_rows = rows_of(batch, &indexes);
    let same = actual_rows.len() == rows.len()
        && actual_rows.iter().zip(&rows).all(|(a, e)| {
            a.len() == e.len()
                && a.iter()
                    .zip(e)
                    .zip(&indexes)
                    .all(|((a, e), &i)| same_text(a, e, schema.field(i).data_type().is_floating()))
        });
    if same {
        Ok(())
    } else {
        Err(format!(
            "{what} differ\n  expected: {rows:?}\n  actual:   {actual_rows:?}"
        ))
    }
}

/// The rows of `batch` as canonical text, in the columns `indexes`.
fn rows_of(batch: &RecordBatch, indexes: &[usize]) -> Vec<Vec<String>> {
    (0..batch.num_rows())
        .map(|r| {
            indexes
                .iter()
                .map(|&i| cell(batch.column(i).as_ref(), r))
                .collect()
        })
        .collect()
}

/// The line and column of an error as the case format counts them: for expression syntax
/// errors, the column is the character position inside the expression.
fn error_position(err: &CaasError) -> (usize, usize) {
    let (line, column) = err.line_column().unwrap_or((0, 0));
    match err {
        CaasError::ExpressionSyntax { column, .. } => (line, *column),
        _ => (line, column),
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
    let (line, column) = err.line_column().unwrap_or((0, 0));
    if expected.line.is_some_and(|l| l != line) {
        return Err(format!(
            "expected line {:?}, got {line}: {message}",
            expected.line
        ));
    }
    if let Some(c) = expected.column
        && c != column
        && c != error_position(err).1
    {
        return Err(format!("expected column {c}, got {column}: {message}"));
    }
    Ok(())
}

/// A YAML scalar of an expectation as canonical text (null as the empty text).
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// A JSON value of the engine's (a variable's value, a rule's outcome) as canonical text.
fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn person_of(value: &Value) -> Result<PersonId, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(PersonId::Int)
            .ok_or_else(|| format!("person {n} is not an integer")),
        Value::String(s) => Ok(PersonId::Text(s.clone())),
        other => Err(format!("person {other:?} is neither an integer nor text")),
    }
}

/// What evaluating a case gave.
struct Actual {
    outcome: Result<Evaluation, CaasError>,
    /// The explanation of each person the case lists, in its order.
    explanations: Vec<Result<Explanation, CaasError>>,
}

/// How a case's cohort is evaluated: alone, or twice in one `evaluate_many_with`, over
/// shared scans.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    Alone,
    Together,
}

/// What evaluating a case the `way` given gave: one result alone, two together, or the
/// error.
async fn evaluate(
    case: &Case,
    persons: &[PersonId],
    base: &Path,
    dir: &Path,
    way: Way,
) -> Vec<Actual> {
    let outcomes: Result<Vec<Evaluation>, CaasError> = async {
        let engine = Engine::new();
        for (name, table) in &case.tables {
            let file = dir.join(format!("{name}.csv"));
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
        let run = (&cohort, &case.parameters, &case.options);
        match way {
            Way::Alone => Ok(vec![
                engine
                    .evaluate_with(&cohort, &case.parameters, &case.options)
                    .await?,
            ]),
            Way::Together => engine.evaluate_many_with(&[run, run]).await,
        }
    }
    .await;
    let outcomes: Vec<Result<Evaluation, CaasError>> = match outcomes {
        Ok(evaluations) => evaluations.into_iter().map(Ok).collect(),
        Err(err) => vec![Err(err)],
    };
    let mut actuals = Vec::new();
    for outcome in outcomes {
        let mut explanations = Vec::new();
        if let Ok(result) = &outcome {
            for person in persons {
                explanations.push(result.explain(person.clone()).await);
            }
        }
        actuals.push(Actual {
            outcome,
            explanations,
        });
    }
    actuals
}

/// The name of an arithmetic finding's variable or rule.
fn arithmetic_name(finding: &ArithmeticFinding) -> &str {
    finding
        .variable
        .as_deref()
        .or(finding.rule.as_deref())
        .unwrap_or_default()
}

fn check_arithmetic(actual: &DataQuality, expected: &IndexMap<String, u64>) -> Result<(), String> {
    for name in expected.keys() {
        if !actual.arithmetic.iter().any(|a| arithmetic_name(a) == name) {
            return Err(format!("arithmetic: `{name}` is not checked"));
        }
    }
    for finding in &actual.arithmetic {
        let name = arithmetic_name(finding);
        let want = expected.get(name).copied().unwrap_or(0);
        if finding.count != want {
            return Err(format!(
                "arithmetic of `{name}`: {} people, expected {want}",
                finding.count
            ));
        }
    }
    Ok(())
}

fn check_quality(
    actual: &DataQuality,
    expected: &IndexMap<String, ExpectedTable>,
) -> Result<(), String> {
    let names: Vec<&str> = actual.tables.iter().map(|t| t.table.as_str()).collect();
    let listed: Vec<&str> = expected.keys().map(String::as_str).collect();
    if names != listed {
        return Err(format!(
            "data quality: tables {names:?} were read, expected {listed:?}"
        ));
    }
    for (table, want) in actual.tables.iter().zip(expected.values()) {
        let name = &table.table;
        if want.rows.is_some_and(|r| r != table.rows) {
            return Err(format!(
                "data quality of `{name}`: {} rows, expected {:?}",
                table.rows, want.rows
            ));
        }
        if want.rows_excluded.is_some_and(|r| r != table.rows_excluded) {
            return Err(format!(
                "data quality of `{name}`: {} rows excluded, expected {:?}",
                table.rows_excluded, want.rows_excluded
            ));
        }
        for kind in want.findings.keys() {
            if !table.findings.iter().any(|f| f.kind == *kind) {
                return Err(format!("data quality of `{name}`: `{kind}` is not checked"));
            }
        }
        for finding in &table.findings {
            let problem = match want.findings.get(&finding.kind) {
                None if finding.count != 0 => {
                    Some(format!("{} rows, expected none", finding.count))
                }
                None => None,
                Some(ExpectedFinding::Count(count)) => (finding.count != *count)
                    .then(|| format!("{} rows, expected {count}", finding.count)),
                Some(ExpectedFinding::Detail(detail)) => finding_differs(finding, detail),
            };
            if let Some(problem) = problem {
                return Err(format!(
                    "data quality of `{name}`, `{}`: {problem}",
                    finding.kind
                ));
            }
        }
    }
    Ok(())
}

fn finding_differs(finding: &Finding, detail: &FindingDetail) -> Option<String> {
    if finding.count != detail.count {
        return Some(format!("{} rows, expected {}", finding.count, detail.count));
    }
    if detail.excluded.is_some_and(|e| e != finding.excluded) {
        return Some(format!(
            "{} rows excluded, expected {:?}",
            finding.excluded, detail.excluded
        ));
    }
    if detail.policy.is_some_and(|p| p != finding.policy) {
        return Some(format!(
            "policy {:?}, expected {:?}",
            finding.policy, detail.policy
        ));
    }
    if let Some(column) = &detail.column
        && *column != finding.column
    {
        return Some(format!("column {:?}, expected {column:?}", finding.column));
    }
    None
}

fn check_explanation(
    actual: &Result<Explanation, CaasError>,
    expected: &ExpectedExplanation,
) -> Result<(), String> {
    let who = value_text(&expected.person);
    let explanation = match (actual, &expected.error) {
        (Err(err), Some(code)) if err.code() == code => return Ok(()),
        (Err(err), _) => return Err(format!("explaining {who}: `{}` error: {err}", err.code())),
        (Ok(_), Some(code)) => {
            return Err(format!("explaining {who}: expected a `{code}` error"));
        }
        (Ok(explanation), None) => explanation,
    };
    let (verdict, step, rule) = verdict_parts(&explanation.verdict);
    if expected.verdict.as_deref().is_some_and(|v| v != verdict)
        || expected.step.is_some_and(|s| Some(s) != step)
        || expected.rule.as_deref().is_some_and(|r| Some(r) != rule)
    {
        return Err(format!(
            "explaining {who}: verdict {verdict} at {step:?} {rule:?}, expected {:?} at {:?} {:?}",
            expected.verdict, expected.step, expected.rule
        ));
    }
    if let Some(outcomes) = &expected.outcomes {
        let actual = outcomes_of(explanation)?;
        let want: Vec<String> = outcomes.iter().map(value_text).collect();
        if actual != want {
            return Err(format!(
                "explaining {who}: rule outcomes {actual:?}, expected {want:?}"
            ));
        }
    }
    for (name, want) in expected.values.iter().flatten() {
        let variable = explanation
            .variable(name)
            .ok_or_else(|| format!("explaining {who}: no variable `{name}`"))?;
        let actual = datum_text(&variable.value)?;
        if !same_text(&actual, &value_text(want), true) {
            return Err(format!(
                "explaining {who}: `{name}` is {actual:?}, expected {:?}",
                value_text(want)
            ));
        }
    }
    Ok(())
}

fn verdict_parts(verdict: &Verdict) -> (&'static str, Option<usize>, Option<&str>) {
    match verdict {
        Verdict::In => ("in", None, None),
        Verdict::Out { step, rule } => ("out", Some(*step), Some(rule.as_str())),
    }
}

fn outcomes_of(explanation: &Explanation) -> Result<Vec<String>, String> {
    explanation
        .rules
        .iter()
        .map(|r| {
            serde_json::to_value(r.outcome)
                .map(|v| json_text(&v))
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn datum_text(datum: &caas_core::explain::Datum) -> Result<String, String> {
    serde_json::to_value(datum)
        .map(|v| json_text(&v))
        .map_err(|e| e.to_string())
}

/// The entries of a map in order (an `IndexMap`'s equality ignores the order).
fn pairs(map: &IndexMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn check_provenance(result: &Evaluation, expected: &ExpectedProvenance) -> Result<(), String> {
    let p = &result.provenance;
    let differs = |what: &str, actual: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| {
        Err(format!(
            "provenance: {what} is {actual:?}, expected {want:?}"
        ))
    };
    if let Some(hash) = &expected.definition_sha256
        && *hash != p.definition_sha256
    {
        return differs("definition_sha256", &p.definition_sha256, hash);
    }
    if let Some(codelists) = &expected.codelists {
        let actual: Vec<(&str, &str)> = p
            .codelists
            .iter()
            .map(|c| (c.name.as_str(), c.sha256.as_str()))
            .collect();
        if actual != pairs(codelists) {
            return differs("codelists", &actual, codelists);
        }
    }
    if let Some(member_of) = &expected.member_of {
        let actual: Vec<(&str, &str)> = p
            .member_of
            .iter()
            .map(|c| (c.id.as_str(), c.definition_sha256.as_str()))
            .collect();
        if actual != pairs(member_of) {
            return differs("member_of", &actual, member_of);
        }
    }
    if let Some(purpose) = &expected.purpose {
        let actual = json_text(&serde_json::to_value(p.purpose).map_err(|e| e.to_string())?);
        if actual != *purpose {
            return differs("purpose", &actual, purpose);
        }
    }
    if expected.population.is_some_and(|n| n != p.population) {
        return differs("population", &p.population, &expected.population);
    }
    if expected.members.is_some_and(|n| n != p.members) {
        return differs("members", &p.members, &expected.members);
    }
    Ok(())
}

fn check(case: &Case, actual: &Actual) -> Result<(), String> {
    let expect = &case.expect;
    let result = match (&actual.outcome, &expect.error) {
        (Ok(_), Some(e)) => {
            return Err(format!(
                "expected a `{}` error, but evaluation succeeded",
                e.code
            ));
        }
        (Err(err), Some(expected)) => return check_error(err, expected),
        (Err(err), None) => return Err(format!("unexpected error `{}`: {err}", err.code())),
        (Ok(result), None) => result,
    };
    if expect.members.is_none() && expect.attrition.is_none() {
        return Err("the case expects neither members nor attrition".into());
    }
    if let Some(members) = &expect.members {
        compare_table("members", &result.members, members)?;
    }
    if let Some(attrition) = &expect.attrition {
        compare_table("attrition", &result.attrition, attrition)?;
    }
    if let Some(quality) = &expect.data_quality {
        check_quality(&result.data_quality, quality)?;
    }
    if let Some(arithmetic) = &expect.arithmetic {
        check_arithmetic(&result.data_quality, arithmetic)?;
    }
    for (explained, expected) in actual.explanations.iter().zip(&expect.explain) {
        check_explanation(explained, expected)?;
    }
    if let Some(provenance) = &expect.provenance {
        check_provenance(result, provenance)?;
    }
    Ok(())
}

/// Reads, evaluates and checks one case; with `bless`, rewrites a failing case's
/// expectations. `Ok(true)` when the case was blessed.
async fn run_case(path: &Path, bless: bool) -> Result<bool, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_yaml_ng::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    if case.description.trim().is_empty() {
        return Err("the case has no description".into());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let persons: Vec<PersonId> = case
        .expect
        .explain
        .iter()
        .map(|e| person_of(&e.person))
        .collect::<Result<_, _>>()?;
    let actual = evaluate(&case, &persons, base, dir.path(), Way::Alone)
        .await
        .pop()
        .ok_or("no result alone")?;
    match check(&case, &actual) {
        Ok(()) => {
            let together = evaluate(&case, &persons, base, dir.path(), Way::Together).await;
            for (i, run) in together.iter().enumerate() {
                check(&case, run).map_err(|m| format!("run {} of two together: {m}", i + 1))?;
            }
            Ok(false)
        }
        Err(message) if !bless => Err(message),
        Err(_) => {
            let block = bless::expect_block(&case.expect, &actual)?;
            let rewritten = bless::replace_expect(&text, &block)?;
            std::fs::write(path, rewritten).map_err(|e| e.to_string())?;
            Ok(true)
        }
    }
}

/// Writing a case's `expect:` block from actual results.
mod bless {
    use super::*;

    /// A text as a YAML scalar: plain when it is a simple word, else double-quoted (JSON's
    /// quoting is YAML's).
    fn scalar(text: &str) -> String {
        let plain = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !matches!(
                text.to_ascii_lowercase().as_str(),
                "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
            );
        if plain {
            text.to_string()
        } else {
            serde_json::Value::String(text.to_string()).to_string()
        }
    }

    /// A canonical cell text as a YAML scalar of the same meaning.
    fn cell_scalar(text: &str) -> String {
        if text.is_empty() {
            "null".into()
        } else if text == "true" || text == "false" || text.parse::<f64>().is_ok() {
            text.to_string()
        } else {
            scalar(text)
        }
    }

    fn person_scalar(value: &Value) -> String {
        match value {
            Value::String(s) => scalar(s),
            other => value_text(other),
        }
    }

    /// A table as CSV text, in the columns `names` (all when empty).
    fn csv_of(batch: &RecordBatch, names: &[String]) -> Result<String, String> {
        let schema = batch.schema();
        let indexes: Vec<usize> = if names.is_empty() {
            (0..schema.fields().len()).collect()
        } else {
            names
                .iter()
                .map(|n| schema.index_of(n).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?
        };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(indexes.iter().map(|&i| schema.field(i).name()))
            .map_err(|e| e.to_string())?;
        for row in rows_of(batch, &indexes) {
            writer.write_record(&row).map_err(|e| e.to_string())?;
        }
        let bytes = writer.into_inner().map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }

    fn block_scalar(out: &mut String, key: &str, text: &str) {
        let _ = writeln!(out, "  {key}: |");
        for line in text.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }

    /// The `expect:` block (with its key line) for what the engine gave, listing the parts
    /// the old expectation listed.
    pub(super) fn expect_block(old: &Expect, actual: &Actual) -> Result<String, String> {
        let mut out = String::from("expect:\n");
        let result = match &actual.outcome {
            Err(err) => {
                let message = err.to_string();
                let _ = writeln!(out, "  error:\n    code: {}", err.code());
                let old_error = old.error.as_ref();
                let kept: Vec<String> = old_error
                    .map(|e| e.message_contains.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|part| message.contains(part.as_str()))
                    .collect();
                if !kept.is_empty() {
                    let parts: Vec<String> = kept.iter().map(|p| scalar(p)).collect();
                    let _ = writeln!(out, "    message_contains: [{}]", parts.join(", "));
                }
                let (line, column) = error_position(err);
                if old_error.is_some_and(|e| e.line.is_some()) {
                    let _ = writeln!(out, "    line: {line}");
                }
                if old_error.is_some_and(|e| e.column.is_some()) {
                    let _ = writeln!(out, "    column: {column}");
                }
                return Ok(out);
            }
            Ok(result) => result,
        };
        if old.members.is_some() || old.attrition.is_none() {
            block_scalar(&mut out, "members", &csv_of(&result.members, &[])?);
        }
        if let Some(attrition) = &old.attrition {
            let (names, _) = parse_csv(attrition)?;
            block_scalar(&mut out, "attrition", &csv_of(&result.attrition, &names)?);
        }
        if let Some(quality) = &old.data_quality {
            quality_block(&mut out, &result.data_quality, quality);
        }
        let arithmetic: Vec<&ArithmeticFinding> = (result.data_quality.arithmetic.iter())
            .filter(|a| a.count > 0)
            .collect();
        if old.arithmetic.is_some() || !arithmetic.is_empty() {
            out.push_str("  arithmetic:\n");
            for finding in arithmetic {
                let name = scalar(arithmetic_name(finding));
                let _ = writeln!(out, "    {name}: {}", finding.count);
            }
        }
        if !old.explain.is_empty() {
            out.push_str("  explain:\n");
            for (expected, explained) in old.explain.iter().zip(&actual.explanations) {
                explanation_line(&mut out, expected, explained)?;
            }
        }
        if let Some(provenance) = &old.provenance {
            provenance_block(&mut out, result, provenance)?;
        }
        Ok(out)
    }

    fn quality_block(
        out: &mut String,
        actual: &DataQuality,
        old: &IndexMap<String, ExpectedTable>,
    ) {
        out.push_str("  data_quality:\n");
        for table in &actual.tables {
            let _ = writeln!(out, "    {}:", scalar(&table.table));
            let old_table = old.get(&table.table);
            if old_table.is_none_or(|t| t.rows.is_some()) {
                let _ = writeln!(out, "      rows: {}", table.rows);
            }
            if old_table.is_none_or(|t| t.rows_excluded.is_some()) {
                let _ = writeln!(out, "      rows_excluded: {}", table.rows_excluded);
            }
            let found: Vec<&Finding> = table.findings.iter().filter(|f| f.count > 0).collect();
            if found.is_empty() {
                continue;
            }
            out.push_str("      findings:\n");
            for finding in found {
                let detail = match old_table.and_then(|t| t.findings.get(&finding.kind)) {
                    Some(ExpectedFinding::Detail(d)) => Some(d),
                    _ => None,
                };
                let mut parts = Vec::new();
                if finding.excluded > 0 || detail.is_some_and(|d| d.excluded.is_some()) {
                    parts.push(format!("excluded: {}", finding.excluded));
                }
                if detail.is_some_and(|d| d.policy.is_some()) {
                    let policy = serde_json::to_value(finding.policy)
                        .map(|v| json_text(&v))
                        .unwrap_or_default();
                    parts.push(format!("policy: {policy}"));
                }
                if detail.is_some_and(|d| d.column.is_some()) {
                    parts.push(format!("column: {}", scalar(&finding.column)));
                }
                if parts.is_empty() {
                    let _ = writeln!(out, "        {}: {}", finding.kind, finding.count);
                } else {
                    let _ = writeln!(
                        out,
                        "        {}: {{ count: {}, {} }}",
                        finding.kind,
                        finding.count,
                        parts.join(", ")
                    );
                }
            }
        }
    }

    fn explanation_line(
        out: &mut String,
        old: &ExpectedExplanation,
        explained: &Result<Explanation, CaasError>,
    ) -> Result<(), String> {
        let mut parts = vec![format!("person: {}", person_scalar(&old.person))];
        match explained {
            Err(err) => parts.push(format!("error: {}", err.code())),
            Ok(explanation) => {
                let (verdict, step, rule) = verdict_parts(&explanation.verdict);
                parts.push(format!("verdict: {verdict}"));
                if let (Some(step), Some(rule)) = (step, rule) {
                    parts.push(format!("step: {step}"));
                    parts.push(format!("rule: {}", scalar(rule)));
                }
                if old.outcomes.is_some() {
                    parts.push(format!(
                        "outcomes: [{}]",
                        outcomes_of(explanation)?.join(", ")
                    ));
                }
                if let Some(values) = &old.values {
                    let mut listed = Vec::new();
                    for name in values.keys() {
                        let value = explanation
                            .variable(name)
                            .map(|v| datum_text(&v.value))
                            .transpose()?
                            .unwrap_or_default();
                        listed.push(format!("{}: {}", scalar(name), cell_scalar(&value)));
                    }
                    parts.push(format!("values: {{ {} }}", listed.join(", ")));
                }
            }
        }
        let line = format!("    - {{ {} }}", parts.join(", "));
        if line.len() <= 96 {
            let _ = writeln!(out, "{line}");
        } else {
            // Too long for one line: one key a line.
            for (i, part) in parts.iter().enumerate() {
                let _ = writeln!(out, "    {} {part}", if i == 0 { "-" } else { " " });
            }
        }
        Ok(())
    }

    fn provenance_block(
        out: &mut String,
        result: &Evaluation,
        old: &ExpectedProvenance,
    ) -> Result<(), String> {
        let p = &result.provenance;
        out.push_str("  provenance:\n");
        if old.definition_sha256.is_some() {
            let _ = writeln!(
                out,
                "    definition_sha256: {}",
                scalar(&p.definition_sha256)
            );
        }
        if old.codelists.is_some() {
            out.push_str("    codelists:\n");
            for c in &p.codelists {
                let _ = writeln!(out, "      {}: {}", scalar(&c.name), scalar(&c.sha256));
            }
        }
        if old.member_of.is_some() {
            out.push_str("    member_of:\n");
            for c in &p.member_of {
                let _ = writeln!(
                    out,
                    "      {}: {}",
                    scalar(&c.id),
                    scalar(&c.definition_sha256)
                );
            }
        }
        if old.purpose.is_some() {
            let purpose = serde_json::to_value(p.purpose).map_err(|e| e.to_string())?;
            let _ = writeln!(out, "    purpose: {}", json_text(&purpose));
        }
        if old.population.is_some() {
            let _ = writeln!(out, "    population: {}", p.population);
        }
        if old.members.is_some() {
            let _ = writeln!(out, "    members: {}", p.members);
        }
        Ok(())
    }

    /// `text` with its top-level `expect:` block (up to the next top-level line or the end)
    /// replaced by `block`.
    pub(super) fn replace_expect(text: &str, block: &str) -> Result<String, String> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let start = lines
            .iter()
            .position(|l| l.trim_end() == "expect:")
            .ok_or("the case has no `expect:` line to rewrite")?;
        let end = lines[start + 1..]
            .iter()
            .position(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t']))
            .map_or(lines.len(), |i| start + 1 + i);
        let mut out: String = lines[..start].concat();
        out.push_str(block);
        out.push_str(&lines[end..].concat());
        Ok(out)
    }
}

/// The cases named by `CAAS_CASE` (comma-separated file names without `.yaml`), or all.
fn selected_cases() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/conformance/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let Ok(names) = std::env::var("CAAS_CASE") else {
        assert!(paths.len() >= 100, "only {} conformance cases", paths.len());
        return paths;
    };
    let wanted: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for name in &wanted {
        assert!(
            paths
                .iter()
                .any(|p| p.file_stem().is_some_and(|s| s == *name)),
            "CAAS_CASE names `{name}`, which is not a case in {}",
            cases_dir().display()
        );
    }
    paths.retain(|p| {
        p.file_stem()
            .is_some_and(|s| wanted.iter().any(|w| s == *w))
    });
    paths
}

/// A line of the report, written straight to standard error so that it shows whether or
/// not the test harness captures output.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases() {
    let bless = std::env::var_os("CAAS_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let paths = selected_cases();
    let (mut failures, mut blessed) = (Vec::new(), 0);
    for path in &paths {
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match run_case(path, bless).await {
            Ok(false) => report(&format!("conformance PASS {name}")),
            Ok(true) => {
                blessed += 1;
                report(&format!("conformance BLESSED {name}"));
            }
            Err(message) => {
                report(&format!("conformance FAIL {name}"));
                failures.push(format!("{name}: {message}"));
            }
        }
    }
    report(&format!(
        "conformance through Rust: {} cases, {} passed, {} blessed, {} failed",
        paths.len(),
        paths.len() - failures.len() - blessed,
        blessed,
        failures.len()
    ));
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}
