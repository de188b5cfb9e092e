//! Run-to-run difference: who joined and who left since an earlier run's members, given
//! as a table or read from Parquet, Arrow IPC or CSV.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, DictionaryArray, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use caas_core::{Cohort, ColumnMapping, Engine, Evaluation, Parameters, TableSpec};
use datafusion::parquet::arrow::ArrowWriter;

const COHORT: &str = r#"
id: older
title: Aged 65 or over
purpose: direct_care
parameters: { index_date: 2026-03-31 }
variables: { age: { kind: age, on: index_date } }
rules: [ { include: age >= 65 } ]
output: { columns: [age] }
"#;

/// Six people, ids 1 to 6 or NHS numbers ending 01 to 06; the odd ones are 65 or over.
fn evaluation(text_ids: bool) -> Evaluation {
    let ids: Vec<String> = (1..=6).map(|i| format!("94347659{i:02}")).collect();
    let births: Vec<i32> = (1..=6)
        .map(|i| if i % 2 == 1 { -7305 } else { 10957 })
        .collect();
    let (id_field, id_array): (Field, ArrayRef) = if text_ids {
        (
            Field::new("nhs_number", DataType::Utf8, false),
            Arc::new(StringArray::from(ids)),
        )
    } else {
        (
            Field::new("nhs_number", DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values(1..=6)),
        )
    };
    let schema = Arc::new(Schema::new(vec![
        id_field,
        Field::new("date_of_birth", DataType::Date32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![id_array, Arc::new(Date32Array::from(births))],
    )
    .unwrap();
    let engine = Engine::new();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        person_id: Some("nhs_number".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![batch])
        .unwrap();
    let cohort = Cohort::from_yaml_str(COHORT).unwrap();
    engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap()
}

fn batch(column: ArrayRef) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", column.data_type().clone(), true),
        Field::new("age", DataType::Int32, true),
    ]));
    let ages = Arc::new(Int32Array::from(vec![70; column.len()]));
    RecordBatch::try_new(schema, vec![column, ages]).unwrap()
}

fn ints(b: &RecordBatch) -> Vec<i64> {
    b.column(0).as_primitive::<Int64Type>().values().to_vec()
}

fn texts(b: &RecordBatch) -> Vec<String> {
    b.column(0)
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

#[test]
fn who_joined_and_who_left() {
    // Members now: 1, 3, 5. Before: 5, 3 (twice), 7, 4, as Int32 or Int64.
    let result = evaluation(false);
    for column in [
        Arc::new(Int32Array::from(vec![5, 3, 3, 7, 4])) as ArrayRef,
        Arc::new(Int64Array::from(vec![5, 3, 3, 7, 4])),
    ] {
        let diff = result.diff(&batch(column)).unwrap();
        assert_eq!(ints(&diff.joined), [1]);
        assert_eq!(ints(&diff.left), [4, 7]);
        assert_eq!(diff.stayed, 2);
        assert_eq!(diff.joined.schema().field(0).name(), "person_id");
        assert_eq!(diff.joined.schema().field(0).data_type(), &DataType::Int64);
    }

    // Against its own members: nobody joined or left.
    let same = result.diff(&result.members).unwrap();
    assert_eq!((same.joined.num_rows(), same.left.num_rows()), (0, 0));
    assert_eq!(same.stayed, 3);

    // Text ids, in any of Arrow's text types.
    let result = evaluation(true);
    let earlier = ["9434765905", "9434765904", "9434765903"];
    for column in [
        Arc::new(StringArray::from(earlier.to_vec())) as ArrayRef,
        Arc::new(LargeStringArray::from(earlier.to_vec())),
        Arc::new(DictionaryArray::<Int32Type>::from_iter(earlier)),
    ] {
        let diff = result.diff(&batch(column)).unwrap();
        assert_eq!(texts(&diff.joined), ["9434765901"]);
        assert_eq!(texts(&diff.left), ["9434765904"]);
        assert_eq!(diff.stayed, 2);
    }
}

#[test]
fn unusable_earlier_members_are_typed_errors_without_ids() {
    let result = evaluation(false);
    let no_id = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("nhs", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let err = result.diff(&no_id).unwrap_err();
    assert_eq!(err.code(), "missing_column");
    assert_eq!(
        err.to_string(),
        "table `previous members` has no column `person_id` (needed as the members' identifier)"
    );

    let text = batch(Arc::new(StringArray::from(vec!["9434765901"])));
    let err = result.diff(&text).unwrap_err();
    assert_eq!(err.code(), "column_type");
    assert!(
        err.to_string()
            .contains("expected integers, as this run's ids, found Utf8"),
        "{err}"
    );

    let err = evaluation(true)
        .diff(&batch(Arc::new(Int64Array::from(vec![1]))))
        .unwrap_err();
    assert_eq!(err.code(), "column_type");

    let missing = batch(Arc::new(Int64Array::from(vec![Some(3), None, None])));
    let err = result.diff(&missing).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(
        err.to_string(),
        "previous members: 2 rows have no person_id"
    );
    let err = result.diff(&text).unwrap_err();
    assert!(!err.to_string().contains("9434765901"), "{err}");
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn write_ipc(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

#[test]
fn earlier_members_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let result = evaluation(false);
    let earlier = batch(Arc::new(Int64Array::from(vec![3, 4])));
    write_parquet(&dir.path().join("members.parquet"), &earlier);
    write_ipc(&dir.path().join("members.arrow"), &earlier);
    std::fs::write(
        dir.path().join("members.csv"),
        "age,person_id\n70,3\n71,4\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("weekly")).unwrap();
    write_parquet(&dir.path().join("weekly/part-0.parquet"), &earlier);
    for file in ["members.parquet", "members.arrow", "members.csv", "weekly"] {
        let diff = result.diff_path_blocking(dir.path().join(file)).unwrap();
        assert_eq!(ints(&diff.joined), [1, 5], "{file}");
        assert_eq!(ints(&diff.left), [4], "{file}");
        assert_eq!(diff.stayed, 1, "{file}");
    }

    // Text ids that look like numbers are read from CSV as text, as this run's ids are.
    let result = evaluation(true);
    std::fs::write(
        dir.path().join("nhs.csv"),
        "person_id\n9434765903\n9434765904\n",
    )
    .unwrap();
    let diff = result
        .diff_path_blocking(dir.path().join("nhs.csv"))
        .unwrap();
    assert_eq!(texts(&diff.joined), ["9434765901", "9434765905"]);
    assert_eq!(texts(&diff.left), ["9434765904"]);

    let err = result
        .diff_path_blocking(dir.path().join("members.parquet"))
        .unwrap_err();
    assert_eq!(err.code(), "column_type");
    std::fs::write(dir.path().join("members.txt"), "person_id\n1\n").unwrap();
    let err = result
        .diff_path_blocking(dir.path().join("members.txt"))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let err = result
        .diff_path_blocking(dir.path().join("absent.parquet"))
        .unwrap_err();
    assert_eq!(err.code(), "io");
    std::fs::write(dir.path().join("no_id.csv"), "nhs,age\n9434765903,70\n").unwrap();
    let err = result
        .diff_path_blocking(dir.path().join("no_id.csv"))
        .unwrap_err();
    assert_eq!(err.code(), "missing_column");
}

#[test]
fn pseudonymised_runs_compare_on_their_pseudonyms() {
    use caas_core::EvaluationOptions;
    use caas_core::governance::PseudonymKey;

    let key = PseudonymKey::from_hex(&"07".repeat(32)).unwrap();
    let ids: Vec<String> = (1..=4).map(|i| format!("94347659{i:02}")).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("nhs_number", DataType::Utf8, false),
        Field::new("date_of_birth", DataType::Date32, true),
    ]));
    let persons = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids.clone())),
            // 1 and 3 are 65 or over on the index date.
            Arc::new(Date32Array::from(vec![-7305, 10957, -7305, 10957])),
        ],
    )
    .unwrap();
    let engine = Engine::new();
    let spec = TableSpec::person().with_mapping(ColumnMapping {
        person_id: Some("nhs_number".into()),
        nhs_number: Some("nhs_number".into()),
        ..ColumnMapping::default()
    });
    engine
        .register_batches("persons", spec, schema, vec![persons])
        .unwrap();
    let cohort = Cohort::from_yaml_str(COHORT).unwrap();
    let options = EvaluationOptions::new().with_pseudonym_key(key.clone());
    let result = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &options)
        .unwrap();

    // Last week's members, by the same key: people 1 and 2.
    let earlier = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "pseudonym",
            DataType::Utf8,
            false,
        )])),
        vec![Arc::new(StringArray::from(vec![
            key.pseudonym(ids[0].as_bytes()),
            key.pseudonym(ids[1].as_bytes()),
        ]))],
    )
    .unwrap();
    let diff = result.diff(&earlier).unwrap();
    assert_eq!(diff.joined.schema().field(0).name(), "pseudonym");
    assert_eq!(texts(&diff.joined), vec![key.pseudonym(ids[2].as_bytes())]);
    assert_eq!(texts(&diff.left), vec![key.pseudonym(ids[1].as_bytes())]);
    assert_eq!(diff.stayed, 1);

    // Earlier members identified by person_id cannot be compared with pseudonyms.
    let err = result
        .diff(&batch(Arc::new(StringArray::from(vec![ids[0].clone()]))))
        .unwrap_err();
    assert_eq!(err.code(), "missing_column");
    assert!(!err.to_string().contains(&ids[0]));
}
