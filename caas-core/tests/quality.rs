//! Data-quality findings: hand-counted findings of every kind, the three policies and
//! their effect on members, and the findings of a synthetic population checked against
//! an independent count.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use caas_core::quality::{DataQuality, FindingKind, Policy, QualityPolicies};
use caas_core::{
    CaasError, CodeSystem, Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, TableSpec,
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

fn counts(quality: &DataQuality, table: &str) -> Vec<(FindingKind, u64)> {
    quality
        .table(table)
        .unwrap()
        .findings
        .iter()
        .map(|f| (f.kind, f.count))
        .collect()
}

/// (person id, events) of the members.
fn members(engine: &Engine, options: &EvaluationOptions) -> Vec<(Option<i64>, i64)> {
    let result = engine
        .evaluate_with_blocking(&cohort(), &Parameters::new(), options)
        .unwrap();
    let ids = result.members.column(0).as_primitive::<Int64Type>();
    let events = result.members.column(1).as_primitive::<Int64Type>();
    (0..ids.len())
        .map(|i| ((!ids.is_null(i)).then(|| ids.value(i)), events.value(i)))
        .collect()
}

#[test]
fn every_kind_is_counted_by_hand() {
    let engine = engine();
    let result = engine
        .evaluate_with_blocking(&cohort(), &Parameters::new(), &keep_all())
        .unwrap();
    let quality = &result.data_quality;
    assert_eq!(quality.reference_date, "2026-01-31");
    assert_eq!(
        quality
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.rows, t.rows_excluded))
            .collect::<Vec<_>>(),
        [("persons", 8, 0), ("gp", 9, 0)]
    );
    use FindingKind::*;
    assert_eq!(
        counts(quality, "persons"),
        [
            (InvalidNhsNumber, 2),
            (MissingPersonId, 1),
            (DuplicatePerson, 0),
            (MissingDate, 1),
            (FutureDate, 1),
            (DateBefore1900, 1),
            (DateBeforeBirth, 1),
        ]
    );
    assert_eq!(
        counts(quality, "gp"),
        [
            (MissingPersonId, 1),
            (UnknownPerson, 1),
            (MissingDate, 1),
            (FutureDate, 1),
            (DateBefore1900, 1),
            (DateBeforeBirth, 2),
            (InvalidCode, 2),
        ]
    );
    let persons = quality.table("persons").unwrap();
    assert_eq!(persons.findings[0].column, "person_id");
    assert_eq!(persons.findings[5].column, "date_of_birth, date_of_death");
    assert_eq!(persons.findings[6].column, "date_of_death");
    // Kept: everybody is there, the person without an id too.
    assert_eq!(result.population, 8);
    assert_eq!(result.member_count(), 8);
    // The JSON form carries the same numbers.
    let json: serde_json::Value = serde_json::from_str(&quality.to_json().unwrap()).unwrap();
    assert_eq!(json["tables"][1]["findings"][6]["kind"], "invalid_code");
    assert_eq!(json["tables"][1]["findings"][6]["count"], 2);
    assert_eq!(json["tables"][1]["findings"][6]["policy"], "keep");
    let back: DataQuality = serde_json::from_str(&quality.to_json().unwrap()).unwrap();
    assert_eq!(&back, quality);
}

#[test]
fn default_policies_exclude_rows_without_ids_and_keep_the_rest() {
    let engine = engine();
    let result = engine
        .evaluate_with_blocking(
            &cohort(),
            &Parameters::new(),
            &options(QualityPolicies::default()),
        )
        .unwrap();
    let persons = result.data_quality.table("persons").unwrap();
    assert_eq!(persons.rows_excluded, 1);
    let missing = &persons.findings[1];
    assert_eq!(
        (missing.kind, missing.policy, missing.excluded),
        (FindingKind::MissingPersonId, Policy::Exclude, 1)
    );
    // Events without a person id match nobody; they are counted as excluded.
    assert_eq!(result.data_quality.table("gp").unwrap().rows_excluded, 1);
    assert_eq!(result.population, 7);
    assert!(
        members(&engine, &options(QualityPolicies::default()))
            .iter()
            .all(|(id, _)| id.is_some())
    );
}

#[test]
fn excluded_rows_are_gone_before_the_cohort_is_evaluated() {
    let engine = engine();
    let events_of_ok = |policies: QualityPolicies| {
        members(&engine, &options(policies))
            .into_iter()
            .find(|(id, _)| *id == Some(OK))
            .unwrap()
            .1
    };
    let keep = QualityPolicies::all(Policy::Keep);
    // Dated events of OK: 2024 (two with bad codes too), 2027, 1899 and 1949.
    assert_eq!(events_of_ok(keep), 6);
    assert_eq!(
        events_of_ok(keep.with(FindingKind::InvalidCode, Policy::Exclude)),
        4
    );
    assert_eq!(
        events_of_ok(keep.with(FindingKind::FutureDate, Policy::Exclude)),
        5
    );
    // Needs the events joined to the dates of birth.
    assert_eq!(
        events_of_ok(keep.with(FindingKind::DateBeforeBirth, Policy::Exclude)),
        4
    );
    let all = QualityPolicies::all(Policy::Exclude);
    assert_eq!(events_of_ok(all), 1);

    // Excluding people: those with a finding in the person table go.
    let people: HashSet<Option<i64>> = members(&engine, &options(all))
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(people, HashSet::from([Some(OK)]));
    let result = engine
        .evaluate_with_blocking(&cohort(), &Parameters::new(), &options(all))
        .unwrap();
    assert_eq!(result.population, 1);
    let tables: Vec<(u64, u64)> = result
        .data_quality
        .tables
        .iter()
        .map(|t| (t.rows, t.rows_excluded))
        .collect();
    // gp: every row but the first has a finding.
    assert_eq!(tables, [(8, 7), (9, 8)]);
}

#[test]
fn a_fail_policy_names_table_column_kind_and_count_but_no_value() {
    let engine = engine();
    let keep = QualityPolicies::all(Policy::Keep);
    let err = engine
        .evaluate_with_blocking(
            &cohort(),
            &Parameters::new(),
            &options(keep.with(FindingKind::InvalidCode, Policy::Fail)),
        )
        .unwrap_err();
    assert_eq!(err.code(), "data_quality");
    assert_eq!(
        err.to_string(),
        "table `gp`, column `code`: 2 row(s) have a code that has no format of its code \
         system (finding `invalid_code`, policy `fail`)"
    );
    let CaasError::DataQuality {
        table, kind, count, ..
    } = err
    else {
        panic!("not a data-quality error");
    };
    assert_eq!(
        (table.as_str(), kind, count),
        ("gp", FindingKind::InvalidCode, 2)
    );

    // Findings are failed in report order: the person table first.
    let err = engine
        .evaluate_with_blocking(
            &cohort(),
            &Parameters::new(),
            &options(QualityPolicies::all(Policy::Fail)),
        )
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "table `persons`, column `person_id`: 2 row(s) have an invalid NHS number"
        ),
        "{err}"
    );

    // A policy of `fail` with no finding passes.
    let clean = Engine::new();
    register_persons(&clean, &[(Some(OK), Some("1950-01-01"), None)]);
    register_events(&clean, &[(Some(OK), Some("2024-01-01"), "195967001")]);
    let result = clean
        .evaluate_with_blocking(
            &cohort(),
            &Parameters::new(),
            &options(QualityPolicies::all(Policy::Fail)),
        )
        .unwrap();
    assert_eq!(
        result
            .data_quality
            .tables
            .iter()
            .map(|t| t.rows)
            .sum::<u64>(),
        2
    );
    assert!(
        result
            .data_quality
            .tables
            .iter()
            .flat_map(|t| &t.findings)
            .all(|f| f.count == 0)
    );
}

#[test]
fn duplicate_people_fail_by_default_and_can_be_excluded() {
    let engine = Engine::new();
    register_persons(
        &engine,
        &[
            (Some(OK), Some("1950-01-01"), None),
            (Some(6_000_000_014), Some("1950-01-01"), None),
            (Some(OK), Some("1951-01-01"), None),
            (Some(OK), Some("1952-01-01"), None),
        ],
    );
    register_events(&engine, &[(Some(OK), Some("2024-01-01"), "195967001")]);
    let err = engine
        .evaluate_blocking(&cohort(), &Parameters::new())
        .unwrap_err();
    assert_eq!(err.code(), "data_quality");
    assert!(err.to_string().contains("3 row(s)"), "{err}");
    assert!(!err.to_string().contains(&OK.to_string()));

    let exclude =
        options(QualityPolicies::default().with(FindingKind::DuplicatePerson, Policy::Exclude));
    assert_eq!(members(&engine, &exclude), [(Some(6_000_000_014), 0)]);
    let keep = options(QualityPolicies::default().with(FindingKind::DuplicatePerson, Policy::Keep));
    // Kept, each row of the person table is a person: three rows for one id.
    assert_eq!(members(&engine, &keep).len(), 4);
}

#[test]
fn codes_of_every_layout_and_system_are_checked() {
    let engine = Engine::new();
    register_persons(&engine, &[(Some(OK), Some("1950-01-01"), None)]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("admidate", DataType::Date32, false),
        Field::new("DIAG_01", DataType::Utf8, true),
        Field::new("DIAG_02", DataType::Utf8, true),
        Field::new("DIAG_CONCAT", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![OK; 4])),
            dates(&[Some("2024-01-01"); 4]),
            Arc::new(StringArray::from(vec![
                Some("J45.X"),
                Some("I10X"),
                Some("J45"),
                Some("45J"),
            ])),
            Arc::new(StringArray::from(vec![
                None,
                Some("E11.9"),
                Some("J4"),
                None,
            ])),
            Arc::new(StringArray::from(vec![
                Some("J45X, I10X"),
                Some("J45,,E119"),
                Some("J45, Q9"),
                Some(""),
            ])),
        ],
    )
    .unwrap();
    let columns = TableSpec::events(CodeSystem::Icd10).with_mapping(ColumnMapping {
        date: Some("admidate".into()),
        codes: Some(vec!["DIAG_01".into(), "DIAG_02".into()]),
        ..ColumnMapping::default()
    });
    let delimited = TableSpec::events(CodeSystem::Icd10).with_mapping(ColumnMapping {
        date: Some("admidate".into()),
        code: Some("DIAG_CONCAT".into()),
        code_delimiter: Some(",".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("apc", columns, schema.clone(), vec![batch.clone()])
        .unwrap();
    engine
        .register_batches("apc_concat", delimited, schema, vec![batch])
        .unwrap();
    let cohort = Cohort::from_yaml_str(
        r#"
id: admissions
title: Admissions
purpose: direct_care
variables:
  a: { kind: events, table: apc, returns: count }
  b: { kind: events, table: apc_concat, returns: count }
output: { columns: [a, b] }
"#,
    )
    .unwrap();
    let result = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &keep_all())
        .unwrap();
    let quality = &result.data_quality;
    // Columns: rows 3 (J4) and 4 (45J) have a malformed code; nulls are no codes.
    assert_eq!(quality.count("apc", FindingKind::InvalidCode), Some(2));
    assert_eq!(
        quality
            .table("apc")
            .unwrap()
            .findings
            .last()
            .unwrap()
            .column,
        "DIAG_01, DIAG_02"
    );
    // Delimited: row 3 has Q9; empty parts are no codes.
    assert_eq!(
        quality.count("apc_concat", FindingKind::InvalidCode),
        Some(1)
    );
}

#[test]
fn integer_codes_are_checked_without_text() {
    let engine = Engine::new();
    register_persons(&engine, &[(Some(OK), Some("1950-01-01"), None)]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, false),
        Field::new("code", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![OK; 5])),
            dates(&[Some("2024-01-01"); 5]),
            Arc::new(Int64Array::from(vec![
                Some(195_967_001),
                Some(195_967_002),
                Some(12_345),
                Some(-195_967_001),
                None,
            ])),
        ],
    )
    .unwrap();
    for (system, expected) in [(CodeSystem::SnomedCt, 3), (CodeSystem::Dmd, 2)] {
        engine
            .register_batches(
                "gp",
                TableSpec::events(system),
                schema.clone(),
                vec![batch.clone()],
            )
            .unwrap();
        let result = engine
            .evaluate_with_blocking(&cohort(), &Parameters::new(), &keep_all())
            .unwrap();
        assert_eq!(
            result.data_quality.count("gp", FindingKind::InvalidCode),
            Some(expected),
            "{system}"
        );
    }
}

#[test]
fn only_the_tables_the_cohort_reads_are_checked() {
    let engine = engine();
    let cohort = Cohort::from_yaml_str(
        "{id: people, title: People, purpose: direct_care, output: {columns: []}}",
    )
    .unwrap();
    let result = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &keep_all())
        .unwrap();
    let tables: Vec<&str> = result
        .data_quality
        .tables
        .iter()
        .map(|t| t.table.as_str())
        .collect();
    assert_eq!(tables, ["persons"]);
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
