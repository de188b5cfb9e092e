//! The national data opt-out and type 1 opt-outs: how many people are removed, and the
//! attrition step that records it (the removal itself is a step of the plan).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::logical_expr::{ExprFunctionExt, lit};

use crate::compile::opt_out::{OPT_OUT_STEP, flags};
use crate::error::{CaasError, Result};
use crate::execute::Collected;
use crate::execute::lower::opted_out;
use crate::model::Cohort;
use crate::source::Table;

/// People in the person table and, when the cohort's purpose applies opt-outs, how many of
/// them have one.
pub(crate) async fn count(person: &Table, cohort: &Cohort) -> Result<Option<(u64, u64)>> {
    let Some(flags) = flags(person, cohort)? else {
        return Ok(None);
    };
    let source = |part: &str| person.shape.column(part).unwrap_or(part).to_string();
    let out = opted_out(&flags, source);
    let ones = || count_udaf().call(vec![lit(1i64)]);
    let batches = person
        .data
        .clone()
        .aggregate(
            vec![],
            vec![
                ones().alias("__g_people"),
                ones().filter(out).build()?.alias("__g_opted_out"),
            ],
        )?
        .collect()
        .await?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| CaasError::internal("the opt-out count returned no row"))?;
    let value = |i: usize| -> Result<u64> {
        let array = arrow::compute::cast(batch.column(i), &DataType::Int64)?;
        let array = array.as_primitive::<Int64Type>();
        Ok(u64::try_from(array.value(0)).unwrap_or(0))
    };
    Ok(Some((value(0)?, value(1)?)))
}

/// Records the opt-outs as the first step of the attrition (the rules' steps move down by
/// one), and counts the people removed in the population.
pub(crate) fn record(evaluation: &mut Collected, counts: Option<(u64, u64)>) -> Result<()> {
    let Some((people, opted_out)) = counts else {
        return Ok(());
    };
    evaluation.attrition = with_opt_out_step(&evaluation.attrition, people, opted_out)?;
    evaluation.population = people;
    evaluation.opt_outs = counts;
    Ok(())
}

/// `attrition` after a first step that removes `opted_out` of `people`.
pub(crate) fn with_opt_out_step(
    attrition: &RecordBatch,
    people: u64,
    opted_out: u64,
) -> Result<RecordBatch> {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let schema = attrition.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let existing = attrition.column(i);
        let first: ArrayRef = match field.name().as_str() {
            "step" => {
                let steps = existing.as_primitive::<Int64Type>();
                let moved: Int64Array = steps.iter().map(|s| s.map(|s| s + 1)).collect();
                columns.push(concat(&[&Int64Array::from(vec![1i64]), &moved])?);
                continue;
            }
            "rule" => Arc::new(StringArray::from(vec![OPT_OUT_STEP])),
            "action" => Arc::new(StringArray::from(vec!["exclude"])),
            "before" => Arc::new(Int64Array::from(vec![as_i64(people)])),
            "after" => Arc::new(Int64Array::from(vec![as_i64(
                people.saturating_sub(opted_out),
            )])),
            "removed" => Arc::new(Int64Array::from(vec![as_i64(opted_out)])),
            other => {
                return Err(CaasError::internal(format!(
                    "unexpected attrition column `{other}`"
                )));
            }
        };
        if first.data_type() != existing.data_type() {
            return Err(CaasError::internal(format!(
                "attrition column `{}` is not {}",
                field.name(),
                first.data_type()
            )));
        }
        columns.push(concat(&[first.as_ref(), existing.as_ref()])?);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}
