//! Progress: the rows each table has read of the rows expected, reported while an
//! evaluation runs, and cancelling it from the callback. Counting must change nothing of
//! what runs: the same members, and the same filters pushed into the scans.

use std::collections::BTreeMap;

use caas_core::{CaasError, Cohort, Parameters, Reads, with_progress_blocking};
use caas_synth::SynthConfig;

use super::common::{root, synthetic_engine};

fn flu() -> Cohort {
    Cohort::from_path(root().join("examples/flu/flu.yaml")).unwrap()
}

fn population() -> SynthConfig {
    SynthConfig {
        persons: 3_000,
        seed: 3,
        persons_per_file: 1_000,
        threads: 2,
        ..SynthConfig::default()
    }
}

/// An engine over 200 synthetic people, for what does not depend on the rows read.
fn small_engine() -> (caas_core::Engine, tempfile::TempDir) {
    synthetic_engine(&SynthConfig {
        persons: 200,
        ..population()
    })
}

#[test]
fn every_row_of_every_table_read_is_counted_and_the_members_are_the_same() {
    let (engine, _files) = synthetic_engine(&population());
    let flu = flu();
    let mut calls: Vec<(String, u64, Option<u64>)> = Vec::new();
    let parameters = Parameters::new();
    let work = engine.evaluate(&flu, &parameters);
    let watched = with_progress_blocking(work, |table, read, expected| {
        calls.push((table.to_string(), read, expected));
        true
    })
    .unwrap();
    let unwatched = engine.evaluate_blocking(&flu, &Parameters::new()).unwrap();
    assert_eq!(watched.members, unwatched.members);

    let mut last: BTreeMap<&str, (u64, Option<u64>)> = BTreeMap::new();
    for (table, read, expected) in &calls {
        let expected = expected.expect("Parquet files say how many rows they hold");
        assert!(*read <= expected, "{table}: {read} rows read of {expected}");
        if let Some((before, _)) = last.get(table.as_str()) {
            assert!(before <= read, "{table}: {read} rows read after {before}");
        }
        last.insert(table, (*read, Some(expected)));
    }
    let tables: Vec<&str> = last.keys().copied().collect();
    assert_eq!(
        tables,
        [
            "apc",
            "apc_procedures",
            "gp_events",
            "gp_medications",
            "persons",
            "registrations"
        ]
    );
    for (table, (read, expected)) in last {
        let rows = engine.read_table_blocking(table).unwrap().num_rows() as u64;
        // Each read of a table (its data-quality checks, the cohort) expects all its rows.
        assert_eq!(Some(read), expected, "{table} ends read");
        assert!(
            read >= rows && read % rows == 0,
            "{table}: {read} of {rows} rows"
        );
    }
}

#[test]
fn a_callback_that_returns_false_cancels_the_evaluation() {
    let (engine, _files) = small_engine();
    let flu = flu();
    let mut calls = 0;
    let parameters = Parameters::new();
    let work = engine.evaluate(&flu, &parameters);
    let outcome = with_progress_blocking(work, |_, _, _| {
        calls += 1;
        false
    });
    assert!(matches!(outcome, Err(CaasError::Cancelled)), "{outcome:?}");
    assert_eq!(calls, 1, "no call after the one that cancelled");
}

#[test]
fn counting_keeps_the_filters_pushed_into_the_scans() {
    let (engine, _files) = small_engine();
    let flu = flu();
    let runtime = caas_core::runtime().unwrap();
    let plain = engine.plan_blocking(&flu, &Parameters::new()).unwrap();
    let counted = runtime
        .block_on(Reads::new().count(engine.plan(&flu, &Parameters::new())))
        .unwrap();
    let physical = |plan: &str| plan.split("physical plan:").nth(1).unwrap().to_string();
    let (plain, counted) = (physical(&plain), physical(&counted));
    assert!(!plain.contains("CountedScan"));
    assert!(counted.contains("CountedScan: table=gp_events"));
    // The join's dynamic filter and the pushed predicates still reach the Parquet reader.
    let pushed = |plan: &str| {
        plan.lines()
            .filter(|l| l.contains("DataSourceExec") && l.contains("predicate="))
            .count()
    };
    assert!(pushed(&plain) > 0);
    assert_eq!(pushed(&counted), pushed(&plain));
    assert_eq!(
        counted.matches("DynamicFilter").count(),
        plain.matches("DynamicFilter").count()
    );
}
