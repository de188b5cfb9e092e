//! What an evaluation returns: the members and the attrition, as Arrow data; and from
//! them, the difference with an earlier run's members ([`Difference`]).

mod diff;

pub use diff::Difference;

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{
    and, concat_batches, filter_record_batch, sort_to_indices, take_record_batch,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use futures::StreamExt;

use crate::compile::rule_column;
use crate::engine::Run;
use crate::error::{CaasError, Result};
use crate::model::Cohort;
use crate::provenance::{InputTable, Provenance};
use crate::quality::DataQuality;

/// The result of evaluating a cohort.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// One row per member, sorted by `person_id`: `person_id` and the output columns.
    pub members: RecordBatch,
    /// One row per rule, in order: `step` (1-based), `rule`, `action` (`include` or
    /// `exclude`), `before`, `after` and `removed` (people).
    pub attrition: RecordBatch,
    /// People in the person table (less the rows excluded for data quality), before any
    /// opt-out or rule.
    pub population: u64,
    /// What went in and how: hashes of the definition and codelists, the input tables,
    /// parameters, versions, times and counts.
    pub provenance: Provenance,
    /// What was malformed in the tables read, and what was done about it.
    pub data_quality: DataQuality,
    /// The inputs, kept to explain people, audit, report and compare the run.
    pub(crate) run: Arc<Run>,
    /// Whether the members carry pseudonyms instead of person ids.
    pub(crate) pseudonymised: bool,
}

/// The members, attrition and population of a run, before they become an [`Evaluation`].
pub(crate) struct Collected {
    pub members: RecordBatch,
    pub attrition: RecordBatch,
    pub population: u64,
}

impl Evaluation {
    /// The evaluation of `run`, finished now.
    pub(crate) fn new(
        collected: Collected,
        run: Arc<Run>,
        inputs: Vec<InputTable>,
        data_quality: DataQuality,
    ) -> Result<Self> {
        let provenance = Provenance::new(
            &run,
            inputs,
            collected.population,
            collected.members.num_rows(),
            &collected.attrition,
        )?;
        Ok(Evaluation {
            members: collected.members,
            attrition: collected.attrition,
            population: collected.population,
            provenance,
            data_quality,
            run,
            pseudonymised: false,
        })
    }

    /// How many people are in the cohort.
    pub fn member_count(&self) -> usize {
        self.members.num_rows()
    }

    /// The attrition as a text table.
    pub fn attrition_table(&self) -> Result<String> {
        Ok(
            arrow::util::pretty::pretty_format_batches(std::slice::from_ref(&self.attrition))?
                .to_string(),
        )
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

/// Runs the per-person plan once, counting the attrition and keeping the members.
pub(crate) async fn collect(cohort: &Cohort, plan: DataFrame) -> Result<Collected> {
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
        members.push(filter_record_batch(&batch.project(&output)?, &mask)?);
    }
    let members = sort_by_person(members_schema, &members)?;

    let mut befores = Vec::with_capacity(rules.len());
    let mut before = population;
    for after in &passed {
        befores.push(before);
        before = *after;
    }
    let count = |values: &[u64]| -> ArrayRef {
        Arc::new(values.iter().map(|n| as_i64(*n)).collect::<Int64Array>())
    };
    let removed: Vec<u64> = befores.iter().zip(&passed).map(|(b, a)| b - a).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            (1..=rules.len())
                .map(|i| as_i64(i as u64))
                .collect::<Int64Array>(),
        ),
        Arc::new(
            rules
                .iter()
                .map(|r| Some(r.name.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rules
                .iter()
                .map(|r| Some(if r.exclude { "exclude" } else { "include" }))
                .collect::<StringArray>(),
        ),
        count(&befores),
        count(&passed),
        count(&removed),
    ];
    let attrition = RecordBatch::try_new(attrition_schema(), columns)?;
    Ok(Collected {
        members,
        attrition,
        population,
    })
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
