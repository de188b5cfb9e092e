//! The notebook views of a cohort, an evaluation, a person's explanation and the
//! data-quality findings: HTML fragments that a front end hands to a notebook (Python's
//! `_repr_html_`).
//!
//! They are rendered by the report's template environment — the same escaping, and for an
//! evaluation the same [disclosure control](super::disclosure) and the same funnel picture —
//! so that what a notebook shows and what the report says cannot drift apart. Each view is
//! a `<div class="caas">` with a style scoped to it: no scripts, nothing loaded from
//! elsewhere.

use arrow::array::RecordBatch;
use minijinja::value::Serde;
use minijinja::{Environment, Value as Template};
use serde::Serialize;

use super::disclosure::{self, disclose};
use super::{Funnel, StepContext, characterisation, environment, purpose_words, template_error};
use crate::characterise::{Characterisation, CharacteriseOptions};
use crate::error::Result;
use crate::explain::Explanation;
use crate::model::{Cohort, Purpose};
use crate::provenance::AttritionStep;
use crate::quality::DataQuality;
use crate::results::{Evaluation, WhatIf};

/// The views' style, scoped to their `caas` block so that it leaves the rest of a notebook
/// alone, and strong enough to beat the notebook's own table style; put before each view.
const STYLE: &str = include_str!("templates/notebook_style.html");
const COHORT: &str = include_str!("templates/notebook_cohort.html");
const EVALUATION: &str = include_str!("templates/notebook_evaluation.html");
const EXPLANATION: &str = include_str!("templates/notebook_explanation.html");
const DATA_QUALITY: &str = include_str!("templates/notebook_data_quality.html");
const CHARACTERISATION: &str = include_str!("templates/notebook_characterisation.html");

/// The longest list that a view shows open: a longer one (the flu cohort's 31 codelists)
/// starts collapsed to a line with its count, so that the view fits on a screen.
const OPEN_UP_TO: usize = 8;

/// The report's environment with the notebook templates added.
fn notebook_environment() -> Result<Environment<'static>> {
    let mut env = environment()?;
    env.add_filter("thousands", disclosure::thousands);
    env.add_global("open_up_to", OPEN_UP_TO);
    for (name, source) in [
        ("notebook_style.html", STYLE),
        ("notebook_cohort.html", COHORT),
        ("notebook_evaluation.html", EVALUATION),
        ("notebook_explanation.html", EXPLANATION),
        ("notebook_data_quality.html", DATA_QUALITY),
        ("notebook_characterisation.html", CHARACTERISATION),
    ] {
        env.add_template(name, source).map_err(template_error)?;
    }
    Ok(env)
}

fn render(env: &Environment<'_>, name: &str, context: Template) -> Result<String> {
    let render = |name: &str, context: Template| {
        env.get_template(name)
            .and_then(|t| t.render(context))
            .map_err(template_error)
    };
    let style = render("notebook_style.html", minijinja::context! {})?;
    let view = render(name, context)?;
    Ok(format!("{}{view}", style.trim_end()))
}

/// A cohort's plain-English description (see [`Cohort::describe`]) as HTML.
///
/// ```
/// use caas_core::Cohort;
/// use caas_core::report::notebook;
/// let cohort = Cohort::from_yaml_str(r#"
/// id: older
/// title: Aged <65> or over
/// purpose: direct_care
/// parameters: { index_date: 2026-03-31 }
/// variables: { age: { kind: age, on: index_date } }
/// rules: [ { name: aged 65+, include: age >= 65 } ]
/// output: { columns: [age] }
/// "#)?;
/// let html = notebook::cohort_html(&cohort)?;
/// assert!(html.contains("<h3>Aged &lt;65&gt; or over</h3>"));
/// assert!(html.contains("<h4>Rules, in order</h4>"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cohort_html(cohort: &Cohort) -> Result<String> {
    render(
        &notebook_environment()?,
        "notebook_cohort.html",
        Template::from(Serde(&cohort.describe())),
    )
}

#[derive(Serialize)]
struct EvaluationContext {
    title: String,
    purpose: &'static str,
    disclosure: bool,
    population: String,
    members: String,
    steps: Vec<StepContext>,
}

/// An evaluation's attrition as an HTML table with the report's funnel picture, and the
/// [characteristics of the members](crate::characterise) collapsed below it. For purposes
/// other than direct care every count, and the pictures drawn from them, is under
/// disclosure control, as in the [report](Evaluation::report). It reads the person table
/// for the members' ages, sex and region: a blocking call, like
/// [`Evaluation::characterise_blocking`].
pub fn evaluation_html(evaluation: &Evaluation) -> Result<String> {
    let definition = evaluation.run.cohort.definition();
    let characterisation = evaluation.characterise_blocking(&CharacteriseOptions::default())?;
    attrition_html(
        &definition.title,
        definition.purpose,
        evaluation.population,
        evaluation.member_count() as u64,
        &evaluation.attrition,
        Some(&characterisation),
    )
}

/// A [what-if](Evaluation::what_if)'s attrition as [`evaluation_html`] shows an
/// evaluation's, its title saying what changed.
pub fn what_if_html(what_if: &WhatIf) -> Result<String> {
    attrition_html(
        &what_if.title,
        what_if.purpose,
        what_if.population,
        what_if.members,
        &what_if.attrition,
        None,
    )
}

fn attrition_html(
    title: &str,
    purpose: Purpose,
    population: u64,
    members: u64,
    attrition: &RecordBatch,
    characterisation: Option<&Characterisation>,
) -> Result<String> {
    let count = |n: u64| disclose(n, purpose);
    let steps = AttritionStep::from_batch(attrition)?;
    let funnel = Funnel::of(title, count(population), &steps, count);
    let env = notebook_environment()?;
    let funnel = env
        .get_template("funnel.svg")
        .and_then(|t| t.render(Serde(&funnel)))
        .map_err(template_error)?;
    let context = EvaluationContext {
        title: title.to_string(),
        purpose: purpose_words(purpose),
        disclosure: disclosure::applies(purpose),
        population: count(population).to_string(),
        members: count(members).to_string(),
        steps: steps.iter().map(|s| StepContext::new(s, count)).collect(),
    };
    let characterisation = match characterisation {
        Some(characterisation) => {
            let (_, body) = characterisation::render(&env, characterisation, 4)?;
            env.get_template("notebook_characterisation.html")
                .and_then(|t| t.render(minijinja::context! { body }))
                .map_err(template_error)?
        }
        None => String::new(),
    };
    let context = minijinja::context! {
        funnel => Template::from_safe_string(funnel),
        characterisation => Template::from_safe_string(characterisation),
        ..Template::from(Serde(&context))
    };
    render(&env, "notebook_evaluation.html", context)
}

/// A person's explanation as HTML: the verdict, each rule with its outcome, each variable
/// with its value and the rows behind it.
pub fn explanation_html(explanation: &Explanation) -> Result<String> {
    render(
        &notebook_environment()?,
        "notebook_explanation.html",
        Template::from(Serde(explanation)),
    )
}

#[derive(Serialize)]
struct FindingRow {
    table: String,
    column: String,
    description: &'static str,
    count: String,
    policy: String,
    excluded: String,
}

/// A row of the notebook's table of values that arithmetic left missing.
#[derive(Serialize)]
struct ArithmeticRow {
    place: String,
    count: String,
    policy: String,
}

/// The data-quality findings that have rows, as an HTML table. Their counts are shown as a
/// report for `purpose` shows them: under disclosure control but for direct care.
pub fn data_quality_html(quality: &DataQuality, purpose: Purpose) -> Result<String> {
    let count = |n: u64| disclose(n, purpose).to_string();
    let findings: Vec<FindingRow> = quality
        .found()
        .map(|(table, f)| FindingRow {
            table: table.to_string(),
            column: f.column.clone(),
            description: f.kind.description(),
            count: count(f.count),
            policy: f.policy.to_string(),
            excluded: count(f.excluded),
        })
        .collect();
    let arithmetic: Vec<ArithmeticRow> = quality
        .arithmetic
        .iter()
        .filter(|a| a.count > 0)
        .map(|a| ArithmeticRow {
            place: a.place(),
            count: count(a.count),
            policy: a.policy.to_string(),
        })
        .collect();
    render(
        &notebook_environment()?,
        "notebook_data_quality.html",
        minijinja::context! {
            tables => quality.tables.len(),
            findings => Serde(&findings),
            arithmetic => Serde(&arithmetic),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::array::{BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::quality::{Finding, FindingKind, Policy, TableQuality};
    use crate::source::Role;
    use crate::{CodeSystem, Engine, Parameters, TableSpec};

    /// Twelve people: nine born in 1950 (over 65 on the index date) and three in 2000;
    /// person 2 has a marker of 7.5 on 1 February 2025.
    fn engine() -> Engine {
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("date_of_birth", DataType::Date32, true),
            Field::new("national_opt_out", DataType::Boolean, false),
            Field::new("type1_opt_out", DataType::Boolean, false),
        ]));
        let ids: Vec<i64> = (1..=12).collect();
        let births: Vec<i32> = ids
            .iter()
            .map(|i| if *i <= 9 { -7305 } else { 10957 })
            .collect();
        let persons = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(Date32Array::from(births)),
                Arc::new(BooleanArray::from(vec![false; 12])),
                Arc::new(BooleanArray::from(vec![false; 12])),
            ],
        )
        .unwrap();
        let engine = Engine::new();
        engine
            .register_batches("persons", TableSpec::person(), schema, vec![persons])
            .unwrap();
        let events = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("date", DataType::Date32, true),
            Field::new("code", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            events.clone(),
            vec![
                Arc::new(Int64Array::from(vec![2])),
                Arc::new(Date32Array::from(vec![20120])), // 2025-02-01
                Arc::new(StringArray::from(vec!["22298006"])),
                Arc::new(Float64Array::from(vec![7.5])),
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
        Cohort::from_yaml_str(&format!(
            r#"
id: older
title: Aged 65 or over & <b>well</b>
purpose: {purpose}
parameters: {{ index_date: 2026-03-31 }}
codelists: {{ marker: {{ system: snomed_ct, codes: ["22298006"], description: Marker }} }}
variables:
  age: {{ kind: age, on: index_date }}
  marker: {{ kind: events, table: gp, codelists: [marker], to: index_date, returns: last_value }}
rules:
  - {{ name: aged 65+, include: age >= 65 }}
  - {{ name: high <marker>, exclude: marker > 7 }}
output: {{ columns: [age] }}
"#
        ))
        .unwrap()
    }

    fn evaluate(purpose: &str) -> Evaluation {
        engine()
            .evaluate_blocking(&cohort(purpose), &Parameters::new())
            .unwrap()
    }

    #[test]
    fn a_cohort_is_its_description_escaped() {
        let html = cohort_html(&cohort("direct_care")).unwrap();
        assert!(
            html.starts_with("<style>\n.caas.caas{text-align:left}"),
            "{html}"
        );
        assert!(
            html.contains("<h3>Aged 65 or over &amp; &lt;b&gt;well&lt;&#x2f;b&gt;</h3>"),
            "{html}"
        );
        assert!(!html.contains("<b>well"));
        assert!(
            html.contains(
                "<details open><summary><h4>Parameters</h4></summary>\n<table><tr>\
             <td><code>index_date</code></td><td>2026-03-31</td></tr></table>\n</details>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><td class='n'>2</td><td class='nowrap'><code>high &lt;marker&gt;</code></td>\
             <td>remove people for whom the latest Marker value (<code>marker</code>) is more \
             than 7</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<h4>Output</h4><p><code>person_id</code>, <code>age</code></p>\n</div>"),
            "{html}"
        );
        assert!(!html.contains("<script") && !html.contains("http"));
    }

    #[test]
    fn a_long_list_starts_collapsed_with_its_count() {
        let variables: Vec<String> = (1..=9)
            .map(|i| format!("  age{i}: {{ kind: age, on: index_date }}"))
            .collect();
        let cohort = Cohort::from_yaml_str(&format!(
            "id: many\ntitle: Many\npurpose: direct_care\n\
             parameters: {{ index_date: 2026-03-31 }}\nvariables:\n{}\n\
             rules: [ {{ name: old, include: age1 >= 65 }} ]\n",
            variables.join("\n")
        ))
        .unwrap();
        let html = cohort_html(&cohort).unwrap();
        assert!(
            html.contains("<details><summary><h4>Variables</h4> (9)</summary>"),
            "{html}"
        );
        assert!(
            html.contains("<h4>Rules, in order</h4><table><tr><td class='n'>1</td>"),
            "{html}"
        );
    }

    #[test]
    fn direct_care_counts_are_exact() {
        let html = evaluation_html(&evaluate("direct_care")).unwrap();
        assert!(
            html.contains("<p>8 of 12 people in the cohort</p>"),
            "{html}"
        );
        assert!(!html.contains("disclosure control"));
        assert!(
            html.contains(
                "<tr><td class='n'>1</td><td>aged 65+</td><td>include</td><td class='n'>12</td>\
             <td class='n'>9</td><td class='n'>3</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><td class='n'>2</td><td>high &lt;marker&gt;</td><td>exclude</td>\
             <td class='n'>9</td><td class='n'>8</td><td class='n'>1</td></tr>"
            ),
            "{html}"
        );
        // The report's funnel, inline: 320 pixels for the 12 people.
        assert!(
            html.contains(
                "<rect x=\"260\" y=\"10\" width=\"320\" height=\"20\" fill=\"#425563\"/>"
            ),
            "{html}"
        );
        assert!(html.contains(">8 (−1)</text>"), "{html}");
    }

    #[test]
    fn research_counts_are_under_disclosure_control_as_in_the_report() {
        let evaluation = evaluate("research");
        let html = evaluation_html(&evaluation).unwrap();
        // 12 and 8 round to 10; 3 and 1 are suppressed; 0 stays 0.
        assert!(
            html.contains("<p>10 of 10 people in the cohort</p>"),
            "{html}"
        );
        assert!(
            html.contains("under disclosure control (research)"),
            "{html}"
        );
        assert!(
            html.contains(
                "<td class='n'>1</td><td>national data opt-out or type 1 opt-out</td>\
             <td>exclude</td><td class='n'>10</td><td class='n'>10</td><td class='n'>0</td>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<td class='n'>2</td><td>aged 65+</td><td>include</td><td class='n'>10</td>\
             <td class='n'>10</td><td class='n'>*</td>"
            ),
            "{html}"
        );
        // (The members' characteristics below it have an age band `80+`.)
        assert!(!html.contains(">12<") && !html.contains(">9<"));
        assert!(!html.contains(">8<") && !html.contains(">8 ("));
        // The funnel is drawn from the controlled counts too: every bar is full.
        let full = |colour: &str| format!("width=\"320\" height=\"20\" fill=\"#{colour}\"");
        assert_eq!(html.matches(&full("425563")).count(), 1);
        assert_eq!(html.matches(&full("005eb8")).count(), 3);
        assert!(html.contains(">10 (−*)</text>"), "{html}");
        // The report shows the same counts.
        let report = evaluation
            .report(&super::super::ReportOptions::default())
            .unwrap();
        assert!(
            report
                .markdown
                .contains("| 2 | aged 65+ | include | 10 | 10 | \\* |")
        );
    }

    #[test]
    fn an_explanation_shows_the_verdict_rules_and_rows() {
        let why = evaluate("direct_care").explain_blocking(2).unwrap();
        let html = explanation_html(&why).unwrap();
        assert!(
            html.contains("<h3>Person 2 and cohort <code>older</code></h3>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<p>Verdict: not in the cohort: removed at step 2 by rule \
             <code>high &lt;marker&gt;</code></p>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><td class='n'>2</td><td class='nowrap'><code>high &lt;marker&gt;</code></td>\
             <td>exclude</td>\
             <td><code>marker &gt; 7</code></td><td>true</td>\
             <td class='nowrap'><b>not passed</b> &larr; removed here</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><td class='n'>1</td><td class='nowrap'><code>aged 65+</code></td><td>include</td>\
             <td><code>age &gt;= 65</code></td><td>true</td><td class='nowrap'>passed</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<td><code>age</code></td><td class='nowrap'>76</td><td>age in whole years on \
             <span class=\"nowrap\">31 March 2026</span></td><td></td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<td>1 row(s) selected<table><thead><tr><th>table</th><th>date</th><th>code</th>\
             <th class='n'>value</th></tr></thead><tbody><tr><td>gp</td>\
             <td class='nowrap'>2025-02-01</td><td>22298006</td><td class='n'>7.5</td></tr>\
             </tbody></table></td></tr>"
            ),
            "{html}"
        );

        let member = evaluate("direct_care").explain_blocking(1).unwrap();
        let html = explanation_html(&member).unwrap();
        assert!(
            html.contains("<p>Verdict: in the cohort (passed all 2 rules)</p>"),
            "{html}"
        );
        assert!(
            html.contains("<td><code>marker</code></td><td class='nowrap'><i>unknown</i></td>"),
            "{html}"
        );
        assert!(!html.contains("removed here"));
    }

    fn quality(count: u64, excluded: u64) -> DataQuality {
        let finding = |kind, count, excluded| Finding {
            kind,
            column: "nhs_number".to_string(),
            count,
            policy: if excluded > 0 {
                Policy::Exclude
            } else {
                Policy::Keep
            },
            excluded,
        };
        DataQuality {
            reference_date: "2026-01-01".to_string(),
            tables: vec![TableQuality {
                table: "persons <1>".to_string(),
                role: Role::Person,
                rows: 1000,
                rows_excluded: excluded,
                findings: vec![
                    finding(FindingKind::InvalidNhsNumber, count, excluded),
                    finding(FindingKind::MissingDate, 0, 0),
                ],
            }],
            arithmetic: vec![],
        }
    }

    #[test]
    fn data_quality_counts_follow_the_purpose() {
        let exact = data_quality_html(&quality(1234, 0), Purpose::DirectCare).unwrap();
        assert!(
            exact.contains(
                "<tr><td><code>persons &lt;1&gt;</code></td><td><code>nhs_number</code></td>\
             <td>an invalid NHS number</td><td class='n'>1,234</td><td>keep</td>\
             <td class='n'>0</td></tr>"
            ),
            "{exact}"
        );
        // Only what was found is listed.
        assert!(!exact.contains("a missing date"));
        let controlled = data_quality_html(&quality(6, 6), Purpose::Planning).unwrap();
        assert!(
            controlled.contains(
                "<td>an invalid NHS number</td><td class='n'>*</td><td>exclude</td>\
                 <td class='n'>*</td></tr>"
            ),
            "{controlled}"
        );
        let rounded = data_quality_html(&quality(1234, 0), Purpose::Research).unwrap();
        assert!(
            rounded.contains("<td class='n'>1,235</td><td>keep</td><td class='n'>0</td>"),
            "{rounded}"
        );
        let nothing = data_quality_html(&quality(0, 0), Purpose::DirectCare).unwrap();
        assert!(
            nothing.contains("<h4>Data quality</h4>\n<p>Nothing found in the 1 table(s) read.</p>"),
            "{nothing}"
        );
    }
}
