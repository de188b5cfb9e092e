//! The attrition had the rules been others — some dropped, reordered or added — recounted
//! from the rule outcomes and variables that an evaluation holds for every person, without
//! reading a table again. The added rules are checked as a definition's rules are and
//! lowered by the same code, so a what-if and a re-evaluation cannot disagree.

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::and;
use datafusion::logical_expr::Expr as DfExpr;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Evaluation;
use crate::compile::{rule_column, type_of};
use crate::error::{CaasError, Result};
use crate::execute::governance::with_opt_out_step;
use crate::execute::lower::{Scope, rule_pass};
use crate::execute::{attrition, lower};
use crate::model::{Purpose, Rule, RuleDef, Value};
use crate::runtime::block_on;

/// Changes to an evaluation's rules, for [`Evaluation::what_if`]; as JSON (what the
/// Python and C front ends hand over), `{"drop": [...], "order": [...], "add": [{"name":
/// ..., "include": ...}]}` with every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleChanges {
    /// The names of rules to leave out.
    pub drop: Vec<String>,
    /// The names of rules, kept or added, to apply first and in this order; the others
    /// follow in their order, the added ones after the kept ones.
    pub order: Vec<String>,
    /// Rules to add, over the parameters and the variables the evaluation holds: those
    /// its rules name and every true/false one.
    pub add: Vec<Rule>,
}

impl RuleChanges {
    /// The changes written as JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| invalid(format!("cannot read the changes: {e}")))
    }
}

/// The attrition of an evaluation's population under changed rules.
#[derive(Debug, Clone)]
pub struct WhatIf {
    /// One row per step, as [`Evaluation::attrition`]: the opt-out step if the purpose
    /// applies opt-outs, then the changed rules in order.
    pub attrition: RecordBatch,
    /// The evaluation's population.
    pub population: u64,
    /// How many people the changed rules keep.
    pub members: u64,
    /// The cohort's title and the changes, for the summaries.
    pub(crate) title: String,
    /// The cohort's purpose, whose disclosure control the summaries apply.
    pub(crate) purpose: Purpose,
}

/// Where a changed rule's outcomes come from.
enum Source {
    /// The evaluation's rule of this index.
    Held(usize),
    /// An added rule, computed from the held variables.
    Added,
}

impl Evaluation {
    /// The attrition and the member count had the rules been changed so, computed from
    /// the outcomes held for every person: no table is read again.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow::array::{Date32Array, Int64Array, RecordBatch};
    /// # use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::model::Rule;
    /// use caas_core::results::RuleChanges;
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    /// # let schema = Arc::new(Schema::new(vec![
    /// #     Field::new("person_id", DataType::Int64, false),
    /// #     Field::new("date_of_birth", DataType::Date32, true),
    /// # ]));
    /// # let batch = RecordBatch::try_new(schema.clone(), vec![
    /// #     Arc::new(Int64Array::from(vec![1, 2, 3])),
    /// #     // born 1940, 1970 and 2000
    /// #     Arc::new(Date32Array::from(vec![-10957, 0, 10957])),
    /// # ])?;
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
    /// let cohort = Cohort::from_yaml_str(r#"
    /// id: older
    /// title: Older adults
    /// purpose: direct_care
    /// parameters: { index_date: 2026-03-31 }
    /// variables: { age: { kind: age, on: index_date } }
    /// rules:
    ///   - { name: aged 18+, include: age >= 18 }
    ///   - { name: aged 65+, include: age >= 65 }
    /// "#)?;
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    /// assert_eq!(result.member_count(), 1);
    ///
    /// let changes = RuleChanges {
    ///     drop: vec!["aged 65+".into()],
    ///     add: vec![Rule { name: Some("aged 50+".into()), include: Some("age >= 50".into()), ..Rule::default() }],
    ///     ..RuleChanges::default()
    /// };
    /// let what_if = result.what_if_blocking(&changes)?;
    /// assert_eq!(what_if.members, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn what_if(&self, changes: &RuleChanges) -> Result<WhatIf> {
        let outcomes = self.outcomes.as_ref().ok_or_else(|| {
            invalid(
                "the evaluation ran in another engine, which returns no per-person rule \
                 outcomes; evaluate in caas to ask what-if",
            )
        })?;
        let (rules, sources) = self.changed_rules(changes)?;
        let checked = self
            .run
            .cohort
            .check_other_rules(&rules, &self.run.limits)?;

        // Every step's pass column, computed over the held outcomes in one projection so
        // that each batch holds every step of the same people.
        let types = |name: &str| {
            outcomes
                .schema()
                .field_with_name(name)
                .ok()
                .and_then(|f| type_of(f.data_type()))
                .or_else(|| self.run.parameters.get(name).map(Value::data_type))
        };
        let columns = |name: &str| {
            outcomes
                .schema()
                .field_with_name(name)
                .is_ok()
                .then(|| name.to_string())
        };
        let mut passes: Vec<DfExpr> = Vec::with_capacity(checked.len());
        for (rule, source) in checked.iter().zip(&sources) {
            passes.push(match source {
                Source::Held(i) => lower::column(&rule_column(*i)),
                Source::Added => {
                    self.check_held(rule)?;
                    let scope = Scope {
                        parameters: &self.run.parameters,
                        columns: &columns,
                        types: &types,
                        place: &rule.place,
                    };
                    rule_pass(&scope, rule.exclude, &rule.expr)?
                }
            });
        }
        let population = outcomes.num_rows() as u64;
        let mut passed = vec![0u64; checked.len()];
        let frame = self.run.ctx.read_batch(outcomes.clone())?.select(passes)?;
        let mut stream = frame.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let mut mask = BooleanArray::from(vec![true; batch.num_rows()]);
            for (i, column) in batch.columns().iter().enumerate() {
                let pass = column
                    .as_boolean_opt()
                    .ok_or_else(|| CaasError::internal("a what-if pass column is not boolean"))?;
                mask = and(&mask, pass)?;
                passed[i] += mask.true_count() as u64;
            }
        }

        let steps: Vec<(&str, bool)> = checked
            .iter()
            .map(|r| (r.name.as_str(), r.exclude))
            .collect();
        let mut table = attrition(&steps, population, &passed)?;
        let members = passed.last().copied().unwrap_or(population);
        let population = match self.opt_outs {
            Some((people, opted_out)) => {
                table = with_opt_out_step(&table, people, opted_out)?;
                people
            }
            None => population,
        };
        let definition = self.run.cohort.definition();
        Ok(WhatIf {
            attrition: table,
            population,
            members,
            title: format!("{} — what if {}", definition.title, describe(changes)),
            purpose: definition.purpose,
        })
    }

    /// [`Evaluation::what_if`], blocking the calling thread.
    pub fn what_if_blocking(&self, changes: &RuleChanges) -> Result<WhatIf> {
        block_on(self.what_if(changes))?
    }

    /// The rules after `changes`, as a definition would give them, and where each one's
    /// outcomes come from.
    fn changed_rules(&self, changes: &RuleChanges) -> Result<(Vec<Rule>, Vec<Source>)> {
        let held = self.run.cohort.rules();
        let given = &self.run.cohort.definition().rules;
        for name in &changes.drop {
            if !held.iter().any(|r| &r.name == name) {
                return Err(unknown_rule("drop", name, held.iter().map(|r| &r.name)));
            }
        }
        let mut rules: Vec<(Rule, Source)> = Vec::new();
        for (i, (rule, text)) in held.iter().zip(given).enumerate() {
            if !changes.drop.contains(&rule.name) {
                let named = Rule {
                    name: Some(rule.name.clone()),
                    ..text.clone()
                };
                rules.push((named, Source::Held(i)));
            }
        }
        rules.extend(changes.add.iter().map(|r| (r.clone(), Source::Added)));

        let mut ordered: Vec<(Rule, Source)> = Vec::with_capacity(rules.len());
        for (n, name) in changes.order.iter().enumerate() {
            if changes.order[..n].contains(name) {
                return Err(invalid(format!("`order` names the rule `{name}` twice")));
            }
            let position = rules
                .iter()
                .position(|(r, _)| r.name.as_ref() == Some(name))
                .ok_or_else(|| {
                    let names = rules.iter().filter_map(|(r, _)| r.name.as_ref());
                    unknown_rule("order", name, names)
                })?;
            ordered.push(rules.remove(position));
        }
        ordered.extend(rules);
        Ok(ordered.into_iter().unzip())
    }

    /// Fails if an added rule names a variable the evaluation does not hold.
    fn check_held(&self, rule: &RuleDef) -> Result<()> {
        let Some(outcomes) = &self.outcomes else {
            return Ok(());
        };
        let schema = outcomes.schema();
        let cohort = &self.run.cohort;
        for name in rule.expr.names() {
            if cohort.variable(name).is_some() && schema.field_with_name(name).is_err() {
                let held: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| f.name())
                    .filter(|n| cohort.variable(n).is_some())
                    .map(|n| format!("`{n}`"))
                    .collect();
                return Err(invalid(format!(
                    "{}: the variable `{name}` is not held for what-if, which holds the \
                     variables the rules name and every true/false one ({}); evaluate \
                     again with the rule in the definition",
                    rule.place,
                    if held.is_empty() {
                        "none here".to_string()
                    } else {
                        held.join(", ")
                    },
                )));
            }
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> CaasError {
    CaasError::InvalidInput {
        what: "what-if".to_string(),
        message: message.into(),
    }
}

fn unknown_rule<'a>(
    option: &str,
    name: &str,
    names: impl Iterator<Item = &'a String>,
) -> CaasError {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    invalid(format!(
        "`{option}` names the rule `{name}`, which is not one of {}",
        names.join(", ")
    ))
}

/// The changes in words: "without `a`, with `b` added, in the order `b`, `c`".
fn describe(changes: &RuleChanges) -> String {
    let quoted = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !changes.drop.is_empty() {
        parts.push(format!(
            "without {}",
            quoted(&mut changes.drop.iter().map(String::as_str))
        ));
    }
    if !changes.add.is_empty() {
        let added = changes.add.iter().map(|r| {
            r.name
                .as_deref()
                .or(r.include.as_deref())
                .or(r.exclude.as_deref())
                .unwrap_or("a rule")
        });
        parts.push(format!("with {} added", quoted(&mut added.into_iter())));
    }
    if !changes.order.is_empty() {
        parts.push(format!(
            "in the order {}",
            quoted(&mut changes.order.iter().map(String::as_str))
        ));
    }
    if parts.is_empty() {
        "nothing changed".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_described_in_words() {
        let changes = RuleChanges {
            drop: vec!["a".into()],
            order: vec!["b".into(), "c".into()],
            add: vec![Rule {
                include: Some("x > 1".into()),
                ..Rule::default()
            }],
        };
        assert_eq!(
            describe(&changes),
            "without `a`, with `x > 1` added, in the order `b`, `c`"
        );
        assert_eq!(describe(&RuleChanges::default()), "nothing changed");
    }

    #[test]
    fn changes_are_read_from_json_and_unknown_keys_refused() -> Result<()> {
        let changes =
            RuleChanges::from_json(r#"{"drop": ["a"], "add": [{"name": "b", "exclude": "x"}]}"#)?;
        assert_eq!(changes.drop, ["a"]);
        assert_eq!(
            changes.add.first().and_then(|r| r.exclude.as_deref()),
            Some("x")
        );
        for (json, field) in [
            (r#"{"remove": ["a"]}"#, "remove"),
            (r#"{"add": [{"include": "x", "when": 1}]}"#, "when"),
        ] {
            let err = RuleChanges::from_json(json).err().map(|e| e.to_string());
            let expected = format!("unknown field `{field}`");
            assert!(
                err.as_deref().is_some_and(|e| e.contains(&expected)),
                "{err:?}"
            );
        }
        Ok(())
    }
}
