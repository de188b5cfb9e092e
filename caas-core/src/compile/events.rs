//! The per-person aggregates over event and period tables: one scan of each table for all
//! the variables that read it.
//!
//! For an event table, the rows are first brought to one code per row (several code
//! columns, a list column and a delimited column are unnested; with `primary_code_only`
//! only the first code is kept). Variables with codelists are served by joining those rows
//! once to a table of (code, variable) pairs — for ICD-10 and OPCS-4 through the normalised
//! prefixes of each code — and then grouping by person with one aggregate per variable,
//! filtered to that variable's pairs, window, value range and condition. Variables without
//! codelists aggregate the rows directly, in a second grouped aggregate.
//!
//! Events without a date cannot be placed in time and are not selected.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::{btrim, concat, lpad, nullif, split_part, substr};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::first_last::{first_value_udaf, last_value_udaf};
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_nested::expr_fn::{array_element, make_array, string_to_array};
use datafusion::logical_expr::{Expr as DfExpr, ExprFunctionExt, JoinType, SortExpr, cast, lit};
use indexmap::IndexMap;

use super::Compiler;
use super::expr::{Scope, column, type_of, value_literal};
use super::udf::code_prefixes_expr;
use crate::codelist::Codelist;
use crate::error::{CaasError, Place, Result};
use crate::model::expr::{Type, eval_constant, infer_type};
use crate::model::{Aggregation, Cohort, EventSelection, Value, VariableKind};
use crate::source::Table;
use crate::source::{CodeLayout, Role};

/// A grouped plan with `person_id` and one column per variable it serves.
pub(crate) struct AggregatePlan {
    pub data: DataFrame,
    /// (variable, column) pairs.
    pub columns: Vec<(String, String)>,
}

/// The variables of a cohort that read event tables and period tables, grouped by table
/// in the order the variables come.
pub(crate) struct TableGroups<'c> {
    /// Event table -> its event variables.
    pub events: IndexMap<&'c str, Vec<(&'c str, &'c EventSelection)>>,
    /// Period table -> its `registered` and `practice` variables.
    pub periods: IndexMap<&'c str, Vec<(&'c str, &'c VariableKind)>>,
}

/// Groups the variables of `cohort` by the event or period table they read.
pub(crate) fn table_groups(cohort: &Cohort) -> TableGroups<'_> {
    let mut groups = TableGroups {
        events: IndexMap::new(),
        periods: IndexMap::new(),
    };
    for var in cohort.variables() {
        match &var.kind {
            VariableKind::Events(ev) => groups
                .events
                .entry(&ev.table)
                .or_default()
                .push((&var.name, ev)),
            VariableKind::Registered { table, .. } | VariableKind::Practice { table, .. } => groups
                .periods
                .entry(table)
                .or_default()
                .push((&var.name, &var.kind)),
            _ => {}
        }
    }
    groups
}

/// The aggregate plans of every event and period table the cohort reads.
pub(crate) fn plans(
    compiler: &mut Compiler<'_>,
    cohort: &Cohort,
    parameters: &IndexMap<String, Value>,
) -> Result<Vec<AggregatePlan>> {
    let groups = table_groups(cohort);
    let mut plans = Vec::new();
    for (table, vars) in groups.events {
        let place = Place::Variable(vars[0].0.to_string());
        let table = compiler.table(table, &place, Role::Events)?;
        plans.extend(event_plans(compiler, table, &vars, cohort, parameters)?);
    }
    for (table, vars) in groups.periods {
        let place = Place::Variable(vars[0].0.to_string());
        let table = compiler.table(table, &place, Role::Periods)?;
        plans.push(period_plan(compiler, table, &vars, parameters)?);
    }
    Ok(plans)
}

/// The event rows with one code per row, in canonical columns: `person_id`, `date`,
/// `code`, `value` and `end_date` where the table has them, and the other columns by name.
fn long_events(compiler: &Compiler<'_>, table: &Table) -> Result<DataFrame> {
    let shape = &table.shape;
    let schema = table.data.schema().as_arrow().clone();
    let mut exprs = vec![compiler.person_id(table).alias("person_id")];
    let code_sources: Vec<&str> = match &shape.codes {
        Some(CodeLayout::Single(c) | CodeLayout::List(c) | CodeLayout::Delimited(c, _)) => {
            vec![c.as_str()]
        }
        Some(CodeLayout::Columns(cs)) => cs.iter().map(String::as_str).collect(),
        None => vec![],
    };
    let mapped_parts: Vec<&str> = shape.parts.iter().map(|(p, _)| *p).collect();
    for field in schema.fields() {
        let name = field.name().as_str();
        if code_sources.contains(&name) {
            continue;
        }
        let part = shape.parts.iter().find(|(_, c)| c == name).map(|(p, _)| *p);
        match part {
            Some("person_id") => {}
            Some(p @ ("date" | "end_date")) => {
                exprs.push(cast(column(name), DataType::Date32).alias(p))
            }
            Some(p @ "value") => exprs.push(cast(column(name), DataType::Float64).alias(p)),
            Some(p) => exprs.push(column(name).alias(p)),
            None if mapped_parts.contains(&name) || name == "code" => {}
            None => exprs.push(column(name)),
        }
    }
    let code_type = if shape.integer_codes {
        DataType::Int64
    } else {
        DataType::Utf8
    };
    let primary = shape.primary_code_only;
    let (code, unnest) = match &shape.codes {
        Some(CodeLayout::Single(c)) => (cast(column(c), code_type.clone()), false),
        Some(CodeLayout::Columns(cs)) if primary => {
            (cast(column(&cs[0]), code_type.clone()), false)
        }
        Some(CodeLayout::Columns(cs)) => (
            make_array(
                cs.iter()
                    .map(|c| cast(column(c), code_type.clone()))
                    .collect(),
            ),
            true,
        ),
        Some(CodeLayout::List(c)) if primary => (
            cast(array_element(column(c), lit(1i64)), code_type.clone()),
            false,
        ),
        Some(CodeLayout::List(c)) => (column(c), true),
        Some(CodeLayout::Delimited(c, d)) if primary => (
            btrim(vec![split_part(
                cast(column(c), DataType::Utf8),
                lit(d.clone()),
                lit(1i64),
            )]),
            false,
        ),
        Some(CodeLayout::Delimited(c, d)) => (
            string_to_array(
                cast(column(c), DataType::Utf8),
                lit(d.clone()),
                lit(datafusion::common::ScalarValue::Utf8(None)),
            ),
            true,
        ),
        None => {
            return Err(CaasError::Registration {
                table: table.name.clone(),
                message: "an event table needs a code column".to_string(),
            });
        }
    };
    let mut df = table.data.clone();
    if unnest {
        exprs.push(code.alias("__codes"));
        df = df.select(exprs)?.unnest_columns(&["__codes"])?;
        let mut cols: Vec<DfExpr> = df
            .schema()
            .fields()
            .iter()
            .filter(|f| f.name() != "__codes")
            .map(|f| column(f.name()))
            .collect();
        let mut code = cast(column("__codes"), code_type.clone());
        if matches!(shape.codes, Some(CodeLayout::Delimited(..))) {
            code = btrim(vec![code]);
        }
        cols.push(code.alias("code"));
        df = df.select(cols)?;
    } else {
        exprs.push(code.alias("code"));
        df = df.select(exprs)?;
    }
    Ok(df.filter(
        column("code")
            .is_not_null()
            .and(column("date").is_not_null()),
    )?)
}

/// The bounds, value range and condition of one variable, as a filter over long events.
fn selection_filter(
    name: &str,
    ev: &EventSelection,
    events: &DataFrame,
    table: &Table,
    parameters: &IndexMap<String, Value>,
) -> Result<DfExpr> {
    let place = Place::Variable(name.to_string());
    let mut filter = lit(true);
    for (bound, is_from) in [(&ev.from, true), (&ev.to, false)] {
        let Some(bound) = bound else { continue };
        match eval_constant(bound, parameters, &place)? {
            Some(v @ Value::Date(_)) => {
                let b = value_literal(&v);
                filter = filter.and(if is_from {
                    column("date").gt_eq(b)
                } else {
                    column("date").lt_eq(b)
                });
            }
            // An unknown bound selects nothing, as a comparison with null would.
            None => filter = filter.and(lit(false)),
            Some(other) => {
                return Err(CaasError::type_mismatch(
                    &place,
                    format!("a window bound must be a date, found {}", other.data_type()),
                ));
            }
        }
    }
    let has_value = events.schema().has_column_with_unqualified_name("value");
    if (ev.min_value.is_some() || ev.max_value.is_some() || ev.returns.needs_value()) && !has_value
    {
        return Err(CaasError::MissingColumn {
            table: table.name.clone(),
            column: "value".to_string(),
            needed_as: format!("the value of {place}"),
        });
    }
    if let Some(min) = ev.min_value {
        filter = filter.and(column("value").gt_eq(lit(min)));
    }
    if let Some(max) = ev.max_value {
        filter = filter.and(column("value").lt_eq(lit(max)));
    }
    if let Some(condition) = &ev.condition {
        let schema = events.schema().as_arrow().clone();
        let col_type = |n: &str| {
            schema
                .field_with_name(n)
                .ok()
                .and_then(|f| type_of(f.data_type()))
        };
        let resolve = |n: &str| col_type(n).or_else(|| parameters.get(n).map(Value::data_type));
        if let Some(unknown) = condition.names().into_iter().find(|n| resolve(n).is_none()) {
            return Err(CaasError::UnknownReference {
                place,
                what: "column or parameter in `where`",
                name: unknown.to_string(),
            });
        }
        let t = infer_type(condition, &resolve, &place)?;
        if !matches!(t, Type::Bool | Type::Null | Type::Any) {
            return Err(CaasError::type_mismatch(
                &place,
                format!("`where` must be a boolean, found {t}"),
            ));
        }
        let columns = |n: &str| col_type(n).map(|_| n.to_string());
        let scope = Scope {
            parameters,
            columns: &columns,
            types: &resolve,
            place: &place,
        };
        filter = filter.and(scope.lower(condition)?);
    }
    Ok(filter)
}

/// The order of events that decides first and last: by (date, code, value), a null value
/// first. `first_*` takes the smallest event, `last_*` the greatest.
pub(crate) fn event_order(has_value: bool) -> Vec<SortExpr> {
    let mut order: Vec<SortExpr> = vec![
        column("date").sort(true, false),
        column("code").sort(true, false),
    ];
    if has_value {
        order.push(column("value").sort(true, true));
    }
    order
}

/// The aggregate of one variable over rows already restricted by `filter`.
fn aggregate(ev: &EventSelection, filter: DfExpr, has_value: bool) -> Result<DfExpr> {
    let order = event_order(has_value);
    let (udaf, argument, ordered) = match ev.returns {
        Aggregation::Exists | Aggregation::Count => (count_udaf(), lit(1i64), false),
        Aggregation::FirstDate => (min_udaf(), column("date"), false),
        Aggregation::LastDate => (max_udaf(), column("date"), false),
        Aggregation::MinValue => (min_udaf(), column("value"), false),
        Aggregation::MaxValue => (max_udaf(), column("value"), false),
        Aggregation::FirstValue => (first_value_udaf(), column("value"), true),
        Aggregation::LastValue => (last_value_udaf(), column("value"), true),
        Aggregation::FirstCode => (first_value_udaf(), column("code"), true),
        Aggregation::LastCode => (last_value_udaf(), column("code"), true),
    };
    let call = udaf.call(vec![argument]);
    let built = if ordered {
        call.order_by(order).filter(filter).build()?
    } else {
        call.filter(filter).build()?
    };
    Ok(built)
}

/// The rows a group of variables of one event table reads, and each variable's filter over
/// them: the long events joined to the (code, variable) table for the variables with
/// codelists, the long events themselves for those without.
pub(crate) struct Selection<'v> {
    /// The rows, with the canonical event columns.
    pub rows: DataFrame,
    /// Each variable, its selection and the filter that keeps the rows it aggregates.
    pub filters: Vec<(&'v str, &'v EventSelection, DfExpr)>,
    /// Whether the rows have a `value` column.
    pub has_value: bool,
}

/// The selections of the variables `vars` of an event table: at most two, one for the
/// variables with codelists and one for those without.
pub(crate) fn event_selections<'v>(
    compiler: &mut Compiler<'_>,
    table: &Table,
    vars: &[(&'v str, &'v EventSelection)],
    cohort: &Cohort,
    parameters: &IndexMap<String, Value>,
) -> Result<Vec<Selection<'v>>> {
    let Some(system) = table.shape.code_system else {
        return Err(CaasError::Registration {
            table: table.name.clone(),
            message: "an event table needs a `code_system`".to_string(),
        });
    };
    for (name, ev) in vars {
        for list in &ev.codelists {
            let Some(codelist) = cohort.codelists().get(list) else {
                continue;
            };
            if codelist.system != system {
                return Err(CaasError::CodeSystemMismatch {
                    place: Place::Variable(name.to_string()),
                    codelist: list.clone(),
                    codelist_system: codelist.system,
                    table: table.name.clone(),
                    table_system: system,
                });
            }
        }
    }
    let events = long_events(compiler, table)?;
    let has_value = events.schema().has_column_with_unqualified_name("value");
    let (with_lists, without): (Vec<_>, Vec<_>) =
        vars.iter().partition(|(_, ev)| !ev.codelists.is_empty());
    let mut selections = Vec::new();

    if !with_lists.is_empty() {
        let mut pairs: BTreeSet<(String, i32)> = BTreeSet::new();
        let mut filters = Vec::new();
        for (index, (name, ev)) in with_lists.iter().enumerate() {
            let id = i32::try_from(index).map_err(|_| CaasError::InvalidDefinition {
                place: Place::Definition,
                message: "too many variables for one event table".into(),
            })?;
            // The union of the variable's codelists, pruned again as one list so that an
            // event matches the variable once even when two of its lists hold the code.
            let codes = ev
                .codelists
                .iter()
                .filter_map(|list| cohort.codelists().get(list))
                .flat_map(|codelist| codelist.codes().iter());
            let union = Codelist::new(*name, system, codes);
            pairs.extend(union.codes().iter().map(|c| (c.clone(), id)));
            let filter = column("__var")
                .eq(lit(id))
                .and(selection_filter(name, ev, &events, table, parameters)?);
            filters.push((*name, *ev, filter));
        }
        let map = code_map(&pairs, table.shape.integer_codes)?;
        let map = compiler.ctx.read_batch(map)?;
        let rows = if system.matches_by_prefix() {
            let lengths: Vec<usize> = pairs.iter().map(|(c, _)| c.len()).collect();
            let mut cols: Vec<DfExpr> = events
                .schema()
                .fields()
                .iter()
                .map(|f| column(f.name()))
                .collect();
            cols.push(code_prefixes_expr(column("code"), system, lengths).alias("__prefix"));
            events
                .clone()
                .select(cols)?
                .unnest_columns(&["__prefix"])?
                .join_on(
                    map,
                    JoinType::Inner,
                    [column("__prefix").eq(column("__map_code"))],
                )?
        } else {
            events.clone().join_on(
                map,
                JoinType::Inner,
                [column("code").eq(column("__map_code"))],
            )?
        };
        selections.push(Selection {
            rows,
            filters,
            has_value,
        });
    }

    if !without.is_empty() {
        let mut filters = Vec::new();
        for (name, ev) in &without {
            let filter = selection_filter(name, ev, &events, table, parameters)?;
            filters.push((*name, *ev, filter));
        }
        selections.push(Selection {
            rows: events,
            filters,
            has_value,
        });
    }
    Ok(selections)
}

fn event_plans(
    compiler: &mut Compiler<'_>,
    table: &Table,
    vars: &[(&str, &EventSelection)],
    cohort: &Cohort,
    parameters: &IndexMap<String, Value>,
) -> Result<Vec<AggregatePlan>> {
    let mut plans = Vec::new();
    for selection in event_selections(compiler, table, vars, cohort, parameters)? {
        let mut aggs = Vec::new();
        let mut columns = Vec::new();
        for (name, ev, filter) in selection.filters {
            let col = compiler.fresh("e");
            aggs.push(aggregate(ev, filter, selection.has_value)?.alias(&col));
            columns.push((name.to_string(), col));
        }
        let data = selection.rows.aggregate(vec![column("person_id")], aggs)?;
        plans.push(AggregatePlan { data, columns });
    }
    Ok(plans)
}

/// The (code, variable) table that the events are joined to.
fn code_map(pairs: &BTreeSet<(String, i32)>, integer_codes: bool) -> Result<RecordBatch> {
    let (codes, vars): (ArrayRef, Int32Array) = if integer_codes {
        // Integer codes in the data can only equal codelist codes that are integers.
        let parsed: Vec<(i64, i32)> = pairs
            .iter()
            .filter_map(|(c, v)| {
                // Exact matching: `0123` or `+123` is not the integer code 123.
                let n = c.parse::<i64>().ok().filter(|n| n.to_string() == *c)?;
                Some((n, *v))
            })
            .collect();
        (
            Arc::new(parsed.iter().map(|(c, _)| *c).collect::<Int64Array>()),
            parsed.iter().map(|(_, v)| *v).collect(),
        )
    } else {
        (
            Arc::new(
                pairs
                    .iter()
                    .map(|(c, _)| Some(c.as_str()))
                    .collect::<StringArray>(),
            ),
            pairs.iter().map(|(_, v)| *v).collect(),
        )
    };
    let schema = Schema::new(vec![
        Field::new("__map_code", codes.data_type().clone(), false),
        Field::new("__var", DataType::Int32, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![codes, Arc::new(vars)],
    )?)
}

/// Width of the start date in a [`practice_key`]: days since 1970 plus 10^10 fit in 11 digits
/// for every Date32.
const START_DIGITS: i64 = 11;

/// A text that sorts like (start date, practice), a null practice first: the greatest key
/// is the practice of the latest-starting period, ties to the greatest practice. A `max`
/// over it costs far less than a `last_value` ordered by two columns.
fn practice_key() -> DfExpr {
    let start = cast(
        cast(column("start_date"), DataType::Int64) + lit(10_000_000_000i64),
        DataType::Utf8,
    );
    concat(vec![
        lpad(vec![start, lit(START_DIGITS), lit("0")]),
        column("practice"),
    ])
}

/// The practice in a [`practice_key`] (null for a null practice).
pub(crate) fn practice_of_key(key: DfExpr) -> DfExpr {
    nullif(substr(key, lit(START_DIGITS + 1)), lit(""))
}

/// The periods of a period table in canonical columns (`person_id`, `start_date`,
/// `end_date`, `practice` where the table has it), and for each `registered` or `practice`
/// variable the filter of the periods that cover its date.
pub(crate) struct PeriodSelection<'v> {
    /// The periods.
    pub rows: DataFrame,
    /// Each variable, its kind and the filter of the periods that cover its date.
    pub filters: Vec<(&'v str, &'v VariableKind, DfExpr)>,
}

/// The selection of the `registered` and `practice` variables `vars` of a period table.
pub(crate) fn period_selection<'v>(
    compiler: &Compiler<'_>,
    table: &Table,
    vars: &[(&'v str, &'v VariableKind)],
    parameters: &IndexMap<String, Value>,
) -> Result<PeriodSelection<'v>> {
    let shape = &table.shape;
    let col = |part: &str| shape.column(part).map(column);
    let start = col("start_date").map(|c| cast(c, DataType::Date32));
    let end = col("end_date").map(|c| cast(c, DataType::Date32));
    let mut exprs = vec![compiler.person_id(table).alias("person_id")];
    exprs.push(
        start
            .unwrap_or(lit(datafusion::common::ScalarValue::Date32(None)))
            .alias("start_date"),
    );
    exprs.push(
        end.unwrap_or(lit(datafusion::common::ScalarValue::Date32(None)))
            .alias("end_date"),
    );
    let has_practice = col("practice").is_some();
    if let Some(p) = col("practice") {
        exprs.push(cast(p, DataType::Utf8).alias("practice"));
    }
    let rows = table.data.clone().select(exprs)?;
    let mut filters = Vec::new();
    for (name, kind) in vars {
        let place = Place::Variable(name.to_string());
        let (VariableKind::Registered { on, .. } | VariableKind::Practice { on, .. }) = kind else {
            continue;
        };
        if matches!(kind, VariableKind::Practice { .. }) && !has_practice {
            return Err(CaasError::MissingColumn {
                table: table.name.clone(),
                column: "practice".to_string(),
                needed_as: format!("{place}"),
            });
        }
        let on = match eval_constant(on, parameters, &place)? {
            Some(v @ Value::Date(_)) => value_literal(&v),
            _ => lit(datafusion::common::ScalarValue::Date32(None)),
        };
        let covers = column("start_date").lt_eq(on.clone()).and(
            column("end_date")
                .is_null()
                .or(column("end_date").gt_eq(on)),
        );
        filters.push((*name, *kind, covers));
    }
    Ok(PeriodSelection { rows, filters })
}

/// The per-person aggregate of a period table for `registered` and `practice` variables.
fn period_plan(
    compiler: &mut Compiler<'_>,
    table: &Table,
    vars: &[(&str, &VariableKind)],
    parameters: &IndexMap<String, Value>,
) -> Result<AggregatePlan> {
    let selection = period_selection(compiler, table, vars, parameters)?;
    let mut aggs = Vec::new();
    let mut columns = Vec::new();
    for (name, kind, covers) in selection.filters {
        let out = compiler.fresh("r");
        let agg = if matches!(kind, VariableKind::Practice { .. }) {
            max_udaf()
                .call(vec![practice_key()])
                .filter(covers)
                .build()?
        } else {
            count_udaf().call(vec![lit(1i64)]).filter(covers).build()?
        };
        aggs.push(agg.alias(&out));
        columns.push((name.to_string(), out));
    }
    let data = selection.rows.aggregate(vec![column("person_id")], aggs)?;
    Ok(AggregatePlan { data, columns })
}
