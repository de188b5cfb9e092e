//! The per-person aggregates of a plan's event and period scans in DataFusion: one scan of
//! each table for all the variables that read it.
//!
//! For an event scan, the rows are first brought to one code per row (several code
//! columns, a list column and a delimited column are unnested; with `primary_only` only
//! the first code is kept). Coded measures are served by joining those rows once to the
//! scan's code table — for ICD-10 and OPCS-4 through the normalised prefixes of each
//! code — and then grouping by person with one aggregate per measure, filtered to that
//! measure's variable index, window, value range and condition. Measures without
//! codelists aggregate the rows directly, in a second grouped aggregate.
//!
//! A scan after some layers of variables ([`EventScan::after`]) joins its events to the
//! persons' variables that its windows and conditions read, each as
//! [`person_column`], before the same steps.
//!
//! Events without a date cannot be placed in time and are not selected.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::{btrim, concat, lpad, nullif, split_part, substr};
use datafusion::functions_aggregate::average::avg_udaf;
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::first_last::{first_value_udaf, last_value_udaf};
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::functions_nested::expr_fn::{array_element, make_array, string_to_array};
use datafusion::logical_expr::{
    Expr as DfExpr, ExprFunctionExt, JoinType, SortExpr, cast, lit, when,
};

use super::Lowering;
use super::expr::{Scope, column, date_literal};
use super::udf::{code_prefixes_expr, count_episodes_expr};
use crate::compile::plan::{
    Bound, CohortPlan, Conversion, EventScan, Matching, Measure, PeriodAggregate, PeriodScan,
    person_column,
};
use crate::error::{CaasError, Place, Result};
use crate::model::{Aggregation, Ties};
use crate::source::CodeLayout;
use crate::source::quality::finite;

/// The aggregates of the event scans that come before every layer of variables, and of
/// every period scan.
pub(crate) fn aggregates(lowering: &Lowering<'_>, plan: &CohortPlan) -> Result<Vec<DataFrame>> {
    let mut out = Vec::new();
    for scan in plan.events.iter().filter(|s| s.after == 0) {
        out.extend(scan_aggregates(lowering, plan, scan, None)?);
    }
    for scan in &plan.periods {
        out.push(period_aggregate(lowering, scan)?);
    }
    Ok(out)
}

/// The per-person aggregates of one event scan; `persons` has the variables a scan after
/// some layers reads.
pub(crate) fn scan_aggregates(
    lowering: &Lowering<'_>,
    plan: &CohortPlan,
    scan: &EventScan,
    persons: Option<&DataFrame>,
) -> Result<Vec<DataFrame>> {
    let mut out = Vec::new();
    for selection in event_selections(lowering, plan, scan, persons)? {
        let mut aggs = Vec::new();
        for (measure, filter) in selection.filters {
            let value = aggregate(scan, measure, filter, &selection.order)?;
            aggs.push(value.alias(&measure.column));
        }
        out.push(selection.rows.aggregate(vec![column("person_id")], aggs)?);
    }
    Ok(out)
}

/// The events joined to the persons' variables that the scan reads (the persons' own rows
/// only: people not in `persons` have no variables).
fn with_person_columns(
    events: DataFrame,
    scan: &EventScan,
    persons: Option<&DataFrame>,
) -> Result<DataFrame> {
    let reads = scan.reads();
    if reads.is_empty() {
        return Ok(events);
    }
    let persons = persons.ok_or_else(|| {
        CaasError::internal(format!(
            "a scan of {} reads variables that no layer has computed",
            scan.table
        ))
    })?;
    let mut columns = vec![column("person_id").alias("__v_person_id")];
    columns.extend(reads.iter().map(|n| column(n).alias(person_column(n))));
    let persons = persons.clone().select(columns)?;
    Ok(events.join_on(
        persons,
        JoinType::Inner,
        [column("person_id").eq(column("__v_person_id"))],
    )?)
}

/// The event rows with one code per row, in canonical columns: `person_id`, the scan's
/// [`columns`](EventScan::columns) and `code`; rows without a code or a date dropped.
fn long_events(lowering: &Lowering<'_>, scan: &EventScan) -> Result<DataFrame> {
    let table = lowering.table(&scan.table)?;
    let mut exprs = vec![lowering.tables.person_id(table).alias("person_id")];
    for c in &scan.columns {
        exprs.push(match c.conversion {
            Conversion::Date => table.date(&c.source).alias(&c.name),
            Conversion::Decimal if table.may_hold_non_finite(&c.source) => {
                finite(column(&c.source)).alias(&c.name)
            }
            Conversion::Decimal => cast(column(&c.source), DataType::Float64).alias(&c.name),
            Conversion::AsIs if c.source == c.name => column(&c.source),
            Conversion::AsIs => column(&c.source).alias(&c.name),
        });
    }
    let code_type = if scan.integer_codes {
        DataType::Int64
    } else {
        DataType::Utf8
    };
    let primary = scan.primary_only;
    let (code, unnest) = match &scan.codes {
        CodeLayout::Single(c) => (cast(column(c), code_type.clone()), false),
        CodeLayout::Columns(cs) if primary => {
            let first = cs
                .first()
                .ok_or_else(|| CaasError::internal("an event table without code columns"))?;
            (cast(column(first), code_type.clone()), false)
        }
        CodeLayout::Columns(cs) => (
            make_array(
                cs.iter()
                    .map(|c| cast(column(c), code_type.clone()))
                    .collect(),
            ),
            true,
        ),
        CodeLayout::List(c) if primary => (
            cast(array_element(column(c), lit(1i64)), code_type.clone()),
            false,
        ),
        CodeLayout::List(c) => (column(c), true),
        CodeLayout::Delimited(c, d) if primary => (
            btrim(vec![split_part(
                cast(column(c), DataType::Utf8),
                lit(d.clone()),
                lit(1i64),
            )]),
            false,
        ),
        CodeLayout::Delimited(c, d) => (
            string_to_array(
                cast(column(c), DataType::Utf8),
                lit(d.clone()),
                lit(ScalarValue::Utf8(None)),
            ),
            true,
        ),
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
        if matches!(scan.codes, CodeLayout::Delimited(..)) {
            code = btrim(vec![code]);
        }
        cols.push(code.alias("code"));
        df = df.select(cols)?;
    } else {
        exprs.push(code.alias("code"));
        df = df.select(exprs)?;
    }
    let mut keep = column("code")
        .is_not_null()
        .and(column("date").is_not_null());
    // The rows outside every window, dropped before they are joined to the codes.
    let (first, last) = scan.date_span();
    if let Some(first) = first {
        keep = keep.and(column("date").gt_eq(date_literal(first)));
    }
    if let Some(last) = last {
        keep = keep.and(column("date").lt_eq(date_literal(last)));
    }
    Ok(df.filter(keep)?)
}

/// The window, value range and condition of one measure, as a filter over long events
/// (with the person's variables it reads, [`with_person_columns`]).
fn selection_filter(plan: &CohortPlan, scan: &EventScan, measure: &Measure) -> Result<DfExpr> {
    let place = Place::Variable(measure.variable.clone());
    let types = |n: &str| measure.name_type(plan, scan, n);
    let columns = |n: &str| measure.name_column(scan, plan.person.id, n);
    let scope = Scope {
        parameters: &plan.parameters,
        columns: &columns,
        types: &types,
        place: &place,
    };
    let mut filter = lit(true);
    for (bound, is_from) in [(&measure.from, true), (&measure.to, false)] {
        let b = match bound {
            Bound::Open => continue,
            Bound::On(d) => date_literal(*d),
            Bound::Unknown => {
                filter = filter.and(lit(false));
                continue;
            }
            Bound::Person(e) => scope.lower(e)?,
        };
        filter = filter.and(if is_from {
            column("date").gt_eq(b)
        } else {
            column("date").lt_eq(b)
        });
    }
    if let Some(min) = measure.min_value {
        filter = filter.and(column("value").gt_eq(lit(min)));
    }
    if let Some(max) = measure.max_value {
        filter = filter.and(column("value").lt_eq(lit(max)));
    }
    if let Some(condition) = &measure.condition {
        filter = filter.and(scope.lower(condition)?);
    }
    Ok(filter)
}

/// The order of events that decides first and last: by (date, code, value), a null value
/// first, codes compared as text even when the table holds them as integers — so that a
/// same-day tie goes the same way whichever way the table was read (`"162863004"` comes
/// before `"60621009"`). `first_*` takes the smallest event, `last_*` the greatest.
fn event_order(scan: &EventScan) -> Vec<SortExpr> {
    let mut order: Vec<SortExpr> = vec![
        column("date").sort(true, false),
        code_key(scan).sort(true, false),
    ];
    if scan.has_value() {
        order.push(column("value").sort(true, true));
    }
    order
}

/// The code as it is ordered: as text.
fn code_key(scan: &EventScan) -> DfExpr {
    if scan.integer_codes {
        cast(column("code"), DataType::Utf8)
    } else {
        column("code")
    }
}

/// The order that decides a measure's first or last event: [`event_order`]; with an
/// `order_by`, the date, then its columns ascending (a missing value smallest), then the
/// rest of [`event_order`]; or, where the measure breaks ties by value, the date, then
/// the value — the largest (smallest) value taken, a missing one only when no event of
/// the date has one — then the code. Where the measure returns another column, that
/// column last, so that events equal in all the rest are told apart by what is returned.
fn measure_order(scan: &EventScan, measure: &Measure, order: &[SortExpr]) -> Vec<SortExpr> {
    let last = measure.aggregation.is_last();
    // Whether the value that wins sorts ascending: `last_*` takes the greatest event.
    let ascending = match measure.ties {
        Ties::Code => true,
        Ties::MaxValue => last,
        Ties::MinValue => !last,
    };
    let mut keys = vec![column("date").sort(true, false)];
    if !measure.ties.is_code() {
        // A missing value loses: first where the greatest is taken, last where the
        // smallest.
        keys.push(column("value").sort(ascending, last));
        keys.push(code_key(scan).sort(true, false));
    }
    for c in &measure.order_by {
        let key = if c == "code" {
            code_key(scan)
        } else {
            column(c)
        };
        keys.push(key.sort(true, true));
    }
    keys.extend(order.iter().skip(1).cloned());
    if let Some(c) = &measure.returned_column {
        keys.push(column(c).sort(true, true));
    }
    // Each key once: DataFusion's first and last fail on a key given twice.
    let mut unique: Vec<SortExpr> = Vec::with_capacity(keys.len());
    for key in keys {
        if !unique.iter().any(|k| k.expr == key.expr) {
            unique.push(key);
        }
    }
    unique
}

/// The aggregate of one measure over rows already restricted by `filter`; first and last
/// follow `order`.
fn aggregate(
    scan: &EventScan,
    measure: &Measure,
    filter: DfExpr,
    order: &[SortExpr],
) -> Result<DfExpr> {
    let (udaf, argument, ordered) = match measure.aggregation {
        Aggregation::Exists | Aggregation::Count => (count_udaf(), lit(1i64), false),
        Aggregation::FirstDate => (min_udaf(), column("date"), false),
        Aggregation::LastDate => (max_udaf(), column("date"), false),
        Aggregation::MinValue => (min_udaf(), column("value"), false),
        Aggregation::MaxValue => (max_udaf(), column("value"), false),
        Aggregation::FirstValue => (first_value_udaf(), returned(measure), true),
        Aggregation::LastValue => (last_value_udaf(), returned(measure), true),
        Aggregation::FirstCode => (first_value_udaf(), column("code"), true),
        Aggregation::LastCode => (last_value_udaf(), column("code"), true),
        Aggregation::Sum => (sum_udaf(), column("value"), false),
        Aggregation::Mean => (avg_udaf(), column("value"), false),
        // The filter inside the argument: a distinct count with a FILTER clause is not
        // planned by every engine, and nulls are not counted anyway.
        Aggregation::CountDistinctCodes | Aggregation::CountDistinctDates => {
            let counted = match measure.aggregation {
                Aggregation::CountDistinctCodes => column("code"),
                _ => column("date"),
            };
            let argument = when(filter, counted).end()?;
            return Ok(count_udaf().call(vec![argument]).distinct().build()?);
        }
        // The filter inside the argument, as for the distinct counts.
        Aggregation::CountEpisodes => {
            let dates = when(filter, column("date")).end()?;
            return Ok(count_episodes_expr(dates, measure.gap_days.unwrap_or(1)));
        }
    };
    let call = udaf.call(vec![argument]);
    let built = if ordered {
        call.order_by(measure_order(scan, measure, order))
            .filter(filter)
            .build()?
    } else {
        call.filter(filter).build()?
    };
    Ok(built)
}

/// The column a first or last value returns: `value`, or the measure's own.
fn returned(measure: &Measure) -> DfExpr {
    column(measure.returned_column.as_deref().unwrap_or("value"))
}

/// The rows a group of measures of one event scan reads, and each measure's filter over
/// them: the long events joined to the code table for the coded measures, the long events
/// themselves for the others.
pub(crate) struct Selection<'p> {
    /// The rows, with the canonical event columns.
    pub rows: DataFrame,
    /// Each measure and the filter that keeps the rows it aggregates.
    pub filters: Vec<(&'p Measure, DfExpr)>,
    /// Whether the rows have a `value` column.
    pub has_value: bool,
    /// The order of the rows that decides first and last ([`event_order`]).
    pub order: Vec<SortExpr>,
}

/// The selections of an event scan: at most two, one for the coded measures and one for
/// the others. `persons` has the variables that a scan after some layers reads.
pub(crate) fn event_selections<'p>(
    lowering: &Lowering<'_>,
    plan: &CohortPlan,
    scan: &'p EventScan,
    persons: Option<&DataFrame>,
) -> Result<Vec<Selection<'p>>> {
    let events = with_person_columns(long_events(lowering, scan)?, scan, persons)?;
    let has_value = scan.has_value();
    let mut selections = Vec::new();

    if !scan.coded.is_empty() {
        let mut filters = Vec::new();
        for measure in &scan.coded {
            let id = measure.code_index.unwrap_or(-1);
            let filter = column("__var")
                .eq(lit(id))
                .and(selection_filter(plan, scan, measure)?);
            filters.push((measure, filter));
        }
        let map = code_map(&scan.code_table, scan.integer_codes)?;
        let map = lowering.ctx.read_batch(map)?;
        let rows = match scan.matching {
            Matching::Prefix => {
                let lengths: Vec<usize> = scan.code_table.iter().map(|(c, _)| c.len()).collect();
                let mut cols: Vec<DfExpr> = events
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| column(f.name()))
                    .collect();
                cols.push(
                    code_prefixes_expr(column("code"), scan.system, lengths).alias("__prefix"),
                );
                events
                    .clone()
                    .select(cols)?
                    .unnest_columns(&["__prefix"])?
                    .join_on(
                        map,
                        JoinType::Inner,
                        [column("__prefix").eq(column("__map_code"))],
                    )?
            }
            Matching::Exact => events.clone().join_on(
                map,
                JoinType::Inner,
                [column("code").eq(column("__map_code"))],
            )?,
        };
        selections.push(Selection {
            rows,
            filters,
            has_value,
            order: event_order(scan),
        });
    }

    if !scan.uncoded.is_empty() {
        let mut filters = Vec::new();
        for measure in &scan.uncoded {
            filters.push((measure, selection_filter(plan, scan, measure)?));
        }
        selections.push(Selection {
            rows: events,
            filters,
            has_value,
            order: event_order(scan),
        });
    }
    Ok(selections)
}

/// The (code, variable) table that the events are joined to.
fn code_map(pairs: &[(String, i32)], integer_codes: bool) -> Result<RecordBatch> {
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

/// The periods of a period scan in canonical columns (`person_id`, `start_date`,
/// `end_date`, `practice` where the table has it), and for each measure the filter of the
/// periods that cover its date.
pub(crate) struct PeriodSelection<'p> {
    /// The periods.
    pub rows: DataFrame,
    /// Each measure and the filter of the periods that cover its date.
    pub filters: Vec<(&'p crate::compile::plan::PeriodMeasure, DfExpr)>,
}

/// The selection of the measures of a period scan.
pub(crate) fn period_selection<'p>(
    lowering: &Lowering<'_>,
    scan: &'p PeriodScan,
) -> Result<PeriodSelection<'p>> {
    let table = lowering.table(&scan.table)?;
    let date = |c: &Option<String>| match c {
        Some(c) => table.date(c),
        None => lit(ScalarValue::Date32(None)),
    };
    let mut exprs = vec![lowering.tables.person_id(table).alias("person_id")];
    exprs.push(date(&scan.start).alias("start_date"));
    exprs.push(date(&scan.end).alias("end_date"));
    if let Some(p) = &scan.practice {
        exprs.push(cast(column(p), DataType::Utf8).alias("practice"));
    }
    let rows = table.data.clone().select(exprs)?;
    let mut filters = Vec::new();
    for measure in &scan.measures {
        let on = match measure.on {
            Some(d) => date_literal(d),
            None => lit(ScalarValue::Date32(None)),
        };
        filters.push((measure, covering(on.clone(), on)));
    }
    Ok(PeriodSelection { rows, filters })
}

/// Whether a period covers a day from `first` to `last`: it starts on or before `last`
/// and has no end or ends on or after `first`.
fn covering(first: DfExpr, last: DfExpr) -> DfExpr {
    column("start_date").lt_eq(last).and(
        column("end_date")
            .is_null()
            .or(column("end_date").gt_eq(first)),
    )
}

/// The per-person aggregate of a period scan.
fn period_aggregate(lowering: &Lowering<'_>, scan: &PeriodScan) -> Result<DataFrame> {
    let selection = period_selection(lowering, scan)?;
    let mut aggs = Vec::new();
    for (measure, covers) in selection.filters {
        let agg = match measure.aggregate {
            PeriodAggregate::LatestPractice => max_udaf()
                .call(vec![practice_key()])
                .filter(covers)
                .build()?,
            PeriodAggregate::Count => count_udaf().call(vec![lit(1i64)]).filter(covers).build()?,
        };
        aggs.push(agg.alias(&measure.column));
    }
    let mut rows = selection.rows;
    // The periods that cover none of the measures' dates, dropped before the aggregate.
    if let Some((first, last)) = scan.date_span() {
        rows = rows.filter(covering(date_literal(first), date_literal(last)))?;
    }
    Ok(rows.aggregate(vec![column("person_id")], aggs)?)
}
