//! What explanations and audits read from a cohort's plan: the rows each event and period
//! variable selects before they are aggregated, and the raw (three-valued) value of each
//! rule. Both are built from the same pieces as the per-person plan — the same long events,
//! code table, windows, value ranges and conditions — so that an explanation shows exactly
//! what the evaluation used.

use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::{Expr as DfExpr, SortExpr, lit};

use super::Lowering;
use super::events::{event_selections, period_selection};
use super::expr::{Scope, column};
use crate::compile::plan::CohortPlan;
use crate::compile::type_of;
use crate::error::Result;
use crate::model::Value;
use crate::model::expr::balanced;

/// The name of the column holding the raw value (true, false or null) of the rule at
/// 0-based `index`.
pub(crate) fn rule_value_column(index: usize) -> String {
    format!("__value_{}", index + 1)
}

/// The name of the flag column of the `index`-th variable of a [`SelectedRows`].
pub(crate) fn selected_column(index: usize) -> String {
    format!("__selected_{}", index + 1)
}

/// What the rows of a [`SelectedRows`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// Events: `person_id`, `date`, `code` (as in the table: integer or text), `value`
    /// (null when the table has none).
    Events,
    /// Periods: `person_id`, `start_date`, `end_date`, `practice` (null when the table has
    /// none).
    Periods,
}

/// The rows of one table that its variables select, one row per (event, code), each with a
/// boolean column per variable telling whether that variable selects it. Only rows that at
/// least one variable selects are kept; events are in the order that decides first and
/// last (`Selection::order`) within each person.
pub(crate) struct SelectedRows {
    /// The table.
    pub table: String,
    /// Events or periods.
    pub kind: RowKind,
    /// The rows.
    pub data: DataFrame,
    /// The variables, in the order of their flag columns ([`selected_column`]).
    pub variables: Vec<String>,
}

/// The selected rows of every event and period scan of the plan (the cohort's own
/// variables); `persons` is the plan's per-person frame, whose variables the windows and
/// conditions of later scans read.
pub(crate) fn selected_rows(
    lowering: &Lowering<'_>,
    plan: &CohortPlan,
    persons: &DataFrame,
) -> Result<Vec<SelectedRows>> {
    let mut out = Vec::new();
    for scan in &plan.events {
        for selection in event_selections(lowering, plan, scan, Some(persons))? {
            let value = if selection.has_value {
                column("value")
            } else {
                lit(ScalarValue::Float64(None))
            };
            let columns = vec![
                column("person_id"),
                column("date"),
                column("code"),
                value.alias("value"),
            ];
            let mut order = vec![column("person_id").sort(true, false)];
            order.extend(selection.order);
            let filters = selection
                .filters
                .into_iter()
                .map(|(measure, filter)| (measure.variable.as_str(), filter));
            let (data, variables) = flagged(selection.rows, columns, filters, order)?;
            out.push(SelectedRows {
                table: scan.table.clone(),
                kind: RowKind::Events,
                data,
                variables,
            });
        }
    }
    for scan in &plan.periods {
        let selection = period_selection(lowering, scan)?;
        let practice = if scan.practice.is_some() {
            column("practice")
        } else {
            lit(ScalarValue::Utf8(None))
        };
        let columns = vec![
            column("person_id"),
            column("start_date"),
            column("end_date"),
            practice.alias("practice"),
        ];
        let order = vec![
            column("person_id").sort(true, false),
            column("start_date").sort(true, true),
            column("end_date").sort(true, false),
            column("practice").sort(true, true),
        ];
        let filters = selection
            .filters
            .into_iter()
            .map(|(measure, filter)| (measure.variable.as_str(), filter));
        let (data, variables) = flagged(selection.rows, columns, filters, order)?;
        out.push(SelectedRows {
            table: scan.table.clone(),
            kind: RowKind::Periods,
            data,
            variables,
        });
    }
    Ok(out)
}

/// `rows` as `columns` plus one flag column per variable of `filters`, keeping the rows
/// that some variable selects, in `order`; and the variables' names.
fn flagged<'v>(
    rows: DataFrame,
    mut columns: Vec<DfExpr>,
    filters: impl Iterator<Item = (&'v str, DfExpr)>,
    order: Vec<SortExpr>,
) -> Result<(DataFrame, Vec<String>)> {
    let (variables, flags) = flag_columns(filters);
    columns.extend(flags);
    let data = rows
        .select(columns)?
        .filter(any_selected(variables.len()))?
        .sort(order)?;
    Ok((data, variables))
}

/// The variables' names and their flag columns (an unknown filter selects nothing).
fn flag_columns<'v>(
    filters: impl Iterator<Item = (&'v str, DfExpr)>,
) -> (Vec<String>, Vec<DfExpr>) {
    filters
        .enumerate()
        .map(|(i, (name, filter))| {
            (
                name.to_string(),
                coalesce(vec![filter, lit(false)]).alias(selected_column(i)),
            )
        })
        .unzip()
}

fn any_selected(n: usize) -> DfExpr {
    let selected = (0..n).map(|i| column(&selected_column(i))).collect();
    balanced(selected, DfExpr::or).unwrap_or(lit(false))
}

/// The per-person DataFrame with one more column per rule: its raw value
/// ([`rule_value_column`]), true, false or null (unknown), beside the pass column that
/// treats unknown as not satisfied.
pub(crate) fn with_rule_values(df: DataFrame, plan: &CohortPlan) -> Result<DataFrame> {
    let schema = df.schema().as_arrow().clone();
    let variable = |n: &str| {
        plan.types
            .contains_key(n)
            .then(|| schema.field_with_name(n).ok())
            .flatten()
    };
    let types = |n: &str| {
        variable(n)
            .and_then(|f| type_of(f.data_type()))
            .or_else(|| plan.parameters.get(n).map(Value::data_type))
    };
    let columns = |n: &str| variable(n).map(|f| f.name().clone());
    let mut exprs: Vec<DfExpr> = schema.fields().iter().map(|f| column(f.name())).collect();
    for (i, rule) in plan.rules.iter().enumerate() {
        let scope = Scope {
            parameters: &plan.parameters,
            columns: &columns,
            types: &types,
            place: &rule.place,
        };
        exprs.push(scope.lower(&rule.expr)?.alias(rule_value_column(i)));
    }
    Ok(df.select(exprs)?)
}
