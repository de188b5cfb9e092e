//! The flagship example, `examples/flu/flu.yaml`: person by person on hand-built people
//! (one per group, and people who just miss each group), and its attrition on a small
//! fixed-seed synthetic population (the golden file).
//!
//! Regenerate the golden file with `CAAS_UPDATE_GOLDEN=1 cargo test -p caas-core --test flu`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use caas_core::synth::{self, SynthConfig};
use caas_core::{CodeSystem, Cohort, ColumnMapping, Engine, Parameters, TableSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn flu() -> Cohort {
    Cohort::from_path(root().join("examples/flu/flu.yaml")).unwrap()
}

/// The codes of a flu codelist file, as written.
fn codes(list: &str) -> Vec<String> {
    let path = root().join(format!("examples/flu/codelists/{list}.csv"));
    let mut reader = csv::Reader::from_path(&path).unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[0].trim().to_string())
        .collect()
}

/// A code of `list` that is not in `other`.
fn code_only_in(list: &str, other: &str) -> i64 {
    let exclude: HashSet<String> = codes(other).into_iter().collect();
    codes(list)
        .into_iter()
        .find(|c| !exclude.contains(c))
        .unwrap()
        .parse()
        .unwrap()
}

fn code(list: &str) -> i64 {
    codes(list)[0].parse().unwrap()
}

fn day(text: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// Hand-built people and their records.
#[derive(Default)]
struct People {
    persons: Vec<(i64, i32, Option<i32>)>,
    registrations: Vec<(i64, i32, Option<i32>)>,
    gp: Vec<(i64, i32, i64, Option<f64>)>,
    meds: Vec<(i64, i32, i64)>,
    apc: Vec<(i64, i32, String)>,
}

impl People {
    /// A person born on `dob`, registered since 2000 and alive.
    fn person(&mut self, id: i64, dob: &str) -> &mut Self {
        self.persons.push((id, day(dob), None));
        self.registrations
            .push((id, day("2000-01-01").max(day(dob)), None));
        self
    }

    fn gp(&mut self, id: i64, date: &str, code: i64) -> &mut Self {
        self.gp.push((id, day(date), code, None));
        self
    }

    fn bmi(&mut self, id: i64, date: &str, value: f64) -> &mut Self {
        self.gp.push((id, day(date), code("bmi"), Some(value)));
        self
    }

    fn med(&mut self, id: i64, date: &str, code: i64) -> &mut Self {
        self.meds.push((id, day(date), code));
        self
    }

    fn engine(&self) -> Engine {
        let engine = Engine::new();
        let date = |n: &str, null: bool| Field::new(n, DataType::Date32, null);
        let id = || Field::new("person_id", DataType::Int64, false);

        let schema = Arc::new(Schema::new(vec![
            id(),
            date("date_of_birth", false),
            date("date_of_death", true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(
                    self.persons.iter().map(|p| p.0),
                )),
                Arc::new(Date32Array::from_iter_values(
                    self.persons.iter().map(|p| p.1),
                )),
                Arc::new(Date32Array::from_iter(self.persons.iter().map(|p| p.2))),
            ],
        )
        .unwrap();
        engine
            .register_batches("persons", TableSpec::person(), schema, vec![batch])
            .unwrap();

        let schema = Arc::new(Schema::new(vec![
            id(),
            date("start_date", false),
            date("end_date", true),
            Field::new("practice", DataType::Utf8, false),
        ]));
        let r = &self.registrations;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(r.iter().map(|p| p.0))),
                Arc::new(Date32Array::from_iter_values(r.iter().map(|p| p.1))),
                Arc::new(Date32Array::from_iter(r.iter().map(|p| p.2))),
                Arc::new(StringArray::from_iter_values(r.iter().map(|_| "A81001"))),
            ],
        )
        .unwrap();
        engine
            .register_batches("registrations", TableSpec::periods(), schema, vec![batch])
            .unwrap();

        let events = |rows: Vec<(i64, i32, i64, Option<f64>)>| {
            let schema = Arc::new(Schema::new(vec![
                id(),
                date("date", false),
                Field::new("code", DataType::Int64, false),
                Field::new("value", DataType::Float64, true),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|e| e.0))),
                    Arc::new(Date32Array::from_iter_values(rows.iter().map(|e| e.1))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|e| e.2))),
                    Arc::new(Float64Array::from_iter(rows.iter().map(|e| e.3))),
                ],
            )
            .unwrap();
            (schema, batch)
        };
        let (schema, batch) = events(self.gp.clone());
        engine
            .register_batches(
                "gp_events",
                TableSpec::events(CodeSystem::SnomedCt),
                schema,
                vec![batch],
            )
            .unwrap();
        let (schema, batch) = events(self.meds.iter().map(|m| (m.0, m.1, m.2, None)).collect());
        engine
            .register_batches(
                "gp_medications",
                TableSpec::events(CodeSystem::Dmd),
                schema,
                vec![batch],
            )
            .unwrap();

        let schema = Arc::new(Schema::new(vec![
            id(),
            date("admidate", false),
            Field::new("DIAG_4_01", DataType::Utf8, true),
            Field::new("DIAG_4_02", DataType::Utf8, true),
            Field::new("OPERTN_4_01", DataType::Utf8, true),
        ]));
        let a = &self.apc;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(a.iter().map(|e| e.0))),
                Arc::new(Date32Array::from_iter_values(a.iter().map(|e| e.1))),
                Arc::new(StringArray::from_iter_values(a.iter().map(|_| "I10X"))),
                Arc::new(StringArray::from_iter_values(
                    a.iter().map(|e| e.2.as_str()),
                )),
                Arc::new(StringArray::from_iter(a.iter().map(|_| None::<&str>))),
            ],
        )
        .unwrap();
        let hospital = |codes: &[&str], system| {
            TableSpec::events(system).with_mapping(ColumnMapping {
                date: Some("admidate".into()),
                codes: Some(codes.iter().map(|c| c.to_string()).collect()),
                ..ColumnMapping::default()
            })
        };
        engine
            .register_batches(
                "apc",
                hospital(&["DIAG_4_01", "DIAG_4_02"], CodeSystem::Icd10),
                schema.clone(),
                vec![batch.clone()],
            )
            .unwrap();
        engine
            .register_batches(
                "apc_procedures",
                hospital(&["OPERTN_4_01"], CodeSystem::Opcs4),
                schema,
                vec![batch],
            )
            .unwrap();
        engine
    }
}

/// What the test expects of a person: in the cohort with these groups, or out with the
/// variable that decides it.
enum Expect {
    In(&'static [&'static str]),
    Out(&'static str),
}

#[test]
fn hand_built_people_person_by_person() {
    use Expect::*;
    let mut p = People::default();
    let mut expected: Vec<(i64, &str, Expect)> = Vec::new();
    let mut case = |id: i64, why: &'static str, expect: Expect| expected.push((id, why, expect));

    p.person(1, "1961-03-31");
    case(1, "65 on 31 March 2026", In(&["grp_65_plus"]));
    p.person(2, "1961-04-01");
    case(2, "64 on 31 March 2026", Out("eligible"));

    p.person(3, "1990-01-01")
        .gp(3, "2015-05-05", code("ast"))
        .med(3, "2025-01-31", code("astrx"));
    case(
        3,
        "asthma, steroids on the first day of the 12 months",
        In(&["grp_risk"]),
    );
    p.person(4, "1990-01-01")
        .gp(4, "2015-05-05", code("ast"))
        .med(4, "2025-01-30", code("astrx"));
    case(
        4,
        "asthma, steroids the day before the 12 months",
        Out("asthma"),
    );
    p.person(5, "1990-01-01");
    p.apc.push((5, day("2010-06-01"), "J459".into()));
    case(
        5,
        "an asthma admission in hospital, long ago",
        In(&["grp_risk"]),
    );

    p.person(6, "1980-01-01")
        .gp(6, "2020-01-01", code("diab"))
        .gp(6, "2021-01-01", code("dmres"));
    case(6, "diabetes resolved on a later date", Out("diabetes"));
    p.person(7, "1980-01-01")
        .gp(7, "2022-01-01", code("diab"))
        .gp(7, "2021-01-01", code("dmres"));
    case(7, "diabetes after its resolution", In(&["grp_risk"]));

    p.person(8, "1970-01-01")
        .gp(8, "2023-01-01", code("ckd35"))
        .gp(8, "2024-01-01", code_only_in("ckd15", "ckd35"));
    case(8, "latest CKD stage code is stage 1-2", Out("ckd"));
    p.person(9, "1970-01-01")
        .gp(9, "2023-01-01", code_only_in("ckd15", "ckd35"))
        .gp(9, "2025-01-01", code("ckd35"));
    case(9, "latest CKD stage code is stage 3-5", In(&["grp_risk"]));

    p.person(10, "1995-01-01")
        .bmi(10, "2020-01-01", 35.0)
        .bmi(10, "2025-01-01", 40.0);
    case(10, "latest BMI 40.0", In(&["grp_risk"]));
    p.person(11, "1995-01-01")
        .bmi(11, "2020-01-01", 41.0)
        .bmi(11, "2025-01-01", 39.9);
    case(11, "latest BMI 39.9", Out("severe_obesity"));

    p.person(12, "1995-01-01")
        .gp(12, "2025-10-01", code("preg"));
    case(12, "pregnancy code this season", In(&["grp_pregnant"]));
    p.person(13, "1995-01-01")
        .gp(13, "2025-03-01", code("preg"))
        .gp(13, "2025-07-01", code_only_in("pregdel", "preg"));
    case(
        13,
        "pregnancy before the season, then a delivery",
        Out("pregnant"),
    );
    p.person(14, "1995-01-01")
        .gp(14, "2025-03-01", code("preg"));
    case(
        14,
        "pregnancy in the nine months before the season, no delivery",
        In(&["grp_pregnant"]),
    );

    p.person(15, "1985-01-01")
        .gp(15, "2020-01-01", code("carer"));
    case(15, "carer", In(&["grp_carer"]));
    p.person(16, "2021-06-01")
        .gp(16, "2025-01-01", code("carer"));
    case(16, "a carer, but aged 4", Out("grp_carer"));

    p.person(17, "1975-01-01")
        .gp(17, "2024-01-01", code("longres"));
    case(
        17,
        "latest residence is long-stay care",
        In(&["grp_care_home"]),
    );
    p.person(18, "1975-01-01")
        .gp(18, "2023-01-01", code("longres"))
        .gp(18, "2024-01-01", code_only_in("reside", "longres"));
    case(18, "moved out of the care home", Out("care_home"));

    p.person(19, "1996-01-01")
        .gp(19, "2019-01-01", code("hcworker"));
    case(19, "health or social care worker", In(&["grp_hcw"]));
    p.person(20, "1996-01-01")
        .gp(20, "2019-01-01", code("hhld_imdef"));
    case(
        20,
        "household contact of an immunosuppressed person",
        In(&["grp_household"]),
    );
    p.person(21, "1996-01-01")
        .gp(21, "2019-01-01", code("learndis"));
    case(21, "learning disability", In(&["grp_risk"]));

    p.person(22, "1970-06-01")
        .med(22, "2025-07-31", code("immrx"));
    case(
        22,
        "immunosuppressant on the first day of the 6 months",
        In(&["grp_risk"]),
    );
    p.person(23, "1970-06-01")
        .med(23, "2025-07-30", code("immrx"));
    case(
        23,
        "immunosuppressant the day before the 6 months",
        Out("immuno"),
    );

    p.person(24, "2022-08-31");
    case(24, "3 on 31 August 2025", In(&["grp_child_2_3"]));
    p.person(25, "2021-08-31");
    case(25, "4 on 31 August 2025", Out("eligible"));

    p.person(26, "1950-01-01")
        .gp(26, "2025-10-01", code("fluvax"));
    case(26, "65+ but vaccinated this season", Out("fluvax_season"));
    p.person(27, "1950-01-01")
        .gp(27, "2025-08-31", code("fluvax"));
    case(
        27,
        "65+ vaccinated the day before the season",
        In(&["grp_65_plus"]),
    );
    p.person(28, "1950-01-01")
        .gp(28, "2025-11-01", code("fludecl"));
    case(28, "65+ but declined this season", Out("fludecl_season"));

    p.person(29, "1950-01-01");
    p.persons.last_mut().unwrap().2 = Some(day("2026-01-15"));
    case(29, "65+ but died before the index date", Out("alive"));
    p.person(30, "1950-01-01");
    p.registrations.last_mut().unwrap().2 = Some(day("2026-01-30"));
    case(
        30,
        "65+ but left the practice the day before the index date",
        Out("registered"),
    );
    p.person(31, "1950-01-01");
    p.registrations.last_mut().unwrap().2 = Some(day("2026-01-31"));
    case(
        31,
        "65+, registration ends on the index date",
        In(&["grp_65_plus"]),
    );

    p.person(32, "2025-08-01").gp(32, "2025-12-01", code("ast"));
    case(
        32,
        "born 1 August 2025: under 6 months on the index date",
        Out("aged_6_months"),
    );
    p.person(33, "2025-07-31")
        .gp(33, "2025-12-01", code("hhld_imdef"));
    case(
        33,
        "6 months on the index date, household contact",
        In(&["grp_household"]),
    );

    let engine = p.engine();
    let cohort = flu();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let values = engine
        .variables_blocking(&cohort, &Parameters::new())
        .unwrap();

    let members = &result.members;
    let ids = members.column(0).as_primitive::<Int64Type>();
    let row_of: BTreeMap<i64, usize> = ids
        .values()
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let groups = [
        "grp_65_plus",
        "grp_child_2_3",
        "grp_risk",
        "grp_pregnant",
        "grp_care_home",
        "grp_carer",
        "grp_hcw",
        "grp_household",
    ];
    let flag = |batch: &RecordBatch, row: usize, name: &str| -> Option<bool> {
        let col = batch
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        (!col.is_null(row)).then(|| col.value(row))
    };
    let all_ids = values.column(0).as_primitive::<Int64Type>();
    let value_row: BTreeMap<i64, usize> = all_ids
        .values()
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();

    let mut failures = Vec::new();
    for (id, why, expect) in &expected {
        match expect {
            In(want) => match row_of.get(id) {
                None => failures.push(format!("person {id} ({why}) should be a member")),
                Some(&row) => {
                    let got: Vec<&str> = groups
                        .iter()
                        .copied()
                        .filter(|g| flag(members, row, g) == Some(true))
                        .collect();
                    if got != *want {
                        failures.push(format!(
                            "person {id} ({why}): groups {got:?}, expected {want:?}"
                        ));
                    }
                }
            },
            Out(decider) => {
                if row_of.contains_key(id) {
                    failures.push(format!("person {id} ({why}) should not be a member"));
                }
                let row = value_row[id];
                let decides = match *decider {
                    "fluvax_season" | "fludecl_season" => flag(&values, row, decider) == Some(true),
                    _ => flag(&values, row, decider) != Some(true),
                };
                if !decides {
                    failures.push(format!(
                        "person {id} ({why}): `{decider}` does not explain the exclusion"
                    ));
                }
            }
        }
    }
    assert_eq!(result.population, expected.len() as u64);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// (rule, before, after, removed) of an attrition table, as CSV text.
fn attrition_csv(attrition: &RecordBatch) -> String {
    let mut out = String::from("rule,before,after,removed\n");
    let rule = attrition.column_by_name("rule").unwrap().as_string::<i32>();
    let count = |n: &str, i: usize| {
        attrition
            .column_by_name(n)
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(i)
    };
    for i in 0..attrition.num_rows() {
        out.push_str(&format!(
            "{},{},{},{}\n",
            rule.value(i),
            count("before", i),
            count("after", i),
            count("removed", i)
        ));
    }
    out
}

#[test]
fn golden_attrition_on_a_fixed_seed_population() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 5_000,
        seed: 7,
        persons_per_file: 2_000,
        threads: 2,
        ..SynthConfig::default()
    };
    synth::generate(&config, &root().join("examples/flu/codelists"), dir.path()).unwrap();
    let engine = Engine::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(synth::register(&engine, dir.path()))
        .unwrap();
    let result = runtime
        .block_on(engine.evaluate(&flu(), &Parameters::new()))
        .unwrap();
    let actual = format!(
        "members,{}\n{}",
        result.member_count(),
        attrition_csv(&result.attrition)
    );

    let golden = root().join("examples/flu/golden/attrition-5000-seed7.csv");
    if std::env::var_os("CAAS_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(actual, expected, "golden file {} differs", golden.display());
}
