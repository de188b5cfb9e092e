//! A cohort definition in plain English: what a clinician reads to check it before it runs,
//! and what the front ends show (the Python package's notebook view, the command line).

use std::fmt;

use serde::Serialize;

use super::Cohort;
use super::definition::{Aggregation, EventVariable, Purpose, Variable};
use super::expr::{eval_constant, parse};
use crate::error::Place;

/// A checked cohort described in sentences: each parameter with its value, each codelist
/// with its size, each variable and each rule as a sentence, and the output.
///
/// Expressions are quoted as the author wrote them; a date computed from parameters is
/// followed by its value with the defaults, e.g. `index_date - 12 months (2025-01-31)`.
///
/// ```
/// use caas_core::Cohort;
/// let cohort = Cohort::from_yaml_str(r#"
/// id: older
/// title: People aged 65 or over
/// purpose: direct_care
/// parameters: { index_date: 2026-03-31 }
/// codelists:
///   asthma: { system: snomed_ct, codes: ["195967001"], description: Asthma }
/// variables:
///   age: { kind: age, on: index_date }
///   asthma: { kind: events, table: gp, codelists: [asthma], from: index_date - 1 year,
///             to: index_date, returns: exists }
/// rules:
///   - { name: older, include: age >= 65 or asthma }
/// output: { columns: [age] }
/// "#).unwrap();
/// let description = cohort.describe();
/// assert_eq!(description.variables[0].1, "age in whole years on index_date (2026-03-31)");
/// assert_eq!(
///     description.variables[1].1,
///     "whether the person has an event in table `gp` with a code in codelist `asthma` \
///      from index_date - 1 year (2025-03-31) to index_date (2026-03-31)"
/// );
/// assert_eq!(
///     description.rules[0].1,
///     "keep the people for whom `age >= 65 or asthma` is true (unknown removes them)"
/// );
/// assert!(description.to_string().contains("1. older: keep the people"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// The cohort's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its version, if given.
    pub version: Option<String>,
    /// What it is for, as the author wrote it.
    pub description: Option<String>,
    /// The purpose and what it means for opt-outs.
    pub purpose: String,
    /// Owner, legal basis, DPIA reference and sign-off, where given, as (label, text).
    pub governance: Vec<(String, String)>,
    /// Each parameter and its default value.
    pub parameters: Vec<(String, String)>,
    /// Each codelist: its code system, its number of codes and its description.
    pub codelists: Vec<(String, String)>,
    /// Each variable as a sentence, in the order written.
    pub variables: Vec<(String, String)>,
    /// Each rule as a sentence, in order (the attrition's order).
    pub rules: Vec<(String, String)>,
    /// The columns of the members table.
    pub output: Vec<String>,
}

impl Cohort {
    /// The definition in plain English.
    pub fn describe(&self) -> Description {
        let definition = self.definition();
        let parameters = self.parameter_defaults();
        let quote = |text: &str, place: &Place| -> String {
            match parse(text, place)
                .ok()
                .and_then(|e| eval_constant(&e, parameters, place).ok().flatten())
            {
                Some(value) if value.to_string() != text.trim() => format!("{text} ({value})"),
                _ => text.to_string(),
            }
        };

        let mut governance = Vec::new();
        let mut add = |label: &str, value: Option<&String>| {
            if let Some(v) = value {
                governance.push((label.to_string(), v.clone()));
            }
        };
        add("Owner", definition.owner.as_ref());
        add("Legal basis", definition.legal_basis.as_ref());
        add("DPIA reference", definition.dpia_reference.as_ref());
        if let Some(a) = &definition.assurance {
            let mut text = a.signed_off_by.clone();
            if let Some(role) = &a.role {
                text.push_str(&format!(", {role}"));
            }
            if let Some(date) = &a.date {
                text.push_str(&format!(", on {date}"));
            }
            if let Some(reference) = &a.reference {
                text.push_str(&format!(" ({reference})"));
            }
            governance.push(("Clinical sign-off".to_string(), text));
        }

        let codelists = self
            .codelists()
            .iter()
            .map(|(name, list)| {
                let n = list.codes().len();
                let mut text =
                    format!("{}, {n} code{}", list.system, if n == 1 { "" } else { "s" });
                if let Some(d) = definition
                    .codelists
                    .get(name)
                    .and_then(|s| s.description.as_ref())
                {
                    text.push_str(&format!(": {d}"));
                }
                (name.clone(), text)
            })
            .collect();

        let variables = definition
            .variables
            .iter()
            .map(|(name, var)| {
                let place = Place::Variable(name.clone());
                (name.clone(), variable_sentence(var, &|t| quote(t, &place)))
            })
            .collect();

        let rules = self
            .rules()
            .iter()
            .zip(&definition.rules)
            .map(|(checked, written)| {
                let text = written
                    .include
                    .as_ref()
                    .or(written.exclude.as_ref())
                    .map_or("", String::as_str);
                let mut sentence = if checked.exclude {
                    format!("remove the people for whom `{text}` is true (unknown keeps them)")
                } else {
                    format!("keep the people for whom `{text}` is true (unknown removes them)")
                };
                if let Some(d) = &written.description {
                    sentence.push_str(&format!(" — {d}"));
                }
                (checked.name.clone(), sentence)
            })
            .collect();

        Description {
            id: definition.id.clone(),
            title: definition.title.clone(),
            version: definition.version.clone(),
            description: definition
                .description
                .as_ref()
                .map(|d| d.trim().to_string()),
            purpose: purpose_sentence(definition.purpose).to_string(),
            governance,
            parameters: parameters
                .iter()
                .map(|(name, value)| (name.clone(), value.to_string()))
                .collect(),
            codelists,
            variables,
            rules,
            output: std::iter::once("person_id".to_string())
                .chain(self.output_columns().iter().cloned())
                .collect(),
        }
    }
}

fn purpose_sentence(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DirectCare => "direct care: opt-outs do not apply",
        Purpose::Research => {
            "research: the national data opt-out and type 1 opt-outs apply before any rule"
        }
        Purpose::Planning => {
            "planning: the national data opt-out and type 1 opt-outs apply before any rule"
        }
    }
}

fn variable_sentence(var: &Variable, quote: &dyn Fn(&str) -> String) -> String {
    match var {
        Variable::Age { on } => format!("age in whole years on {}", quote(on)),
        Variable::Sex => "sex, from the person table".to_string(),
        Variable::Alive { on } => format!(
            "alive on {}: born on or before it and not dead on or before it",
            quote(on)
        ),
        Variable::Registered { table, on } => {
            format!("whether a period in table `{table}` covers {}", quote(on))
        }
        Variable::Practice { table, on } => format!(
            "the practice of the period in table `{table}` that covers {}",
            quote(on)
        ),
        Variable::PersonColumn { column } => {
            format!("the person table's column `{column}`")
        }
        Variable::Events(ev) => event_sentence(ev, quote),
        Variable::Derived { expr } => format!("`{expr}`"),
        Variable::MemberOf { cohort } => {
            format!("whether the person is a member of cohort `{cohort}`")
        }
    }
}

fn event_sentence(ev: &EventVariable, quote: &dyn Fn(&str) -> String) -> String {
    let what = match ev.returns {
        Aggregation::Exists => "whether the person has an event",
        Aggregation::Count => "the number of events",
        Aggregation::FirstDate => "the date of the earliest event",
        Aggregation::LastDate => "the date of the latest event",
        Aggregation::FirstValue => "the value of the earliest event",
        Aggregation::LastValue => "the value of the latest event",
        Aggregation::FirstCode => "the code of the earliest event",
        Aggregation::LastCode => "the code of the latest event",
        Aggregation::MinValue => "the smallest value of the events",
        Aggregation::MaxValue => "the largest value of the events",
    };
    let mut text = format!("{what} in table `{}`", ev.table);
    let lists: Vec<String> = ev.codelists.iter().map(|c| format!("`{c}`")).collect();
    match lists.len() {
        0 => {}
        1 => text.push_str(&format!(" with a code in codelist {}", lists[0])),
        _ => text.push_str(&format!(
            " with a code in any of the codelists {}",
            lists.join(", ")
        )),
    }
    match (&ev.from, &ev.to) {
        (Some(from), Some(to)) => {
            text.push_str(&format!(" from {} to {}", quote(from), quote(to)));
        }
        (Some(from), None) => text.push_str(&format!(" on or after {}", quote(from))),
        (None, Some(to)) => text.push_str(&format!(" on or before {}", quote(to))),
        (None, None) => {}
    }
    match (ev.min_value, ev.max_value) {
        (Some(lo), Some(hi)) => text.push_str(&format!(" with a value from {lo} to {hi}")),
        (Some(lo), None) => text.push_str(&format!(" with a value of at least {lo}")),
        (None, Some(hi)) => text.push_str(&format!(" with a value of at most {hi}")),
        (None, None) => {}
    }
    if let Some(condition) = &ev.condition {
        text.push_str(&format!(" where `{condition}`"));
    }
    text
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (`{}`", self.title, self.id)?;
        if let Some(v) = &self.version {
            write!(f, ", version {v}")?;
        }
        writeln!(f, ")")?;
        if let Some(d) = &self.description {
            writeln!(f, "{d}")?;
        }
        writeln!(f, "Purpose: {}.", self.purpose)?;
        for (label, text) in &self.governance {
            writeln!(f, "{label}: {text}")?;
        }
        let section = |f: &mut fmt::Formatter<'_>, title: &str, items: &[(String, String)]| {
            if items.is_empty() {
                return Ok(());
            }
            writeln!(f, "\n{title}:")?;
            items
                .iter()
                .try_for_each(|(name, text)| writeln!(f, "  {name}: {text}"))
        };
        section(f, "Parameters", &self.parameters)?;
        section(f, "Codelists", &self.codelists)?;
        section(f, "Variables", &self.variables)?;
        if !self.rules.is_empty() {
            writeln!(f, "\nRules, in order:")?;
            for (i, (name, text)) in self.rules.iter().enumerate() {
                writeln!(f, "  {}. {name}: {text}", i + 1)?;
            }
        }
        write!(f, "\nOutput: {}", self.output.join(", "))
    }
}
