//! The DataFusion lowering of a [`CohortPlan`]: one logical plan over the snapshot's tables,
//! with one row per person of the person table and the columns `person_id`, every variable
//! (by name) and one boolean column per rule telling whether the person passes it. It is
//! built as:
//!
//! 1. the person table, its columns renamed to `__p_<canonical name>`, without the people
//!    whose opt-outs the purpose applies;
//! 2. per event scan, the events joined once to the code table and grouped by person with
//!    one filtered aggregate per measure ([`events`]); per period scan, one grouped
//!    aggregate likewise; per membership, the other cohort's members;
//! 3. those aggregates right-joined to the persons, narrowest first, then the variables
//!    computed in the plan's layers; before a layer, the aggregates of the event scans
//!    that read the variables of the layers above it, likewise (each scan's events joined
//!    to those variables of the persons so far);
//! 4. the rule columns, and one boolean column per check of arithmetic
//!    ([`CohortPlan::arithmetic`]).
//!
//! The pieces that explanations read ([`explain`]) are lowered from the same plan.

pub(crate) mod events;
pub(crate) mod explain;
mod expr;
pub(crate) mod udf;

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::{Expr as DfExpr, JoinType, LogicalPlan, Projection, cast, lit};
use datafusion::prelude::SessionContext;

pub(crate) use self::expr::{Scope, column};
use crate::compile::plan::{CohortPlan, VariableValue};
use crate::error::{CaasError, Result};
use crate::model::expr::{Expr, balanced};
use crate::source::{Snapshot, Table};

/// True for a person with either opt-out, over the flag columns named by `name` (a null
/// flag is no opt-out).
pub(crate) fn opted_out(flags: &[String], name: impl Fn(&str) -> String) -> DfExpr {
    flags
        .iter()
        .map(|flag| {
            coalesce(vec![
                cast(column(&name(flag)), DataType::Boolean),
                lit(false),
            ])
        })
        .fold(lit(false), DfExpr::or)
}

/// Lowers cohort plans to DataFusion over a snapshot's tables.
pub(crate) struct Lowering<'a> {
    /// The session, for the code tables.
    pub ctx: &'a SessionContext,
    /// The tables the plan reads.
    pub tables: &'a Snapshot,
}

impl Lowering<'_> {
    /// The table a plan names; the plan was built over the same snapshot.
    fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .get(name)
            .map(AsRef::as_ref)
            .ok_or_else(|| CaasError::internal(format!("the plan reads an unknown table {name}")))
    }

    /// The per-person DataFrame of `plan`.
    pub fn cohort(&self, plan: &CohortPlan) -> Result<DataFrame> {
        let mut joins = 0;
        let scanned = self.scanned(plan, &mut joins)?;
        self.over(plan, scanned, &mut joins)
    }

    /// The persons with the aggregates of the plan's scans that read no variable: the
    /// part of a plan that cohorts evaluated together share
    /// ([`SharedScans`](crate::compile::shared::SharedScans)). `joins` counts the joins
    /// of the plan, whose key columns are named after it.
    pub fn scanned(&self, plan: &CohortPlan, joins: &mut usize) -> Result<DataFrame> {
        let persons = self.persons(plan)?;
        join_aggregates(persons, events::aggregates(self, plan)?, joins)
    }

    /// The rest of the per-person DataFrame of `plan` over `scanned`, the persons with the
    /// aggregates of [`Lowering::scanned`]: the memberships, the variables in layers (with
    /// the scans that read them), the rules and the checks of arithmetic.
    pub fn over(
        &self,
        plan: &CohortPlan,
        scanned: DataFrame,
        joins: &mut usize,
    ) -> Result<DataFrame> {
        let mut memberships = Vec::new();
        for membership in &plan.memberships {
            let members = self.cohort(&membership.plan)?;
            let rules = membership.plan.rules.iter();
            let passes = balanced(rules.map(|r| column(&r.column)).collect(), DfExpr::and)
                .unwrap_or(lit(true));
            // One row per member id: an id on several rows of the person table (kept by
            // its data-quality policy) would otherwise multiply the rows of the join.
            memberships.push(
                members
                    .filter(passes)?
                    .select(vec![
                        column("person_id"),
                        lit(true).alias(&membership.column),
                    ])?
                    .distinct()?,
            );
        }
        let mut df = join_aggregates(scanned, memberships, joins)?;

        let types = |n: &str| {
            plan.types
                .get(n)
                .copied()
                .or_else(|| plan.parameters.get(n).map(crate::model::Value::data_type))
        };
        let columns = |n: &str| plan.types.contains_key(n).then(|| n.to_string());
        for (i, layer) in plan.layers.iter().enumerate() {
            // Each layer is a step of the plan over every earlier one: a long chain takes
            // seconds to build, with no await at which a cancelled task would stop.
            crate::runtime::check_cancelled()?;
            let mut later = Vec::new();
            for scan in plan.events.iter().filter(|s| s.after == i && i > 0) {
                later.extend(events::scan_aggregates(self, plan, scan, Some(&df))?);
            }
            df = join_aggregates(df, later, joins)?;
            let mut projection: Vec<DfExpr> = df
                .schema()
                .fields()
                .iter()
                .map(|f| column(f.name()))
                .collect();
            for step in layer {
                let place = crate::error::Place::Variable(step.name.clone());
                let scope = Scope {
                    parameters: &plan.parameters,
                    columns: &columns,
                    types: &types,
                    place: &place,
                };
                projection.push(variable(&scope, &step.value)?.alias(&step.name));
            }
            df = project(df, projection)?;
        }

        let mut outputs = vec![column("person_id")];
        for name in &plan.columns {
            outputs.push(column(name));
        }
        let scope_at = |place| Scope {
            parameters: &plan.parameters,
            columns: &columns,
            types: &types,
            place,
        };
        for rule in &plan.rules {
            let pass = rule_pass(&scope_at(&rule.place), rule.exclude, &rule.expr)?;
            outputs.push(pass.alias(&rule.column));
        }
        for check in &plan.arithmetic {
            let missing = scope_at(&check.place).lower(&check.expr)?;
            outputs.push(missing.alias(&check.column));
        }
        project(df, outputs)
    }

    /// The person table with `person_id` and every other column as `__p_<name>`, without
    /// the people whose opt-outs the plan removes.
    fn persons(&self, plan: &CohortPlan) -> Result<DataFrame> {
        let person = self.table(&plan.person.table)?;
        let mut exprs = vec![self.tables.person_id(person).alias("person_id")];
        for c in &plan.person.columns {
            let expr = if c.as_date {
                person.date(&c.source)
            } else {
                column(&c.source)
            };
            exprs.push(expr.alias(format!("__p_{}", c.canonical)));
        }
        let persons = person.data.clone().select(exprs)?;
        Ok(match &plan.person.opt_out {
            Some(flags) => {
                let out = opted_out(flags, |part| format!("__p_{part}"));
                persons.filter(DfExpr::Not(Box::new(out)))?
            }
            None => persons,
        })
    }
}

/// `df` with the columns of per-person `aggregates` (each with `person_id`), right-joined
/// so that every person of `df` stays once; `joins` counts the joins of the plan, whose
/// key columns are named after it.
fn join_aggregates(
    mut df: DataFrame,
    mut aggregates: Vec<DataFrame>,
    joins: &mut usize,
) -> Result<DataFrame> {
    // Narrow aggregates first: the person side of each join grows with every join, and
    // the widest aggregate then joins a person side that is still narrow.
    aggregates.sort_by_key(|a| a.schema().fields().len());
    for aggregate in aggregates {
        *joins += 1;
        let pid = format!("__pid{joins}");
        let mut exprs = vec![column("person_id").alias(&pid)];
        for field in aggregate.schema().fields() {
            if field.name() != "person_id" {
                exprs.push(column(field.name()));
            }
        }
        // The aggregate is the build side and the growing person table streams through
        // as the probe side, so no join copies the accumulated columns into a hash table.
        df = aggregate.select(exprs)?.join_on(
            df,
            JoinType::Right,
            [column(&pid).eq(column("person_id"))],
        )?;
    }
    Ok(df)
}

/// Whether a person passes a rule: an `include` whose condition is true, an `exclude`
/// whose condition is not (unknown satisfies neither).
pub(crate) fn rule_pass(scope: &Scope<'_>, exclude: bool, condition: &Expr) -> Result<DfExpr> {
    let value = coalesce(vec![scope.lower(condition)?, lit(false)]);
    Ok(if exclude {
        DfExpr::Not(Box::new(value))
    } else {
        value
    })
}

/// `df.select(exprs)` without the builder's normalisation of every column, which walks the
/// whole plan below once per expression: over a definition's chain of derived variables,
/// one layer per variable, that made planning cubic in the chain's length (300 variables
/// took 15 s). The layers' expressions name the columns of their input only.
fn project(df: DataFrame, exprs: Vec<DfExpr>) -> Result<DataFrame> {
    let (state, plan) = df.into_parts();
    let projection = Projection::try_new(exprs, Arc::new(plan))?;
    Ok(DataFrame::new(state, LogicalPlan::Projection(projection)))
}

/// The value of a variable.
fn variable(scope: &Scope<'_>, value: &VariableValue) -> Result<DfExpr> {
    let person = |c: &str| column(&format!("__p_{c}"));
    Ok(match value {
        VariableValue::Age { on, unit } => {
            udf::between_expr(*unit, person("date_of_birth"), scope.lower(on)?)
        }
        VariableValue::Sex => cast(person("sex"), DataType::Utf8),
        VariableValue::Alive { deaths: false, .. } => lit(true),
        VariableValue::Alive { on, .. } => {
            let on = cast(scope.lower(on)?, DataType::Date32);
            let dod = person("date_of_death");
            dod.clone().is_null().or(dod.gt(on))
        }
        VariableValue::PersonColumn { column: c } => person(c),
        VariableValue::Exists { column: c } => coalesce(vec![column(c), lit(0i64)]).gt(lit(0i64)),
        VariableValue::Count { column: c } => coalesce(vec![column(c), lit(0i64)]),
        VariableValue::Code { column: c } => cast(column(c), DataType::Utf8),
        VariableValue::Aggregate { column: c } => column(c),
        VariableValue::Practice { column: c } => events::practice_of_key(column(c)),
        VariableValue::Member { column: c } => coalesce(vec![column(c), lit(false)]),
        VariableValue::Derived { expr } => scope.lower(expr)?,
    })
}
