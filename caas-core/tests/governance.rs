//! Purpose-aware governance: opt-outs by purpose, pseudonyms (against hand-computed
//! HMAC-SHA256 values), and that only the output columns leave the engine.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use arrow::util::display::array_value_to_string;
use caas_core::governance::{OPT_OUT_STEP, PseudonymKey};
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
const HMAC_ZEBRA: &str = "892fe0cf1d1ec7962614efccb038e41a082d7c8995f4399fc59c6ed88a3e4f6e";

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

fn cohort(purpose: &str) -> Cohort {
    Cohort::from_yaml_str(&format!(
        r#"
id: asthma_{purpose}
title: Asthma
purpose: {purpose}
codelists:
  asthma: {{ system: snomed_ct, codes: ["195967001"] }}
variables:
  asthma: {{ kind: events, table: gp, codelists: [asthma], returns: exists }}
  region: {{ kind: person_column, column: region }}
rules:
  - {{ name: asthma, include: asthma }}
output: {{ columns: [asthma] }}
"#
    ))
    .unwrap()
}

/// [`cohort`] for direct care without person 3, who has no NHS number to make a pseudonym
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

fn attrition(batch: &RecordBatch) -> Vec<String> {
    (0..batch.num_rows())
        .map(|r| {
            (0..batch.num_columns())
                .map(|c| array_value_to_string(batch.column(c), r).unwrap())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn opt_outs_apply_to_research_and_planning_not_direct_care() {
    let engine = engine();
    for purpose in ["research", "planning"] {
        let result = engine
            .evaluate_blocking(&cohort(purpose), &Parameters::new())
            .unwrap();
        assert_eq!(cells(&result.members, 0), ["1"], "{purpose}");
        assert_eq!(result.population, 3);
        assert_eq!(
            attrition(&result.attrition),
            [
                format!("1,{OPT_OUT_STEP},exclude,3,1,2"),
                "2,asthma,include,1,1,0".to_string()
            ]
        );
    }
    let result = engine
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    assert_eq!(cells(&result.members, 0), ["1", "2", "3"]);
    assert_eq!(attrition(&result.attrition), ["1,asthma,include,3,3,0"]);
}

#[test]
fn opted_out_people_are_gone_from_every_output() {
    let engine = engine();
    let variables = engine
        .variables_blocking(&cohort("research"), &Parameters::new())
        .unwrap();
    assert_eq!(cells(&variables, 0), ["1"]);
    // A direct-care cohort built on a research cohort sees its members only.
    engine.register_cohort(cohort("research")).unwrap();
    let outer = Cohort::from_yaml_str(
        r#"
id: outer
title: Members of the research cohort
purpose: direct_care
variables:
  member: { kind: member_of, cohort: asthma_research }
output: { columns: [member] }
"#,
    )
    .unwrap();
    let result = engine
        .evaluate_blocking(&outer, &Parameters::new())
        .unwrap();
    assert_eq!(cells(&result.members, 1), ["true", "false", "false"]);
}

#[test]
fn pseudonyms_are_the_hmac_of_the_nhs_number() {
    let engine = engine();
    let options = EvaluationOptions::new().with_pseudonym_key(key());
    // Person 3 has no NHS number: a member without a pseudonym could be neither identified
    // nor compared between runs, so the evaluation fails, naming the column.
    let err = engine
        .evaluate_with_blocking(&cohort("direct_care"), &Parameters::new(), &options)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(
        err.to_string(),
        "pseudonyms: 1 member(s) have no NHS number (column `nhs_no` of table `persons`) to \
         make a pseudonym from; exclude them with a rule"
    );

    let with_nhs_number = cohort_with_nhs_numbers();
    let result = engine
        .evaluate_with_blocking(&with_nhs_number, &Parameters::new(), &options)
        .unwrap();
    let schema = result.members.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["pseudonym", "asthma"]);
    // Sorted by pseudonym; "943 476 5919" is read as 9434765919.
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
fn pseudonyms_of_integer_nhs_numbers_and_of_text_ids() {
    // The person id is the NHS number.
    let schema = Arc::new(Schema::new(vec![Field::new(
        "person_id",
        DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![4010232137, 9434765919]))],
    )
    .unwrap();
    let engine = Engine::new();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        nhs_number: Some("person_id".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![batch])
        .unwrap();
    let everyone =
        Cohort::from_yaml_str("{id: all, title: All, purpose: research, output: {columns: []}}")
            .unwrap();
    let options = EvaluationOptions::new().with_pseudonym_key(key());
    // Research needs the opt-out flags, which this table lacks.
    let err = engine
        .evaluate_with_blocking(&everyone, &Parameters::new(), &options)
        .unwrap_err();
    assert_eq!(err.code(), "missing_column");
    let everyone =
        Cohort::from_yaml_str("{id: all, title: All, purpose: direct_care, output: {columns: []}}")
            .unwrap();
    let result = engine
        .evaluate_with_blocking(&everyone, &Parameters::new(), &options)
        .unwrap();
    assert_eq!(
        cells(&result.members, 0),
        [HMAC_9434765919, HMAC_4010232137]
    );

    // Text ids and no NHS number: the pseudonym is made from the id as written.
    let schema = Arc::new(Schema::new(vec![Field::new(
        "person_id",
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["ZEBRA-PATIENT-0042"]))],
    )
    .unwrap();
    let engine = Engine::new();
    engine
        .register_batches("persons", TableSpec::person(), schema, vec![batch])
        .unwrap();
    let result = engine
        .evaluate_with_blocking(&everyone, &Parameters::new(), &options)
        .unwrap();
    assert_eq!(cells(&result.members, 0), [HMAC_ZEBRA]);
}

#[test]
fn only_the_output_columns_leave_the_engine() {
    let engine = engine();
    for options in [
        EvaluationOptions::new(),
        EvaluationOptions::new().with_pseudonym_key(key()),
    ] {
        let result = engine
            .evaluate_with_blocking(&cohort_with_nhs_numbers(), &Parameters::new(), &options)
            .unwrap();
        let members = &result.members;
        assert_eq!(members.num_columns(), 2);
        assert_eq!(members.schema().field(1).name(), "asthma");
        // The region variable, the NHS numbers and the flags are nowhere in the members.
        let text: Vec<String> = (0..members.num_columns())
            .flat_map(|c| cells(members, c))
            .collect();
        for hidden in [
            "ZANZIBAR",
            "ORKNEY",
            "943 476 5919",
            "9434765919",
            "4010232137",
        ] {
            assert!(text.iter().all(|t| !t.contains(hidden)), "{hidden} left");
        }
        let ids = members.column(0);
        if ids.data_type() == &DataType::Int64 {
            assert_eq!(
                ids.as_primitive::<Int64Type>().values(),
                &[1, 2],
                "person ids, not NHS numbers"
            );
        }
    }
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
