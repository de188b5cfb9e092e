//! A run saved for reporting later: everything the [report](super) is made of, as one JSON
//! file, so that a report can be rendered again — with disclosure control for sharing, or
//! by a newer caas — without the data or a second evaluation (`caas run --save`, then
//! `caas report`).

use serde::{Deserialize, Serialize};

use super::{Report, ReportOptions, Reported};
use crate::characterise::{CharacteriseOptions, Characteristics};
use crate::error::{CaasError, Result};
use crate::model::{Cohort, Definition, Parameters};
use crate::results::Evaluation;
use crate::results::provenance::Provenance;
use crate::runtime::block_on;
use crate::source::quality::DataQuality;

/// The format of a saved run, written in its `format` field.
pub const SAVED_RUN_FORMAT: &str = "caas-run/1";

/// An evaluation's definition, provenance, data-quality findings and the characteristics of
/// its members, without the members.
///
/// The definition is kept with every codelist's codes written in (a codelist read from a
/// file holds the codes the run matched, whatever the file says now), so the saved run
/// stands alone. It holds exact counts and summaries, like the provenance: the report
/// rendered from it applies disclosure control as the report of the evaluation does.
///
/// ```
/// # use std::sync::Arc;
/// # use arrow::array::{Date32Array, Int64Array, RecordBatch};
/// # use arrow::datatypes::{DataType, Field, Schema};
/// use caas_core::{Cohort, Engine, Parameters, TableSpec};
/// use caas_core::report::{ReportOptions, SavedRun};
///
/// # let schema = Arc::new(Schema::new(vec![
/// #     Field::new("person_id", DataType::Int64, false),
/// #     Field::new("date_of_birth", DataType::Date32, true),
/// # ]));
/// # let batch = RecordBatch::try_new(schema.clone(), vec![
/// #     Arc::new(Int64Array::from(vec![1, 2])),
/// #     Arc::new(Date32Array::from(vec![-7305, 10957])),
/// # ])?;
/// let engine = Engine::new();
/// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
/// let cohort = Cohort::from_yaml_str(
///     "id: older\ntitle: Older\npurpose: direct_care\n\
///      variables: { age: { kind: age, on: DATE '2026-03-31' } }\n\
///      rules: [ { include: age >= 65 } ]\n",
/// )?;
/// let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
/// let saved = result.saved()?.to_json()?;
/// // Later, elsewhere, without the data:
/// let report = SavedRun::from_json(&saved)?.report(&ReportOptions::default())?;
/// assert_eq!(report, result.report(&ReportOptions::default())?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedRun {
    /// The format: `caas-run/1`.
    pub format: String,
    /// The definition evaluated, its codelists' codes written in.
    pub definition: Definition,
    /// Whether the person table had dates of death (without them `alive` is everyone, and
    /// the report says so).
    pub deaths: bool,
    /// The run's provenance manifest, its parameters and attrition among it.
    pub provenance: Provenance,
    /// The run's data-quality findings.
    pub data_quality: DataQuality,
    /// The members' exact characteristics, which the report shows under its disclosure
    /// control; a run saved without them has no such section in its report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characteristics: Option<Characteristics>,
}

impl SavedRun {
    /// The saved run as JSON.
    pub fn to_json(&self) -> Result<String> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| CaasError::internal(format!("cannot write the saved run: {e}")))?;
        text.push('\n');
        Ok(text)
    }

    /// Reads a saved run written by [`SavedRun::to_json`]; another format is an error.
    pub fn from_json(text: &str) -> Result<Self> {
        let saved: SavedRun = serde_json::from_str(text).map_err(|e| CaasError::Syntax {
            format: crate::Format::Json,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if saved.format != SAVED_RUN_FORMAT {
            return Err(CaasError::InvalidInput {
                what: "saved run".to_string(),
                message: format!(
                    "its format is `{}`; this caas reads `{SAVED_RUN_FORMAT}`",
                    saved.format
                ),
            });
        }
        Ok(saved)
    }

    /// The report of the saved run: the report its evaluation gave.
    pub fn report(&self, options: &ReportOptions) -> Result<Report> {
        let text = serde_json::to_string(&self.definition)
            .map_err(|e| CaasError::internal(format!("cannot read the saved definition: {e}")))?;
        let cohort = Cohort::from_json_str(&text)?;
        let parameters = cohort.bind(&Parameters::from(self.provenance.parameters.clone()))?;
        Reported {
            cohort: &cohort,
            parameters: &parameters,
            deaths: self.deaths,
            provenance: &self.provenance,
            data_quality: &self.data_quality,
            characteristics: self.characteristics.as_ref(),
        }
        .render(options)
    }
}

impl Evaluation {
    /// The evaluation saved for reporting later (see [`SavedRun`]). It reads the person
    /// table for the members' characteristics: a blocking call, like
    /// [`Evaluation::characterise_blocking`].
    pub fn saved(&self) -> Result<SavedRun> {
        let cohort = &self.run.cohort;
        let mut definition = cohort.definition().clone();
        for (name, spec) in &mut definition.codelists {
            if let Some(codelist) = cohort.codelists().get(name) {
                spec.codes = Some(codelist.codes().to_vec());
                spec.file = None;
                spec.code_column = None;
                spec.category_column = None;
                spec.categories = None;
            }
        }
        let characteristics = block_on(self.characteristics(&CharacteriseOptions::default()))??;
        Ok(SavedRun {
            format: SAVED_RUN_FORMAT.to_string(),
            definition,
            deaths: self.run.person_table().has_deaths(),
            provenance: self.provenance.clone(),
            data_quality: self.data_quality.clone(),
            characteristics: Some(characteristics),
        })
    }
}
