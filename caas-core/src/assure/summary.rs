//! An evaluation's summaries for a terminal — its attrition as a text table, and a few
//! lines with the cohort's size — under the disclosure control of its report: exact counts
//! for direct care; for research and planning, counts of 1 to 7 suppressed and the others
//! rounded to 5 ([`disclosure`]). Whatever prints an evaluation prints these, so no
//! printed count is finer than the report's.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};

use crate::assure::report::disclosure::{self, Disclosed};
use crate::error::Result;
use crate::model::Purpose;
use crate::results::provenance::AttritionStep;
use crate::results::{Evaluation, WhatIf};

impl Evaluation {
    /// A count as this evaluation's purpose lets it be shown.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow::array::{Int64Array, RecordBatch};
    /// # use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::{Cohort, ColumnMapping, Engine, Parameters, TableSpec};
    /// # let schema = Arc::new(Schema::new(vec![
    /// #     Field::new("person_id", DataType::Int64, false),
    /// #     Field::new("national_opt_out", DataType::Boolean, true),
    /// #     Field::new("type1_opt_out", DataType::Boolean, true),
    /// # ]));
    /// # let batch = RecordBatch::try_new(schema.clone(), vec![
    /// #     Arc::new(Int64Array::from(vec![1, 2, 3])),
    /// #     Arc::new(arrow::array::BooleanArray::from(vec![false, false, false])),
    /// #     Arc::new(arrow::array::BooleanArray::from(vec![false, false, false])),
    /// # ])?;
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
    /// let cohort = Cohort::from_yaml_str("{id: all, title: All, purpose: research}")?;
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    /// assert_eq!(result.member_count(), 3);
    /// assert_eq!(result.shown(3).to_string(), "*");
    /// assert_eq!(result.summary()?.lines().last(), Some("* of * people in the cohort"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shown(&self, count: u64) -> Disclosed {
        disclosure::disclose(count, self.provenance.purpose)
    }

    /// The attrition as a text table, its counts as [`shown`](Self::shown).
    pub fn attrition_table(&self) -> Result<String> {
        attrition_table(&self.attrition, self.provenance.purpose)
    }

    /// The cohort's title, its attrition table and how many of the population are members.
    pub fn summary(&self) -> Result<String> {
        summary(
            &self.run.cohort.definition().title,
            &self.attrition,
            self.member_count() as u64,
            self.population,
            self.provenance.purpose,
        )
    }
}

impl WhatIf {
    /// A count as the evaluation's purpose lets it be shown.
    pub fn shown(&self, count: u64) -> Disclosed {
        disclosure::disclose(count, self.purpose)
    }

    /// The attrition as a text table, under the disclosure control of the evaluation's
    /// purpose.
    pub fn attrition_table(&self) -> Result<String> {
        attrition_table(&self.attrition, self.purpose)
    }

    /// The cohort's title and the changes, the attrition table and how many of the
    /// population the changed rules keep.
    pub fn summary(&self) -> Result<String> {
        summary(
            &self.title,
            &self.attrition,
            self.members,
            self.population,
            self.purpose,
        )
    }
}

fn attrition_table(attrition: &RecordBatch, purpose: Purpose) -> Result<String> {
    let steps = AttritionStep::from_batch(attrition)?;
    let counts = |count: fn(&AttritionStep) -> u64| -> ArrayRef {
        let shown = steps
            .iter()
            .map(|s| Some(disclosure::disclose(count(s), purpose).to_string()));
        Arc::new(shown.collect::<StringArray>())
    };
    let step = steps
        .iter()
        .map(|s| i64::try_from(s.step).unwrap_or(i64::MAX));
    let text = |field: fn(&AttritionStep) -> &str| -> ArrayRef {
        Arc::new(
            steps
                .iter()
                .map(|s| Some(field(s)))
                .collect::<StringArray>(),
        )
    };
    let table = RecordBatch::try_from_iter([
        ("step", Arc::new(step.collect::<Int64Array>()) as ArrayRef),
        ("rule", text(|s| &s.rule)),
        ("action", text(|s| &s.action)),
        ("before", counts(|s| s.before)),
        ("after", counts(|s| s.after)),
        ("removed", counts(|s| s.removed)),
    ])?;
    Ok(arrow::util::pretty::pretty_format_batches(&[table])?.to_string())
}

fn summary(
    title: &str,
    attrition: &RecordBatch,
    members: u64,
    population: u64,
    purpose: Purpose,
) -> Result<String> {
    let shown = |n| disclosure::disclose(n, purpose);
    Ok(format!(
        "{title}\n{}\n{} of {} people in the cohort",
        attrition_table(attrition, purpose)?,
        shown(members),
        shown(population),
    ))
}
