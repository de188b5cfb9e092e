//! Evaluation with options: data-quality checks, opt-outs and pseudonyms around the
//! cohort's plan.

use chrono::Utc;

use super::{Engine, EvaluationOptions, block_on, poisoned};
use crate::compile::Compiler;
use crate::error::{CaasError, Result};
use crate::governance;
use crate::model::{Cohort, Parameters};
use crate::quality::inspect::Inspection;
use crate::results::{self, Evaluation};
use crate::source::Role;

impl Engine {
    /// Evaluates a cohort with options: its members, attrition and data-quality findings.
    ///
    /// The data-quality counts run alongside the cohort's plan; rows that an `exclude`
    /// policy removes are gone before the cohort is evaluated, and a `fail` policy with
    /// findings makes the evaluation fail with [`CaasError::DataQuality`]. See
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
        let bound = cohort.bind(parameters)?;
        let tables = self.tables.read().map_err(|_| poisoned())?.clone();
        let cohorts = self.cohorts.read().map_err(|_| poisoned())?.clone();
        let reference_date = options
            .reference_date
            .unwrap_or_else(|| Utc::now().date_naive());
        let (inspection, tables) =
            Inspection::new(&tables, &cohorts, cohort, &options.quality, reference_date).await?;
        let plan = Compiler::new(&self.ctx, &tables, &cohorts).compile(cohort, &bound)?;
        let person = tables
            .values()
            .find(|t| t.shape.role == Role::Person)
            .ok_or_else(|| CaasError::Engine("the person table went away".into()))?;
        let (data_quality, mut evaluation, opt_outs) = futures::try_join!(
            inspection.run(),
            results::collect(cohort, plan),
            governance::count_opt_outs(person, cohort),
        )?;
        governance::record_opt_outs(&mut evaluation, opt_outs)?;
        if let Some(key) = &options.pseudonym_key {
            evaluation.members =
                governance::pseudonymise(&self.ctx, evaluation.members, person, key).await?;
        }
        evaluation.data_quality = data_quality;
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
