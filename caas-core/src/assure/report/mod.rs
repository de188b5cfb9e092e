//! The report a programme receives with its cohort, as Markdown and as one self-contained
//! HTML page (inline CSS and SVG, no scripts, nothing loaded from elsewhere): the cohort's
//! metadata and sign-off, the definition in plain English (each variable and rule as a
//! sentence), the codelists with their sizes and hashes, the attrition with a funnel
//! picture, the [characteristics of the members](crate::characterise) with a bar chart each
//! of age, sex and region, the data-quality findings and the provenance.
//!
//! The layout lives in templates (`report/templates/`, rendered with minijinja); this module
//! gives them their data. For purposes other than direct care, every count in the report
//! is under [disclosure control](disclosure) — including the ones the funnel is drawn from.
//! The [notebook views](notebook) that the front ends show are rendered by the same
//! environment, under the same control.

mod characterisation;
mod describe;
pub mod disclosure;
pub(crate) mod english;
mod findings;
mod html;
pub mod notebook;
mod saved;

pub use describe::Description;
pub use saved::{SAVED_RUN_FORMAT, SavedRun};

use indexmap::IndexMap;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value as Template};
use serde::{Deserialize, Serialize};

use self::describe::assurance_text;
use self::disclosure::{Disclosed, disclose};
use self::english::{English, Sentence, long_date};
use crate::characterise::{CharacteriseOptions, Characteristics};
use crate::error::{CaasError, Result};
use crate::model::{Cohort, Purpose, Value};
use crate::results::Evaluation;
use crate::results::provenance::{AttritionStep, Provenance};
use crate::runtime::block_on;
use crate::source::quality::{DataQuality, Policy};

const MARKDOWN: &str = include_str!("templates/report.md");
const HTML: &str = include_str!("templates/report.html");
const FUNNEL: &str = include_str!("templates/funnel.svg");
const CHARACTERISATION_MD: &str = include_str!("templates/characterisation.md");
const CHARACTERISATION_HTML: &str = include_str!("templates/characterisation.html");
const BARS: &str = include_str!("templates/bars.svg");

/// How to render a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// Put counts under disclosure control even for direct care (they always are for
    /// other purposes).
    #[serde(default)]
    pub disclosure_control: bool,
}

/// A rendered report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The report as Markdown.
    pub markdown: String,
    /// The report as one self-contained HTML page.
    pub html: String,
    /// The attrition funnel as a standalone SVG image (the HTML has it inline).
    pub funnel_svg: String,
}

#[derive(Serialize)]
struct CohortContext {
    id: String,
    title: String,
    version: Option<String>,
    description: Option<String>,
    owner: Option<String>,
    purpose: &'static str,
    legal_basis: Option<String>,
    dpia_reference: Option<String>,
    assurance: Option<String>,
}

#[derive(Serialize)]
struct RunContext {
    started_at: String,
    finished_at: String,
    population: String,
    members: String,
}

#[derive(Serialize)]
struct ParameterContext {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct VariableContext {
    name: String,
    sentence: Sentence,
}

#[derive(Serialize)]
struct RuleContext {
    step: usize,
    name: String,
    action: &'static str,
    sentence: Sentence,
    description: Option<String>,
}

#[derive(Serialize)]
struct CodelistContext {
    name: String,
    description: Option<String>,
    system: String,
    size: String,
    sha256: String,
}

/// An attrition step as the report and the notebook show it.
#[derive(Serialize)]
struct StepContext {
    step: u64,
    rule: String,
    action: String,
    before: String,
    after: String,
    removed: String,
}

impl StepContext {
    /// The step with its counts as `count` shows them (under disclosure control or not).
    fn new<D: std::fmt::Display>(step: &AttritionStep, count: impl Fn(u64) -> D) -> Self {
        StepContext {
            step: step.step,
            rule: step.rule.clone(),
            action: step.action.clone(),
            before: count(step.before).to_string(),
            after: count(step.after).to_string(),
            removed: count(step.removed).to_string(),
        }
    }
}

#[derive(Serialize)]
struct FindingContext {
    table: String,
    column: String,
    kind: &'static str,
    count: String,
    treatment: &'static str,
}

/// A variable's or rule's values that arithmetic left missing.
#[derive(Serialize)]
struct ArithmeticContext {
    variable: Option<String>,
    rule: Option<String>,
    count: String,
    treatment: &'static str,
}

#[derive(Serialize)]
struct ColumnContext {
    name: String,
    data_type: String,
}

#[derive(Serialize)]
struct TableContext {
    name: String,
    role: String,
    rows: String,
    columns: Vec<ColumnContext>,
}

#[derive(Serialize)]
struct ComposedContext {
    id: String,
    definition_sha256: String,
}

#[derive(Serialize)]
struct ProvenanceContext {
    definition_sha256: String,
    caas: String,
    datafusion: String,
    member_of: Vec<ComposedContext>,
    tables: Vec<TableContext>,
}

#[derive(Serialize)]
struct Context {
    cohort: CohortContext,
    run: RunContext,
    disclosure: bool,
    parameters: Vec<ParameterContext>,
    variables: Vec<VariableContext>,
    rules: Vec<RuleContext>,
    output: Vec<String>,
    codelists: Vec<CodelistContext>,
    attrition: Vec<StepContext>,
    data_quality: Vec<FindingContext>,
    arithmetic: Vec<ArithmeticContext>,
    provenance: ProvenanceContext,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    count: String,
    removed: Option<String>,
    x: i64,
    y: i64,
    width: i64,
    text_y: i64,
    colour: &'static str,
}

#[derive(Serialize)]
struct Funnel {
    standalone: bool,
    title: String,
    width: i64,
    height: i64,
    label_x: i64,
    bar_x: i64,
    bar_width: i64,
    bar_height: i64,
    count_x: i64,
    bars: Vec<Bar>,
}

impl Funnel {
    const ROW: i64 = 30;
    const BAR_HEIGHT: i64 = 20;
    const LABEL_WIDTH: i64 = 250;
    const BAR_WIDTH: i64 = 320;
    const COUNT_WIDTH: i64 = 150;

    /// The funnel of an attrition: the population, then each step's people left and
    /// removed, as `count` shows them.
    fn of(
        title: &str,
        population: Disclosed,
        steps: &[AttritionStep],
        count: impl Fn(u64) -> Disclosed,
    ) -> Self {
        let steps: Vec<(String, Disclosed, Disclosed)> = steps
            .iter()
            .map(|s| {
                (
                    format!("{}. {}", s.step, s.rule),
                    count(s.after),
                    count(s.removed),
                )
            })
            .collect();
        Self::new(title, population, &steps)
    }

    /// Bars for the population and for the people left after each step, their lengths in
    /// proportion to the counts shown (a suppressed count draws no bar).
    fn new(title: &str, population: Disclosed, steps: &[(String, Disclosed, Disclosed)]) -> Self {
        let shown = |d: Disclosed| d.shown().unwrap_or(0) as f64;
        let largest = steps
            .iter()
            .map(|(_, after, _)| shown(*after))
            .fold(shown(population), f64::max)
            .max(1.0);
        let bar_x = Self::LABEL_WIDTH + 10;
        let mut rows: Vec<(String, Disclosed, Option<Disclosed>)> =
            vec![("People in the person table".to_string(), population, None)];
        rows.extend(
            steps
                .iter()
                .map(|(label, after, removed)| (label.clone(), *after, Some(*removed))),
        );
        let bars = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, count, removed))| {
                // At most BAR_WIDTH: the float never leaves the range of an i64.
                let width = (shown(count) / largest * Self::BAR_WIDTH as f64).round() as i64;
                let y = 10 + i as i64 * Self::ROW;
                Bar {
                    label,
                    count: count.to_string(),
                    removed: removed
                        .filter(|r| *r != Disclosed::Exact(0))
                        .map(|r| r.to_string()),
                    x: bar_x + (Self::BAR_WIDTH - width) / 2,
                    y,
                    width,
                    text_y: y + 14,
                    colour: if i == 0 { "#425563" } else { "#005eb8" },
                }
            })
            .collect::<Vec<_>>();
        Funnel {
            standalone: false,
            title: title.to_string(),
            width: Self::LABEL_WIDTH + Self::BAR_WIDTH + Self::COUNT_WIDTH + 20,
            height: 20 + bars.len() as i64 * Self::ROW,
            label_x: Self::LABEL_WIDTH,
            bar_x,
            bar_width: Self::BAR_WIDTH,
            bar_height: Self::BAR_HEIGHT,
            count_x: bar_x + Self::BAR_WIDTH + 10,
            bars,
        }
    }
}

/// Escapes text for Markdown: characters that would start emphasis, code, links, HTML or
/// table cells are backslash-escaped, and line breaks become spaces.
fn markdown_escape(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(template_error)?,
    );
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") || name.ends_with(".svg") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("md", markdown_escape);
    env.add_filter("prose", html::prose);
    env.add_template("report.md", MARKDOWN)
        .map_err(template_error)?;
    env.add_template("report.html", HTML)
        .map_err(template_error)?;
    env.add_template("funnel.svg", FUNNEL)
        .map_err(template_error)?;
    for (name, source) in [
        ("characterisation.md", CHARACTERISATION_MD),
        ("characterisation.html", CHARACTERISATION_HTML),
        ("bars.svg", BARS),
    ] {
        env.add_template(name, source).map_err(template_error)?;
    }
    Ok(env)
}

fn template_error(err: minijinja::Error) -> CaasError {
    CaasError::Report(err.to_string())
}

fn treatment_words(policy: Policy) -> &'static str {
    match policy {
        Policy::Keep => "kept",
        Policy::Exclude => "excluded",
        // A finding under `fail` ends the evaluation before any report.
        Policy::Fail => "failed the evaluation",
    }
}

fn purpose_words(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DirectCare => "direct care",
        Purpose::Research => "research",
        Purpose::Planning => "planning",
    }
}

fn parameter_words(value: &Value) -> String {
    match value {
        Value::Date(d) => long_date(*d),
        Value::Text(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

impl Evaluation {
    /// The report of this evaluation (see [`report`](crate::report)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{BooleanArray, Date32Array, Int64Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    /// use caas_core::report::ReportOptions;
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("person_id", DataType::Int64, false),
    ///     Field::new("date_of_birth", DataType::Date32, true),
    ///     Field::new("national_opt_out", DataType::Boolean, false),
    ///     Field::new("type1_opt_out", DataType::Boolean, false),
    /// ]));
    /// let ids: Vec<i64> = (1..=40).collect();
    /// let births: Vec<i32> = ids.iter().map(|i| if *i <= 30 { -7305 } else { 10957 }).collect();
    /// let batch = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(Int64Array::from(ids)),
    ///     Arc::new(Date32Array::from(births)),
    ///     Arc::new(BooleanArray::from(vec![false; 40])),
    ///     Arc::new(BooleanArray::from(vec![false; 40])),
    /// ]).unwrap();
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch]).unwrap();
    /// let cohort = Cohort::from_yaml_str(r#"
    /// id: older
    /// title: Aged 65 or over
    /// purpose: research
    /// parameters: { index_date: 2026-03-31 }
    /// variables:
    ///   age: { kind: age, on: index_date }
    /// rules:
    ///   - { name: aged 65+, include: age >= 65 }
    /// "#).unwrap();
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap();
    /// let report = result.report(&ReportOptions::default()).unwrap();
    /// assert!(report.markdown.contains("- `age`: age in whole years on 31 March 2026."));
    /// assert!(report.markdown.contains(
    ///     "1. **aged 65+** (include): keep only people for whom `age` is at least 65."));
    /// // Research: 40 people and 30 members are shown rounded; 10 removed stays 10.
    /// assert!(report.markdown.contains("| 2 | aged 65+ | include | 40 | 30 | 10 |"));
    /// assert!(report.html.starts_with("<!DOCTYPE html>"));
    /// ```
    pub fn report(&self, options: &ReportOptions) -> Result<Report> {
        let characteristics = block_on(self.characteristics(&CharacteriseOptions::default()))??;
        Reported {
            cohort: &self.run.cohort,
            parameters: &self.run.parameters,
            deaths: self.run.person_table().has_deaths(),
            provenance: &self.provenance,
            data_quality: &self.data_quality,
            characteristics: Some(&characteristics),
        }
        .render(options)
    }
}

/// What a report is made of: a run's definition, parameters, provenance and data quality,
/// from an evaluation or from a [saved run](SavedRun) alike.
struct Reported<'a> {
    cohort: &'a Cohort,
    parameters: &'a IndexMap<String, Value>,
    /// Whether the person table has dates of death (else `alive` is everyone).
    deaths: bool,
    provenance: &'a Provenance,
    data_quality: &'a DataQuality,
    /// The members' characteristics (none in a run saved by a caas without them).
    characteristics: Option<&'a Characteristics>,
}

impl Reported<'_> {
    fn render(&self, options: &ReportOptions) -> Result<Report> {
        let definition = self.cohort.definition();
        let provenance = self.provenance;
        let controlled = options.disclosure_control || disclosure::applies(definition.purpose);
        let purpose = if options.disclosure_control {
            Purpose::Research
        } else {
            definition.purpose
        };
        let count = |n: u64| disclose(n, purpose);
        let english = English::new(self.cohort, self.parameters).with_deaths(self.deaths);

        let steps = &provenance.attrition;
        let mut funnel = Funnel::of(
            &definition.title,
            count(provenance.population),
            steps,
            count,
        );

        let context = Context {
            cohort: CohortContext {
                id: definition.id.clone(),
                title: definition.title.clone(),
                version: definition.version.clone(),
                description: definition
                    .description
                    .as_ref()
                    .map(|d| d.trim().to_string()),
                owner: definition.owner.clone(),
                purpose: purpose_words(definition.purpose),
                legal_basis: definition.legal_basis.clone(),
                dpia_reference: definition.dpia_reference.clone(),
                assurance: definition.assurance.as_ref().map(assurance_text),
            },
            run: RunContext {
                started_at: provenance.started_at.clone(),
                finished_at: provenance.finished_at.clone(),
                population: count(provenance.population).to_string(),
                members: count(provenance.members).to_string(),
            },
            disclosure: controlled,
            parameters: (self.parameters.iter())
                .map(|(name, value)| ParameterContext {
                    name: name.clone(),
                    value: parameter_words(value),
                })
                .collect(),
            variables: definition
                .variables
                .keys()
                .map(|name| VariableContext {
                    name: name.clone(),
                    sentence: english.variable(name),
                })
                .collect(),
            rules: (self.cohort.rules())
                .iter()
                .enumerate()
                .map(|(i, rule)| RuleContext {
                    step: i + 1,
                    name: rule.name.clone(),
                    action: if rule.exclude { "exclude" } else { "include" },
                    sentence: english.rule(rule),
                    description: definition.rules.get(i).and_then(|r| r.description.clone()),
                })
                .collect(),
            output: definition.output.columns.clone(),
            codelists: provenance
                .codelists
                .iter()
                .map(|c| CodelistContext {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    system: c.system.to_string(),
                    size: disclosure::thousands(c.size as u64),
                    sha256: c.sha256.clone(),
                })
                .collect(),
            attrition: steps.iter().map(|s| StepContext::new(s, count)).collect(),
            data_quality: self
                .data_quality
                .tables
                .iter()
                .flat_map(|table| {
                    table
                        .findings
                        .iter()
                        .filter(|f| f.count > 0)
                        .map(|f| FindingContext {
                            table: table.table.clone(),
                            column: f.column.clone(),
                            kind: f.kind.description(),
                            count: count(f.count).to_string(),
                            treatment: treatment_words(f.policy),
                        })
                })
                .collect(),
            arithmetic: self
                .data_quality
                .arithmetic
                .iter()
                .filter(|a| a.count > 0)
                .map(|a| ArithmeticContext {
                    variable: a.variable.clone(),
                    rule: a.rule.clone(),
                    count: count(a.count).to_string(),
                    // Under `fail` there is no report; under `keep` the value is missing.
                    treatment: "left missing",
                })
                .collect(),
            provenance: ProvenanceContext {
                definition_sha256: provenance.definition_sha256.clone(),
                caas: provenance.engine.caas.clone(),
                datafusion: provenance.engine.datafusion.clone(),
                member_of: provenance
                    .member_of
                    .iter()
                    .map(|c| ComposedContext {
                        id: c.id.clone(),
                        definition_sha256: c.definition_sha256.clone(),
                    })
                    .collect(),
                tables: provenance
                    .tables
                    .iter()
                    .map(|t| TableContext {
                        name: t.name.clone(),
                        role: match t.code_system {
                            Some(system) => format!("{} ({system})", role_words(t.role)),
                            None => role_words(t.role).to_string(),
                        },
                        rows: count(t.rows).to_string(),
                        columns: t
                            .columns
                            .iter()
                            .map(|c| ColumnContext {
                                name: c.name.clone(),
                                data_type: c.data_type.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            },
        };

        let env = environment()?;
        let render = |name: &str, value: Template| {
            env.get_template(name)
                .and_then(|t| t.render(value))
                .map_err(template_error)
        };
        let inline_funnel = render("funnel.svg", Template::from(Serde(&funnel)))?;
        funnel.standalone = true;
        let mut funnel_svg = render("funnel.svg", Template::from(Serde(&funnel)))?;
        funnel_svg.push('\n');
        // The members' characteristics, under the same control as the report's counts.
        let (characterisation_md, characterisation_html) = match self.characteristics {
            Some(characteristics) => {
                characterisation::render(&env, &characteristics.shown(purpose)?, 3)?
            }
            None => (String::new(), String::new()),
        };
        let markdown_context = minijinja::context! {
            characterisation => Template::from_safe_string(characterisation_md),
            ..Template::from(Serde(&context))
        };
        let mut markdown = render("report.md", markdown_context)?;
        markdown.push('\n');
        let html_context = minijinja::context! {
            funnel => Template::from_safe_string(inline_funnel),
            characterisation => Template::from_safe_string(characterisation_html),
            ..Template::from(Serde(&context))
        };
        let mut html = render("report.html", html_context)?;
        html.push('\n');
        Ok(Report {
            markdown,
            html,
            funnel_svg,
        })
    }
}

fn role_words(role: crate::source::Role) -> &'static str {
    match role {
        crate::source::Role::Person => "person",
        crate::source::Role::Events => "events",
        crate::source::Role::Periods => "periods",
    }
}
