//! No error message prints a person identifier or a value from the data.
//!
//! Test data with recognisable identifiers and values (NHS numbers, text ids, dates, codes,
//! measurements, places) is used to trigger every error of the catalogue — bad definitions,
//! bad tables and mappings, wrong types, unreadable values, data-quality failures, bad
//! options — and the text (`Display` and `Debug`) of each is scanned for every one of them.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use caas_core::governance::PseudonymKey;
use caas_core::quality::{Policy, QualityPolicies};
use caas_core::{
    CaasError, CodeSystem, Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, TableSpec,
};

/// Everything of the data that must never appear in a message.
const SECRETS: [&str; 14] = [
    "9434765919",
    "4010232137",
    "ZEBRA-PATIENT-0042",
    "1931-07-19",
    "19310719",
    "2023-03-17",
    "73.219",
    "412345009",
    "ZANZIBAR-WEST",
    "QUOKKA",
    "9223372036854775807",
    "NOT-A-DATE-ZEBRA",
    "J45.9-ZEBRA",
    "6000000007",
];

/// `person_id` (NHS numbers), `date_of_birth`, `sex`, `region`, `big` (the largest
/// integer) and `divisor` (zero), as recognisable values.
fn persons() -> (Arc<Schema>, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date_of_birth", DataType::Date32, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("big", DataType::Int64, true),
        Field::new("divisor", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![9434765919, 4010232137, 6000000007])),
            // 1931-07-19 twice, then 2023-03-17.
            Arc::new(Date32Array::from(vec![-14045, -14045, 19433])),
            Arc::new(StringArray::from(vec!["QUOKKA", "F", "M"])),
            Arc::new(StringArray::from(vec!["ZANZIBAR-WEST"; 3])),
            Arc::new(Int64Array::from(vec![i64::MAX; 3])),
            Arc::new(Int64Array::from(vec![0; 3])),
        ],
    )
    .unwrap();
    (schema, batch)
}

fn gp() -> (Arc<Schema>, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![9434765919, 4010232137])),
            Arc::new(Date32Array::from(vec![19433, 19433])),
            Arc::new(StringArray::from(vec!["412345009", "J45.9-ZEBRA"])),
            Arc::new(Float64Array::from(vec![73.219, 73.219])),
        ],
    )
    .unwrap();
    (schema, batch)
}

fn engine() -> Engine {
    let engine = Engine::new();
    let (schema, batch) = persons();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        nhs_number: Some("person_id".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![batch])
        .unwrap();
    let (schema, batch) = gp();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            schema,
            vec![batch],
        )
        .unwrap();
    engine
}

/// A definition with the given variables and rules (YAML fragments).
fn definition(purpose: &str, variables: &str, rules: &str) -> String {
    format!(
        "id: probe\ntitle: Probe\npurpose: {purpose}\nparameters:\n  index_date: 2025-08-31\n\
         codelists:\n  asthma: {{ system: snomed_ct, codes: [\"195967001\"] }}\n  \
         admissions: {{ system: icd10, codes: [\"J45\"] }}\n\
         variables:\n{variables}\nrules:\n{rules}\noutput: {{ columns: [] }}\n"
    )
}

fn evaluate(engine: &Engine, text: &str, options: &EvaluationOptions) -> Result<(), CaasError> {
    let cohort = Cohort::from_yaml_str(text)?;
    engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), options)
        .map(|_| ())
}

const AGE: &str = "  age: { kind: age, on: index_date }";
const ASTHMA: &str = "  asthma: { kind: events, table: gp, codelists: [asthma], returns: exists }";

/// Every error the test data and definitions below can cause, with what caused it.
fn errors(dir: &Path) -> Vec<(&'static str, CaasError)> {
    let engine = engine();
    let default = EvaluationOptions::new();
    let eval = |text: String| match evaluate(&engine, &text, &default) {
        Err(err) => err,
        Ok(()) => panic!("no error for:\n{text}"),
    };
    let mut out = vec![
        (
            "yaml syntax",
            Cohort::from_yaml_str("id: [unclosed").unwrap_err(),
        ),
        (
            "json syntax",
            Cohort::from_json_str(r#"{"id": "x", "title": "#).unwrap_err(),
        ),
    ];
    out.push((
        "expression syntax",
        eval(definition("direct_care", AGE, "  - include: age >=")),
    ));
    out.push((
        "unknown variable",
        eval(definition("direct_care", AGE, "  - include: weight > 3")),
    ));
    out.push((
        "date compared with a number",
        eval(definition(
            "direct_care",
            AGE,
            "  - include: age > index_date",
        )),
    ));
    out.push((
        "variable cycle",
        eval(definition(
            "direct_care",
            "  a: { kind: derived, expr: b }\n  b: { kind: derived, expr: a }",
            "  - include: a",
        )),
    ));
    out.push((
        "empty window",
        eval(definition(
            "direct_care",
            "  n: { kind: events, table: gp, codelists: [asthma], from: index_date, \
             to: index_date - 1 year, returns: count }",
            "  - include: n > 0",
        )),
    ));
    let cohort =
        Cohort::from_yaml_str(&definition("direct_care", AGE, "  - include: age > 1")).unwrap();
    out.push((
        "unknown run-time parameter",
        engine
            .evaluate_blocking(&cohort, &Parameters::new().with("nope", 1))
            .unwrap_err(),
    ));
    out.push((
        "code system mismatch",
        eval(definition(
            "direct_care",
            "  a: { kind: events, table: gp, codelists: [admissions], returns: exists }",
            "  - include: a",
        )),
    ));
    out.push((
        "duplicate rule name",
        eval(definition(
            "direct_care",
            AGE,
            "  - { name: r, include: age > 1 }\n  - { name: r, include: age > 2 }",
        )),
    ));
    let list = dir.join("asthma.csv");
    std::fs::write(&list, "concept,term\n195967001,Asthma\n").unwrap();
    out.push((
        "codelist file without a code column",
        eval(
            definition("direct_care", ASTHMA, "  - include: asthma").replace(
                "codes: [\"195967001\"]",
                &format!("file: {}", list.display()),
            ),
        ),
    ));
    out.push((
        "unregistered table",
        eval(definition(
            "direct_care",
            "  a: { kind: events, table: hes, codelists: [asthma], returns: exists }",
            "  - include: a",
        )),
    ));
    out.push((
        "unknown person column",
        eval(definition(
            "direct_care",
            "  a: { kind: person_column, column: weight }",
            "  - include: a > 1",
        )),
    ));
    out.push((
        "opt-outs missing for research",
        eval(definition("research", AGE, "  - include: age > 1")),
    ));

    // Registration.
    let (schema, batch) = persons();
    out.push((
        "second person table",
        engine
            .register_batches(
                "persons_2",
                TableSpec::person(),
                schema.clone(),
                vec![batch.clone()],
            )
            .unwrap_err(),
    ));
    let (gp_schema, _) = gp();
    out.push((
        "batches that do not fit the schema",
        engine
            .register_batches("bad", TableSpec::person(), gp_schema, vec![batch.clone()])
            .unwrap_err(),
    ));
    out.push((
        "mapped column missing",
        engine
            .register_batches(
                "people",
                TableSpec::person().with_mapping(ColumnMapping {
                    date_of_birth: Some("dob".into()),
                    ..ColumnMapping::default()
                }),
                schema.clone(),
                vec![batch.clone()],
            )
            .unwrap_err(),
    ));
    out.push((
        "region as sex, wrong type",
        engine
            .register_batches(
                "people",
                TableSpec::person().with_mapping(ColumnMapping {
                    sex: Some("big".into()),
                    ..ColumnMapping::default()
                }),
                schema,
                vec![batch],
            )
            .unwrap_err(),
    ));
    out.push((
        "missing file",
        engine
            .register_file_blocking("hes", dir.join("zebra.parquet"), TableSpec::person())
            .unwrap_err(),
    ));

    // Values DataFusion cannot read or compute.
    let csv_engine = Engine::new();
    let persons_csv = dir.join("persons.csv");
    std::fs::write(
        &persons_csv,
        "person_id,date_of_birth,region\n9434765919,1931-07-19,ZANZIBAR-WEST\n\
         4010232137,NOT-A-DATE-ZEBRA,ZANZIBAR-WEST\n",
    )
    .unwrap();
    csv_engine
        .register_file_blocking("persons", &persons_csv, TableSpec::person())
        .unwrap();
    out.push((
        "unparsable date in a CSV file",
        evaluate(
            &csv_engine,
            &definition("direct_care", AGE, "  - include: age > 1"),
            &default,
        )
        .unwrap_err(),
    ));
    // A number the CSV reader cannot read: its own error, with the value hidden.
    let number_engine = Engine::new();
    let (good_csv, gp_csv) = (dir.join("good_persons.csv"), dir.join("gp.csv"));
    std::fs::write(
        &good_csv,
        "person_id,date_of_birth\n9434765919,1931-07-19\n",
    )
    .unwrap();
    std::fs::write(
        &gp_csv,
        "person_id,date,code,value\n9434765919,2024-01-01,195967001,ZEBRA-9434765919\n",
    )
    .unwrap();
    number_engine
        .register_file_blocking("persons", &good_csv, TableSpec::person())
        .unwrap();
    number_engine
        .register_file_blocking("gp", &gp_csv, TableSpec::events(CodeSystem::SnomedCt))
        .unwrap();
    out.push((
        "unparsable number in a CSV file",
        evaluate(
            &number_engine,
            &definition("direct_care", ASTHMA, "  - include: asthma"),
            &default,
        )
        .unwrap_err(),
    ));
    let corrupt = dir.join("corrupt.parquet");
    std::fs::write(&corrupt, b"PAR1 9434765919 ZEBRA-PATIENT-0042").unwrap();
    out.push((
        "corrupt Parquet file",
        csv_engine
            .register_file_blocking("corrupt", &corrupt, TableSpec::person())
            .unwrap_err(),
    ));

    out.push((
        "an expression over the depth limit",
        Cohort::from_yaml_str(&definition(
            "direct_care",
            AGE,
            &format!("  - include: {}age = 9434765919", "not ".repeat(300)),
        ))
        .unwrap_err(),
    ));

    // Data quality and options.
    out.push((
        "every finding fails",
        evaluate(
            &engine,
            &definition("direct_care", ASTHMA, "  - include: asthma"),
            &EvaluationOptions::new().with_policies(QualityPolicies::all(Policy::Fail)),
        )
        .unwrap_err(),
    ));
    out.push((
        "short pseudonym key",
        PseudonymKey::new(b"9434765919".to_vec()).unwrap_err(),
    ));
    out.push((
        "pseudonym key not hexadecimal",
        PseudonymKey::from_hex("ZEBRA-PATIENT-0042").unwrap_err(),
    ));
    out
}

#[test]
fn no_message_of_the_error_catalogue_prints_data() {
    let dir = tempfile::tempdir().unwrap();
    let errors = errors(dir.path());
    let mut leaks = Vec::new();
    for (cause, err) in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            for secret in SECRETS {
                if text.contains(secret) {
                    leaks.push(format!("{cause}: `{secret}` in {text}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));

    // The probes reach every kind of error there is.
    let reached: BTreeSet<&str> = errors.iter().map(|(_, e)| e.code()).collect();
    let catalogue = BTreeSet::from([
        "syntax",
        "expression_syntax",
        "unknown_reference",
        "type_mismatch",
        "cycle",
        "empty_window",
        "unknown_parameter",
        "code_system_mismatch",
        "invalid_definition",
        "codelist",
        "table",
        "registration",
        "missing_column",
        "column_type",
        "io",
        "engine",
        "data_quality",
        "invalid_option",
        "limit_exceeded",
    ]);
    assert_eq!(reached, catalogue);
}

#[test]
fn engine_errors_keep_their_meaning_without_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let errors = errors(dir.path());
    let message = |cause: &str| {
        errors
            .iter()
            .find(|(c, _)| *c == cause)
            .map(|(_, e)| e.to_string())
            .unwrap()
    };
    let date = message("unparsable date in a CSV file");
    assert_eq!(
        date,
        "table `persons`, column `date_of_birth`: expected dates written as `%Y-%m-%d`, \
         found text that is not a date in that format (first at row 2)"
    );
    let csv = message("unparsable number in a CSV file");
    assert!(csv.starts_with("evaluation failed:"), "{csv}");
    assert!(csv.contains("'…'"), "{csv}");
    let parquet = message("corrupt Parquet file");
    assert!(parquet.contains("arquet"), "{parquet}");
}

/// A research run with pseudonyms over the same people (with opt-out flags, which research
/// needs): every output path — members, printed summaries, the report, the provenance, the
/// data-quality findings, and the refusals of `variables`, `explain` and `audit` — is
/// scanned for the data, and its printed counts for exact small numbers.
#[test]
fn no_output_path_of_a_research_run_prints_data() -> Result<(), Box<dyn std::error::Error>> {
    let (schema, batch) = persons();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("national_opt_out", DataType::Boolean, true));
    fields.push(Field::new("type1_opt_out", DataType::Boolean, true));
    let mut columns = batch.columns().to_vec();
    let flags = || Arc::new(arrow::array::BooleanArray::from(vec![false, false, false]));
    columns.push(flags());
    columns.push(flags());
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let engine = Engine::new();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        nhs_number: Some("person_id".into()),
        ..ColumnMapping::default()
    });
    engine.register_batches("persons", spec, schema, vec![batch])?;
    let (schema, batch) = gp();
    let events = TableSpec::events(CodeSystem::SnomedCt);
    engine.register_batches("gp", events, schema, vec![batch])?;

    let text = definition(
        "research",
        &format!("{AGE}\n{ASTHMA}"),
        "  - { include: age >= 0 }",
    );
    let cohort = Cohort::from_yaml_str(&text)?;
    let key = PseudonymKey::from_hex(&"5a".repeat(32))?;
    let options = EvaluationOptions::new().with_pseudonym_key(key);
    let result = engine.evaluate_with_blocking(&cohort, &Parameters::new(), &options)?;
    assert_eq!(result.member_count(), 3);

    let report = result.report(&caas_core::ReportOptions::default())?;
    let mut outputs = vec![
        ("members", format!("{:?}", result.members)),
        ("summary", result.summary()?),
        ("attrition table", result.attrition_table()?),
        ("report markdown", report.markdown),
        ("report html", report.html),
        ("provenance", result.provenance.to_json()?),
        ("data quality", result.data_quality.to_json()?),
    ];
    let refusals = [
        (
            "variables",
            engine.variables_blocking(&cohort, &Parameters::new()).err(),
        ),
        ("explain", result.explain_blocking(9434765919i64).err()),
        ("audit", result.audit_blocking().err()),
    ];
    for (path, err) in refusals {
        let err = err.ok_or(format!("{path} was not refused"))?;
        assert_eq!(err.code(), "invalid_input", "{path}: {err}");
        outputs.push((path, format!("{err} {err:?}")));
    }
    for (path, text) in &outputs {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{path} prints `{secret}`:\n{text}");
        }
    }
    // 3 people and 3 members: under 8, so never printed exactly.
    let summary = result.summary()?;
    assert!(
        summary.ends_with("* of * people in the cohort"),
        "{summary}"
    );
    assert!(
        !result.attrition_table()?.contains(" 3 "),
        "{}",
        result.attrition_table()?
    );
    Ok(())
}
