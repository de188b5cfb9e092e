//! Governance beyond the conformance cases (which check opt-outs by purpose and
//! pseudonyms against hand-computed HMAC-SHA256 values through every front end): no audit
//! of a pseudonymised run, pseudonyms that follow the key, and options that never carry
//! the key.

use std::sync::Arc;

use arrow::array::{BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::array_value_to_string;
use caas_core::governance::PseudonymKey;
use caas_core::{
    CodeSystem, Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, TableSpec,
};

/// The key 00 01 02 ... 1f.
fn key() -> PseudonymKey {
    PseudonymKey::new((0u8..32).collect()).unwrap()
}

/// HMAC-SHA256 under [`key`], computed independently (Python's `hmac` module).
const HMAC_9434765919: &str = "dd5c602eeb31d60c7c0d662c897231dda00e13cdf945b14cad185a4a7125826c";
const HMAC_4010232137: &str = "fe23268e07ee2f7905429b833e657b591adef6a4ec3b952ecf8ccdcbb015b8d2";

/// Three people: ids 1–3, NHS numbers as text (one written with spaces), a region, and
/// opt-out flags (2 has a national data opt-out, 3 a type 1 opt-out).
fn engine() -> Engine {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("nhs_no", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("ndop", DataType::Boolean, true),
        Field::new("type1_opt_out", DataType::Boolean, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec![
                Some("943 476 5919"),
                Some("4010232137"),
                None,
            ])),
            Arc::new(StringArray::from(vec!["ZANZIBAR", "ZANZIBAR", "ORKNEY"])),
            Arc::new(BooleanArray::from(vec![false, true, false])),
            Arc::new(BooleanArray::from(vec![false, false, true])),
        ],
    )
    .unwrap();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        nhs_number: Some("nhs_no".into()),
        national_opt_out: Some("ndop".into()),
        ..ColumnMapping::default()
    });
    let engine = Engine::new();
    engine
        .register_batches("persons", spec, schema, vec![batch])
        .unwrap();
    let events = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, false),
        Field::new("code", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        events.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(arrow::array::Date32Array::from(vec![19_800; 3])),
            Arc::new(StringArray::from(vec!["195967001"; 3])),
        ],
    )
    .unwrap();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            events,
            vec![batch],
        )
        .unwrap();
    engine
}

/// Asthma for direct care, without person 3, who has no NHS number to make a pseudonym
/// from.
fn cohort_with_nhs_numbers() -> Cohort {
    Cohort::from_yaml_str(
        r#"
id: asthma_with_nhs_number
title: Asthma, with an NHS number
purpose: direct_care
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
variables:
  asthma: { kind: events, table: gp, codelists: [asthma], returns: exists }
  region: { kind: person_column, column: region }
rules:
  - { name: asthma, include: asthma }
  - { name: not Orkney, include: region <> 'ORKNEY' }
output: { columns: [asthma] }
"#,
    )
    .unwrap()
}

fn cells(batch: &RecordBatch, column: usize) -> Vec<String> {
    (0..batch.num_rows())
        .map(|r| array_value_to_string(batch.column(column), r).unwrap())
        .collect()
}

#[test]
fn pseudonyms_are_the_hmac_of_the_nhs_number() {
    let engine = engine();
    let options = EvaluationOptions::new().with_pseudonym_key(key());
    let with_nhs_number = cohort_with_nhs_numbers();
    let result = engine
        .evaluate_with_blocking(&with_nhs_number, &Parameters::new(), &options)
        .unwrap();
    // As in the conformance case 134_governance_pseudonyms.
    assert_eq!(
        cells(&result.members, 0),
        [HMAC_9434765919, HMAC_4010232137]
    );

    // No audit of a pseudonymised run: it would pair each person id with the run.
    let err = result.audit_blocking().unwrap_err();
    assert_eq!(err.code(), "invalid_input");

    // The same key gives the same pseudonyms in another run; another key others.
    let again = engine
        .evaluate_with_blocking(&with_nhs_number, &Parameters::new(), &options)
        .unwrap();
    assert_eq!(again.members, result.members);
    let other =
        EvaluationOptions::new().with_pseudonym_key(PseudonymKey::new(vec![7; 32]).unwrap());
    let other = engine
        .evaluate_with_blocking(&with_nhs_number, &Parameters::new(), &other)
        .unwrap();
    assert!(!cells(&other.members, 0).contains(&HMAC_9434765919.to_string()));
}

#[test]
fn options_in_json_never_carry_the_key() {
    let options: EvaluationOptions = serde_json::from_str(&format!(
        r#"{{"pseudonym_key": "{}"}}"#,
        "00010203040506070809".repeat(2)
    ))
    .unwrap();
    assert!(options.pseudonym_key.is_some());
    let json = serde_json::to_string(&options).unwrap();
    assert!(!json.contains("pseudonym_key") && !json.contains("0001020304"));
    assert!(!format!("{options:?}").contains("0001020304"));
    assert!(!format!("{options:#?}").contains("[0, 1, 2"));
    let err = serde_json::from_str::<EvaluationOptions>(r#"{"pseudonym_key": "abcd"}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at least 16") && !err.contains("abcd"),
        "{err}"
    );
    // A key given as a number is refused without quoting it.
    for number in [
        "12345678901234567890123",
        "1234567890123",
        "-1234567890123",
        "1.5e300",
    ] {
        let err =
            serde_json::from_str::<EvaluationOptions>(&format!(r#"{{"pseudonym_key": {number}}}"#))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("must be hexadecimal text") && !err.contains("1234567"),
            "{err}"
        );
    }
    assert!(
        serde_json::from_str::<EvaluationOptions>(r#"{"reference_date": "31/01/2026"}"#).is_err()
    );
    assert!(serde_json::from_str::<EvaluationOptions>(r#"{"unknown": 1}"#).is_err());
}
