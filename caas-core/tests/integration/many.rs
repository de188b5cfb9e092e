//! Many cohorts in one pass: `evaluate_many` of the flu cohort and the four programmes of
//! `examples/programmes` reads each table once for all of them, and gives each cohort
//! what it gets alone — members, attrition, data quality, provenance and explanations.

use std::collections::BTreeMap;

use caas_core::{Cohort, Evaluation, EvaluationOptions, Parameters, with_progress_blocking};
use caas_synth::SynthConfig;

use super::common::{root, synthetic_engine};

fn cohorts() -> Vec<Cohort> {
    [
        "flu/flu.yaml",
        "programmes/covid19_autumn.yaml",
        "programmes/shingles.yaml",
        "programmes/rsv_older_adults.yaml",
        "programmes/pneumococcal.yaml",
    ]
    .iter()
    .map(|path| Cohort::from_path(root().join("examples").join(path)).unwrap())
    .collect()
}

fn population() -> SynthConfig {
    SynthConfig {
        persons: 3_000,
        seed: 5,
        persons_per_file: 1_000,
        threads: 2,
        ..SynthConfig::default()
    }
}

/// The rows each table had read when `work` ended.
fn rows_read<T>(
    work: impl Future<Output = caas_core::Result<T>>,
) -> (caas_core::Result<T>, BTreeMap<String, u64>) {
    let mut read = BTreeMap::new();
    let done = with_progress_blocking(work, |table, rows, _| {
        read.insert(table.to_string(), rows);
        true
    });
    (done, read)
}

/// What an evaluation gives apart from its times.
fn outcome(e: &Evaluation) -> impl PartialEq + std::fmt::Debug {
    let mut provenance = e.provenance.clone();
    provenance.started_at.clear();
    provenance.finished_at.clear();
    (
        e.members.clone(),
        e.attrition.clone(),
        e.population,
        e.data_quality.clone(),
        serde_json::to_value(provenance).unwrap(),
    )
}

#[test]
fn cohorts_together_read_each_table_once_and_each_gets_what_it_gets_alone() {
    let (engine, _files) = synthetic_engine(&population());
    let cohorts = cohorts();
    let parameters = Parameters::new();
    let alone: Vec<Evaluation> = cohorts
        .iter()
        .map(|c| engine.evaluate_blocking(c, &parameters).unwrap())
        .collect();
    // The data-quality counts are kept from the runs alone: what is read now is the
    // cohorts' own scans.
    let (flu, flu_read) = rows_read(engine.evaluate(&cohorts[0], &parameters));
    assert_eq!(outcome(&flu.unwrap()), outcome(&alone[0]));
    let runs: Vec<(&Cohort, &Parameters)> = cohorts.iter().map(|c| (c, &parameters)).collect();
    let (together, together_read) = rows_read(engine.evaluate_many(&runs));
    let together = together.unwrap();

    assert_eq!(together.len(), alone.len());
    for ((one, many), cohort) in alone.iter().zip(&together).zip(&cohorts) {
        assert_eq!(outcome(many), outcome(one), "{}", cohort.id());
        assert!(one.member_count() > 0, "{} has no members", cohort.id());
    }
    // Each table once, as much as the flu cohort alone reads: the other four cohorts read
    // only tables the flu cohort reads.
    for (table, rows) in &flu_read {
        let all = engine.read_table_blocking(table).unwrap().num_rows() as u64;
        assert_eq!(*rows, all, "{table}: the flu cohort alone reads it once");
    }
    assert_eq!(together_read, flu_read);

    // Explanations read the tables of each cohort's own run.
    let person = together[1].members.column(0).clone();
    let id = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&person).value(0);
    assert_eq!(
        together[1].explain_blocking(id).unwrap(),
        alone[1].explain_blocking(id).unwrap()
    );
}

#[test]
fn runs_whose_options_differ_are_evaluated_apart_and_alike() {
    let (engine, _files) = synthetic_engine(&SynthConfig {
        persons: 300,
        ..population()
    });
    let cohorts = cohorts();
    let parameters = Parameters::new();
    let late = EvaluationOptions::new()
        .with_reference_date(chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap());
    let plain = EvaluationOptions::new();
    let runs = [
        (&cohorts[0], &parameters, &plain),
        (&cohorts[1], &parameters, &late),
        (&cohorts[2], &parameters, &plain),
    ];
    let together = engine.evaluate_many_with_blocking(&runs).unwrap();
    for ((cohort, parameters, options), many) in runs.iter().zip(&together) {
        let one = engine
            .evaluate_with_blocking(cohort, parameters, options)
            .unwrap();
        assert_eq!(outcome(many), outcome(&one), "{}", cohort.id());
    }
}
