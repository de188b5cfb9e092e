//! Hostile definitions and files. Each case reproduces a failure that an adversarial pass
//! found (a stack overflow, exponential planning, a read that never ends, a cell quoted in
//! an error) and pins what happens now: a typed error naming the limit or the place, or
//! the right result.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use caas_core::quality::{FindingKind, Policy};
use caas_core::{
    CaasError, Cancellation, Cohort, Engine, EngineOptions, EvaluationOptions, Format, Limits,
    Parameters, Place, ReportOptions, TableSpec,
};
use chrono::NaiveDate;
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

/// An engine whose person table holds people 1 to `n`, each with `x` = their id.
fn engine_with(options: &EngineOptions, n: i64) -> Result<Engine, Box<dyn Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("x", DataType::Int64, true),
    ]));
    let ids = Arc::new(Int64Array::from_iter_values(1..=n));
    let batch = RecordBatch::try_new(schema.clone(), vec![ids.clone(), ids])?;
    let engine = Engine::with_options(options)?;
    engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
    Ok(engine)
}

/// A definition with one person column `x`, the derived variable `v` and a rule.
fn definition(v: &str, rule: &str) -> String {
    json!({
        "id": "hostile",
        "title": "Hostile",
        "purpose": "direct_care",
        "variables": {
            "x": { "kind": "person_column", "column": "x" },
            "v": { "kind": "derived", "expr": v },
        },
        "rules": [{ "name": "rule", "include": rule }],
        "output": { "columns": ["v"] },
    })
    .to_string()
}

/// The members' `v` column after evaluating `cohort` over people 1 to `n`.
fn values_of_v(cohort: &Cohort, n: i64) -> Result<Vec<Option<i64>>, Box<dyn Error>> {
    let engine = engine_with(&EngineOptions::default(), n)?;
    let result = engine.evaluate_blocking(cohort, &Parameters::new())?;
    let v = result.members.column(1).as_primitive::<Int64Type>();
    Ok(v.iter().collect())
}

fn code_of(result: caas_core::Result<Cohort>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => e.code().to_string(),
    }
}

/// Runs `f` on a thread with 2 MiB of stack: as much as a worker thread of the async
/// runtime has, and less than a Python or C host's main thread.
fn on_small_stack<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<dyn Error>> {
    let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(f)?;
    handle.join().map_err(|_| "the thread panicked".into())
}

#[test]
fn deep_expressions_are_refused_before_anything_walks_them() -> TestResult {
    let deep = [
        format!("{}true", "not ".repeat(1000)),
        vec!["x = 1"; 1000].join(" or "),
        format!("{} > 0", vec!["x"; 1000].join(" + ")),
        format!(
            "{}1{}",
            "CASE WHEN true THEN ".repeat(1000),
            " END".repeat(1000)
        ),
        format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}1{} > 0", "-".repeat(10_000), ""),
    ];
    for rule in deep {
        let text = definition("x", &rule);
        let code = on_small_stack(move || code_of(Cohort::from_json_str(&text)))?;
        assert_eq!(code, "limit_exceeded", "{}…", &rule[..40]);
    }
    let err = Cohort::from_json_str(&definition("x", &format!("{}true", "not ".repeat(300))))
        .err()
        .ok_or("accepted")?;
    assert!(matches!(
        &err,
        CaasError::LimitExceeded {
            place: Place::Rule { .. },
            limit: "max_expression_depth",
            max: 200
        }
    ));
    assert_eq!(
        err.to_string(),
        "rule 1 (`rule`): larger than the limit `max_expression_depth` allows (200)"
    );
    Ok(())
}

#[test]
fn the_deepest_expressions_allowed_evaluate() -> TestResult {
    // 200 levels each: the default limit must be one the engine's worker threads can plan.
    let sum = vec!["x"; 200].join(" + ");
    let not = format!("{}x > 0", "not not ".repeat(99));
    let cases = format!(
        "{}x{}",
        "CASE WHEN x > 0 THEN ".repeat(99),
        " END".repeat(99)
    );
    let cohort = Cohort::from_json_str(&definition(&sum, &not))?;
    assert_eq!(values_of_v(&cohort, 3)?, [Some(200), Some(400), Some(600)]);
    let over = format!("{} > 0", vec!["x"; 199].join(" + "));
    let cohort = Cohort::from_json_str(&definition(&cases, &over))?;
    assert_eq!(values_of_v(&cohort, 2)?, [Some(1), Some(2)]);
    Ok(())
}

#[test]
fn nested_coalesce_plans_in_linear_time() -> TestResult {
    // coalesce(coalesce(... coalesce(null, x) ..., 0), 0): each level used to repeat its
    // first argument when DataFusion rewrote it to CASE, doubling the plan 60 times.
    let mut expr = "coalesce(null, x)".to_string();
    for _ in 0..60 {
        expr = format!("coalesce({expr}, 0) + 0");
    }
    let started = Instant::now();
    let cohort = Cohort::from_json_str(&definition(&expr, "true"))?;
    assert_eq!(values_of_v(&cohort, 3)?, [Some(1), Some(2), Some(3)]);
    assert!(started.elapsed() < Duration::from_secs(60));
    Ok(())
}

#[test]
fn long_lists_and_many_rules_nest_shallowly() -> TestResult {
    let items: Vec<String> = (2..5000).map(|i| i.to_string()).collect();
    let rule = format!("x IN ({})", items.join(", "));
    let mut document: serde_json::Value = serde_json::from_str(&definition("x", &rule))?;
    let rules = (0..500).map(|i| json!({ "name": format!("r{i}"), "include": "x > 0" }));
    if let Some(list) = document["rules"].as_array_mut() {
        list.extend(rules);
    }
    let cohort = Cohort::from_json_str(&document.to_string())?;
    assert_eq!(values_of_v(&cohort, 3)?, [Some(2), Some(3)]);
    Ok(())
}

#[test]
fn expressions_that_multiply_when_lowered_are_limited() -> TestResult {
    // Each `IN` repeats its operand once per item: 40 nested ones would lower to 2^40 nodes.
    let mut expr = "x = 1".to_string();
    for _ in 0..40 {
        expr = format!("({expr}) IN (true, false)");
    }
    let err = Cohort::from_json_str(&definition("x", &expr))
        .err()
        .ok_or("accepted")?;
    assert!(
        matches!(
            err,
            CaasError::LimitExceeded {
                limit: "max_expression_nodes",
                ..
            }
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn an_engine_applies_its_own_limits() -> TestResult {
    let cohort = Cohort::from_json_str(&definition("x", "not not not (x > 0)"))?;
    let options = EngineOptions {
        max_expression_depth: Some(4),
        ..EngineOptions::default()
    };
    let engine = engine_with(&options, 2)?;
    let err = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .err()
        .ok_or("evaluated")?;
    assert_eq!(err.code(), "limit_exceeded");
    let err = engine.register_cohort(cohort).err().ok_or("registered")?;
    assert_eq!(err.code(), "limit_exceeded");
    // The JSON of the options names the limits as the Python keywords and C options do.
    let read: EngineOptions = serde_json::from_str(r#"{"max_codelist_codes": 10}"#)?;
    assert_eq!(read.limits().max_codelist_codes, 10);
    Ok(())
}

fn codelist_definition(file: &str) -> String {
    json!({
        "id": "c",
        "title": "C",
        "purpose": "direct_care",
        "codelists": { "asthma": { "system": "snomed_ct", "file": file } },
        "output": { "columns": [] },
    })
    .to_string()
}

fn read_in(dir: &Path, text: &str, limits: &Limits) -> caas_core::Result<Cohort> {
    Cohort::from_str_with(text, Format::Json, dir, limits)
}

#[test]
fn codelist_files_are_regular_files_within_the_limits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let limits = Limits::default();
    // A device never ends; a named pipe never opens without a writer.
    let err = read_in(dir.path(), &codelist_definition("/dev/zero"), &limits)
        .err()
        .ok_or("read /dev/zero")?;
    assert_eq!(err.code(), "invalid_definition");
    assert!(err.to_string().contains("is not a regular file"), "{err}");
    let fifo = dir.path().join("fifo.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success());
    let err = read_in(dir.path(), &codelist_definition("fifo.csv"), &limits)
        .err()
        .ok_or("read a fifo")?;
    assert!(err.to_string().contains("is not a regular file"), "{err}");

    let codes: String = (0..100).map(|i| format!("{}\n", 100_000 + i)).collect();
    std::fs::write(dir.path().join("list.csv"), format!("code\n{codes}"))?;
    let small = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let err = read_in(dir.path(), &codelist_definition("list.csv"), &small)
        .err()
        .ok_or("read a large file")?;
    assert!(matches!(
        err,
        CaasError::LimitExceeded {
            limit: "max_file_bytes",
            max: 100,
            ..
        }
    ));
    let few = Limits {
        max_codelist_codes: 99,
        ..Limits::default()
    };
    let err = read_in(dir.path(), &codelist_definition("list.csv"), &few)
        .err()
        .ok_or("read many codes")?;
    assert_eq!(
        err.to_string(),
        "codelist `asthma`: larger than the limit `max_codelist_codes` allows (99)"
    );
    assert!(read_in(dir.path(), &codelist_definition("list.csv"), &limits).is_ok());
    Ok(())
}

#[test]
fn codelist_codes_that_match_nothing_are_refused() -> TestResult {
    for (codes, problem) in [
        (json!(["195967001", ""]), "code 2 of `codes` is empty"),
        (json!(["  "]), "code 1 of `codes` is empty"),
        (json!(["1959 67001"]), "code 1 of `codes` holds spaces"),
    ] {
        let text = json!({
            "id": "c", "title": "C", "purpose": "direct_care",
            "codelists": { "asthma": { "system": "snomed_ct", "codes": codes } },
        })
        .to_string();
        let err = Cohort::from_json_str(&text).err().ok_or("accepted")?;
        assert!(err.to_string().contains(problem), "{err}");
    }
    Ok(())
}

#[test]
fn a_codelist_path_to_a_data_extract_quotes_none_of_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("extract.csv"),
        "9434765919,1950-01-01,Smith\n4010232137,1962-07-14,Jones,extra\n",
    )?;
    let err = read_in(
        dir.path(),
        &codelist_definition("extract.csv"),
        &Limits::default(),
    )
    .err()
    .ok_or("read an extract as a codelist")?;
    let message = err.to_string();
    for value in ["9434765919", "1950", "Smith", "4010232137", "Jones"] {
        assert!(!message.contains(value), "{message}");
    }
    assert!(
        message.contains("no column `code` in the header row"),
        "{message}"
    );
    // A download with another code column gets the option that reads it.
    std::fs::write(
        dir.path().join("dmd.csv"),
        "dmd_id,dmd_name\n39113611000001102,X\n",
    )?;
    let err = read_in(
        dir.path(),
        &codelist_definition("dmd.csv"),
        &Limits::default(),
    )
    .err()
    .ok_or("read without code_column")?;
    assert!(
        err.to_string().contains("set `code_column: dmd_id`"),
        "{err}"
    );
    Ok(())
}

#[test]
fn definitions_are_read_within_their_size_limit() -> TestResult {
    let text = definition("x", "x > 0");
    let small = Limits {
        max_definition_bytes: 64,
        ..Limits::default()
    };
    let err = Cohort::from_str_with(&text, Format::Json, Path::new("."), &small)
        .err()
        .ok_or("read a large definition")?;
    assert_eq!(err.code(), "limit_exceeded");
    let err = Cohort::from_path_with("/dev/zero", &Limits::default())
        .err()
        .ok_or("read /dev/zero")?;
    assert!(err.to_string().contains("is not a regular file"), "{err}");
    Ok(())
}

#[test]
fn dates_outside_the_years_1_to_9999_are_refused() -> TestResult {
    let with_default = |date: &str| {
        json!({
            "id": "d", "title": "D", "purpose": "direct_care",
            "parameters": { "index_date": date },
            "variables": { "age": { "kind": "age", "on": "index_date" } },
        })
        .to_string()
    };
    let err = Cohort::from_json_str(&with_default("0000-01-01"))
        .err()
        .ok_or("year 0 accepted")?;
    assert_eq!(err.code(), "type_mismatch");
    assert!(err.to_string().contains("0001 to 9999"), "{err}");
    let literal = definition("x", "DATE '0000-06-30' < DATE '2000-01-01'");
    assert_eq!(
        code_of(Cohort::from_json_str(&literal)),
        "expression_syntax"
    );

    let cohort = Cohort::from_json_str(&with_default("2025-03-31"))?;
    let late = NaiveDate::from_ymd_opt(10_000, 1, 1).ok_or("no such date")?;
    let err = cohort
        .bind(&Parameters::new().with("index_date", late))
        .err()
        .ok_or("year 10000 accepted")?;
    assert_eq!(err.code(), "type_mismatch");
    Ok(())
}

#[test]
fn a_corrupt_parquet_file_is_a_registration_error_naming_it() -> TestResult {
    use arrow::array::StringArray;
    use datafusion::parquet::arrow::ArrowWriter;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("persons.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let ids = Int64Array::from_iter_values(9_434_765_919..9_434_785_919);
    let names = StringArray::from_iter_values((0..20_000).map(|i| format!("ZEBRA-{i}")));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(names)])?;
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    // Every 57th byte changed, the footer's included: its schema no longer parses.
    let mut bytes = std::fs::read(&path)?;
    let end = bytes.len() - 8;
    for i in (40..end).step_by(57) {
        bytes[i] = bytes[i].wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&path, &bytes)?;
    let err = Engine::new()
        .register_file_blocking("persons", &path, TableSpec::person())
        .err()
        .ok_or("registered a corrupt file")?;
    let message = err.to_string();
    assert_eq!(err.code(), "registration", "{message}");
    assert!(
        message.starts_with("table `persons`: cannot read "),
        "{message}"
    );
    assert!(
        message.contains("persons.parquet: Parquet error"),
        "{message}"
    );
    assert!(
        !message.contains("ZEBRA") && !message.contains("94347"),
        "{message}"
    );
    Ok(())
}

#[test]
fn values_that_arithmetic_left_missing_are_counted_and_reported() -> TestResult {
    // Person 2 divides by zero; for people 2 and 3 the rule's sum overflows.
    let text = definition("10 / (x - 2)", "9223372036854775806 + x > 0");
    let cohort = Cohort::from_json_str(&text)?;
    let engine = engine_with(&EngineOptions::default(), 3)?;
    let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    assert_eq!(result.member_count(), 1);
    let quality = &result.data_quality;
    let found: Vec<(Option<&str>, Option<&str>, u64)> = (quality.arithmetic.iter())
        .map(|a| (a.variable.as_deref(), a.rule.as_deref(), a.count))
        .collect();
    assert_eq!(found, [(Some("v"), None, 1), (None, Some("rule"), 2)]);
    assert_eq!(quality.total(FindingKind::ArithmeticError), 3);
    let text = quality.to_string();
    assert!(text.contains("variable `v`: 1 person(s) have a value that arithmetic left missing"));
    assert!(text.contains("rule `rule`: 2 person(s)"));
    let report = result.report(&ReportOptions::default())?;
    assert!(
        report
            .markdown
            .contains("| variable `v` | 1 | left missing |")
    );
    assert!(report.markdown.contains("| rule rule | 2 | left missing |"));
    assert!(
        report
            .html
            .contains("<td>variable <code>v</code></td><td class=\"n\">1</td>")
    );

    let fail = EvaluationOptions::new().with_policy(FindingKind::ArithmeticError, Policy::Fail);
    let err = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &fail)
        .err()
        .ok_or("an arithmetic error under `fail` did not fail")?;
    assert_eq!(err.code(), "data_quality");
    assert_eq!(err.place(), Some(&Place::Variable("v".into())));
    let exclude =
        EvaluationOptions::new().with_policy(FindingKind::ArithmeticError, Policy::Exclude);
    let err = engine
        .evaluate_with_blocking(&cohort, &Parameters::new(), &exclude)
        .err();
    assert_eq!(err.map(|e| e.code()), Some("invalid_option"));
    Ok(())
}

#[test]
fn dates_and_times_beyond_any_calendar_date_name_their_column() -> TestResult {
    // Found by the `stream` fuzz target: Arrow's cast failed with a message that named
    // neither the table nor the column.
    let persons = |birth_ms: i64| -> Result<RecordBatch, Box<dyn Error>> {
        Ok(RecordBatch::try_from_iter([
            ("person_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            (
                "date_of_birth",
                Arc::new(TimestampMillisecondArray::from(vec![birth_ms])),
            ),
        ])?)
    };
    let cohort = Cohort::from_yaml_str(
        "{id: t, title: T, purpose: direct_care, variables: {age: {kind: age, on: \"DATE '2025-01-01'\"}}, output: {columns: [age]}}",
    )?;
    let evaluate = |batch: RecordBatch| -> caas_core::Result<caas_core::Evaluation> {
        let engine = Engine::new();
        engine.register_batches("persons", TableSpec::person(), batch.schema(), vec![batch])?;
        engine.evaluate_blocking(&cohort, &Parameters::new())
    };
    // 1950-01-01T10:00: read as its day.
    let result = evaluate(persons(-631_116_000_000 + 36_000_000)?)?;
    assert_eq!(
        result
            .members
            .column(1)
            .as_primitive::<Int64Type>()
            .value(0),
        75
    );
    let err = evaluate(persons(i64::MAX / 2)?)
        .err()
        .ok_or("a date and time beyond any date was read")?;
    assert_eq!(err.code(), "column_type");
    let message = err.to_string();
    assert!(
        message.starts_with("table `persons`, column `date_of_birth`: expected dates"),
        "{message}"
    );
    Ok(())
}

/// A definition of `n` variables in chains of `chain`: each variable uses the one before
/// it in its chain.
fn chains(n: usize, chain: usize) -> String {
    let mut variables = serde_json::Map::new();
    variables.insert(
        "x".into(),
        json!({ "kind": "person_column", "column": "x" }),
    );
    for i in 0..n {
        let expr = match i % chain {
            0 => format!("x > {i}"),
            _ => format!("v{} or x > {i}", i - 1),
        };
        variables.insert(format!("v{i}"), json!({ "kind": "derived", "expr": expr }));
    }
    json!({
        "id": "chains",
        "title": "Chains",
        "purpose": "direct_care",
        "variables": variables,
        "rules": [{ "include": format!("v{}", n - 1) }],
        "output": { "columns": [] },
    })
    .to_string()
}

#[test]
fn many_variables_and_long_chains_of_them_are_limited() -> TestResult {
    // Every link of a chain is a step of the plan that carries every variable before it:
    // 800 chained variables took a minute to plan (debug build), growing with the cube.
    let limit = |text: &str| match Cohort::from_json_str(text) {
        Err(CaasError::LimitExceeded { place, limit, .. }) => Some((place, limit)),
        _ => None,
    };
    // `x`, then `v0` to `v99`: `v99` is the 101st link.
    assert_eq!(
        limit(&chains(100, 100)),
        Some((Place::Variable("v99".into()), "max_variable_depth"))
    );
    assert_eq!(
        limit(&chains(2_000, 1)),
        Some((Place::Definition, "max_variables"))
    );
    // The longest chain allowed (`x`, `v0` to `v98`) plans and evaluates.
    let cohort = Cohort::from_json_str(&chains(99, 99))?;
    let started = Instant::now();
    let engine = engine_with(&EngineOptions::default(), 3)?;
    assert_eq!(
        engine
            .evaluate_blocking(&cohort, &Parameters::new())?
            .member_count(),
        3
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    let strict = EngineOptions {
        max_variable_depth: Some(10),
        ..EngineOptions::default()
    };
    let err = engine_with(&strict, 3)?
        .evaluate_blocking(&cohort, &Parameters::new())
        .err()
        .map(|e| e.code());
    assert_eq!(err, Some("limit_exceeded"));
    Ok(())
}

/// Found: a same-day tie between two codes went by the codes' order as numbers when a
/// CSV file's codes were read as integers, and as text from Arrow. Codes are identifiers:
/// from CSV they are text now, and integer codes (Parquet, Arrow) break ties as text.
#[test]
fn same_day_ties_go_one_way_however_the_codes_were_read() -> TestResult {
    use arrow::array::{Date32Array, Float64Array, StringArray};
    use arrow::util::display::array_value_to_string;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("gp.csv");
    std::fs::write(
        &csv,
        "person_id,date,code,value\n1,2024-06-01,60621009,35.0\n1,2024-06-01,162863004,32.0\n",
    )?;
    let cohort = Cohort::from_json_str(
        &json!({
            "id": "ties",
            "title": "Ties",
            "purpose": "direct_care",
            "codelists": { "bmi": { "system": "snomed_ct", "codes": ["60621009", "162863004"] } },
            "variables": {
                "last": { "kind": "events", "table": "gp", "codelists": ["bmi"], "returns": "last_value" },
                "last_code": { "kind": "events", "table": "gp", "codelists": ["bmi"], "returns": "last_code" },
                "first": { "kind": "events", "table": "gp", "codelists": ["bmi"], "returns": "first_value" },
                "first_code": { "kind": "events", "table": "gp", "codelists": ["bmi"], "returns": "first_code" },
            },
            "output": { "columns": ["last", "last_code", "first", "first_code"] },
        })
        .to_string(),
    )?;
    let date = Arc::new(Date32Array::from(vec![19_875, 19_875])) as ArrayRef;
    let value = Arc::new(Float64Array::from(vec![35.0, 32.0])) as ArrayRef;
    let integers = Arc::new(Int64Array::from(vec![60_621_009, 162_863_004])) as ArrayRef;
    let texts = Arc::new(StringArray::from(vec!["60621009", "162863004"])) as ArrayRef;
    for source in ["integer codes", "text codes", "csv"] {
        let engine = engine_with(&EngineOptions::default(), 1)?;
        let spec = TableSpec::events(caas_core::CodeSystem::SnomedCt);
        if source == "csv" {
            engine.register_file_blocking("gp", &csv, spec)?;
        } else {
            let codes = if source == "text codes" {
                &texts
            } else {
                &integers
            };
            let batch = RecordBatch::try_from_iter([
                (
                    "person_id",
                    Arc::new(Int64Array::from(vec![1, 1])) as ArrayRef,
                ),
                ("date", date.clone()),
                ("code", codes.clone()),
                ("value", value.clone()),
            ])?;
            engine.register_batches("gp", spec, batch.schema(), vec![batch])?;
        }
        let members = engine
            .evaluate_blocking(&cohort, &Parameters::new())?
            .members;
        let row: Vec<String> = (1..members.num_columns())
            .map(|c| array_value_to_string(members.column(c), 0))
            .collect::<Result<_, _>>()?;
        assert_eq!(row, ["35.0", "60621009", "32.0", "162863004"], "{source}");
    }
    Ok(())
}

/// Found: after Ctrl-C the call returned, but planning went on, keeping a core busy for
/// seconds. Work run under a [`Cancellation`] now stops at its next planning step: the
/// lowering checks between layers of variables, DataFusion between its rules. Planning
/// the largest definition the limits allow (2,000 variables in chains of 99) takes
/// seconds; cancelled a quarter of the way in, it ends in much less than the rest.
#[test]
fn cancelling_stops_the_planning() -> TestResult {
    let cohort = Arc::new(Cohort::from_json_str(&chains(1_999, 99))?);
    let engine = Arc::new(engine_with(&EngineOptions::default(), 3)?);
    let runtime = caas_core::runtime()?;
    let started = Instant::now();
    engine.evaluate_blocking(&cohort, &Parameters::new())?;
    let whole = started.elapsed();

    let cancellation = Cancellation::new();
    let task = runtime.spawn({
        let (cancellation, engine, cohort) = (cancellation.clone(), engine.clone(), cohort);
        async move {
            let parameters = Parameters::new();
            let evaluation = engine.evaluate(&cohort, &parameters);
            cancellation.run(evaluation).await.map(|_| ())
        }
    });
    std::thread::sleep(whole / 4);
    let cancelled = Instant::now();
    cancellation.cancel();
    let result = runtime.block_on(task)?;
    let stopped = cancelled.elapsed();
    assert!(matches!(result, Err(CaasError::Cancelled)), "{result:?}");
    assert_eq!(CaasError::Cancelled.code(), "cancelled");
    assert!(
        stopped < whole / 2,
        "stopped {stopped:?} after the cancellation; the whole evaluation takes {whole:?}"
    );
    // The engine is as it was.
    assert_eq!(
        engine
            .evaluate_blocking(&Cohort::from_json_str(&chains(3, 3))?, &Parameters::new())?
            .member_count(),
        3
    );
    Ok(())
}
