//! The flagship example, `examples/flu/flu.yaml`: person by person on hand-built people
//! (one per group, and people who just miss each group), and its attrition on a small
//! fixed-seed synthetic population (the golden file).
//!
//! Regenerate the golden file with `CAAS_UPDATE_GOLDEN=1 cargo test -p caas-core --test integration flu`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use caas_core::explain::{Datum, EventRow, Outcome, PeriodRow, Verdict};
use caas_core::model::{Aggregation, Purpose, VariableKind};
use caas_core::report::ReportOptions;
use caas_core::{
    CodeSystem, Cohort, ColumnMapping, Engine, Explanation, Parameters, PersonId, TableSpec,
};
use caas_synth::SynthConfig;
use chrono::NaiveDate;

use super::common::root;

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
            Field::new("national_opt_out", DataType::Boolean, false),
            Field::new("type1_opt_out", DataType::Boolean, false),
        ]));
        // Nobody has opted out: the people are here to test the clinical rules.
        let no_opt_out = || Arc::new(BooleanArray::from(vec![false; self.persons.len()]));
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
                no_opt_out(),
                no_opt_out(),
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

/// The hand-built people, one per group and people who just miss each group, with what
/// the test expects of each.
fn hand_built() -> (People, Vec<(i64, &'static str, Expect)>) {
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

    // Two BMIs of the latest date: the largest counts, though by code the other (a
    // baseline BMI, 39.0) is last.
    let baseline: i64 = codes("bmi")[1].parse().unwrap();
    p.person(10, "1995-01-01").bmi(10, "2025-01-01", 40.0);
    p.gp.push((10, day("2025-01-01"), baseline, Some(39.0)));
    case(
        10,
        "latest BMI 40.0, the largest of its date",
        In(&["grp_risk"]),
    );
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

    (p, expected)
}

#[test]
fn hand_built_people_person_by_person() {
    use Expect::*;
    let (p, expected) = hand_built();
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
    let (engine, _files) = super::common::synthetic_engine(&SynthConfig {
        persons: 5_000,
        seed: 7,
        persons_per_file: 2_000,
        threads: 2,
        ..SynthConfig::default()
    });
    let result = engine
        .evaluate_blocking(&flu(), &Parameters::new())
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

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn event(table: &str, day: &str, code: impl ToString, value: Option<f64>) -> EventRow {
    EventRow {
        table: table.to_string(),
        date: date(day),
        code: code.to_string(),
        value,
    }
}

/// The rule that removes each hand-built person who is not a member.
fn removed_by(id: i64) -> Option<&'static str> {
    Some(match id {
        29 => "alive",
        30 => "registered",
        32 => "under 6 months",
        16 | 25 => "2-4 not eligible",
        4 | 6 | 11 | 13 => "18-49 not eligible",
        2 | 8 | 18 | 23 => "50-64 not eligible",
        26 => "vaccinated",
        28 => "declined",
        _ => return None,
    })
}

#[test]
fn explanations_name_the_deciding_rule_and_the_rows_behind_each_value() {
    let (p, expected) = hand_built();
    let engine = p.engine();
    let cohort = flu();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let members: HashSet<i64> = result
        .members
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .copied()
        .collect();
    // Each person's own events, to check that an explanation shows no one else's.
    let mut own: BTreeMap<i64, Vec<EventRow>> = BTreeMap::new();
    for (id, day, code, value) in &p.gp {
        own.entry(*id).or_default().push(EventRow {
            table: "gp_events".into(),
            date: NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap(),
            code: code.to_string(),
            value: *value,
        });
    }
    for (id, day, code) in &p.meds {
        own.entry(*id).or_default().push(EventRow {
            table: "gp_medications".into(),
            date: NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap(),
            code: code.to_string(),
            value: None,
        });
    }

    for (id, why, expect) in &expected {
        let why = format!("person {id} ({why})");
        let explanation = result.explain_blocking(*id).unwrap();
        assert_eq!(explanation.person_id, PersonId::Int(*id));

        // The verdict: in, or the rule expected to remove them, every rule before it passed.
        match removed_by(*id) {
            None => {
                assert_eq!(explanation.verdict, Verdict::In, "{why}");
                assert!(members.contains(id), "{why}");
                assert!(explanation.rules.iter().all(|r| r.passed), "{why}");
            }
            Some(rule) => {
                assert!(!members.contains(id), "{why}");
                let Verdict::Out { step, rule: got } = &explanation.verdict else {
                    panic!("{why}: {:?}", explanation.verdict);
                };
                assert_eq!(got, rule, "{why}");
                let decisive = &explanation.rules[step - 1];
                assert_eq!(decisive.name, *rule);
                assert!(!decisive.passed, "{why}");
                let expected_outcome = if decisive.action == "exclude" {
                    Outcome::True
                } else {
                    Outcome::False
                };
                assert_eq!(decisive.outcome, expected_outcome, "{why}");
                assert!(
                    explanation.rules[..step - 1].iter().all(|r| r.passed),
                    "{why}"
                );
                let text = explanation.to_string();
                assert!(
                    text.contains(&format!("removed at step {step} by rule `{rule}`")),
                    "{why}:\n{text}"
                );
            }
        }
        // The variable the person-by-person test names as deciding has the value that
        // decides, as the explanation shows it.
        if let Expect::Out(decider) = expect {
            let value = &explanation.variable(decider).unwrap().value;
            let decides = match *decider {
                "fluvax_season" | "fludecl_season" => *value == Datum::Bool(true),
                _ => *value != Datum::Bool(true),
            };
            assert!(decides, "{why}: `{decider}` = {value}");
        }

        // Every event variable: the rows behind its value are the person's own, match its
        // codelists, and agree with the value.
        for var in &explanation.variables {
            let Some(VariableKind::Events(ev)) = cohort.variable(&var.name).map(|v| &v.kind) else {
                continue;
            };
            let place = format!("{why}, `{}`", var.name);
            let selected = var.selected.unwrap() as usize;
            for row in &var.events {
                assert_eq!(row.table, ev.table, "{place}");
                let in_lists = ev
                    .codelists
                    .iter()
                    .any(|l| cohort.codelists()[l].matches(&row.code));
                assert!(in_lists, "{place}: {row:?}");
                if row.table != "apc" {
                    assert!(own[id].contains(row), "{place}: {row:?} is not theirs");
                }
            }
            match ev.returns {
                Aggregation::Exists => {
                    assert_eq!(var.value, Datum::Bool(selected > 0), "{place}");
                    assert_eq!(var.events.len(), selected.min(1), "{place}");
                }
                Aggregation::LastDate => match &var.value {
                    Datum::Date(d) => {
                        assert_eq!(var.events.len(), 1, "{place}");
                        assert_eq!(var.events[0].date, *d, "{place}");
                    }
                    other => {
                        assert_eq!(*other, Datum::Null, "{place}");
                        assert_eq!(selected, 0, "{place}");
                    }
                },
                Aggregation::LastValue => match &var.value {
                    Datum::Float(x) => assert_eq!(var.events[0].value, Some(*x), "{place}"),
                    other => assert_eq!(*other, Datum::Null, "{place}"),
                },
                other => panic!("{place}: the flu example has no {other:?} variable"),
            }
        }
    }

    // Exact explanations of some people.
    let explain = |id: i64| result.explain_blocking(id).unwrap();
    let var = |e: &Explanation, name: &str| e.variable(name).unwrap().clone();

    let e = explain(3);
    let ast = var(&e, "ast_dat");
    assert_eq!(ast.value, Datum::Date(date("2015-05-05")));
    assert_eq!(
        ast.sentence,
        "the date of the latest Asthma diagnosis code (`ast`) in `gp_events` on or before 31 January 2026"
    );
    assert_eq!(
        ast.events,
        [event("gp_events", "2015-05-05", code("ast"), None)]
    );
    let astrx = var(&e, "astrx_12m");
    assert_eq!((astrx.value, astrx.selected), (Datum::Bool(true), Some(1)));
    assert_eq!(
        astrx.events,
        [event("gp_medications", "2025-01-31", code("astrx"), None)]
    );
    assert_eq!(var(&e, "asthma").value, Datum::Bool(true));

    let e = explain(4);
    assert_eq!(
        e.verdict,
        Verdict::Out {
            step: 11,
            rule: "18-49 not eligible".into()
        }
    );
    let astrx = var(&e, "astrx_12m");
    assert_eq!((astrx.value, astrx.selected), (Datum::Bool(false), Some(0)));
    assert!(astrx.events.is_empty());
    assert_eq!(
        var(&e, "ast_dat").events,
        [event("gp_events", "2015-05-05", code("ast"), None)]
    );
    let rule = e.rule("18-49 not eligible").unwrap();
    assert_eq!(rule.condition, "(age BETWEEN 18 AND 49) and (not eligible)");
    assert_eq!(
        rule.sentence,
        "remove people for whom `age` is between 18 and 49 and not `eligible`"
    );
    assert_eq!((rule.outcome, rule.passed), (Outcome::True, false));

    // A hospital row with two diagnoses: the one that matched, by ICD-10 prefix.
    let astadm = var(&explain(5), "astadm");
    assert_eq!(astadm.events, [event("apc", "2010-06-01", "J459", None)]);

    let e = explain(6);
    assert_eq!(
        var(&e, "diab_dat").events,
        [event("gp_events", "2020-01-01", code("diab"), None)]
    );
    assert_eq!(
        var(&e, "dmres_dat").events,
        [event("gp_events", "2021-01-01", code("dmres"), None)]
    );
    let diabetes = var(&e, "diabetes");
    assert_eq!(diabetes.value, Datum::Bool(false));
    assert_eq!(
        diabetes.sentence,
        "true when `addis` or (the person has a Diabetes code (`diab_dat`) in `gp_events` on or \
         before 31 January 2026 and no later Diabetes resolved code (`dmres_dat`))"
    );

    // The latest of two BMIs, by date.
    let e = explain(10);
    let bmi = var(&e, "bmi_val");
    assert_eq!((bmi.value, bmi.selected), (Datum::Float(40.0), Some(2)));
    assert_eq!(
        bmi.events,
        [event("gp_events", "2025-01-01", code("bmi"), Some(40.0))]
    );
    assert_eq!(var(&explain(11), "bmi_val").value, Datum::Float(39.9));

    let e = explain(26);
    assert_eq!(
        e.verdict,
        Verdict::Out {
            step: 14,
            rule: "vaccinated".into()
        }
    );
    assert_eq!(
        var(&e, "fluvax_season").events,
        [event("gp_events", "2025-10-01", code("fluvax"), None)]
    );

    let e = explain(29);
    assert_eq!(e.rules[0].outcome, Outcome::False);
    assert_eq!(var(&e, "alive").value, Datum::Bool(false));

    let registered = var(&explain(30), "registered");
    assert_eq!(
        (registered.value, registered.selected),
        (Datum::Bool(false), Some(0))
    );
    let e = explain(31);
    let period = PeriodRow {
        table: "registrations".into(),
        start_date: Some(date("2000-01-01")),
        end_date: Some(date("2026-01-31")),
        practice: Some("A81001".into()),
    };
    assert_eq!(var(&e, "registered").periods, std::slice::from_ref(&period));
    let practice = var(&e, "practice");
    assert_eq!(practice.value, Datum::Text("A81001".into()));
    assert_eq!(practice.periods, [period]);

    // JSON, with dates as text.
    let json: serde_json::Value = serde_json::from_str(&explain(10).to_json().unwrap()).unwrap();
    assert_eq!(json["verdict"]["verdict"], "in");
    let bmi = json["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "bmi_val")
        .unwrap();
    assert_eq!(bmi["value"], 40.0);
    assert_eq!(bmi["events"][0]["date"], "2025-01-01");
    assert_eq!(bmi["events"][0]["code"], code("bmi").to_string());

    // Someone not in the person table: a typed error that does not print the id.
    for unknown in [PersonId::Int(987_654), PersonId::Text("987654".into())] {
        let err = result.explain_blocking(unknown).unwrap_err();
        assert_eq!(err.code(), "unknown_person");
        assert!(!err.to_string().contains("987654"), "{err}");
    }
    let err = result.explain_blocking("not a number").unwrap_err();
    assert_eq!(err.code(), "unknown_person");
}

#[test]
fn the_audit_table_agrees_with_each_explanation() {
    let (p, expected) = hand_built();
    let engine = p.engine();
    let result = engine
        .evaluate_blocking(&flu(), &Parameters::new())
        .unwrap();
    let audit = result.audit_blocking().unwrap();
    assert_eq!(audit.num_rows(), expected.len());
    let schema = audit.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names.first(), Some(&"person_id"));
    assert_eq!(names[names.len() - 2..], ["member", "removed_by"]);
    assert_eq!(names.len(), 1 + flu().rules().len() + 2);

    let ids = audit.column(0).as_primitive::<Int64Type>();
    let member = audit.column_by_name("member").unwrap().as_boolean();
    let removed_by_column = audit
        .column_by_name("removed_by")
        .unwrap()
        .as_string::<i32>();
    assert!(ids.values().windows(2).all(|w| w[0] < w[1]));
    for row in 0..audit.num_rows() {
        let id = ids.value(row);
        // Two routes to the same answer: the whole plan here, a filtered plan there.
        let explanation = result.explain_blocking(id).unwrap();
        assert_eq!(
            member.value(row),
            explanation.verdict == Verdict::In,
            "{id}"
        );
        assert_eq!(
            removed_by_column
                .is_valid(row)
                .then(|| removed_by_column.value(row)),
            removed_by(id),
            "{id}"
        );
        for rule in &explanation.rules {
            let column = audit.column_by_name(&rule.name).unwrap().as_boolean();
            let value = column.is_valid(row).then(|| column.value(row));
            assert_eq!(
                Outcome::from(value),
                rule.outcome,
                "{id}, rule `{}`",
                rule.name
            );
        }
    }
}

#[test]
fn the_report_reads_as_the_clinical_specification() {
    let (mut p, _) = hand_built();
    // A data-quality finding for the report: events of a person not in the person table.
    p.gp(999, "2025-01-01", 195967001);
    let engine = p.engine();
    let cohort = flu();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let report = result.report(&ReportOptions::default()).unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("caas-report");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("flu.md"), &report.markdown).unwrap();
    std::fs::write(out.join("flu.html"), &report.html).unwrap();
    std::fs::write(out.join("flu-funnel.svg"), &report.funnel_svg).unwrap();

    let md = &report.markdown;
    for sentence in [
        "# Seasonal influenza vaccination 2025/26 — eligible, not yet vaccinated",
        "| Purpose | direct care |",
        "| People in the person table | 33 |",
        "| People in the cohort | 18 |",
        "- `index_date`: 31 January 2026",
        "- `age`: age in whole years on 31 March 2026.",
        "- `alive`: alive on 31 January 2026: no date of death on or before that day (birth is not considered).",
        "- `age_months`: age in whole months on 31 January 2026.",
        "- `aged_6_months`: true when `age_months` is at least 6.",
        "- `astrx_12m`: has an Asthma inhaled or systemic steroids code (`astrx`) in `gp_medications` between 31 January 2025 and 31 January 2026.",
        "- `asthma`: true when `astadm` or (`ast_dat` is not missing and `astrx_12m`).",
        "- `diabetes`: true when `addis` or (the person has a Diabetes code (`diab_dat`) in `gp_events` on or before 31 January 2026 and no later Diabetes resolved code (`dmres_dat`)).",
        "- `bmi_val`: the value of the latest Body mass index code (`bmi`) in `gp_events` on or before 31 January 2026 with a value between 10 and 100 (of several on that date, the one with the largest value).",
        "- `ckd`: true when `ckd_dx` or the latest CKD stage 3-5 code (`ckd35_dat`) is on or after the latest CKD stage 1-5 code (`ckd15_dat`).",
        "- `carer`: true when the person has a Carer code (`carer_dat`) in `gp_events` on or before 31 January 2026 and no No longer a carer code (`notcarer_dat`) on or after it.",
        "- `preg_pre_dat`: the date of the latest Pregnancy code (`preg`) in `gp_events` between 1 December 2024 and 31 August 2025.",
        "- `grp_child_2_3`: true when `child_age` is between 2 and 3.",
        "- `grp_pregnant`: the same as `pregnant`.",
        "1. **alive** (include): keep only people for whom `alive` is true. *Alive on the index date*",
        "3. **no date of birth** (exclude): remove people for whom `dob` is missing.",
        "6. **under 6 months** (exclude): remove people for whom `aged_6_months` is false.",
        "12. **50-64 not eligible** (exclude): remove people for whom `age` is between 50 and 64 and not `eligible`.",
        "| `astadm` | Asthma emergency admission | ICD-10 | 2 | `",
        "| 12 | 50-64 not eligible | exclude | 24 | 20 | 4 |",
        "| 15 | declined | exclude | 19 | 18 | 1 |",
        "| `gp_events` | `person_id` | a person id that is not in the person table | 1 | kept |",
        "| `gp_events` | events (SNOMED CT) | 32 | `person_id` Int64, `date` Date32, `code` Int64, `value` Float64 |",
    ] {
        assert!(
            md.contains(sentence),
            "missing from the Markdown: {sentence}\n\n{md}"
        );
    }
    assert!(md.contains(&format!(
        "| Definition SHA-256 | `{}` |",
        result.provenance.definition_sha256
    )));
    let ast = &result.provenance.codelists[0];
    assert!(md.contains(&format!(
        "| `ast` | Asthma diagnosis | SNOMED CT | {} | `{}` |",
        ast.size, ast.sha256
    )));

    // The HTML page holds the same text (escaped), the funnel inline, nothing from outside.
    let html = &report.html;
    for sentence in [
        "<code>asthma</code>: true when <code>astadm</code> or (<code>ast_dat</code> is not missing and <code>astrx_12m</code>).",
        "<strong>alive</strong> (include): keep only people for whom <code>alive</code> is true.",
        "Asthma emergency admission",
        "<svg class=\"funnel\"",
        "<title id=\"funnel-title\">",
    ] {
        assert!(html.contains(sentence), "missing from the HTML: {sentence}");
    }
    let lower = html.to_lowercase();
    for outside in [
        "http:", "https:", "src=", "href=", "<script", "<link", "url(", "@import", "<iframe",
        "<img",
    ] {
        assert!(
            !lower.contains(outside),
            "the HTML refers outside itself: {outside}"
        );
    }
    // The funnel, and the chart of the members' age bands (the person table has no sex
    // and no region).
    assert_eq!(lower.matches("<svg").count(), 2);
    assert!(html.contains("<title id=\"bars-age-title\">Age on 31 January 2026: members by band"));
    assert!(
        report
            .funnel_svg
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert_eq!(report.funnel_svg.matches("<rect").count(), 1 + 2 * 16);

    // For research, the same report puts counts under disclosure control.
    let mut definition = cohort.definition().clone();
    definition.purpose = Purpose::Research;
    let research = Cohort::from_definition_in(definition, &root().join("examples/flu")).unwrap();
    let result = engine
        .evaluate_blocking(&research, &Parameters::new())
        .unwrap();
    let report = result.report(&ReportOptions::default()).unwrap();
    std::fs::write(out.join("flu-research.html"), &report.html).unwrap();
    let md = &report.markdown;
    for sentence in [
        "| Purpose | research |",
        "| People in the person table | 35 |",
        "| People in the cohort | 20 |",
        "counts from 1\n> to 7 are shown as `*`",
        "| 1 | national data opt-out or type 1 opt-out | exclude | 35 | 35 | 0 |",
        "| 2 | alive | include | 35 | 30 | \\* |",
        "| 4 | no date of birth | exclude | 30 | 30 | 0 |",
        "| 13 | 50-64 not eligible | exclude | 25 | 20 | \\* |",
        "| `gp_events` | `person_id` | a person id that is not in the person table | \\* | kept |",
        "| `gp_events` | events (SNOMED CT) | 30 |",
        "| `apc` | events (ICD-10) | \\* |",
    ] {
        assert!(
            md.contains(sentence),
            "missing from the Markdown: {sentence}\n\n{md}"
        );
    }
    // The funnel is drawn from the controlled counts: 35 and 30 people, not 33 and 32.
    assert!(report.funnel_svg.contains(">35</text>"));
    assert!(report.funnel_svg.contains(">30 (−*)</text>"));
    for exact in [">33</text>", ">32 (", ">33</td>", ">18</td>"] {
        assert!(
            !report.funnel_svg.contains(exact) && !report.html.contains(exact),
            "{exact}"
        );
    }
    assert!(
        report
            .html
            .contains("<th>People in the person table</th><td class=\"n\">35</td>")
    );
}
