//! The characterisation of a cohort's members ("Table 1", `Evaluation::characterise`):
//! fourteen hand-made people, twelve of them members, whose table is computed here by hand
//! — for direct care exactly, for research under disclosure control — and the same table
//! with pseudonyms, and in the notebook view.

use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema};
use caas_core::characterise::CharacteriseOptions;
use caas_core::governance::PseudonymKey;
use caas_core::report::notebook;
use caas_core::{CaasError, CodeSystem, Cohort, Engine, EvaluationOptions, Parameters, TableSpec};
use chrono::NaiveDate;

fn day(text: &str) -> i32 {
    Date32Type::from_naive_date(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
}

fn days(texts: &[Option<&str>]) -> Date32Array {
    texts.iter().map(|t| t.map(day)).collect()
}

/// Twelve members and two children: their births, sex, region and ethnicity; their
/// registrations (person 8 left in 2020); asthma codes (person 12's after the index date)
/// and body mass indexes (person 5's latest is 28.5).
fn engine() -> Engine {
    let persons = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date_of_birth", DataType::Date32, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("ethnicity", DataType::Utf8, true),
        Field::new("national_opt_out", DataType::Boolean, false),
        Field::new("type1_opt_out", DataType::Boolean, false),
    ]));
    let births = days(&[
        Some("1950-01-01"), // 1: 76
        Some("1960-06-15"), // 2: 65
        Some("1990-04-01"), // 3: 35, a birthday the day after the index date
        Some("2008-03-31"), // 4: 18 on the index date
        Some("1940-02-29"), // 5: 86
        Some("1975-12-31"), // 6: 50
        Some("1985-07-01"), // 7: 40
        Some("1999-01-01"), // 8: 27
        Some("1945-05-05"), // 9: 80
        Some("1970-03-31"), // 10: 56
        Some("1955-10-10"), // 11: 70
        None,               // 12: no date of birth, kept: `age < 18` is unknown
        Some("2010-01-01"), // 13: 16, removed
        Some("2020-06-01"), // 14: 5, removed
    ]);
    let text = |values: &[Option<&str>]| Arc::new(StringArray::from(values.to_vec()));
    let (f, m, n, s) = (Some("F"), Some("M"), Some("North"), Some("South"));
    let batch = RecordBatch::try_new(
        persons.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(1..=14)),
            Arc::new(births),
            text(&[f, m, f, m, f, f, m, f, m, None, f, f, m, f]),
            text(&[n, n, s, s, n, None, n, s, n, s, n, s, s, n]),
            text(&[
                Some("White"),
                Some("White"),
                Some("White"),
                Some("Asian"),
                Some("White"),
                Some("Black"),
                Some("Asian"),
                Some("Mixed"),
                Some("White"),
                None,
                Some("White"),
                None,
                Some("White"),
                Some("White"),
            ]),
            Arc::new(BooleanArray::from(vec![false; 14])),
            Arc::new(BooleanArray::from(vec![false; 14])),
        ],
    )
    .unwrap();
    let engine = Engine::new();
    engine
        .register_batches("persons", TableSpec::person(), persons, vec![batch])
        .unwrap();

    let periods = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("start_date", DataType::Date32, true),
        Field::new("end_date", DataType::Date32, true),
        Field::new("practice", DataType::Utf8, true),
    ]));
    let practices = [
        "A", "A", "A", "B", "B", "B", "C", "A", "A", "A", "C", "B", "A", "A",
    ];
    let ends: Vec<Option<&str>> = (1..=14)
        .map(|id| (id == 8).then_some("2020-12-31"))
        .collect();
    let batch = RecordBatch::try_new(
        periods.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(1..=14)),
            Arc::new(days(&[Some("2020-07-01"); 14])),
            Arc::new(days(&ends)),
            Arc::new(StringArray::from(practices.to_vec())),
        ],
    )
    .unwrap();
    engine
        .register_batches("registrations", TableSpec::periods(), periods, vec![batch])
        .unwrap();

    let events = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let (asthma, bmi) = ("195967001", "60621009");
    let rows: [(i64, &str, &str, Option<f64>); 11] = [
        (1, "2020-05-01", asthma, None),
        (3, "2024-01-10", asthma, None),
        (3, "2025-02-02", asthma, None),
        (7, "2023-07-07", asthma, None),
        (11, "2019-09-09", asthma, None),
        (12, "2026-04-15", asthma, None),
        (1, "2025-01-01", bmi, Some(24.5)),
        (2, "2025-01-01", bmi, Some(31.0)),
        (4, "2025-01-01", bmi, Some(22.0)),
        (5, "2025-01-01", bmi, Some(28.5)),
        (5, "2020-01-01", bmi, Some(30.0)),
    ];
    let mut rows = rows.to_vec();
    rows.push((9, "2025-01-01", bmi, Some(35.5)));
    let batch = RecordBatch::try_new(
        events.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day(r.1)))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    engine
        .register_batches(
            "gp",
            TableSpec::events(CodeSystem::SnomedCt),
            events,
            vec![batch],
        )
        .unwrap();
    engine
}

fn cohort(purpose: &str) -> Cohort {
    Cohort::from_yaml_str(&definition(purpose, "{ index_date: 2026-03-31 }")).unwrap()
}

fn definition(purpose: &str, parameters: &str) -> String {
    format!(
        r#"
id: table_one
title: Adults, for a Table 1
purpose: {purpose}
parameters: {parameters}
codelists:
  asthma: {{ system: snomed_ct, codes: ["195967001"] }}
  bmi: {{ system: snomed_ct, codes: ["60621009"] }}
variables:
  age: {{ kind: age, on: index_date }}
  asthma: {{ kind: events, table: gp, codelists: [asthma], to: index_date, returns: exists }}
  bmi: {{ kind: events, table: gp, codelists: [bmi], to: index_date, returns: last_value }}
  first_asthma: {{ kind: events, table: gp, codelists: [asthma], to: index_date, returns: first_date }}
  practice: {{ kind: practice, table: registrations, on: index_date }}
  ethnicity: {{ kind: person_column, column: ethnicity }}
rules:
  - {{ name: not a child, exclude: age < 18 }}
output: {{ columns: [age, asthma, bmi, first_asthma, practice, ethnicity] }}
"#
    )
}

/// Each row as `section | variable | category | statistic | shown`, after checking that
/// `value` and `date` hold what `shown` says.
fn rows(table: &RecordBatch) -> Vec<String> {
    let schema = table.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "section",
            "variable",
            "category",
            "statistic",
            "value",
            "date",
            "shown"
        ]
    );
    let text = |i: usize| table.column(i).as_string::<i32>();
    let (section, variable, category, statistic, shown) =
        (text(0), text(1), text(2), text(3), text(6));
    let value = table.column(4).as_primitive::<Float64Type>();
    let date = table.column(5).as_primitive::<Date32Type>();
    (0..table.num_rows())
        .map(|i| {
            let shown = shown.value(i);
            if date.is_valid(i) {
                assert_eq!(date.value(i), day(shown), "row {i}");
                assert!(value.is_null(i));
            } else if let Ok(number) = shown.replace(',', "").parse::<f64>() {
                // Shown with at most two decimals, percentages with one.
                assert!((value.value(i) - number).abs() < 0.05, "row {i}: {shown}");
            } else {
                assert!(value.is_null(i), "row {i}: {shown}");
            }
            let category = if category.is_valid(i) {
                category.value(i)
            } else {
                "-"
            };
            format!(
                "{} | {} | {category} | {} | {shown}",
                section.value(i),
                variable.value(i),
                statistic.value(i)
            )
        })
        .collect()
}

/// Rows of categories with their counts and percentages.
fn categories(prefix: &str, items: &[(&str, &str, &str)]) -> Vec<String> {
    items
        .iter()
        .flat_map(|(label, count, percent)| {
            [
                format!("{prefix} | {label} | count | {count}"),
                format!("{prefix} | {label} | percent | {percent}"),
            ]
        })
        .collect()
}

/// Rows of statistics of the whole variable.
fn statistics(prefix: &str, category: &str, items: &[(&str, &str)]) -> Vec<String> {
    items
        .iter()
        .map(|(statistic, shown)| format!("{prefix} | {category} | {statistic} | {shown}"))
        .collect()
}

/// The table as computed by hand, in its order.
fn direct_care_table() -> Vec<String> {
    let ages = [
        ("n", "11"),
        ("missing", "1"),
        ("min", "18"),
        ("q1", "37.5"),
        ("median", "56"),
        ("q3", "73"),
        ("max", "86"),
        ("mean", "54.82"),
    ];
    let mut rows = vec![
        "cohort | people | - | count | 12".to_string(),
        "age | age | index_date | on | 2026-03-31".to_string(),
    ];
    rows.extend(categories(
        "age | age",
        &[
            ("0-17", "0", "0.0"),
            ("18-29", "2", "16.7"),
            ("30-39", "1", "8.3"),
            ("40-49", "1", "8.3"),
            ("50-59", "2", "16.7"),
            ("60-69", "1", "8.3"),
            ("70-79", "2", "16.7"),
            ("80+", "2", "16.7"),
            ("(missing)", "1", "8.3"),
        ],
    ));
    rows.extend(statistics("age | age", "-", &ages));
    rows.extend(categories(
        "sex | sex",
        &[
            ("F", "7", "58.3"),
            ("M", "4", "33.3"),
            ("(missing)", "1", "8.3"),
        ],
    ));
    rows.extend(categories(
        "region | region",
        &[
            ("North", "6", "50.0"),
            ("South", "5", "41.7"),
            ("(missing)", "1", "8.3"),
        ],
    ));
    rows.extend(statistics(
        "practice | practice",
        "-",
        &[("practices", "3"), ("missing", "1")],
    ));
    rows.extend(statistics(
        "practice | practice",
        "members per practice",
        &[
            ("min", "2"),
            ("q1", "3"),
            ("median", "4"),
            ("q3", "4.5"),
            ("max", "5"),
            ("mean", "3.67"),
        ],
    ));
    rows.extend(statistics("variable | age", "-", &ages));
    rows.extend(categories(
        "variable | asthma",
        &[
            ("true", "4", "33.3"),
            ("false", "8", "66.7"),
            ("(missing)", "0", "0.0"),
        ],
    ));
    rows.extend(statistics(
        "variable | bmi",
        "-",
        &[
            ("n", "5"),
            ("missing", "7"),
            ("min", "22"),
            ("q1", "24.5"),
            ("median", "28.5"),
            ("q3", "31"),
            ("max", "35.5"),
            ("mean", "28.3"),
        ],
    ));
    rows.extend(statistics(
        "variable | first_asthma",
        "-",
        &[
            ("n", "4"),
            ("missing", "8"),
            ("earliest", "2019-09-09"),
            ("median", "2020-05-01"),
            ("latest", "2024-01-10"),
        ],
    ));
    rows.extend(categories(
        "variable | practice",
        &[
            ("A", "5", "41.7"),
            ("B", "4", "33.3"),
            ("C", "2", "16.7"),
            ("(missing)", "1", "8.3"),
        ],
    ));
    rows.extend(categories(
        "variable | ethnicity",
        &[
            ("White", "6", "50.0"),
            ("Asian", "2", "16.7"),
            ("Black", "1", "8.3"),
            ("Mixed", "1", "8.3"),
            ("(missing)", "2", "16.7"),
        ],
    ));
    rows
}

#[test]
fn direct_care_members_are_characterised_exactly() {
    let result = engine()
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    assert_eq!(result.member_count(), 12);
    let characterisation = result
        .characterise_blocking(&CharacteriseOptions::default())
        .unwrap();
    assert!(!characterisation.disclosure_control);
    let table = &characterisation.table;
    let shown = rows(table);
    assert_eq!(shown, direct_care_table());
    // The numbers themselves, not only as shown: the mean age is 603 / 11.
    let row = shown
        .iter()
        .position(|r| r == "age | age | - | mean | 54.82")
        .unwrap();
    let mean = table.column(4).as_primitive::<Float64Type>().value(row);
    assert_eq!(mean, 603.0 / 11.0);
}

#[test]
fn bands_top_values_and_the_age_date_are_options() {
    let result = engine()
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    let options = CharacteriseOptions {
        age_bands: vec![0, 65],
        top: 1,
        ..CharacteriseOptions::default()
    };
    let table = rows(&result.characterise_blocking(&options).unwrap().table);
    for row in [
        "age | age | 0-64 | count | 6",
        "age | age | 65+ | count | 5",
        "age | age | (missing) | count | 1",
        "variable | ethnicity | White | count | 6",
        "variable | ethnicity | (other) | count | 4",
        "variable | ethnicity | (missing) | count | 2",
    ] {
        assert!(table.contains(&row.to_string()), "{row}\n{table:#?}");
    }
    assert!(!table.iter().any(|r| r.contains("Asian")));

    // Ages on another date parameter: a year later everyone is a year older, and person 4
    // (18 on the index date) is then 19.
    let later = definition(
        "direct_care",
        "{ index_date: 2026-03-31, later: 2027-03-31 }",
    );
    let later = engine()
        .evaluate_blocking(&Cohort::from_yaml_str(&later).unwrap(), &Parameters::new())
        .unwrap();
    let options = CharacteriseOptions {
        age_on: Some("later".into()),
        ..CharacteriseOptions::default()
    };
    let table = rows(&later.characterise_blocking(&options).unwrap().table);
    assert!(table.contains(&"age | age | later | on | 2027-03-31".to_string()));
    assert!(table.contains(&"age | age | - | min | 19".to_string()));

    for (options, message) in [
        (
            CharacteriseOptions {
                age_on: Some("nowhere".into()),
                ..CharacteriseOptions::default()
            },
            "characterisation option `age_on`: `nowhere` is not a date parameter of the cohort",
        ),
        (
            CharacteriseOptions {
                age_bands: vec![18, 65],
                ..CharacteriseOptions::default()
            },
            "characterisation option `age_bands`: the lower bounds of the bands start at 0 and ascend",
        ),
        (
            CharacteriseOptions {
                region: Some("area".into()),
                ..CharacteriseOptions::default()
            },
            "characterisation option `region`: person table `persons` has no column `area`",
        ),
    ] {
        let err = result.characterise_blocking(&options).unwrap_err();
        assert!(matches!(err, CaasError::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
    }
    assert!(CharacteriseOptions::from_json(r#"{"top": 3, "region": "region"}"#).is_ok());
    assert!(CharacteriseOptions::from_json(r#"{"bands": [0]}"#).is_err());
}

#[test]
fn each_step_of_the_attrition_is_characterised_by_age_sex_and_region() {
    // A second rule removes the people aged 70 or more: persons 1 (76), 5 (86), 9 (80) and
    // 11 (70); person 12, of unknown age, stays.
    let text = definition("direct_care", "{ index_date: 2026-03-31 }").replace(
        "  - { name: not a child, exclude: age < 18 }",
        "  - { name: not a child, exclude: age < 18 }\n  - { name: under 70, exclude: age >= 70 }",
    );
    let cohort = Cohort::from_yaml_str(&text).unwrap();
    let result = engine()
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    assert_eq!(result.member_count(), 8);
    let after = |rule: &str| {
        let options = CharacteriseOptions {
            after_rule: Some(rule.to_string()),
            ..CharacteriseOptions::default()
        };
        result.characterise_blocking(&options).unwrap()
    };
    // After the first rule: the twelve of the members' table of `direct_care_table`, by
    // age, sex and region, without the variables.
    let first = after("not a child");
    let expected: Vec<String> = direct_care_table()
        .into_iter()
        .filter(|r| !r.starts_with("variable") && !r.starts_with("practice"))
        .collect();
    assert_eq!(rows(&first.table), expected);
    assert_eq!(
        first.notes(),
        [
            "The people still in after the rule `not a child`; variables are characterised for \
          the members only."
        ]
    );
    // After the last rule: the members, with no one of 70 or more.
    let last = rows(&after("under 70").table);
    for row in [
        "cohort | people | - | count | 8",
        "age | age | 70-79 | count | 0",
        "age | age | 80+ | count | 0",
        "age | age | 60-69 | count | 1",
    ] {
        assert!(last.contains(&row.to_string()), "{row}\n{last:#?}");
    }
    let err = result
        .characterise_blocking(&CharacteriseOptions {
            after_rule: Some("adults".into()),
            ..CharacteriseOptions::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "characterisation option `after_rule`: `adults` is not a rule of the cohort; its \
         rules are `not a child`, `under 70`"
    );
}

#[test]
fn research_is_under_the_reports_disclosure_control() {
    let result = engine()
        .evaluate_blocking(&cohort("research"), &Parameters::new())
        .unwrap();
    let characterisation = result
        .characterise_blocking(&CharacteriseOptions::default())
        .unwrap();
    assert!(characterisation.disclosure_control);
    // Twelve members are shown as 10; counts of 1 to 7 as `*`; values of 1 to 7 people are
    // counted in `(other)`; minima and maxima never, quantiles of so few values neither;
    // the mean of 11 ages is shown, of 5 body mass indexes not.
    let withheld = |statistics: &[&'static str]| -> Vec<(&'static str, &'static str)> {
        statistics.iter().map(|s| (*s, "*")).collect()
    };
    let mut ages = vec![("n", "10"), ("missing", "*")];
    ages.extend(withheld(&["min", "q1", "median", "q3", "max"]));
    ages.push(("mean", "54.82"));
    let mut expected = vec![
        "cohort | people | - | count | 10".to_string(),
        "age | age | index_date | on | 2026-03-31".to_string(),
    ];
    expected.extend(categories(
        "age | age",
        &[
            ("0-17", "0", "0.0"),
            ("18-29", "*", "*"),
            ("30-39", "*", "*"),
            ("40-49", "*", "*"),
            ("50-59", "*", "*"),
            ("60-69", "*", "*"),
            ("70-79", "*", "*"),
            ("80+", "*", "*"),
            ("(missing)", "*", "*"),
        ],
    ));
    expected.extend(statistics("age | age", "-", &ages));
    let folded = [("(other)", "10", "100.0"), ("(missing)", "*", "*")];
    expected.extend(categories("sex | sex", &folded));
    expected.extend(categories("region | region", &folded));
    expected.extend(statistics(
        "practice | practice",
        "-",
        &[("practices", "*"), ("missing", "*")],
    ));
    expected.extend(statistics(
        "practice | practice",
        "members per practice",
        &withheld(&["min", "q1", "median", "q3", "max", "mean"]),
    ));
    expected.extend(statistics("variable | age", "-", &ages));
    expected.extend(categories(
        "variable | asthma",
        &[
            ("true", "*", "*"),
            ("false", "10", "100.0"),
            ("(missing)", "0", "0.0"),
        ],
    ));
    let mut bmi = vec![("n", "*"), ("missing", "*")];
    bmi.extend(withheld(&["min", "q1", "median", "q3", "max", "mean"]));
    expected.extend(statistics("variable | bmi", "-", &bmi));
    let mut dates = vec![("n", "*"), ("missing", "10")];
    dates.extend(withheld(&["earliest", "median", "latest"]));
    expected.extend(statistics("variable | first_asthma", "-", &dates));
    expected.extend(categories("variable | practice", &folded));
    expected.extend(categories(
        "variable | ethnicity",
        &[("(other)", "10", "100.0"), ("(missing)", "*", "*")],
    ));
    let table = rows(&characterisation.table);
    assert_eq!(table, expected);
    // No value, label or date of a single person is in the table.
    let text = format!("{table:?}");
    for exact in [
        "White",
        "Asian",
        "North",
        "\"F\"",
        "86",
        "18 ",
        "35.5",
        "2019-09-09",
    ] {
        assert!(!text.contains(exact), "{exact}");
    }

    // Direct care asks for the same control with an option.
    let direct = engine()
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    let controlled = direct
        .characterise_blocking(&CharacteriseOptions {
            disclosure_control: true,
            ..CharacteriseOptions::default()
        })
        .unwrap();
    assert_eq!(rows(&controlled.table), expected);
}

#[test]
fn members_with_pseudonyms_are_characterised_from_their_person_ids() {
    let key = PseudonymKey::from_hex(&"5a".repeat(32)).unwrap();
    let options = EvaluationOptions::new().with_pseudonym_key(key);
    let result = engine()
        .evaluate_with_blocking(&cohort("direct_care"), &Parameters::new(), &options)
        .unwrap();
    assert_eq!(result.members.schema().field(0).name(), "pseudonym");
    let table = result
        .characterise_blocking(&CharacteriseOptions::default())
        .unwrap()
        .table;
    assert_eq!(rows(&table), direct_care_table());
}

#[test]
fn the_notebook_shows_the_characterisation_under_the_attrition() {
    let result = engine()
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    let view = notebook::evaluation_html(&result).unwrap();
    for part in [
        "<details class=\"characterisation\"><summary><h4>Characteristics of the members</h4></summary>",
        "<h4>Age on 31 March 2026 (<code>index_date</code>)</h4>",
        "<tr><td>18-29</td><td class=\"n\">2</td><td class=\"n\">16.7</td></tr>",
        "<h4>Sex</h4>",
        "<h4>Region (<code>region</code>)</h4>",
        "<title id=\"bars-age-title\">Age on 31 March 2026: members by band</title>",
        "<title id=\"bars-sex-title\">Sex: members by sex</title>",
        "<title id=\"bars-region-title\">Region: members by region</title>",
        ">2 (16.7%)</text>",
        "<tr><td><code>bmi</code></td><td class=\"n\">5</td><td class=\"n\">7</td>",
    ] {
        assert!(
            view.contains(part),
            "missing from the view: {part}\n\n{view}"
        );
    }
    // The funnel and a chart each of age, sex and region, inline; nothing from outside.
    assert_eq!(view.matches("<svg").count(), 4);
    assert!(!view.contains("<script") && !view.contains("http"));
    // The 80+ band's two people are as long a bar as the largest (two), the 0-17 band's
    // none is no bar.
    assert!(view.contains("width=\"300\" height=\"16\" fill=\"#005eb8\""));
    assert!(view.contains("width=\"0\" height=\"16\" fill=\"#005eb8\""));

    // For research under control, as the table.
    let research = engine()
        .evaluate_blocking(&cohort("research"), &Parameters::new())
        .unwrap();
    let view = notebook::evaluation_html(&research).unwrap();
    assert!(
        view.contains("<tr><td>(other)</td><td class=\"n\">10</td><td class=\"n\">100.0</td></tr>")
    );
    assert!(view.contains("<tr><td>18-29</td><td class=\"n\">*</td><td class=\"n\">*</td></tr>"));
    assert!(!view.contains("White") && !view.contains("North"));
}

/// The C assurance case (`tests/c/assurance`), whose characterisation was computed by hand
/// into `characterisation.csv`: the C and Python tests check their tables against the same
/// file, so that every front end gives the table the core gives.
#[test]
fn the_assurance_case_gives_the_table_computed_by_hand() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/c/assurance");
    let engine = Engine::new();
    engine
        .register_file_blocking("persons", data.join("persons.csv"), TableSpec::person())
        .unwrap();
    engine
        .register_file_blocking(
            "gp",
            data.join("gp.csv"),
            TableSpec::events(CodeSystem::SnomedCt),
        )
        .unwrap();
    let cohort = Cohort::from_path(data.join("cohort.yaml")).unwrap();
    let result = engine
        .evaluate_blocking(&cohort, &Parameters::new())
        .unwrap();
    let table = result
        .characterise_blocking(&CharacteriseOptions::default())
        .unwrap()
        .table;
    let expected: Vec<String> = std::fs::read_to_string(data.join("characterisation.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let category = match cells[2] {
                "" => "-",
                c => c,
            };
            format!(
                "{} | {} | {category} | {} | {}",
                cells[0], cells[1], cells[3], cells[4]
            )
        })
        .collect();
    assert_eq!(rows(&table), expected);
}

#[test]
fn the_report_has_the_characterisation_as_the_table_shows_it() {
    let engine = engine();
    let result = engine
        .evaluate_blocking(&cohort("direct_care"), &Parameters::new())
        .unwrap();
    let report = result.report(&caas_core::ReportOptions::default()).unwrap();
    let md = &report.markdown;
    for line in [
        "## Characteristics of the members\n\nPeople in the cohort: 12.\n",
        "### Age on 31 March 2026 (`index_date`)",
        "| 18-29 | 2 | 16.7 |",
        "| `age` | 11 | 1 | 18 | 37.5 | 56 | 73 | 86 | 54.82 |",
        "### Sex",
        "| F | 7 | 58.3 |",
        "### Region (`region`)",
        "| `practice` | 3 | 1 | 2 | 3 | 4 | 4.5 | 5 | 3.67 |",
        "| `asthma` | true | 4 | 33.3 |",
        "|  | false | 8 | 66.7 |",
        "| `bmi` | 5 | 7 | 22 | 24.5 | 28.5 | 31 | 35.5 | 28.3 |",
        "| `first_asthma` | 4 | 8 | 2019-09-09 | 2020-05-01 | 2024-01-10 |\n\n## Data quality",
        "| `ethnicity` | White | 6 | 50.0 |",
        "|  | (missing) | 2 | 16.7 |\n\n| Variable | n |",
    ] {
        assert!(
            md.contains(line),
            "missing from the Markdown: {line}\n\n{md}"
        );
    }
    // The HTML has the same tables, and the charts inline.
    let html = &report.html;
    for part in [
        "<h2>Characteristics of the members</h2>\n<p>People in the cohort: 12.</p>",
        "<h3>Age on 31 March 2026 (<code>index_date</code>)</h3>",
        "<tr><td>18-29</td><td class=\"n\">2</td><td class=\"n\">16.7</td></tr>",
        "<title id=\"bars-sex-title\">Sex: members by sex</title>",
        "<tr><td><code>bmi</code></td><td class=\"n\">5</td>",
    ] {
        assert!(html.contains(part), "missing from the HTML: {part}");
    }
    assert_eq!(html.matches("<svg").count(), 4);

    // A saved run renders the same report, and so under control for research.
    let saved = result.saved().unwrap().to_json().unwrap();
    let again = caas_core::report::SavedRun::from_json(&saved).unwrap();
    assert_eq!(
        again.report(&caas_core::ReportOptions::default()).unwrap(),
        report
    );
    let controlled = caas_core::ReportOptions {
        disclosure_control: true,
    };
    let md = again.report(&controlled).unwrap().markdown;
    assert!(md.contains("| 18-29 | \\* | \\* |"), "{md}");
    assert!(md.contains("| (other) | 10 | 100.0 |"), "{md}");
    assert!(!md.contains("White") && !md.contains("North") && !md.contains("| 86 |"));
}
