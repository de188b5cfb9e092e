//! The backend-neutral cohort plan, pinned as text — what every backend lowers — and the
//! SQL of each dialect lowered from it. The expected texts are in `tests/plans/`
//! (`NAME.plan`, `NAME.DIALECT.sql`); after a deliberate change, rewrite them with
//! `CAAS_BLESS=1 cargo test -p caas-core --test integration cohort_plan` and review the
//! difference.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use caas_core::quality::{FindingKind, Policy};
use caas_core::sql::{Dialect, TableNames};
use caas_core::{
    CodeSystem, Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, Result, TableSpec,
};
use chrono::NaiveDate;

/// Compares `actual` with the expected file `name`, or rewrites it in bless mode.
fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(name);
    if std::env::var_os("CAAS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with CAAS_BLESS=1 to write it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "the text differs from {} (run with CAAS_BLESS=1 to accept it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Pins the plan of `cohort` as `NAME.plan` and its SQL as `NAME.DIALECT.sql`, the tables
/// named in the other engine as in `names`.
/// The plan and the SQL of `cohort`, with the data-quality `policies` given (the rest
/// the defaults), as of 31 January 2026.
fn check_plan_and_sql(
    engine: &Engine,
    cohort: &Cohort,
    names: &TableNames,
    policies: &[(FindingKind, Policy)],
) -> Result<()> {
    let parameters = Parameters::new();
    let plan = engine.cohort_plan(cohort, &parameters)?;
    check(&format!("{}.plan", cohort.id()), &plan);
    let mut options = EvaluationOptions::new()
        .with_reference_date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default());
    for (kind, policy) in policies {
        options = options.with_policy(*kind, *policy);
    }
    for dialect in Dialect::ALL {
        let sql = engine.to_sql(cohort, &parameters, dialect, names, &options)?;
        let mut text = String::new();
        for q in &sql.quality {
            text.push_str(&format!("-- data quality of {}\n{};\n\n", q.table, q.query));
        }
        text.push_str(&sql.script());
        check(&format!("{}.{dialect}.sql", cohort.id()), &text);
    }
    Ok(())
}

fn register(engine: &Engine, name: &str, spec: TableSpec, fields: Vec<Field>) {
    engine
        .register_batches(name, spec, Arc::new(Schema::new(fields)), vec![])
        .unwrap();
}

/// Tables of every role, with mapped columns, several code columns and an opt-out flag.
fn engine() -> Engine {
    let engine = Engine::new();
    register(
        &engine,
        "persons",
        TableSpec::person().with_mapping(ColumnMapping {
            date_of_birth: Some("dob".into()),
            national_opt_out: Some("ndop".into()),
            ..ColumnMapping::default()
        }),
        vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new(
                "dob",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("sex", DataType::Utf8, true),
            Field::new("date_of_death", DataType::Date32, true),
            Field::new("ndop", DataType::Boolean, true),
            Field::new("type1_opt_out", DataType::Boolean, true),
            Field::new("region", DataType::Utf8, true),
        ],
    );
    register(
        &engine,
        "gp",
        TableSpec::events(CodeSystem::SnomedCt),
        vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("date", DataType::Date32, true),
            Field::new("code", DataType::Utf8, true),
            Field::new("value", DataType::Float32, true),
            Field::new("source", DataType::Utf8, true),
        ],
    );
    register(
        &engine,
        "apc",
        TableSpec::events(CodeSystem::Icd10).with_mapping(ColumnMapping {
            date: Some("admidate".into()),
            codes: Some(vec!["diag_1".into(), "diag_2".into()]),
            ..ColumnMapping::default()
        }),
        vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("admidate", DataType::Date32, true),
            Field::new("diag_1", DataType::Utf8, true),
            Field::new("diag_2", DataType::Utf8, true),
        ],
    );
    register(
        &engine,
        "registrations",
        TableSpec::periods(),
        vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("start_date", DataType::Date32, true),
            Field::new("end_date", DataType::Date32, true),
            Field::new("practice", DataType::Utf8, true),
        ],
    );
    engine
}

#[test]
fn the_plan_of_a_cohort_of_every_step() -> Result<()> {
    let engine = engine();
    let adults = Cohort::from_yaml_str(
        r#"
id: adults
title: Adults
purpose: research
parameters: { index_date: 2025-01-01 }
variables:
  age: { kind: age, on: index_date }
rules:
  - { name: adult, include: age >= 18 }
"#,
    )
    .unwrap();
    engine.register_cohort(adults).unwrap();
    let cohort = Cohort::from_yaml_str(
        r#"
id: asthma_research
title: Adults with asthma, not in hospital for it lately
purpose: research
parameters: { index_date: 2025-03-31, since: 2020-01-01 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001", "22298006"] }
  wheeze: { system: snomed_ct, codes: ["195967001"] }
  peak_flow: { system: snomed_ct, codes: ["60621009"] }
  asthma_icd: { system: icd10, codes: ["J45", "J46X"] }
variables:
  adult: { kind: member_of, cohort: adults }
  age: { kind: age, on: index_date }
  sex: { kind: sex }
  alive: { kind: alive, on: index_date }
  region: { kind: person_column, column: region }
  asthma: { kind: events, table: gp, codelists: [asthma, wheeze], from: since, to: index_date, returns: exists }
  asthma_code: { kind: events, table: gp, codelists: [asthma], returns: last_code }
  flow: { kind: events, table: gp, codelists: [peak_flow], min_value: 50, max_value: 900, where: "source = 'gp'", returns: last_value }
  gp_events: { kind: events, table: gp, to: index_date, returns: count }
  admitted: { kind: events, table: apc, codelists: [asthma_icd], from: index_date - 1 year, returns: first_date }
  registered: { kind: registered, table: registrations, on: index_date }
  practice: { kind: practice, table: registrations, on: index_date }
  age_band: { kind: derived, expr: "case when age < 40 then 'young' else 'older' end" }
  recent: { kind: derived, expr: "admitted is not null and age_band = 'young'" }
rules:
  - { name: adult, include: adult }
  - { name: asthma, include: asthma and alive and registered }
  - { name: recent admission, exclude: recent }
output: { columns: [age, sex, practice] }
"#,
    )
    .unwrap();
    let names = TableNames::from([("gp".to_string(), "cdm.gp_events".to_string())]);
    // Rows removed by the checks: the cohort reads the rows kept.
    let policies = [
        (FindingKind::InvalidCode, Policy::Exclude),
        (FindingKind::DateBeforeBirth, Policy::Exclude),
    ];
    check_plan_and_sql(&engine, &cohort, &names, &policies)
}

#[test]
fn the_plan_of_other_layouts_and_an_unknown_bound() -> Result<()> {
    let engine = Engine::new();
    register(
        &engine,
        "persons",
        TableSpec::person(),
        vec![
            Field::new("person_id", DataType::Utf8, false),
            Field::new("date_of_birth", DataType::Date32, true),
        ],
    );
    register(
        &engine,
        "prescriptions",
        TableSpec::events(CodeSystem::Dmd),
        vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("date", DataType::Date32, true),
            Field::new("code", DataType::Int64, true),
        ],
    );
    register(
        &engine,
        "procedures",
        TableSpec::events(CodeSystem::Opcs4).with_mapping(ColumnMapping {
            code: Some("opertn".into()),
            code_delimiter: Some(";".into()),
            primary_code_only: true,
            ..ColumnMapping::default()
        }),
        vec![
            Field::new("person_id", DataType::Utf8, false),
            Field::new("date", DataType::Date32, true),
            Field::new("opertn", DataType::Utf8, true),
        ],
    );
    register(
        &engine,
        "registrations",
        TableSpec::periods(),
        vec![
            Field::new("person_id", DataType::Utf8, false),
            Field::new("start_date", DataType::Date32, true),
        ],
    );
    let cohort = Cohort::from_yaml_str(
        r#"
id: layouts
title: Integer codes, a primary delimited code, an unknown bound
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  statins: { system: dmd, codes: ["320000009", "0123"] }
  hip: { system: opcs4, codes: ["W37", "W38.1"] }
variables:
  statin: { kind: events, table: prescriptions, codelists: [statins], to: "null", returns: count }
  hip: { kind: events, table: procedures, codelists: [hip], returns: first_code }
  registered: { kind: registered, table: registrations, on: index_date }
rules:
  - { include: registered and (statin > 0 or hip is not null) }
"#,
    )
    .unwrap();
    check_plan_and_sql(&engine, &cohort, &TableNames::new(), &[])
}

#[test]
fn the_plan_of_windows_of_the_persons_dates() -> Result<()> {
    let engine = engine();
    let cohort = Cohort::from_yaml_str(
        r#"
id: own_dates
title: Windows and conditions over the person's own dates
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
  resolved: { system: snomed_ct, codes: ["162660004"] }
  asthma_icd: { system: icd10, codes: ["J45"] }
variables:
  latest_dx: { kind: events, table: gp, codelists: [asthma], to: index_date, returns: last_date }
  resolved_after: { kind: events, table: gp, codelists: [resolved], from: latest_dx, to: index_date, returns: exists }
  first_admission: { kind: events, table: apc, codelists: [asthma_icd], returns: first_date }
  readmission: { kind: events, table: apc, codelists: [asthma_icd], from: first_admission + 1 day, returns: first_date }
  in_between: { kind: events, table: gp, where: "date > first_admission and date < readmission and source = 'gp'", returns: count }
  active: { kind: derived, expr: latest_dx is not null and not resolved_after }
rules:
  - { name: active, include: active }
output: { columns: [resolved_after, readmission, in_between] }
"#,
    )?;
    check_plan_and_sql(&engine, &cohort, &TableNames::new(), &[])
}
