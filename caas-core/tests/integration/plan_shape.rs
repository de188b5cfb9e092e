//! The evaluation design, pinned: each event table is scanned once for all its variables,
//! codelists are matched by a hash join, and first/last come from aggregates, not sorts.

use std::path::Path;

use caas_core::{CodeSystem, Cohort, Engine, Parameters, TableSpec};

#[test]
fn one_scan_per_event_table_joined_to_codes_without_sorting() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data");
    let engine = Engine::new();
    engine
        .register_file_blocking("persons", data.join("persons.csv"), TableSpec::person())
        .unwrap();
    engine
        .register_file_blocking(
            "gp_events",
            data.join("gp_events.csv"),
            TableSpec::events(CodeSystem::SnomedCt),
        )
        .unwrap();
    let cohort = Cohort::from_yaml_str(
        r#"
id: shape
title: Several variables over one table
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
  diabetes: { system: snomed_ct, codes: ["44054006"] }
  bmi: { system: snomed_ct, codes: ["60621009"] }
variables:
  asthma: { kind: events, table: gp_events, codelists: [asthma], to: index_date, returns: exists }
  diabetes: { kind: events, table: gp_events, codelists: [diabetes], returns: last_date }
  diabetes_code: { kind: events, table: gp_events, codelists: [diabetes], returns: first_code }
  bmi: { kind: events, table: gp_events, codelists: [bmi], returns: last_value }
  bmi_max: { kind: events, table: gp_events, codelists: [bmi], from: index_date - 5 years, returns: max_value }
"#,
    )
    .unwrap();
    let plan = engine.plan_blocking(&cohort, &Parameters::new()).unwrap();
    let physical = plan.split("physical plan:").nth(1).unwrap();
    let scans = physical.matches("gp_events.csv").count();
    assert_eq!(scans, 1, "{physical}");
    assert_eq!(
        physical
            .matches("HashJoinExec: mode=CollectLeft, join_type=Inner")
            .count(),
        1,
        "{physical}"
    );
    assert!(!physical.contains("SortExec"), "{physical}");
    assert!(!physical.contains("WindowAggExec"), "{physical}");
    assert_eq!(
        physical
            .matches("AggregateExec: mode=FinalPartitioned")
            .count(),
        1,
        "{physical}"
    );
}

/// A later scan's events join the variables it reads, from the persons' steps so far;
/// the plan is a tree, so those steps run again for it, but only those its variables
/// need (DataFusion drops a join whose columns nothing reads): the table of the date it
/// reads is scanned twice, the later scan's table once for its other variables and once
/// for itself, and no more.
#[test]
fn a_later_scan_repeats_only_the_steps_its_variables_need() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data");
    let other = Path::new(env!("CARGO_TARGET_TMPDIR")).join("other_events.csv");
    std::fs::copy(data.join("gp_events.csv"), &other).unwrap();
    let engine = Engine::new();
    engine
        .register_file_blocking("persons", data.join("persons.csv"), TableSpec::person())
        .unwrap();
    for (name, path) in [("gp_events", data.join("gp_events.csv")), ("other", other)] {
        let spec = TableSpec::events(CodeSystem::SnomedCt);
        engine.register_file_blocking(name, path, spec).unwrap();
    }
    let cohort = Cohort::from_yaml_str(
        r#"
id: later
title: A window from the person's own date
purpose: direct_care
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
  bmi: { system: snomed_ct, codes: ["60621009"] }
variables:
  asthma_date: { kind: events, table: gp_events, codelists: [asthma], returns: last_date }
  other_bmi: { kind: events, table: other, codelists: [bmi], returns: exists }
  bmi_after: { kind: events, table: other, codelists: [bmi], from: asthma_date, returns: count }
"#,
    )
    .unwrap();
    let plan = engine.plan_blocking(&cohort, &Parameters::new()).unwrap();
    let physical = plan.split("physical plan:").nth(1).unwrap();
    assert_eq!(physical.matches("gp_events.csv").count(), 2, "{physical}");
    assert_eq!(
        physical.matches("other_events.csv").count(),
        2,
        "{physical}"
    );
}
