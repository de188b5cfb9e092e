//! Running a cohort's plan: the members and the attrition counted in one pass over it, or
//! every person's variables.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{
    and, concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use futures::StreamExt;

use crate::compile::plan::CohortPlan;
use crate::compile::rule_column;
use crate::error::{CaasError, Result};
use crate::model::Cohort;

/// The members, attrition and population of a run, before they become an
/// [`Evaluation`](crate::Evaluation).
pub(crate) struct Collected {
    pub members: RecordBatch,
    pub attrition: RecordBatch,
    pub population: u64,
    /// Per check of arithmetic of the plan, the people whose value it left missing (none
    /// from another engine, which counts them with its data quality).
    pub arithmetic: Vec<u64>,
    /// Per person of the population, `person_id` (the person table's, even when the
    /// members get pseudonyms: the characterisation reads the person table by it), whether
    /// they pass each rule (`__rule_N`) and the values of
    /// [`CohortPlan::what_if_variables`], for rules changed afterwards (none from another
    /// engine).
    pub outcomes: Option<RecordBatch>,
    /// People in the person table and those of them opted out, when the purpose applies
    /// opt-outs (the attrition's first step).
    pub opt_outs: Option<(u64, u64)>,
}

impl Collected {
    /// What another engine gave for a cohort's SQL: its members, and its attrition with
    /// the columns cast to their types here. The population is the people before the
    /// first step (the members when there is none).
    pub fn from_engine(members: RecordBatch, attrition: &RecordBatch) -> Result<Self> {
        let schema = attrition_schema();
        let columns = schema
            .fields()
            .iter()
            .map(|field| {
                let column = attrition.column_by_name(field.name()).ok_or_else(|| {
                    CaasError::internal(format!("an attrition without `{}`", field.name()))
                })?;
                Ok(arrow::compute::cast(column, field.data_type())?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let attrition = RecordBatch::try_new(schema, columns)?;
        let before = attrition
            .column(3)
            .as_primitive::<arrow::datatypes::Int64Type>();
        let population = match before.len() {
            0 => members.num_rows() as u64,
            _ => u64::try_from(before.value(0)).unwrap_or(0),
        };
        Ok(Collected {
            members,
            attrition,
            population,
            arithmetic: Vec::new(),
            outcomes: None,
            opt_outs: None,
        })
    }
}

fn attrition_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("step", DataType::Int64, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("before", DataType::Int64, false),
        Field::new("after", DataType::Int64, false),
        Field::new("removed", DataType::Int64, false),
    ]))
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs the per-person plan once, counting the attrition and the people of each check of
/// arithmetic, and keeping the members and every person's rule outcomes.
pub(crate) async fn collect(
    cohort: &Cohort,
    compiled: &CohortPlan,
    plan: DataFrame,
) -> Result<Collected> {
    let checks = &compiled.arithmetic;
    let rules = cohort.rules();
    let plan_schema = plan.schema().as_arrow().clone();
    let mut output: Vec<usize> = vec![index_of(&plan_schema, "person_id")?];
    for c in cohort.output_columns() {
        output.push(index_of(&plan_schema, c)?);
    }
    let members_schema = Arc::new(plan_schema.project(&output)?);
    let rule_indexes = (0..rules.len())
        .map(|i| index_of(&plan_schema, &rule_column(i)))
        .collect::<Result<Vec<_>>>()?;
    let check_indexes = checks
        .iter()
        .map(|c| index_of(&plan_schema, &c.column))
        .collect::<Result<Vec<_>>>()?;
    let mut arithmetic = vec![0u64; checks.len()];
    let mut held = vec![index_of(&plan_schema, "person_id")?];
    held.extend(&rule_indexes);
    for name in compiled.what_if_variables() {
        held.push(index_of(&plan_schema, name)?);
    }
    let outcomes_schema = Arc::new(plan_schema.project(&held)?);
    let mut outcomes = Vec::new();

    let mut passed = vec![0u64; rules.len()];
    let mut population = 0u64;
    let mut members = Vec::new();
    let mut stream = plan.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        population += batch.num_rows() as u64;
        let mut mask = BooleanArray::from(vec![true; batch.num_rows()]);
        for (i, index) in rule_indexes.iter().enumerate() {
            let pass = batch.column(*index).as_boolean_opt().ok_or_else(|| {
                CaasError::internal(format!("rule column {} is not boolean", i + 1))
            })?;
            mask = and(&mask, pass)?;
            passed[i] += mask.true_count() as u64;
        }
        for (count, index) in arithmetic.iter_mut().zip(&check_indexes) {
            let missing = batch
                .column(*index)
                .as_boolean_opt()
                .ok_or_else(|| CaasError::internal("an arithmetic check column is not boolean"))?;
            *count += missing.true_count() as u64;
        }
        members.push(filter_record_batch(&batch.project(&output)?, &mask)?);
        outcomes.push(batch.project(&held)?);
    }
    let members = sort_by_person(members_schema, &members)?;

    let steps: Vec<(&str, bool)> = rules.iter().map(|r| (r.name.as_str(), r.exclude)).collect();
    let attrition = attrition(&steps, population, &passed)?;
    Ok(Collected {
        members,
        attrition,
        population,
        arithmetic,
        outcomes: Some(concat_batches(&outcomes_schema, &outcomes)?),
        opt_outs: None,
    })
}

/// The attrition of `steps` (each a rule's name and whether it excludes) applied in order
/// to `population` people, `passed[i]` of whom pass every step up to the `i`th.
pub(crate) fn attrition(
    steps: &[(&str, bool)],
    population: u64,
    passed: &[u64],
) -> Result<RecordBatch> {
    let mut befores = Vec::with_capacity(steps.len());
    let mut before = population;
    for after in passed {
        befores.push(before);
        before = *after;
    }
    let count = |values: &[u64]| -> ArrayRef {
        Arc::new(values.iter().map(|n| as_i64(*n)).collect::<Int64Array>())
    };
    let removed: Vec<u64> = befores
        .iter()
        .zip(passed)
        .map(|(b, a)| b.saturating_sub(*a))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            (1..=steps.len())
                .map(|i| as_i64(i as u64))
                .collect::<Int64Array>(),
        ),
        Arc::new(steps.iter().map(|s| Some(s.0)).collect::<StringArray>()),
        Arc::new(
            steps
                .iter()
                .map(|s| Some(if s.1 { "exclude" } else { "include" }))
                .collect::<StringArray>(),
        ),
        count(&befores),
        count(passed),
        count(&removed),
    ];
    Ok(RecordBatch::try_new(attrition_schema(), columns)?)
}

/// Runs the per-person plan and keeps `person_id` and the variables, in definition order.
pub(crate) async fn variables(cohort: &Cohort, plan: DataFrame) -> Result<RecordBatch> {
    let schema = plan.schema().as_arrow().clone();
    let mut keep = vec![index_of(&schema, "person_id")?];
    for name in cohort.definition().variables.keys() {
        keep.push(index_of(&schema, name)?);
    }
    let projected = Arc::new(schema.project(&keep)?);
    let mut batches = Vec::new();
    let mut stream = plan.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        batches.push(batch?.project(&keep)?);
    }
    sort_by_person(projected, &batches)
}

fn index_of(schema: &Schema, name: &str) -> Result<usize> {
    schema
        .index_of(name)
        .map_err(|_| CaasError::internal(format!("the plan lost column `{name}`")))
}

pub(crate) fn sort_by_person(schema: SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let all = concat_batches(&schema, batches)?;
    if all.num_rows() == 0 {
        return Ok(all);
    }
    let ids = all.column(0);
    let order = sort_to_indices(ids.as_ref(), None, None)?;
    Ok(take_record_batch(&all, &order)?)
}
