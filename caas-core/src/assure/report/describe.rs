//! A cohort definition in plain English: what a clinician reads to check it before it runs,
//! and what the front ends show (the Python package's notebook view, the command line).

use std::fmt;

use serde::Serialize;

use super::disclosure::thousands;
use super::english::English;
use crate::model::{Assurance, Cohort, Purpose};

/// A checked cohort described in sentences: each parameter with its value, each codelist
/// with its size, each variable and each rule as a sentence, and the output.
///
/// The sentences are the report's (one source of wording): dates computed from the
/// parameters' defaults are written out ("31 March 2026"), expressions are read as words and
/// names are quoted in backticks.
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
/// assert_eq!(description.variables[0].1, "age in whole years on 31 March 2026");
/// assert_eq!(
///     description.variables[1].1,
///     "has an Asthma code (`asthma`) in `gp` between 31 March 2025 and 31 March 2026"
/// );
/// assert_eq!(
///     description.rules[0].1,
///     "keep only people for whom `age` is at least 65 or `asthma`"
/// );
/// assert!(description.to_string().contains("1. older: keep only people"));
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
            governance.push(("Clinical sign-off".to_string(), assurance_text(a)));
        }

        let codelists = self
            .codelists()
            .iter()
            .map(|(name, list)| {
                let n = list.codes().len();
                let mut text = format!(
                    "{}, {} code{}",
                    list.system,
                    thousands(n as u64),
                    if n == 1 { "" } else { "s" }
                );
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

        let english = English::new(self, parameters);
        let variables = definition
            .variables
            .keys()
            .map(|name| (name.clone(), english.variable(name).plain()))
            .collect();
        let rules = self
            .rules()
            .iter()
            .zip(&definition.rules)
            .map(|(checked, written)| {
                let mut sentence = english.rule(checked).plain();
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

/// Who signed the definition off, in what role, when and under which reference.
pub(crate) fn assurance_text(a: &Assurance) -> String {
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
