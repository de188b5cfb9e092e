//! What-if attrition (`Evaluation::what_if`) against full re-evaluations: the flu cohort
//! on a fixed-seed synthetic population, its rules dropped, reordered and added to, for
//! direct care and (with its opt-out step) for research; and the changes it refuses.

use caas_core::model::{Purpose, Rule};
use caas_core::results::RuleChanges;
use caas_core::{Cohort, Engine, Evaluation, Parameters};
use caas_synth::SynthConfig;

use super::common::root;

fn flu(purpose: Purpose) -> Cohort {
    let mut definition = Cohort::from_path(root().join("examples/flu/flu.yaml"))
        .unwrap()
        .definition()
        .clone();
    definition.purpose = purpose;
    Cohort::from_definition_in(definition, &root().join("examples/flu")).unwrap()
}

fn engine() -> (Engine, tempfile::TempDir) {
    super::common::synthetic_engine(&SynthConfig {
        persons: 3_000,
        seed: 11,
        persons_per_file: 3_000,
        threads: 2,
        ..SynthConfig::default()
    })
}

fn rule(name: &str, include: Option<&str>, exclude: Option<&str>) -> Rule {
    Rule {
        name: Some(name.into()),
        include: include.map(Into::into),
        exclude: exclude.map(Into::into),
        ..Rule::default()
    }
}

/// The cohort with its rules changed as `changes` says, written out as a definition.
fn rewritten(cohort: &Cohort, changes: &RuleChanges) -> Cohort {
    let mut definition = cohort.definition().clone();
    let mut rules: Vec<Rule> = cohort
        .rules()
        .iter()
        .zip(&definition.rules)
        .filter(|(checked, _)| !changes.drop.contains(&checked.name))
        .map(|(checked, given)| Rule {
            name: Some(checked.name.clone()),
            ..given.clone()
        })
        .collect();
    rules.extend(changes.add.iter().cloned());
    let mut ordered = Vec::new();
    for name in &changes.order {
        let at = rules
            .iter()
            .position(|r| r.name.as_ref() == Some(name))
            .unwrap();
        ordered.push(rules.remove(at));
    }
    ordered.extend(rules);
    definition.rules = ordered;
    Cohort::from_definition_in(definition, &root().join("examples/flu")).unwrap()
}

fn assert_same_as_rerun(
    engine: &Engine,
    cohort: &Cohort,
    result: &Evaluation,
    changes: RuleChanges,
) {
    let what_if = result.what_if_blocking(&changes).unwrap();
    let rerun = engine
        .evaluate_blocking(&rewritten(cohort, &changes), &Parameters::new())
        .unwrap();
    assert_eq!(what_if.attrition, rerun.attrition, "{changes:?}");
    assert_eq!(what_if.members, rerun.member_count() as u64, "{changes:?}");
    assert_eq!(what_if.population, rerun.population, "{changes:?}");
    // The same counts shown, under the same disclosure control.
    assert_eq!(
        what_if.attrition_table().unwrap(),
        rerun.attrition_table().unwrap()
    );
}

fn changes() -> Vec<RuleChanges> {
    vec![
        RuleChanges::default(),
        RuleChanges {
            drop: vec!["vaccinated".into(), "declined".into()],
            ..RuleChanges::default()
        },
        RuleChanges {
            order: vec!["eligible".into(), "vaccinated".into()],
            ..RuleChanges::default()
        },
        RuleChanges {
            drop: vec!["50-64 not eligible".into()],
            add: vec![
                rule(
                    "aged 50+",
                    None,
                    Some("age between 50 and 64 and not (eligible or care_home)"),
                ),
                rule("not a carer", None, Some("grp_carer")),
            ],
            order: vec!["not a carer".into()],
        },
        RuleChanges {
            add: vec![rule(
                "a parameter",
                Some("age >= 0 and index_date > DATE '2020-01-01'"),
                None,
            )],
            ..RuleChanges::default()
        },
    ]
}

#[test]
fn what_if_equals_a_re_evaluation_for_direct_care() {
    let (engine, _dir) = engine();
    let cohort = flu(Purpose::DirectCare);
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    for changes in changes() {
        assert_same_as_rerun(&engine, &cohort, &result, changes);
    }
    // Everything dropped: the whole population is kept.
    let all = cohort.rules().iter().map(|r| r.name.clone()).collect();
    let none = result
        .what_if_blocking(&RuleChanges {
            drop: all,
            ..RuleChanges::default()
        })
        .unwrap();
    assert_eq!(none.attrition.num_rows(), 0);
    assert_eq!(none.members, result.population);
}

#[test]
fn what_if_keeps_the_opt_out_step_and_disclosure_control_for_research() {
    let (engine, _dir) = engine();
    let cohort = flu(Purpose::Research);
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    for changes in changes() {
        assert_same_as_rerun(&engine, &cohort, &result, changes);
    }
    let what_if = result
        .what_if_blocking(&RuleChanges {
            add: vec![rule("nobody", Some("age > 200"), None)],
            ..RuleChanges::default()
        })
        .unwrap();
    assert_eq!(what_if.members, 0);
    let summary = what_if.summary().unwrap();
    assert!(
        summary.starts_with("Seasonal influenza vaccination"),
        "{summary}"
    );
    assert!(summary.contains("what if with `nobody` added"), "{summary}");
    assert!(
        summary.contains("| 1    | national data opt-out"),
        "{summary}"
    );
    assert_eq!(
        summary.lines().last(),
        Some("0 of 3,000 people in the cohort")
    );
    let html = caas_core::report::notebook::what_if_html(&what_if).unwrap();
    assert!(html.contains("under disclosure control (research)"));
}

#[test]
fn what_if_refuses_what_it_cannot_answer_naming_the_rule() {
    let (engine, _dir) = engine();
    let cohort = flu(Purpose::DirectCare);
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let err = |changes: RuleChanges| result.what_if_blocking(&changes).unwrap_err();

    let e = err(RuleChanges {
        drop: vec!["vacinated".into()],
        ..RuleChanges::default()
    });
    assert_eq!(e.code(), "invalid_input");
    assert!(
        e.to_string()
            .contains("`drop` names the rule `vacinated`, which is not one of `alive`"),
        "{e}"
    );

    let e = err(RuleChanges {
        order: vec!["eligible".into(), "eligible".into()],
        ..RuleChanges::default()
    });
    assert!(
        e.to_string()
            .contains("`order` names the rule `eligible` twice"),
        "{e}"
    );

    // `bmi_val` is a number that no rule names: not held.
    let e = err(RuleChanges {
        add: vec![rule("obese", Some("bmi_val >= 40"), None)],
        ..RuleChanges::default()
    });
    assert_eq!(e.code(), "invalid_input");
    assert!(
        e.to_string()
            .contains("rule 16 (`obese`): the variable `bmi_val` is not held"),
        "{e}"
    );

    // An added rule is checked as a definition's would be.
    let e = err(RuleChanges {
        add: vec![rule("typo", Some("age >= 'old'"), None)],
        ..RuleChanges::default()
    });
    assert_eq!(e.code(), "type_mismatch");
    let e = err(RuleChanges {
        add: vec![rule("alive", Some("alive"), None)],
        ..RuleChanges::default()
    });
    assert!(
        e.to_string().contains("another rule has the same name"),
        "{e}"
    );
}

/// With no rules and no true/false variable the evaluation holds no column, only its
/// people: rules over parameters alone still count them.
#[test]
fn what_if_without_held_columns_counts_every_person() {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use caas_core::TableSpec;

    let schema = Arc::new(Schema::new(vec![Field::new(
        "person_id",
        DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
    )
    .unwrap();
    let engine = Engine::new();
    engine
        .register_batches("persons", TableSpec::person(), schema, vec![batch])
        .unwrap();
    let cohort = Cohort::from_yaml_str(
        "{id: all, title: All, purpose: direct_care, parameters: {index_date: 2026-03-31}}",
    )
    .unwrap();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let none = result.what_if_blocking(&RuleChanges::default()).unwrap();
    assert_eq!((none.members, none.population), (3, 3));
    let changes = RuleChanges {
        add: vec![
            rule("recent", Some("index_date > DATE '2000-01-01'"), None),
            rule("never", None, Some("index_date > DATE '2000-01-01'")),
        ],
        ..RuleChanges::default()
    };
    let what_if = result.what_if_blocking(&changes).unwrap();
    assert_eq!(
        what_if.attrition_table().unwrap(),
        engine
            .evaluate_blocking(&rewritten(&cohort, &changes), &Parameters::new())
            .unwrap()
            .attrition_table()
            .unwrap()
    );
    assert_eq!(what_if.members, 0);
}
