//! Why is this person in the cohort, or why not? The explanation of one person after an
//! evaluation, and the audit table of every person's rule outcomes.
//!
//! [`Evaluation::explain`](crate::Evaluation::explain) does not run the cohort again: it
//! compiles the same plan over the evaluation's tables, each restricted to the person's
//! rows by a filter on the person id directly over its scan, and reads the event rows
//! behind each variable from the same filtered scans, joined to the same codelists with the
//! same windows, value ranges and conditions. What it shows is what the evaluation used.
//!
//! An explanation gives, for each variable, its value, a sentence saying what it is, and
//! the rows that produced it:
//!
//! | variable returns | rows shown |
//! |---|---|
//! | `exists` | the first selected event |
//! | `count` | every event counted |
//! | `first_*` / `last_*` | the event chosen, by the tie-break (date, code, value) |
//! | `min_value` / `max_value` | the first event holding that value |
//! | `registered` | the periods that cover the date |
//! | `practice` | the period the practice comes from |
//!
//! with the number of rows the variable selected. Then each rule's outcome — true, false
//! or unknown (a missing value made it so) — and whether the person passed it; and the
//! verdict: in the cohort, or removed by a rule.

mod build;

use std::fmt;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

/// A person's id as given to [`Evaluation::explain`](crate::Evaluation::explain): an
/// integer or a text. It is converted to the person table's id type; a text that is not a
/// whole number matches nobody in a table of integer ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum PersonId {
    /// An integer id.
    Int(i64),
    /// A text id (e.g. an NHS number kept as text).
    Text(String),
}

impl From<i64> for PersonId {
    fn from(id: i64) -> Self {
        PersonId::Int(id)
    }
}

impl From<i32> for PersonId {
    fn from(id: i32) -> Self {
        PersonId::Int(i64::from(id))
    }
}

impl From<&str> for PersonId {
    fn from(id: &str) -> Self {
        PersonId::Text(id.to_string())
    }
}

impl From<String> for PersonId {
    fn from(id: String) -> Self {
        PersonId::Text(id)
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersonId::Int(n) => write!(f, "{n}"),
            PersonId::Text(s) => f.write_str(s),
        }
    }
}

/// A value of a variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// Unknown (null).
    Null,
    /// true or false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// A date.
    Date(NaiveDate),
    /// Text.
    Text(String),
}

impl Serialize for Datum {
    /// As JSON: `null`, a boolean, a number, or text (dates as `YYYY-MM-DD`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Datum::Null => serializer.serialize_none(),
            Datum::Bool(b) => serializer.serialize_bool(*b),
            Datum::Int(n) => serializer.serialize_i64(*n),
            Datum::Float(x) => serializer.serialize_f64(*x),
            Datum::Date(d) => serializer.collect_str(&d.format("%Y-%m-%d")),
            Datum::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Null => f.write_str("unknown"),
            Datum::Bool(b) => write!(f, "{b}"),
            Datum::Int(n) => write!(f, "{n}"),
            Datum::Float(x) => write!(f, "{x}"),
            Datum::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Datum::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

fn iso_date<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&date.format("%Y-%m-%d"))
}

fn iso_date_opt<S: Serializer>(date: &Option<NaiveDate>, serializer: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => iso_date(d, serializer),
        None => serializer.serialize_none(),
    }
}

/// An event row behind a variable's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// The event table.
    pub table: String,
    /// The event's date.
    #[serde(serialize_with = "iso_date")]
    pub date: NaiveDate,
    /// The code that matched (one of the row's codes in a table with several per row).
    pub code: String,
    /// The event's value, if the table has values.
    pub value: Option<f64>,
}

/// A period row behind a `registered` or `practice` variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodRow {
    /// The period table.
    pub table: String,
    /// First day of the period.
    #[serde(serialize_with = "iso_date_opt")]
    pub start_date: Option<NaiveDate>,
    /// Last day of the period; none while it is open.
    #[serde(serialize_with = "iso_date_opt")]
    pub end_date: Option<NaiveDate>,
    /// The practice of the period.
    pub practice: Option<String>,
}

/// One variable of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableExplanation {
    /// Its name.
    pub name: String,
    /// Its kind, as in the definition (`age`, `events`, `derived`, ...).
    pub kind: &'static str,
    /// What it is, in plain English; names in backticks.
    pub sentence: String,
    /// Its value for the person.
    pub value: Datum,
    /// For event, `registered` and `practice` variables: how many rows it selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<u64>,
    /// The event rows behind the value (see the [module](self) for which).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRow>,
    /// The period rows behind the value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<PeriodRow>,
}

/// The value of a rule's condition for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The condition holds.
    True,
    /// It does not.
    False,
    /// It cannot be told: a value it needs is missing. An `include` rule then removes the
    /// person; an `exclude` rule keeps them.
    Unknown,
}

impl From<Option<bool>> for Outcome {
    fn from(value: Option<bool>) -> Self {
        match value {
            Some(true) => Outcome::True,
            Some(false) => Outcome::False,
            None => Outcome::Unknown,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::True => "true",
            Outcome::False => "false",
            Outcome::Unknown => "unknown",
        })
    }
}

/// One rule of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// Its step in the attrition (1-based; after the opt-out step when there is one).
    pub step: usize,
    /// The rule's name.
    pub name: String,
    /// `include` or `exclude`.
    pub action: &'static str,
    /// The condition, in its canonical text.
    pub condition: String,
    /// What the rule does, in plain English; names in backticks.
    pub sentence: String,
    /// The condition's value for the person.
    pub outcome: Outcome,
    /// Whether the person passes the rule (an `include` that is true, an `exclude` that is
    /// not true).
    pub passed: bool,
}

/// In or out, and if out, the first rule that removed the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// A member of the cohort: passed every rule.
    In,
    /// Not a member.
    Out {
        /// The attrition step that removed the person (1-based): the opt-out step, when the
        /// purpose applies opt-outs and the person has one, or the first rule they did not
        /// pass. An opted-out person's explanation has no rules or variables: their data is
        /// not read for them.
        step: usize,
        /// The step's name (the rule's, or [`crate::governance::OPT_OUT_STEP`]).
        rule: String,
    },
}

/// Why a person is in the cohort or not. Serialises to JSON; prints as text.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use caas_core::{CodeSystem, Cohort, Engine, Parameters, TableSpec};
/// use caas_core::explain::Verdict;
///
/// let engine = Engine::new();
/// let persons = Arc::new(Schema::new(vec![
///     Field::new("person_id", DataType::Int64, false),
///     Field::new("date_of_birth", DataType::Date32, true),
/// ]));
/// let batch = RecordBatch::try_new(persons.clone(), vec![
///     Arc::new(Int64Array::from(vec![1, 2])),
///     Arc::new(Date32Array::from(vec![-7154, 7456])), // 1950-06-01, 1990-06-01
/// ]).unwrap();
/// engine.register_batches("persons", TableSpec::person(), persons, vec![batch]).unwrap();
/// let events = Arc::new(Schema::new(vec![
///     Field::new("person_id", DataType::Int64, false),
///     Field::new("date", DataType::Date32, true),
///     Field::new("code", DataType::Utf8, true),
/// ]));
/// let batch = RecordBatch::try_new(events.clone(), vec![
///     Arc::new(Int64Array::from(vec![2, 2])),
///     Arc::new(Date32Array::from(vec![19000, 20000])), // 2022-01-08, 2024-10-04
///     Arc::new(StringArray::from(vec!["195967001", "195967001"])),
/// ]).unwrap();
/// engine.register_batches("gp", TableSpec::events(CodeSystem::SnomedCt), events, vec![batch])
///     .unwrap();
/// let cohort = Cohort::from_yaml_str(r#"
/// id: mini
/// title: Aged 65+, or asthma
/// purpose: direct_care
/// parameters: { index_date: 2025-03-31 }
/// codelists:
///   asthma: { system: snomed_ct, codes: ["195967001"], description: Asthma }
/// variables:
///   age: { kind: age, on: index_date }
///   asthma_dat: { kind: events, table: gp, codelists: [asthma], to: index_date, returns: last_date }
/// rules:
///   - { name: eligible, include: age >= 65 or asthma_dat is not null }
/// "#).unwrap();
/// let result = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap();
///
/// let why = result.explain_blocking(2).unwrap();
/// assert_eq!(why.verdict, Verdict::In);
/// let asthma = &why.variables[1];
/// assert_eq!(asthma.sentence,
///     "the date of the latest Asthma code (`asthma`) in `gp` on or before 31 March 2025");
/// assert_eq!(asthma.selected, Some(2));
/// assert_eq!(asthma.events[0].date.to_string(), "2024-10-04"); // the latest of the two
/// assert!(why.to_string().contains("in the cohort"));
///
/// let err = result.explain_blocking(3).unwrap_err();
/// assert_eq!(err.code(), "unknown_person");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The cohort's id.
    pub cohort: String,
    /// The person.
    pub person_id: PersonId,
    /// In or out.
    pub verdict: Verdict,
    /// Each rule, in order.
    pub rules: Vec<RuleOutcome>,
    /// Each variable, in the definition's order.
    pub variables: Vec<VariableExplanation>,
}

impl Explanation {
    /// The explanation as pretty-printed JSON.
    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| crate::CaasError::internal(format!("cannot write the explanation: {e}")))
    }

    /// A variable of the explanation by name.
    pub fn variable(&self, name: &str) -> Option<&VariableExplanation> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// A rule of the explanation by name.
    pub fn rule(&self, name: &str) -> Option<&RuleOutcome> {
        self.rules.iter().find(|r| r.name == name)
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Person {} and cohort `{}`", self.person_id, self.cohort)?;
        match &self.verdict {
            Verdict::In => writeln!(
                f,
                "Verdict: in the cohort (passed all {} rules)",
                self.rules.len()
            )?,
            Verdict::Out { step, rule } => writeln!(
                f,
                "Verdict: not in the cohort: removed at step {step} by rule `{rule}`"
            )?,
        }
        writeln!(f, "\nRules")?;
        for r in &self.rules {
            let mark = match &self.verdict {
                Verdict::Out { step, .. } if *step == r.step => "  <- removed here",
                _ => "",
            };
            writeln!(
                f,
                "  {:>2}. {} ({} {}): {}, {}{mark}",
                r.step,
                r.name,
                r.action,
                r.condition,
                r.outcome,
                if r.passed { "passed" } else { "not passed" }
            )?;
        }
        writeln!(f, "\nVariables")?;
        for v in &self.variables {
            writeln!(f, "  {} = {}", v.name, v.value)?;
            writeln!(f, "      {}", v.sentence)?;
            if let Some(n) = v.selected {
                let shown = v.events.len() + v.periods.len();
                writeln!(
                    f,
                    "      {n} row{} selected{}",
                    if n == 1 { "" } else { "s" },
                    if shown > 0 { ", behind the value:" } else { "" }
                )?;
            }
            for e in &v.events {
                write!(
                    f,
                    "        {}  {}  code {}",
                    e.table,
                    e.date.format("%Y-%m-%d"),
                    e.code
                )?;
                match e.value {
                    Some(x) => writeln!(f, "  value {x}")?,
                    None => writeln!(f)?,
                }
            }
            for p in &v.periods {
                let date = |d: Option<NaiveDate>, missing: &str| {
                    d.map_or(missing.to_string(), |d| d.format("%Y-%m-%d").to_string())
                };
                writeln!(
                    f,
                    "        {}  {} to {}  practice {}",
                    p.table,
                    date(p.start_date, "unknown"),
                    date(p.end_date, "open"),
                    p.practice.as_deref().unwrap_or("unknown")
                )?;
            }
        }
        Ok(())
    }
}
