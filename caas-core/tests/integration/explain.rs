//! Explanations beyond what the conformance cases check (verdicts, deciding rules,
//! outcomes and values, through every front end): the event rows behind each value, with
//! ties broken by (date, code, value), and the sentences of variables without codelists
//! and of membership of another cohort.

use std::sync::Arc;

use arrow::array::{Date32Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use caas_core::explain::{Datum, EventRow, Outcome, Verdict};
use caas_core::quality::{FindingKind, Policy};
use caas_core::{CodeSystem, Cohort, Engine, EvaluationOptions, Parameters, PersonId, TableSpec};
use chrono::NaiveDate;

fn day(text: &str) -> i32 {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// The person table has one id on two rows, to test explaining it; evaluation keeps them.
fn keep_duplicates() -> EvaluationOptions {
    EvaluationOptions::new().with_policy(FindingKind::DuplicatePerson, Policy::Keep)
}

fn row(date: &str, code: &str, value: f64) -> EventRow {
    EventRow {
        table: "gp".into(),
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
        code: code.into(),
        value: Some(value),
    }
}

const DEFINITION: &str = r#"
id: bmi
title: Adults with a high BMI
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  bmi: { system: snomed_ct, codes: ["60621009", "162863004"], description: Body mass index }
variables:
  age: { kind: age, on: index_date }
  bmi_last: { kind: events, table: gp, codelists: [bmi], to: index_date, returns: last_value }
  bmi_first: { kind: events, table: gp, codelists: [bmi], returns: first_value }
  bmi_last_code: { kind: events, table: gp, codelists: [bmi], returns: last_code }
  bmi_min: { kind: events, table: gp, codelists: [bmi], returns: min_value }
  bmi_max: { kind: events, table: gp, codelists: [bmi], returns: max_value }
  bmi_count: { kind: events, table: gp, codelists: [bmi], returns: count }
  bmi_recent: { kind: events, table: gp, codelists: [bmi], from: DATE '2024-03-01', returns: exists }
  hospital: { kind: events, table: gp, where: "source = 'hospital'", returns: count }
  adult: { kind: member_of, cohort: adults }
rules:
  - { name: adult, include: age >= 18 }
  - { name: not extreme, exclude: bmi_max > 34 and bmi_min > 31 }
output: { columns: [bmi_last] }
"#;

fn engine() -> Engine {
    let engine = Engine::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("nhs_number", DataType::Utf8, false),
        Field::new("date_of_birth", DataType::Date32, true),
    ]));
    let persons = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                "9434765919",
                "9434765870",
                "9434765828",
                "9434765811",
                "9434765811",
            ])),
            Arc::new(Date32Array::from(vec![
                Some(day("1980-01-01")),
                Some(day("1990-01-01")),
                None,
                Some(day("1970-01-01")),
                Some(day("1971-01-01")),
            ])),
        ],
    )
    .unwrap();
    let spec = TableSpec::person().with_mapping(caas_core::ColumnMapping {
        person_id: Some("nhs_number".into()),
        ..Default::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![persons])
        .unwrap();

    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("source", DataType::Utf8, true),
    ]));
    let rows = [
        ("9434765919", "2024-01-01", "60621009", 30.0, "gp"),
        ("9434765919", "2024-06-01", "60621009", 35.0, "gp"),
        ("9434765919", "2024-06-01", "162863004", 32.0, "hospital"),
        ("9434765870", "2024-06-01", "60621009", 28.0, "hospital"),
        ("9434765870", "2024-06-01", "60621009", 31.0, "gp"),
    ];
    let events = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day(r.1)))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.3))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4))),
        ],
    )
    .unwrap();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            schema,
            vec![events],
        )
        .unwrap();
    let adults = Cohort::from_yaml_str(
        r#"
id: adults
title: Adults
purpose: direct_care
parameters: { index_date: 2025-03-31 }
variables: { age: { kind: age, on: index_date } }
rules: [ { include: age >= 18 } ]
"#,
    )
    .unwrap();
    engine.register_cohort(adults).unwrap();
    engine
}

#[test]
fn text_ids_ties_counts_and_values() {
    let engine = engine();
    let cohort = Cohort::from_yaml_str(DEFINITION).unwrap();
    let result = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &keep_duplicates())
        .unwrap();
    let e = result.explain_blocking("9434765919").unwrap();
    assert_eq!(e.person_id, PersonId::Text("9434765919".into()));
    let value = |name: &str| e.variable(name).unwrap().value.clone();
    let events = |name: &str| e.variable(name).unwrap().events.clone();

    // On 2024-06-01 the codes sort "162863004" < "60621009": the last event is 35.0.
    assert_eq!(value("bmi_last"), Datum::Float(35.0));
    assert_eq!(events("bmi_last"), [row("2024-06-01", "60621009", 35.0)]);
    assert_eq!(events("bmi_first"), [row("2024-01-01", "60621009", 30.0)]);
    assert_eq!(value("bmi_last_code"), Datum::Text("60621009".into()));
    assert_eq!(events("bmi_min"), [row("2024-01-01", "60621009", 30.0)]);
    assert_eq!(events("bmi_max"), [row("2024-06-01", "60621009", 35.0)]);
    // A count shows every event counted, in order.
    assert_eq!(value("bmi_count"), Datum::Int(3));
    assert_eq!(
        events("bmi_count"),
        [
            row("2024-01-01", "60621009", 30.0),
            row("2024-06-01", "162863004", 32.0),
            row("2024-06-01", "60621009", 35.0),
        ]
    );
    // Exists shows the first event of its window.
    assert_eq!(e.variable("bmi_recent").unwrap().selected, Some(2));
    assert_eq!(events("bmi_recent"), [row("2024-06-01", "162863004", 32.0)]);
    // Without codelists, the `where` condition selects.
    let hospital = e.variable("hospital").unwrap();
    assert_eq!(hospital.value, Datum::Int(1));
    assert_eq!(
        hospital.sentence,
        "the number of events in `gp` at any time where `source` is \"hospital\""
    );
    assert_eq!(hospital.events, [row("2024-06-01", "162863004", 32.0)]);
    // Membership of another cohort, evaluated for this person alone.
    assert_eq!(value("adult"), Datum::Bool(true));
    assert_eq!(
        e.variable("adult").unwrap().sentence,
        "a member of the cohort `adults`"
    );
    // 35 > 34 and 30 > 31 is false: kept.
    assert_eq!(e.verdict, Verdict::In);
    assert_eq!(e.rules[1].outcome, Outcome::False);

    // Two events on one day with one code: the value breaks the tie.
    let e = result.explain_blocking("9434765870").unwrap();
    let last = e.variable("bmi_last").unwrap();
    assert_eq!(last.value, Datum::Float(31.0));
    assert_eq!(last.events, [row("2024-06-01", "60621009", 31.0)]);
    let first = e.variable("bmi_first").unwrap();
    assert_eq!(first.events, [row("2024-06-01", "60621009", 28.0)]);
}

#[test]
fn events_selected_by_the_persons_own_dates() {
    let engine = engine();
    let cohort = Cohort::from_yaml_str(
        r#"
id: own_dates
title: Readings on the latest date
purpose: direct_care
codelists:
  bmi: { system: snomed_ct, codes: ["60621009", "162863004"], description: Body mass index }
variables:
  latest: { kind: events, table: gp, codelists: [bmi], returns: last_date }
  on_latest: { kind: events, table: gp, codelists: [bmi], where: date = latest, returns: count }
  first: { kind: events, table: gp, codelists: [bmi], returns: first_date }
  later: { kind: events, table: gp, from: first + 1 day, returns: count }
"#,
    )
    .unwrap();
    let result = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &keep_duplicates())
        .unwrap();
    let e = result.explain_blocking("9434765919").unwrap();
    let on_latest = e.variable("on_latest").unwrap();
    assert_eq!(on_latest.value, Datum::Int(2));
    assert_eq!(
        on_latest.events,
        [
            row("2024-06-01", "162863004", 32.0),
            row("2024-06-01", "60621009", 35.0),
        ]
    );
    assert_eq!(
        on_latest.sentence,
        "the number of Body mass index codes (`bmi`) in `gp` at any time where `date` is the \
         latest Body mass index code (`latest`)"
    );
    let later = e.variable("later").unwrap();
    assert_eq!(later.value, Datum::Int(2));
    assert_eq!(
        later.sentence,
        "the number of events in `gp` on or after 1 day after `first`"
    );
    assert_eq!(
        later.events,
        [
            row("2024-06-01", "162863004", 32.0),
            row("2024-06-01", "60621009", 35.0),
        ]
    );
}

/// A person table without dates of death: `alive` is true for everyone, and the report and
/// the explanation say why.
#[test]
fn alive_without_dates_of_death_says_so() {
    let engine = Engine::new();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "person_id",
        DataType::Utf8,
        false,
    )]));
    let persons = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["1", "2"]))],
    )
    .unwrap();
    engine
        .register_batches("persons", TableSpec::person(), schema, vec![persons])
        .unwrap();
    let cohort = Cohort::from_yaml_str(
        "id: a\ntitle: Alive\npurpose: direct_care\n\
         variables: { alive: { kind: alive, on: DATE '2025-01-01' } }\n\
         rules: [ { include: alive } ]\n",
    )
    .unwrap();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    assert_eq!(result.member_count(), 2);
    let sentence = "alive on 1 January 2025: the person table has no dates of death, so no \
                    one is recorded as dead";
    let report = result.report(&caas_core::ReportOptions::default()).unwrap();
    assert!(report.markdown.contains(sentence), "{}", report.markdown);
    let e = result.explain_blocking("1").unwrap();
    assert_eq!(e.variable("alive").unwrap().sentence, sentence);
}
