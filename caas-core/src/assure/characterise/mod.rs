//! The characterisation of a cohort's members — the "Table 1" of a study: how many they
//! are, their ages, sex and region, their practices, and the distribution of each output
//! variable ([`Evaluation::characterise`]).
//!
//! ## What is counted
//!
//! - **Age** in whole years on a date parameter of the cohort — `index_date` when it is a
//!   date, else the first date parameter, or the one [`CharacteriseOptions::age_on`] names —
//!   computed from the person table's `date_of_birth` by the engine's own function (the
//!   `age` variable's), in bands ([`CharacteriseOptions::age_bands`]) and as numbers. A
//!   person born after the date is in the band `(not yet born)`, listed only when someone
//!   is.
//! - **Sex**: the person table's `sex` column, as text, when it has one.
//! - **Region**: the person table's column of regions ([`CharacteriseOptions::region`];
//!   a column named `region` by default), when it has one.
//! - **Practice**: for each output variable of kind `practice`, the number of distinct
//!   practices, the members without one, and the summary of the members per practice.
//! - **Each output variable**, by its type: true/false — the people with true, false and
//!   `(missing)`; numbers — `n`, `missing` (no value, or not a number), `min`, `q1`,
//!   `median`, `q3`, `max` and `mean` (quantiles interpolate linearly, as numpy's and
//!   pandas' default); dates — `n`, `missing`, `earliest`, `median` (of an even number, the
//!   earlier middle date) and `latest`; anything else (codes, text) — the
//!   [`top`](CharacteriseOptions::top) values by people, then `(other)` for the rest, then
//!   `(missing)`.
//!
//! Age, sex and region are read from the person table the evaluation read, for the
//! members by their person id — also when the members carry pseudonyms. An evaluation
//! made in another engine ([`Engine::evaluation_of`](crate::Engine::evaluation_of)) has no
//! person ids here: its characterisation has the output variables only, and says so.
//!
//! ## The table
//!
//! [`Characterisation::table`] is tidy: one row per statistic, each `(section, variable,
//! category, statistic)` once, so that `table.to_pandas().pivot(index=["section",
//! "variable", "category"], columns="statistic", values="shown")` lays it out (with
//! `values="value"`, as numbers).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `section` | utf8 | `cohort`, `age`, `sex`, `region`, `practice` or `variable` |
//! | `variable` | utf8 | `people` (section `cohort`), `age`, `sex`, the region column's name, or the variable's name |
//! | `category` | utf8, nullable | the category counted (a value, an age band such as `18-29` or `80+`, `(other)`, `(missing)`, `(not yet born)`), `members per practice`, the parameter of `on`, or null for a statistic of the whole variable |
//! | `statistic` | utf8 | `count`, `percent` (of the members), `on` (the date of the ages), `n`, `missing`, `min`, `q1`, `median`, `q3`, `max`, `mean`, `earliest`, `latest`, `practices` |
//! | `value` | float64, nullable | the number as shown; null where it is not shown, and for dates |
//! | `date` | date32, nullable | the date, for `on`, `earliest`, `median` and `latest` of dates |
//! | `shown` | utf8 | the text the report shows: `*` where disclosure control does not show it, empty for a summary of no values |
//!
//! ## Disclosure control
//!
//! For purposes other than direct care (or with
//! [`CharacteriseOptions::disclosure_control`]) the characterisation is under the report's
//! [disclosure control](crate::report::disclosure):
//!
//! - every count (people, `n`, `missing`, `practices`) is shown as the report shows
//!   counts: 0 as 0, 1 to 7 as `*` (value null), others rounded to the nearest 5;
//!   percentages are of the counts as shown;
//! - a value of a text variable, sex or region held by 1 to 7 people is not listed: its
//!   label alone would say that someone has it; its people are counted in `(other)`;
//! - `min`, `max`, `earliest` and `latest` are never shown: each is one person's value;
//! - a quantile at `p` of `n` values is shown only when at least 8 values lie on each side
//!   of it, `n × min(p, 1 − p) ≥ 8`: the median from 16 values, the quartiles from 32;
//!   the mean from 8 values.
//!
//! The same thresholds hold for the members per practice, counting practices.

mod stats;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Builder, Float64Builder, RecordBatch,
    StringBuilder,
};
use arrow::compute::{and, cast, concat_batches, filter};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Int64Type, Schema};
use chrono::NaiveDate;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::logical_expr::{Expr as DfExpr, cast as cast_expr, lit};
use serde::{Deserialize, Serialize};

pub(crate) use self::stats::{Category, Shown, Stat};
use self::stats::{Control, Dates, MISSING, Numbers, Practices, Values};
use crate::assure::report::disclosure::{self, Disclosed};
use crate::compile::rule_column;
use crate::error::{CaasError, Result};
use crate::execute::Run;
use crate::execute::lower::udf;
use crate::model::expr::DurationUnit;
use crate::model::{Purpose, Value, VariableKind};
use crate::results::Evaluation;
use crate::runtime::block_on;
use crate::source::column;

/// The band of the people born after the date of the ages.
const NOT_YET_BORN: &str = "(not yet born)";

/// How to characterise the members. As JSON (what the Python and C front ends hand over),
/// every key is optional: `{"disclosure_control": true, "age_on": "index_date",
/// "age_bands": [0, 18, 65], "region": "nuts1", "top": 5, "after_rule": "aged 65+"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CharacteriseOptions {
    /// Put the characterisation under disclosure control even for direct care (it always
    /// is for other purposes).
    pub disclosure_control: bool,
    /// The date parameter on which ages are counted; by default `index_date` when it is a
    /// date, else the cohort's first date parameter (no ages without one).
    pub age_on: Option<String>,
    /// The lower bounds of the age bands in whole years: from 0, ascending; the last band
    /// has no upper bound. By default 0, 18, 30, 40, 50, 60, 70, 80 (`0-17`, `18-29`, ...,
    /// `80+`).
    pub age_bands: Vec<i64>,
    /// The person table's column of regions; by default the column `region` when the
    /// person table has one.
    pub region: Option<String>,
    /// How many values of a text variable, sex or region are listed (the most frequent);
    /// the others are counted in `(other)`. By default 10.
    pub top: usize,
    /// Characterise the people still in after this rule (its name in the attrition)
    /// instead of the members: who each step of the attrition keeps. Ages, sex and region
    /// only, since an evaluation holds the output variables of its members alone.
    pub after_rule: Option<String>,
}

impl Default for CharacteriseOptions {
    fn default() -> Self {
        CharacteriseOptions {
            disclosure_control: false,
            age_on: None,
            age_bands: vec![0, 18, 30, 40, 50, 60, 70, 80],
            region: None,
            top: 10,
            after_rule: None,
        }
    }
}

impl CharacteriseOptions {
    /// The options written as JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| invalid("options", format!("cannot read them: {e}")))
    }

    fn check(&self) -> Result<()> {
        let bands = &self.age_bands;
        if bands.first() != Some(&0) || bands.windows(2).any(|w| w.first() >= w.get(1)) {
            return Err(invalid(
                "age_bands",
                "the lower bounds of the bands start at 0 and ascend".to_string(),
            ));
        }
        if self.top == 0 {
            return Err(invalid("top", "lists at least one value".to_string()));
        }
        Ok(())
    }

    /// The label of each band: `0-17`, ..., `80+`.
    fn band_labels(&self) -> Vec<String> {
        let bounds = &self.age_bands;
        bounds
            .iter()
            .enumerate()
            .map(|(i, low)| match bounds.get(i + 1) {
                Some(next) => format!("{low}-{}", next - 1),
                None => format!("{low}+"),
            })
            .collect()
    }
}

fn invalid(option: &str, message: String) -> CaasError {
    CaasError::InvalidInput {
        what: format!("characterisation option `{option}`"),
        message,
    }
}

/// The exact characteristics of an evaluation's members, before disclosure control: what
/// a [`Characterisation`] shows under the control of a purpose. They hold exact counts and
/// summaries, like the provenance, so that they can be kept with a run and shown again
/// under another control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Characteristics {
    /// The people characterised: the members, or those still in after a rule.
    members: u64,
    /// The parts, in the order of the table.
    parts: Vec<Part>,
    /// What could not be characterised, and why.
    notes: Vec<String>,
}

/// One exact part of the characteristics: a section's variable and its counts or summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Part {
    /// Its section.
    section: Section,
    /// The variable.
    variable: String,
    /// Its counts or summary.
    exact: Exact,
}

/// The counts or summary of a part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Exact {
    /// Ages on a date parameter.
    Age {
        /// The parameter.
        parameter: String,
        /// Its date.
        #[serde(with = "stats::iso_day")]
        on: NaiveDate,
        /// The people of each band, `(not yet born)` (when any) and `(missing)`.
        bands: Vec<(String, u64)>,
        /// The summary of the years.
        years: Numbers,
    },
    /// Categories in a fixed order: true, false and `(missing)`.
    Fixed {
        /// The people of each.
        counts: Vec<(String, u64)>,
    },
    /// The values of sex, region or a text variable.
    Values {
        /// The values.
        values: Values,
    },
    /// The summary of a numeric variable.
    Numbers {
        /// The summary.
        summary: Numbers,
    },
    /// The summary of a date variable.
    Dates {
        /// The summary.
        summary: Dates,
    },
    /// The practices of a practice variable.
    Practices {
        /// The practices.
        practices: Practices,
    },
}

impl Characteristics {
    /// The characterisation these characteristics give under the disclosure control of
    /// `purpose`.
    pub(crate) fn shown(&self, purpose: Purpose) -> Result<Characterisation> {
        let control = Control {
            purpose,
            people: disclosure::disclose(self.members, purpose),
        };
        let mut blocks = vec![Block {
            section: Section::Cohort,
            variable: "people".to_string(),
            content: Content::People(control.people),
        }];
        for part in &self.parts {
            let content = match &part.exact {
                Exact::Age {
                    parameter,
                    on,
                    bands,
                    years,
                } => Content::Age {
                    parameter: parameter.clone(),
                    on: *on,
                    bands: control.fixed(bands),
                    summary: control.numbers(years),
                },
                Exact::Fixed { counts } => Content::Categories(control.fixed(counts)),
                Exact::Values { values } => Content::Categories(control.values(values)),
                Exact::Numbers { summary } => Content::Numbers(control.numbers(summary)),
                Exact::Dates { summary } => Content::Dates(control.dates(summary)),
                Exact::Practices { practices } => Content::Practices(control.practices(practices)),
            };
            blocks.push(Block {
                section: part.section,
                variable: part.variable.clone(),
                content,
            });
        }
        Ok(Characterisation {
            table: table(&blocks)?,
            disclosure_control: control.applies(),
            purpose,
            blocks,
            notes: self.notes.clone(),
        })
    }
}

/// A section of a characterisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Section {
    /// The members.
    Cohort,
    /// Their ages.
    Age,
    /// Their sex.
    Sex,
    /// Their region.
    Region,
    /// Their practices, by a practice variable.
    Practice,
    /// An output variable.
    Variable,
}

impl Section {
    /// The section's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Section::Cohort => "cohort",
            Section::Age => "age",
            Section::Sex => "sex",
            Section::Region => "region",
            Section::Practice => "practice",
            Section::Variable => "variable",
        }
    }
}

/// What one part of a characterisation shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Content {
    /// The members.
    People(Disclosed),
    /// Ages on a date parameter: the bands, then the summary of the years.
    Age {
        /// The parameter.
        parameter: String,
        /// Its date.
        on: NaiveDate,
        /// The bands, `(not yet born)` and `(missing)`.
        bands: Vec<Category>,
        /// `n`, `missing`, `min`, ... of the ages.
        summary: Vec<Stat>,
    },
    /// Categories: sex, region, a true/false or text variable.
    Categories(Vec<Category>),
    /// The summary of a numeric variable.
    Numbers(Vec<Stat>),
    /// The summary of a date variable.
    Dates(Vec<Stat>),
    /// The practices of a practice variable.
    Practices(Vec<Stat>),
}

/// One part of a characterisation: a section's variable and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Block {
    /// Its section.
    pub section: Section,
    /// The variable.
    pub variable: String,
    /// What it shows.
    pub content: Content,
}

/// The characterisation of an evaluation's members (see [`characterise`](self)), as
/// disclosure control lets it be shown.
#[derive(Debug, Clone)]
pub struct Characterisation {
    /// One row per statistic: `section`, `variable`, `category`, `statistic`, `value`,
    /// `date`, `shown` (see [the table](self#the-table)).
    pub table: RecordBatch,
    /// Whether it is under disclosure control.
    pub disclosure_control: bool,
    /// The purpose whose disclosure control applies.
    pub(crate) purpose: Purpose,
    /// Its parts, in the order of the table.
    pub(crate) blocks: Vec<Block>,
    /// What could not be characterised, and why.
    pub(crate) notes: Vec<String>,
}

impl Characterisation {
    /// What could not be characterised, and why, and whom it characterises when not the
    /// members: sentences, as the report shows them.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Evaluation {
    /// The characterisation of the members ("Table 1"): their number, ages, sex, region
    /// and practices, and each output variable's distribution, under the report's
    /// disclosure control for purposes other than direct care (see
    /// [`characterise`](crate::characterise)). It reads the person table the evaluation
    /// read, for the members only.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Array, AsArray, Date32Array, Int64Array, RecordBatch, StringArray};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::characterise::CharacteriseOptions;
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("person_id", DataType::Int64, false),
    ///     Field::new("date_of_birth", DataType::Date32, true),
    ///     Field::new("sex", DataType::Utf8, true),
    /// ]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(Int64Array::from(vec![1, 2, 3])),
    ///     // 1950-01-01, 2000-01-01, 1960-06-01
    ///     Arc::new(Date32Array::from(vec![-7305, 10957, -3501])),
    ///     Arc::new(StringArray::from(vec!["F", "M", "F"])),
    /// ])?;
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
    /// let cohort = Cohort::from_yaml_str(r#"
    /// id: older
    /// title: Aged 50 or over
    /// purpose: direct_care
    /// parameters: { index_date: 2026-03-31 }
    /// variables: { age: { kind: age, on: index_date } }
    /// rules: [ { name: aged 50+, include: age >= 50 } ]
    /// output: { columns: [age] }
    /// "#)?;
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    /// let table = result.characterise_blocking(&CharacteriseOptions::default())?.table;
    /// let text = |name: &str| {
    ///     table.column_by_name(name).map(|c| c.as_string::<i32>().clone()).ok_or(name.to_string())
    /// };
    /// let (section, category, statistic, shown) =
    ///     (text("section")?, text("category")?, text("statistic")?, text("shown")?);
    /// // What the table shows of a section's category (or whole) and statistic.
    /// let shown_of = |s: &str, c: Option<&str>, stat: &str| {
    ///     (0..table.num_rows())
    ///         .find(|&i| {
    ///             section.value(i) == s
    ///                 && category.is_valid(i).then(|| category.value(i)) == c
    ///                 && statistic.value(i) == stat
    ///         })
    ///         .map(|i| shown.value(i))
    /// };
    /// // The members are 76 and 65 on the index date, both female.
    /// assert_eq!(shown_of("age", Some("60-69"), "count"), Some("1"));
    /// assert_eq!(shown_of("age", Some("70-79"), "percent"), Some("50.0"));
    /// assert_eq!(shown_of("sex", Some("F"), "count"), Some("2"));
    /// assert_eq!(shown_of("variable", None, "median"), Some("70.5"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn characterise(&self, options: &CharacteriseOptions) -> Result<Characterisation> {
        let purpose = if options.disclosure_control {
            Purpose::Research
        } else {
            self.run.cohort.definition().purpose
        };
        self.characteristics(options).await?.shown(purpose)
    }

    /// [`Evaluation::characterise`], blocking the calling thread.
    pub fn characterise_blocking(&self, options: &CharacteriseOptions) -> Result<Characterisation> {
        block_on(self.characterise(options))?
    }

    /// The exact characteristics of the members.
    pub(crate) async fn characteristics(
        &self,
        options: &CharacteriseOptions,
    ) -> Result<Characteristics> {
        options.check()?;
        let run = &self.run;
        let mut parts = Vec::new();
        let mut notes = Vec::new();
        let age_on = self.age_on(options)?;
        let region = self.region(options)?;
        let rules = self.rules_passed(options)?;
        let mut people_count = self.member_count() as u64;
        match &self.outcomes {
            Some(outcomes) => {
                let births = run.person_table().shape.column("date_of_birth").is_some();
                match (&age_on, births) {
                    (None, _) => notes.push(
                        "Ages are not given: the cohort has no date parameter to count them on."
                            .to_string(),
                    ),
                    (Some(_), false) => notes.push(
                        "Ages are not given: the person table has no dates of birth.".to_string(),
                    ),
                    _ => {}
                }
                let age_on = age_on.filter(|_| births);
                let ids = ids_passing(outcomes, rules)?;
                people_count = ids.len() as u64;
                let people = demographics(run, ids, age_on.as_ref(), region.as_deref()).await?;
                if let Some(people) = people {
                    parts.extend(demographic_parts(&people, age_on, region, options)?);
                }
            }
            None if options.after_rule.is_some() => {
                return Err(invalid(
                    "after_rule",
                    "the evaluation ran in another engine: only its members are known here"
                        .to_string(),
                ));
            }
            None => notes.push(
                "Age, sex and region are not given: the evaluation ran in another engine, \
                 whose person ids are not known here."
                    .to_string(),
            ),
        }
        match &options.after_rule {
            None => parts.extend(self.variable_parts(options)?),
            Some(rule) => notes.push(format!(
                "The people still in after the rule `{rule}`; variables are characterised \
                 for the members only."
            )),
        }
        Ok(Characteristics {
            members: people_count,
            parts,
            notes,
        })
    }

    /// How many rules the people characterised have passed: all of them (the members), or
    /// those up to `after_rule`.
    fn rules_passed(&self, options: &CharacteriseOptions) -> Result<usize> {
        let rules = self.run.cohort.rules();
        let Some(name) = &options.after_rule else {
            return Ok(rules.len());
        };
        match rules.iter().position(|r| &r.name == name) {
            Some(i) => Ok(i + 1),
            None => Err(invalid(
                "after_rule",
                format!(
                    "`{name}` is not a rule of the cohort; its rules are {}",
                    rules
                        .iter()
                        .map(|r| format!("`{}`", r.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The date parameter ages are counted on, if any.
    fn age_on(&self, options: &CharacteriseOptions) -> Result<Option<(String, NaiveDate)>> {
        let parameters = &self.run.parameters;
        let date = |name: &String| match parameters.get(name) {
            Some(Value::Date(d)) => Some((name.clone(), *d)),
            _ => None,
        };
        match &options.age_on {
            Some(name) => date(name).map(Some).ok_or_else(|| {
                invalid(
                    "age_on",
                    format!("`{name}` is not a date parameter of the cohort"),
                )
            }),
            None => {
                Ok(date(&"index_date".to_string()).or_else(|| parameters.keys().find_map(date)))
            }
        }
    }

    /// The person table's column of regions, if any.
    fn region(&self, options: &CharacteriseOptions) -> Result<Option<String>> {
        let person = self.run.person_table();
        let has = |name: &str| {
            person
                .data
                .schema()
                .as_arrow()
                .field_with_name(name)
                .is_ok()
        };
        match &options.region {
            Some(name) if has(name) => Ok(Some(name.clone())),
            Some(name) => Err(invalid(
                "region",
                format!("person table `{}` has no column `{name}`", person.name),
            )),
            None => Ok(has("region").then(|| "region".to_string())),
        }
    }

    /// The parts of the output variables, and first of the practice variables among them.
    fn variable_parts(&self, options: &CharacteriseOptions) -> Result<Vec<Part>> {
        let mut practices = Vec::new();
        let mut variables = Vec::new();
        let schema = self.members.schema();
        // The first column is the person id or pseudonym.
        for (field, values) in schema.fields().iter().zip(self.members.columns()).skip(1) {
            let name = field.name().clone();
            let is_practice = self
                .run
                .cohort
                .variable(&name)
                .is_some_and(|v| matches!(v.kind, VariableKind::Practice { .. }));
            if is_practice {
                let (counts, missing) = text_counts(values)?;
                practices.push(Part {
                    section: Section::Practice,
                    variable: name.clone(),
                    exact: Exact::Practices {
                        practices: Practices::of(&counts, missing),
                    },
                });
            }
            variables.push(Part {
                section: Section::Variable,
                variable: name,
                exact: distribution(values, options)?,
            });
        }
        practices.extend(variables);
        Ok(practices)
    }
}

/// The person ids of the rows of the held outcomes that pass the first `rules` rules: the
/// members when that is every rule.
fn ids_passing(outcomes: &RecordBatch, rules: usize) -> Result<ArrayRef> {
    let ids = outcomes
        .column_by_name("person_id")
        .ok_or_else(|| CaasError::internal("the outcomes hold no person ids"))?;
    let mut members = BooleanArray::from(vec![true; outcomes.num_rows()]);
    for i in 0..rules {
        let pass = outcomes
            .column_by_name(&rule_column(i))
            .and_then(|c| c.as_boolean_opt())
            .ok_or_else(|| CaasError::internal(format!("no outcome of rule {}", i + 1)))?;
        members = and(&members, pass)?;
    }
    Ok(filter(ids, &members)?)
}

/// The members' `age` (whole years on the date, by the engine's function), `sex` and
/// `region` (text), those the person table has, read from it in DataFusion for the
/// members' ids; `None` when it has none of them.
async fn demographics(
    run: &Run,
    ids: ArrayRef,
    age_on: Option<&(String, NaiveDate)>,
    region: Option<&str>,
) -> Result<Option<RecordBatch>> {
    let person = run.person_table();
    let mut exprs = Vec::new();
    if let (Some((_, on)), Some(births)) = (age_on, person.shape.column("date_of_birth")) {
        let on = lit(ScalarValue::Date32(Some(Date32Type::from_naive_date(*on))));
        exprs.push((
            "age",
            udf::between_expr(DurationUnit::Years, person.date(births), on),
        ));
    }
    if let Some(sex) = person.shape.column("sex") {
        exprs.push(("sex", cast_expr(column(sex), DataType::Utf8)));
    }
    if let Some(region) = region {
        exprs.push(("region", cast_expr(column(region), DataType::Utf8)));
    }
    if exprs.is_empty() {
        return Ok(None);
    }
    let names: Vec<DfExpr> = exprs.iter().map(|(name, _)| column(name)).collect();
    let mut exprs: Vec<DfExpr> = exprs.into_iter().map(|(name, e)| e.alias(name)).collect();
    exprs.push(run.tables.person_id(person).alias("__caas_person"));
    let members = run
        .ctx
        .read_batch(RecordBatch::try_from_iter([("__caas_member", ids)])?)?;
    // A semi join: a member's row of the person table once, whatever the ids' order.
    let frame = person
        .data
        .clone()
        .select(exprs)?
        .join_on(
            members,
            JoinType::LeftSemi,
            [column("__caas_person").eq(column("__caas_member"))],
        )?
        .select(names)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    Ok(Some(concat_batches(&schema, &batches)?))
}

/// The age, sex and region parts of the members' demographics.
fn demographic_parts(
    people: &RecordBatch,
    age_on: Option<(String, NaiveDate)>,
    region: Option<String>,
    options: &CharacteriseOptions,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    if let (Some((parameter, on)), Some(ages)) = (age_on, people.column_by_name("age")) {
        let ages = ages
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| CaasError::internal("ages are not whole numbers"))?;
        let labels = options.band_labels();
        let mut counts = vec![0u64; labels.len()];
        let (mut unborn, mut years) = (0u64, Vec::with_capacity(ages.len()));
        for age in ages.iter().flatten() {
            let band = options.age_bands.iter().rposition(|low| *low <= age);
            match band.and_then(|b| counts.get_mut(b)) {
                Some(count) => *count += 1,
                None => unborn += 1,
            }
            years.push(age as f64);
        }
        years.sort_by(f64::total_cmp);
        let mut bands: Vec<(String, u64)> = labels.into_iter().zip(counts).collect();
        if unborn > 0 {
            bands.push((NOT_YET_BORN.to_string(), unborn));
        }
        let missing = ages.null_count() as u64;
        bands.push((MISSING.to_string(), missing));
        parts.push(Part {
            section: Section::Age,
            variable: "age".to_string(),
            exact: Exact::Age {
                parameter,
                on,
                bands,
                years: Numbers::of(&years, missing),
            },
        });
    }
    for (section, name) in [
        (Section::Sex, Some("sex".to_string())),
        (Section::Region, region),
    ] {
        if let (Some(name), Some(values)) = (name, people.column_by_name(section.name())) {
            let (counts, missing) = text_counts(values)?;
            parts.push(Part {
                section,
                variable: name,
                exact: Exact::Values {
                    values: Values::of(counts, missing, options.top),
                },
            });
        }
    }
    Ok(parts)
}

/// The distribution of an output variable's values, by their type.
fn distribution(values: &ArrayRef, options: &CharacteriseOptions) -> Result<Exact> {
    Ok(match values.data_type() {
        DataType::Boolean => {
            let flags = values.as_boolean();
            let missing = flags.null_count() as u64;
            let trues = flags.true_count() as u64;
            let falses = (flags.len() as u64).saturating_sub(trues + missing);
            Exact::Fixed {
                counts: vec![
                    ("true".to_string(), trues),
                    ("false".to_string(), falses),
                    (MISSING.to_string(), missing),
                ],
            }
        }
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => {
            let days = cast(values, &DataType::Date32)?;
            let days = days
                .as_primitive_opt::<Date32Type>()
                .ok_or_else(|| CaasError::internal("dates cast to no dates"))?;
            let mut dates: Vec<NaiveDate> = days
                .iter()
                .flatten()
                .filter_map(Date32Type::to_naive_date_opt)
                .collect();
            dates.sort();
            let missing = values.len().saturating_sub(dates.len()) as u64;
            Exact::Dates {
                summary: Dates::of(&dates, missing),
            }
        }
        t if t.is_numeric() => {
            let numbers = cast(values, &DataType::Float64)?;
            let numbers = numbers
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| CaasError::internal("numbers cast to no numbers"))?;
            let mut finite: Vec<f64> = numbers.iter().flatten().filter(|x| x.is_finite()).collect();
            finite.sort_by(f64::total_cmp);
            let missing = values.len().saturating_sub(finite.len()) as u64;
            Exact::Numbers {
                summary: Numbers::of(&finite, missing),
            }
        }
        _ => {
            let (counts, missing) = text_counts(values)?;
            Exact::Values {
                values: Values::of(counts, missing, options.top),
            }
        }
    })
}

/// The people of each value of `values` read as text, and those without one.
fn text_counts(values: &ArrayRef) -> Result<(HashMap<String, u64>, u64)> {
    let text = cast(values, &DataType::Utf8)?;
    let text = text
        .as_string_opt::<i32>()
        .ok_or_else(|| CaasError::internal("text cast to no text"))?;
    let mut counts: HashMap<String, u64> = HashMap::new();
    for value in text.iter().flatten() {
        *counts.entry(value.to_string()).or_default() += 1;
    }
    Ok((counts, text.null_count() as u64))
}

/// The tidy table of `blocks`: one row per statistic.
fn table(blocks: &[Block]) -> Result<RecordBatch> {
    let mut rows = Rows::default();
    for block in blocks {
        let mut row = |category: Option<&str>, statistic: &str, shown: &Shown| {
            rows.push(block, category, statistic, shown);
        };
        let categories = |row: &mut dyn FnMut(Option<&str>, &str, &Shown), cats: &[Category]| {
            for c in cats {
                row(Some(&c.label), "count", &Shown::count(c.count));
                row(Some(&c.label), "percent", &c.percent);
            }
        };
        let statistics = |row: &mut dyn FnMut(Option<&str>, &str, &Shown), list: &[Stat]| {
            for s in list {
                row(s.category.as_deref(), s.statistic, &s.shown);
            }
        };
        match &block.content {
            Content::People(count) => row(None, "count", &Shown::count(*count)),
            Content::Age {
                parameter,
                on,
                bands,
                summary,
            } => {
                row(Some(parameter), "on", &Shown::date(*on));
                categories(&mut row, bands);
                statistics(&mut row, summary);
            }
            Content::Categories(cats) => categories(&mut row, cats),
            Content::Numbers(list) | Content::Dates(list) | Content::Practices(list) => {
                statistics(&mut row, list)
            }
        }
    }
    rows.finish()
}

/// The columns of the table, built row by row.
#[derive(Default)]
struct Rows {
    section: StringBuilder,
    variable: StringBuilder,
    category: StringBuilder,
    statistic: StringBuilder,
    value: Float64Builder,
    date: Date32Builder,
    shown: StringBuilder,
}

impl Rows {
    fn push(&mut self, block: &Block, category: Option<&str>, statistic: &str, shown: &Shown) {
        self.section.append_value(block.section.name());
        self.variable.append_value(&block.variable);
        self.category.append_option(category);
        self.statistic.append_value(statistic);
        self.value.append_option(shown.value);
        self.date
            .append_option(shown.date.map(Date32Type::from_naive_date));
        self.shown.append_value(&shown.text);
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("section", DataType::Utf8, false),
            Field::new("variable", DataType::Utf8, false),
            Field::new("category", DataType::Utf8, true),
            Field::new("statistic", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
            Field::new("date", DataType::Date32, true),
            Field::new("shown", DataType::Utf8, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.section.finish()),
            Arc::new(self.variable.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.statistic.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.shown.finish()),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}
