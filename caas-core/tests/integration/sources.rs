//! Registration from every kind of source, and the errors of registration.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::FileWriter;
use caas_core::{CaasError, CodeSystem, Cohort, ColumnMapping, Engine, Parameters, TableSpec};
use datafusion::parquet::arrow::ArrowWriter;

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn day(text: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn persons() -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date_of_birth", DataType::Date32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            Arc::new(Date32Array::from(vec![day("1950-01-01"); 4])),
        ],
    )
    .unwrap();
    (schema, batch)
}

fn gp_events() -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 1, 2, 3])),
            Arc::new(Date32Array::from(vec![
                day("2024-01-01"),
                day("2024-06-01"),
                day("2023-01-01"),
                day("2024-02-02"),
            ])),
            Arc::new(StringArray::from(vec![
                "60621009", "60621009", "60621009", "999",
            ])),
            Arc::new(Float64Array::from(vec![
                Some(41.0),
                Some(39.9),
                None,
                Some(50.0),
            ])),
        ],
    )
    .unwrap();
    (schema, batch)
}

fn bmi_cohort() -> Cohort {
    Cohort::from_yaml_str(
        r#"
id: bmi
title: Latest BMI of 40 or more
purpose: direct_care
parameters: { index_date: 2025-01-01 }
codelists:
  bmi: { system: snomed_ct, codes: ["60621009"] }
variables:
  bmi_last: { kind: events, table: gp, codelists: [bmi], to: index_date, returns: last_value }
  bmi_count: { kind: events, table: gp, codelists: [bmi], returns: count }
rules:
  - include: bmi_count > 0
output: { columns: [bmi_last, bmi_count] }
"#,
    )
    .unwrap()
}

/// (person_id, bmi_last, bmi_count) of the members.
fn bmi_rows(engine: &Engine) -> Vec<(i64, Option<f64>, i64)> {
    let result = engine
        .evaluate_blocking(&bmi_cohort(), &Parameters::new())
        .unwrap();
    let m = &result.members;
    let ids = m.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let bmi = m.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
    let count = m.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    (0..m.num_rows())
        .map(|i| {
            (
                ids.value(i),
                (!bmi.is_null(i)).then(|| bmi.value(i)),
                count.value(i),
            )
        })
        .collect()
}

/// An engine with the person table registered from memory.
fn engine_with_persons() -> Engine {
    let engine = Engine::new();
    let (schema, batch) = persons();
    engine
        .register_batches("persons", TableSpec::person(), schema, vec![batch])
        .unwrap();
    engine
}

/// The BMI cohort's (person_id, bmi_last, bmi_count) once `gp` is registered as SNOMED CT
/// events from memory.
fn bmi_rows_with_gp(schema: SchemaRef, batch: RecordBatch) -> Vec<(i64, Option<f64>, i64)> {
    let engine = engine_with_persons();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            schema,
            vec![batch],
        )
        .unwrap();
    bmi_rows(&engine)
}

const BMI_EXPECTED: [(i64, Option<f64>, i64); 2] = [(1, Some(39.9), 2), (2, None, 1)];

#[test]
fn in_memory_batches() {
    let (schema, batch) = gp_events();
    assert_eq!(bmi_rows_with_gp(schema, batch), BMI_EXPECTED);
}

#[test]
fn parquet_folder_and_arrow_ipc_file() {
    let dir = tempfile::tempdir().unwrap();
    let (schema, batch) = gp_events();
    let folder = dir.path().join("gp");
    std::fs::create_dir(&folder).unwrap();
    // Two files: the folder is one table.
    for (i, range) in [(0, 0..2), (1, 2..4)] {
        let file = File::create(folder.join(format!("part-{i}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer
            .write(&batch.slice(range.start, range.len()))
            .unwrap();
        writer.close().unwrap();
    }
    let (pschema, pbatch) = persons();
    let ipc = dir.path().join("persons.arrow");
    let mut writer = FileWriter::try_new(File::create(&ipc).unwrap(), &pschema).unwrap();
    writer.write(&pbatch).unwrap();
    writer.finish().unwrap();

    let engine = Engine::new();
    engine
        .register_file_blocking("persons", &ipc, TableSpec::person())
        .unwrap();
    engine
        .register_file_blocking("gp", &folder, TableSpec::events(CodeSystem::SnomedCt))
        .unwrap();
    assert_eq!(bmi_rows(&engine), BMI_EXPECTED);
}

#[test]
fn integer_codes_match_text_codelists() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Int64, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let (_, text) = gp_events();
    let codes: Int64Array = vec![60621009i64, 60621009, 60621009, 999].into();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text.column(0).clone(),
            text.column(1).clone(),
            Arc::new(codes),
            text.column(3).clone(),
        ],
    )
    .unwrap();
    assert_eq!(bmi_rows_with_gp(schema, batch), BMI_EXPECTED);
}

fn code_list(rows: &[&[&str]]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for code in *row {
            builder.values().append_value(code);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

#[test]
fn list_column_of_codes_with_and_without_primary_only() {
    let list = code_list(&[&["I10X", "J45X"], &["J450"], &["E119", "J46X", "J45.9"]]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient", DataType::Utf8, false),
        Field::new("admidate", DataType::Date32, true),
        Field::new("diagnoses", list.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["1", "2", "3"])),
            Arc::new(Date32Array::from(vec![day("2020-01-01"); 3])),
            list,
        ],
    )
    .unwrap();
    let cohort = Cohort::from_yaml_str(
        r#"
id: asthma_admissions
title: Asthma admissions
purpose: direct_care
codelists:
  asthma: { system: icd10, codes: ["J45", "J46"] }
variables:
  n: { kind: events, table: apc, codelists: [asthma], returns: count }
output: { columns: [n] }
"#,
    )
    .unwrap();
    let mapping = ColumnMapping {
        person_id: Some("patient".into()),
        date: Some("admidate".into()),
        code: Some("diagnoses".into()),
        ..ColumnMapping::default()
    };
    let counts = |primary_only: bool| -> Vec<i64> {
        let engine = engine_with_persons();
        let mut spec = TableSpec::events(CodeSystem::Icd10).with_mapping(mapping.clone());
        spec.mapping.primary_code_only = primary_only;
        engine
            .register_batches("apc", spec, schema.clone(), vec![batch.clone()])
            .unwrap();
        let members = engine
            .evaluate_blocking(&cohort, &Parameters::new())
            .unwrap()
            .members;
        let n = members
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        n.values().to_vec()
    };
    // Person ids are text here and integers in the person table: compared as integers.
    assert_eq!(counts(false), vec![1, 1, 2, 0]);
    assert_eq!(counts(true), vec![0, 1, 0, 0]);
}

/// The error of registering the person table with `mapping`.
fn person_error(engine: &Engine, mapping: ColumnMapping) -> String {
    let (schema, batch) = persons();
    let spec = TableSpec::person().with_mapping(mapping);
    engine
        .register_batches("pds", spec, schema, vec![batch])
        .unwrap_err()
        .to_string()
}

#[test]
fn registration_errors_name_table_column_and_types() {
    let engine = Engine::new();
    let missing = ColumnMapping {
        date_of_birth: Some("dob".into()),
        ..ColumnMapping::default()
    };
    assert_eq!(
        person_error(&engine, missing),
        "table `pds` has no column `dob` (needed as date_of_birth)"
    );
    let wrong_type = ColumnMapping {
        sex: Some("date_of_birth".into()),
        ..ColumnMapping::default()
    };
    assert_eq!(
        person_error(&engine, wrong_type),
        "table `pds`, column `date_of_birth`: expected text, found Date32"
    );

    let (schema, batch) = persons();
    engine
        .register_batches(
            "pds",
            TableSpec::person(),
            schema.clone(),
            vec![batch.clone()],
        )
        .unwrap();
    let err = engine
        .register_batches("pds2", TableSpec::person(), schema, vec![batch])
        .unwrap_err();
    assert!(matches!(err, CaasError::Registration { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "table `pds2`: `pds` is already the person table"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let engine = Engine::new();
    let err = engine
        .register_file_blocking(
            "persons",
            "/nonexistent/persons.parquet",
            TableSpec::person(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "io");
}

#[tokio::test]
async fn blocking_call_inside_a_runtime_is_an_error_not_a_panic() {
    let engine = Engine::new();
    let err = engine
        .evaluate_blocking(&bmi_cohort(), &Parameters::new())
        .unwrap_err();
    assert_eq!(err.code(), "engine");
    assert!(err.to_string().contains("await the async method"), "{err}");
}

/// The code columns of one table share one type: an integer `DIAG_1` (SNOMED CT ids) and a
/// text `DIAG_2` (a local code) are refused, naming the table and the column. (From CSV
/// both are read as text, so only a typed source can disagree.)
#[test]
fn code_columns_of_one_table_have_one_type() -> Result<(), Box<dyn std::error::Error>> {
    let batch = RecordBatch::try_from_iter([
        ("person_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("date", Arc::new(Date32Array::from(vec![day("2024-01-01")]))),
        ("DIAG_1", Arc::new(Int64Array::from(vec![195_967_001]))),
        ("DIAG_2", Arc::new(StringArray::from(vec!["Y1234"]))),
    ])?;
    let spec = TableSpec::events(CodeSystem::SnomedCt).with_mapping(ColumnMapping {
        codes: Some(vec!["DIAG_1".into(), "DIAG_2".into()]),
        ..ColumnMapping::default()
    });
    let err = Engine::new()
        .register_batches("gp", spec, batch.schema(), vec![batch])
        .err()
        .ok_or("registered code columns of two types")?;
    assert_eq!(err.code(), "column_type", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`gp`") && message.contains("`DIAG_2`"),
        "{message}"
    );
    Ok(())
}

/// The ages on 2025-06-01 of the persons of a CSV file whose dates of birth are written as
/// the spec's `date_format` says.
fn ages_from_csv(csv: &str, spec: TableSpec) -> caas_core::Result<Vec<(i64, Option<i64>)>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persons.csv");
    std::fs::write(&path, csv).unwrap();
    let engine = Engine::new();
    engine.register_file_blocking("persons", &path, spec)?;
    let cohort = Cohort::from_yaml_str(
        "id: ages\ntitle: Ages\npurpose: direct_care\n\
         variables: { age: { kind: age, on: DATE '2025-06-01' } }\n\
         output: { columns: [age] }\n",
    )?;
    let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    let members = &result.members;
    // Ids from CSV are text.
    let ids = members
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let ages = members
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    Ok((0..members.num_rows())
        .map(|i| {
            let id = ids.value(i).parse().unwrap();
            (id, ages.is_valid(i).then(|| ages.value(i)))
        })
        .collect())
}

#[test]
fn text_dates_in_the_tables_format() {
    use caas_core::DateFormat;
    let uk = TableSpec::person().with_date_format(DateFormat::All("%d/%m/%Y".into()));
    // 1 June 1950 (75 on the day), 2 June 1950 (not yet), a blank date.
    let csv = "person_id,date_of_birth\n1,01/06/1950\n2,02/06/1950\n3, \n";
    assert_eq!(
        ages_from_csv(csv, uk.clone()).unwrap(),
        [(1, Some(75)), (2, Some(74)), (3, None)]
    );
    // Per column, and ISO 8601 text without a format.
    let per_column = TableSpec::person().with_date_format(DateFormat::Columns(
        [("date_of_birth".to_string(), "%Y%m%d".to_string())].into(),
    ));
    let csv = "person_id,date_of_birth\n1,19500601\n";
    assert_eq!(ages_from_csv(csv, per_column).unwrap(), [(1, Some(75))]);
    // Dates and times: ISO 8601 without a format (read as their day; with an offset, in
    // UTC), and a format with time fields, which are read and ignored.
    let csv = "person_id,date_of_birth\n1,1950-06-01 10:00:00\n2,1950-06-01T23:59:59.5\n\
               3,1950-06-02T01:00:00+02:00\n";
    assert_eq!(
        ages_from_csv(csv, TableSpec::person()).unwrap(),
        [(1, Some(75)), (2, Some(75)), (3, Some(75))]
    );
    for format in ["%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S %z"] {
        let spec = TableSpec::person().with_date_format(DateFormat::All(format.into()));
        let csv = "person_id,date_of_birth\n1,02/06/1950 00:30 +0000\n";
        let csv = if format.ends_with("%M") {
            csv.replace(" +0000", "")
        } else {
            csv.replace(" 00:30", " 00:30:00")
        };
        assert_eq!(
            ages_from_csv(&csv, spec).unwrap(),
            [(1, Some(74))],
            "{format}"
        );
    }
    let csv = "person_id,date_of_birth\n1,1950-06-01\n2,unknown\n";
    let iso = ages_from_csv(csv, TableSpec::person())
        .unwrap_err()
        .to_string();
    assert!(
        iso.contains("table `persons`") && iso.contains("`date_of_birth`"),
        "{iso}"
    );
    assert!(
        iso.contains("`%Y-%m-%d`") && !iso.contains("unknown"),
        "{iso}"
    );
    assert!(iso.ends_with("(first at row 2)"), "{iso}");
    // The row is counted across the batches of the scan (8,192 rows each).
    let mut csv = "person_id,date_of_birth\n".to_string();
    for id in 1..=20_000 {
        let date = if id == 17_001 {
            "31/02/1950"
        } else {
            "1950-06-01"
        };
        csv.push_str(&format!("{id},{date}\n"));
    }
    let error = ages_from_csv(&csv, TableSpec::person()).unwrap_err();
    assert!(
        error.to_string().ends_with("(first at row 17001)"),
        "{error}"
    );

    // Text that is not a date in the format names the table, the column and the format,
    // never the value.
    let csv = "person_id,date_of_birth\n1,1950-06-01\n";
    let error = ages_from_csv(csv, uk).unwrap_err();
    assert_eq!(error.code(), "column_type");
    let message = error.to_string();
    assert!(message.contains("`persons`") && message.contains("`date_of_birth`"));
    assert!(
        message.contains("`%d/%m/%Y`") && !message.contains("1950"),
        "{message}"
    );

    // A format that cannot read a whole date, and one for a column that is not a date.
    let no_day = TableSpec::person().with_date_format(DateFormat::All("%m/%Y".into()));
    let message = ages_from_csv("person_id,date_of_birth\n1,06/1950\n", no_day)
        .unwrap_err()
        .to_string();
    assert!(message.contains("does not read a whole date"), "{message}");
    let not_a_date = TableSpec::person().with_date_format(DateFormat::Columns(
        [("person_id".to_string(), "%d/%m/%Y".to_string())].into(),
    ));
    let message = ages_from_csv("person_id,date_of_birth\n1,1950-06-01\n", not_a_date)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`person_id`, which is not a date column"),
        "{message}"
    );
}

#[test]
fn nhs_numbers_held_as_integers_match_the_usual_spaced_text() {
    use caas_core::quality::FindingKind;
    // The person table holds NHS numbers as integers; the GP extract writes them as text,
    // spaced as usual, unspaced, or in a layout that is no NHS number at all.
    let nhs = ColumnMapping {
        nhs_number: Some("person_id".into()),
        ..ColumnMapping::default()
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date_of_birth", DataType::Date32, true),
    ]));
    let persons = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![9434765919, 9000000009])),
            Arc::new(Date32Array::from(vec![day("1950-01-01"); 2])),
        ],
    )
    .unwrap();
    let engine = Engine::new();
    let spec = TableSpec::person().with_mapping(nhs);
    engine
        .register_batches("persons", spec, schema, vec![persons])
        .unwrap();
    let csv = "person_id,date,code\n\
               943 476 5919,2024-01-01,195967001\n\
               9000000009,2024-01-01,195967001\n\
               900-000-0009,2024-02-01,195967001\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gp.csv");
    std::fs::write(&path, csv).unwrap();
    engine
        .register_file_blocking("gp", &path, TableSpec::events(CodeSystem::SnomedCt))
        .unwrap();
    let cohort = Cohort::from_yaml_str(
        "id: nhs\ntitle: NHS numbers\npurpose: direct_care\n\
         codelists: { asthma: { system: snomed_ct, codes: ['195967001'] } }\n\
         variables:\n  \
           asthma: { kind: events, table: gp, codelists: [asthma], returns: count }\n\
         output: { columns: [asthma] }\n",
    )
    .unwrap();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let counts = result
        .members
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    // Sorted by id: 9000000009 has its unspaced event only; 9434765919 its spaced one.
    assert_eq!(counts.values(), &[1, 1]);
    // The dashed id matches nobody, and is counted, not lost.
    assert_eq!(
        result.data_quality.count("gp", FindingKind::UnknownPerson),
        Some(1)
    );
    // An explanation finds the person by the spaced text as well.
    let why = result.explain_blocking("943 476 5919").unwrap();
    assert_eq!(why.variable("asthma").unwrap().events.len(), 1);
}

#[test]
fn a_bad_text_date_of_an_event_table_names_table_column_and_row() {
    // Events are read on the build side of a join, whose error DataFusion shares between
    // partitions: it came back as an `engine` error quoting ours.
    let engine = engine_with_persons();
    let csv = "person_id,date,code,value\n\
               1,2024-01-01,60621009,41.0\n\
               2,2024-13-01,60621009,39.0\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gp.csv");
    std::fs::write(&path, csv).unwrap();
    engine
        .register_file_blocking("gp", &path, TableSpec::events(CodeSystem::SnomedCt))
        .unwrap();
    let err = engine
        .evaluate_blocking(&bmi_cohort(), &Parameters::new())
        .unwrap_err();
    assert_eq!(err.code(), "column_type");
    assert_eq!(
        err.to_string(),
        "table `gp`, column `date`: expected dates written as `%Y-%m-%d`, found text that \
         is not a date in that format (first at row 2)"
    );
}
