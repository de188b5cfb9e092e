//! Evaluation with options: data-quality checks, opt-outs and pseudonyms around the
//! cohort's plan.

use std::sync::Arc;

use chrono::Utc;

use super::{Engine, EvaluationOptions, block_on};
use crate::error::Result;
use crate::governance;
use crate::model::{Cohort, Parameters};
use crate::provenance;
use crate::quality::inspect::Inspection;
use crate::results::{self, Evaluation};

impl Engine {
    /// Evaluates a cohort with options: its members, attrition and data-quality findings.
    ///
    /// The data-quality counts run alongside the cohort's plan; rows that an `exclude`
    /// policy removes are gone before the cohort is evaluated, and a `fail` policy with
    /// findings makes the evaluation fail with [`CaasError::DataQuality`](crate::CaasError::DataQuality). See
    /// [`crate::quality`] and [`crate::governance`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int64Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::quality::{FindingKind, Policy};
    /// use caas_core::{Cohort, Engine, EvaluationOptions, Parameters, TableSpec};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("person_id", DataType::Int64, false)]));
    /// let persons = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(Int64Array::from(vec![1, 2, 2])),
    /// ]).unwrap();
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![persons]).unwrap();
    /// let cohort = Cohort::from_yaml_str(
    ///     "{id: all, title: Everyone, purpose: direct_care, output: {columns: []}}",
    /// ).unwrap();
    ///
    /// // By default a duplicated person fails the evaluation, naming no id.
    /// let err = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap_err();
    /// assert_eq!(err.code(), "data_quality");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "table `persons`, column `person_id`: 2 row(s) have a person id that is on more \
    ///      than one row (finding `duplicate_person`, policy `fail`)"
    /// );
    /// // Excluded, both rows of person 2 go.
    /// let options = EvaluationOptions::new().with_policy(FindingKind::DuplicatePerson, Policy::Exclude);
    /// let result = engine.evaluate_with_blocking(&cohort, &Parameters::new(), &options).unwrap();
    /// assert_eq!(result.member_count(), 1);
    /// assert_eq!(result.data_quality.tables[0].rows_excluded, 2);
    /// ```
    pub async fn evaluate_with(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
        options: &EvaluationOptions,
    ) -> Result<Evaluation> {
        let mut run = self.snapshot(cohort, parameters)?;
        let reference_date = options
            .reference_date
            .unwrap_or_else(|| Utc::now().date_naive());
        // Explanations and audits read the same tables as the evaluation: after the rows
        // that an `exclude` policy removes.
        let (inspection, tables) = Inspection::new(
            &run.tables,
            &run.cohorts,
            cohort,
            &options.quality,
            reference_date,
        )
        .await?;
        run.tables = tables;
        let run = Arc::new(run);
        let plan = run.plan()?;
        let person = run.person_table()?;
        let (data_quality, mut collected, opt_outs, inputs) = futures::try_join!(
            inspection.run(),
            results::collect(cohort, plan),
            governance::count_opt_outs(person, cohort),
            provenance::inputs(&run),
        )?;
        governance::record_opt_outs(&mut collected, opt_outs)?;
        if let Some(key) = &options.pseudonym_key {
            collected.members =
                governance::pseudonymise(&self.ctx, collected.members, person, key).await?;
        }
        let mut evaluation = Evaluation::new(collected, run, inputs, data_quality)?;
        evaluation.pseudonymised = options.pseudonym_key.is_some();
        Ok(evaluation)
    }

    /// [`Engine::evaluate_with`], blocking the calling thread.
    pub fn evaluate_with_blocking(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
        options: &EvaluationOptions,
    ) -> Result<Evaluation> {
        block_on(self.evaluate_with(cohort, parameters, options))?
    }
}
