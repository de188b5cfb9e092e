//! Data-quality findings beyond the conformance cases (which count every kind by hand and
//! apply every policy, through every front end): the findings of a synthetic population
//! checked against an independent count, and counts kept with each registration.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use caas_core::quality::{FindingKind, Policy, QualityPolicies};
use caas_core::{
    CodeSystem, Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, TableSpec,
};
use caas_synth::{self as synth, SynthConfig};
use chrono::NaiveDate;

fn day(text: &str) -> i32 {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn dates(values: &[Option<&str>]) -> Arc<Date32Array> {
    Arc::new(values.iter().map(|d| d.map(day)).collect::<Date32Array>())
}

/// (person id, date of birth, date of death).
type PersonRow<'a> = (Option<i64>, Option<&'a str>, Option<&'a str>);
/// (person id, date, code).
type EventRow<'a> = (Option<i64>, Option<&'a str>, &'a str);

fn register_persons(engine: &Engine, rows: &[PersonRow]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, true),
        Field::new("date_of_birth", DataType::Date32, true),
        Field::new("date_of_death", DataType::Date32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
            dates(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            dates(&rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        ],
    )
    .unwrap();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        nhs_number: Some("person_id".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![batch])
        .unwrap();
}

fn register_events(engine: &Engine, rows: &[EventRow]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, true),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
            dates(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Arc::new(rows.iter().map(|r| Some(r.2)).collect::<StringArray>()),
        ],
    )
    .unwrap();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            schema,
            vec![batch],
        )
        .unwrap();
}

const OK: i64 = 6_000_000_006;

/// People with one finding each (or none), and the events of person `OK` with one finding
/// each (or none).
fn engine() -> Engine {
    let engine = Engine::new();
    register_persons(
        &engine,
        &[
            (Some(OK), Some("1950-01-01"), None),
            (Some(6_000_000_014), Some("1890-05-05"), None), // before 1900
            (Some(6_000_000_007), Some("1960-01-01"), None), // Modulus 11 fails
            (Some(12_345), Some("1970-01-01"), None),        // wrong length
            (None, Some("1980-01-01"), None),                // no id
            (Some(6_000_000_022), None, None),               // no date of birth
            (Some(6_000_000_030), Some("2027-01-01"), None), // born in the future
            (Some(6_000_000_049), Some("1960-01-01"), Some("1950-01-01")), // dead before born
        ],
    );
    register_events(
        &engine,
        &[
            (Some(OK), Some("2024-01-01"), "195967001"),
            (Some(OK), None, "195967001"),               // no date
            (Some(OK), Some("2027-03-01"), "195967001"), // future
            (Some(OK), Some("1899-12-31"), "195967001"), // before 1900 and before birth
            (Some(OK), Some("1949-12-31"), "195967001"), // before birth
            (None, Some("2024-01-01"), "195967001"),     // no person id
            (Some(6_000_000_057), Some("2024-01-01"), "195967001"), // unknown person
            (Some(OK), Some("2024-01-01"), "195967002"), // Verhoeff check fails
            (Some(OK), Some("2024-01-01"), "ABC"),       // not SNOMED CT
        ],
    );
    engine
}

/// Everyone, with the number of dated events of each.
fn cohort() -> Cohort {
    Cohort::from_yaml_str(
        r#"
id: everyone
title: Everyone and their events
purpose: direct_care
variables:
  events: { kind: events, table: gp, returns: count }
output: { columns: [events] }
"#,
    )
    .unwrap()
}

fn options(policies: QualityPolicies) -> EvaluationOptions {
    EvaluationOptions::new()
        .with_policies(policies)
        .with_reference_date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
}

fn keep_all() -> EvaluationOptions {
    options(QualityPolicies::all(Policy::Keep))
}

/// On a synthetic population, the invalid NHS numbers found equal an independent count
/// over the generated person table, and the generated events are otherwise clean.
#[test]
fn synthetic_population_findings_match_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 3_000,
        invalid_nhs_share: 0.05,
        threads: 2,
        ..SynthConfig::default()
    };
    let codelists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/flu/codelists");
    synth::generate(&config, &codelists, dir.path()).unwrap();
    let engine = Engine::new();
    caas_core::runtime()
        .unwrap()
        .block_on(synth::register(&engine, dir.path()))
        .unwrap();

    let flu =
        Cohort::from_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/flu/flu.yaml"))
            .unwrap();
    let options =
        EvaluationOptions::new().with_reference_date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
    let result = engine
        .evaluate_with_blocking(&flu, &Parameters::new(), &options)
        .unwrap();
    let quality = &result.data_quality;

    let all_people = engine
        .variables_blocking(
            &Cohort::from_yaml_str(
                "{id: ids, title: Ids, purpose: direct_care, output: {columns: []}}",
            )
            .unwrap(),
            &Parameters::new(),
        )
        .unwrap();
    let ids = all_people.column(0).as_primitive::<Int64Type>();
    let invalid = ids
        .values()
        .iter()
        .filter(|n| !caas_core::nhs::is_valid(u64::try_from(**n).unwrap()))
        .count() as u64;
    assert!(invalid > 50, "{invalid} invalid of 3000 at 5%");
    assert_eq!(
        quality.count("persons", FindingKind::InvalidNhsNumber),
        Some(invalid)
    );
    let read: Vec<&str> = quality.tables.iter().map(|t| t.table.as_str()).collect();
    assert!(
        read.contains(&"gp_events") && read.contains(&"apc_procedures"),
        "{read:?}"
    );
    for table in &quality.tables {
        for finding in &table.findings {
            if finding.kind != FindingKind::InvalidNhsNumber {
                assert_eq!(finding.count, 0, "{}: {:?}", table.table, finding);
            }
        }
        assert!(table.rows > 0);
    }
}

/// Counts are kept with each registration: a second evaluation reuses them, and another
/// reference date, or a table registered again, is counted afresh.
#[test]
fn counts_follow_the_registration_and_the_reference_date() {
    let engine = engine();
    let evaluate = |options: &EvaluationOptions| {
        engine
            .evaluate_with_blocking(&cohort(), &Parameters::new(), options)
            .unwrap()
            .data_quality
    };
    let first = evaluate(&keep_all());
    assert_eq!(evaluate(&keep_all()), first);
    let later = EvaluationOptions::new()
        .with_policies(QualityPolicies::all(Policy::Keep))
        .with_reference_date(NaiveDate::from_ymd_opt(2028, 1, 1).unwrap());
    let quality = evaluate(&later);
    assert_eq!(quality.count("persons", FindingKind::FutureDate), Some(0));
    assert_eq!(quality.count("gp", FindingKind::FutureDate), Some(0));
    assert_eq!(quality.count("gp", FindingKind::InvalidCode), Some(2));

    register_events(
        &engine,
        &[
            (Some(OK), Some("2024-01-01"), "195967002"),
            (Some(6_000_000_057), Some("2024-01-01"), "195967001"),
            (Some(6_000_000_057), Some("2024-01-02"), "195967001"),
        ],
    );
    let quality = evaluate(&keep_all());
    assert_eq!(quality.count("gp", FindingKind::InvalidCode), Some(1));
    assert_eq!(quality.count("gp", FindingKind::UnknownPerson), Some(2));
    assert_eq!(quality.table("gp").unwrap().rows, 3);
    assert_eq!(quality.table("persons"), first.table("persons"));
}
