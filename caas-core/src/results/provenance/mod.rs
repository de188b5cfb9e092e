//! The provenance manifest of an evaluation: what went in and how, as JSON with a published
//! schema (`schema/provenance.schema.json`, generated from these types).
//!
//! It records the definition's hash ([`definition_hash`], of a canonical form that YAML or
//! JSON formatting, key order and expression spacing do not change), each codelist's size
//! and hash ([`codelist_hash`]), each input table's name, role, row count and columns, the
//! bound parameters, the purpose, the caas and DataFusion versions, the start and end times
//! (RFC 3339, UTC), the population, the member count and the attrition.
//!
//! Two evaluations of the same definition over the same tables have the same hashes, counts
//! and members; only the times differ.
//!
//! The manifest holds exact counts: it is the data controller's record of the run. The
//! [report](crate::report) that goes with a cohort applies disclosure control to them.

mod canonical;

pub use canonical::{canonical_definition, codelist_hash, definition_hash};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::{SecondsFormat, Utc};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::codelist::CodeSystem;
use crate::error::{CaasError, Result};
use crate::execute::Run;
use crate::model::{ParameterValue, Purpose};
use crate::source::Role;

/// The format of the manifest, written in its `format` field.
pub const FORMAT: &str = "caas-provenance/1";

/// The provenance manifest of one evaluation: what went in, what software ran it, when,
/// and what came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The manifest's format: `caas-provenance/1`.
    pub format: String,
    /// The cohort's identity, from its definition's metadata.
    pub cohort: CohortIdentity,
    /// Why the data is processed.
    pub purpose: Purpose,
    /// SHA-256 (lower-case hex) of the definition's canonical form: the definition as JSON
    /// with object keys sorted, no whitespace, and every expression in its canonical text.
    pub definition_sha256: String,
    /// The codelists of the definition, in the definition's order.
    pub codelists: Vec<CodelistProvenance>,
    /// The cohorts this one is composed of (`member_of`), with their definitions' hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_of: Vec<ComposedCohort>,
    /// The tables read: the person table, then the event and period tables in order of use.
    pub tables: Vec<InputTable>,
    /// The parameters' values for the run (defaults overridden by run-time values). Dates
    /// are `YYYY-MM-DD` text.
    pub parameters: IndexMap<String, ParameterValue>,
    /// The software that evaluated the cohort.
    pub engine: EngineVersions,
    /// When the evaluation started (RFC 3339, UTC).
    pub started_at: String,
    /// When the evaluation finished (RFC 3339, UTC).
    pub finished_at: String,
    /// People in the person table.
    pub population: u64,
    /// People in the cohort.
    pub members: u64,
    /// For each rule in order: people before, after and removed.
    pub attrition: Vec<AttritionStep>,
}

/// The identity of a cohort, from its definition's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CohortIdentity {
    /// The definition's `id`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its owner or commissioner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The legal basis of the processing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// The data protection impact assessment's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpia_reference: Option<String>,
}

/// A codelist as used for matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodelistProvenance {
    /// Its name in the definition.
    pub name: String,
    /// Its code system.
    pub system: CodeSystem,
    /// What it is for, from the definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its CSV file as the definition names it; absent for inline codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// How many codes are matched: distinct after normalisation, and for ICD-10 and OPCS-4
    /// without codes that a shorter code of the list already matches by prefix.
    pub size: usize,
    /// SHA-256 (lower-case hex) of those codes, sorted, each followed by a line feed.
    pub sha256: String,
}

/// A cohort another is composed of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposedCohort {
    /// Its `id`.
    pub id: String,
    /// SHA-256 of its definition's canonical form.
    pub definition_sha256: String,
}

/// A table the evaluation read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputTable {
    /// The name it is registered under.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The code system of an event table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_system: Option<CodeSystem>,
    /// Its rows.
    pub rows: u64,
    /// Its columns, in order.
    pub columns: Vec<InputColumn>,
}

/// A column of an input table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputColumn {
    /// Its name.
    pub name: String,
    /// Its Arrow type, as Arrow prints it (`Int64`, `Date32`, `Utf8`, ...).
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
}

/// The versions of the software that evaluated the cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineVersions {
    /// caas (`caas-core`).
    pub caas: String,
    /// Apache DataFusion.
    pub datafusion: String,
}

impl EngineVersions {
    /// The versions of this build.
    pub fn current() -> Self {
        EngineVersions {
            caas: env!("CARGO_PKG_VERSION").to_string(),
            datafusion: datafusion::DATAFUSION_VERSION.to_string(),
        }
    }
}

/// One step of the attrition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttritionStep {
    /// 1-based position.
    pub step: u64,
    /// The rule's name.
    pub rule: String,
    /// `include` or `exclude`.
    pub action: String,
    /// People before the step.
    pub before: u64,
    /// People after it.
    pub after: u64,
    /// People it removed.
    pub removed: u64,
}

impl AttritionStep {
    /// The steps of an attrition table (as [`Evaluation::attrition`](crate::Evaluation)
    /// holds it).
    pub fn from_batch(attrition: &RecordBatch) -> Result<Vec<AttritionStep>> {
        let missing = |name: &str| {
            CaasError::internal(format!("the attrition table has no usable `{name}` column"))
        };
        let count = |name: &'static str| {
            attrition
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| missing(name))
        };
        let text = |name: &'static str| {
            attrition
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| missing(name))
        };
        let (step, rule, action) = (count("step")?, text("rule")?, text("action")?);
        let (before, after, removed) = (count("before")?, count("after")?, count("removed")?);
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok((0..attrition.num_rows())
            .map(|i| AttritionStep {
                step: n(step.value(i)),
                rule: rule.value(i).to_string(),
                action: action.value(i).to_string(),
                before: n(before.value(i)),
                after: n(after.value(i)),
                removed: n(removed.value(i)),
            })
            .collect())
    }
}

impl Provenance {
    /// The manifest of `run`, finishing now.
    pub(crate) fn new(
        run: &Run,
        tables: Vec<InputTable>,
        population: u64,
        members: usize,
        attrition: &RecordBatch,
    ) -> Result<Self> {
        let finished = Utc::now();
        let definition = run.cohort.definition();
        let codelists = run
            .cohort
            .codelists()
            .iter()
            .map(|(name, codelist)| {
                let spec = definition.codelists.get(name);
                CodelistProvenance {
                    name: name.clone(),
                    system: codelist.system,
                    description: spec.and_then(|s| s.description.clone()),
                    file: spec.and_then(|s| s.file.clone()),
                    size: codelist.codes().len(),
                    sha256: codelist_hash(codelist),
                }
            })
            .collect();
        let mut member_of: Vec<ComposedCohort> = Vec::new();
        let mut pending = vec![&run.cohort];
        while let Some(cohort) = pending.pop() {
            for var in cohort.variables() {
                if let crate::model::VariableKind::MemberOf { cohort: id } = &var.kind
                    && let Some(other) = run.cohorts.get(id)
                    && !member_of.iter().any(|c| c.id == *id)
                {
                    member_of.push(ComposedCohort {
                        id: id.clone(),
                        definition_sha256: definition_hash(other.definition())?,
                    });
                    pending.push(other);
                }
            }
        }
        Ok(Provenance {
            format: FORMAT.to_string(),
            cohort: CohortIdentity {
                id: definition.id.clone(),
                title: definition.title.clone(),
                version: definition.version.clone(),
                owner: definition.owner.clone(),
                legal_basis: definition.legal_basis.clone(),
                dpia_reference: definition.dpia_reference.clone(),
            },
            purpose: definition.purpose,
            definition_sha256: definition_hash(definition)?,
            codelists,
            member_of,
            tables,
            parameters: run
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), ParameterValue::from(v.clone())))
                .collect(),
            engine: EngineVersions::current(),
            started_at: run.started.to_rfc3339_opts(SecondsFormat::Millis, true),
            finished_at: finished.to_rfc3339_opts(SecondsFormat::Millis, true),
            population,
            members: members as u64,
            attrition: AttritionStep::from_batch(attrition)?,
        })
    }

    /// The manifest as pretty-printed JSON (ending with a line feed).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int64Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("person_id", DataType::Int64, false)]));
    /// let batch =
    ///     RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))])?;
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
    /// let cohort = Cohort::from_yaml_str(
    ///     "{id: all, title: Everyone, purpose: direct_care, parameters: {index_date: 2025-03-31}}",
    /// )?;
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new())?;
    ///
    /// let manifest = &result.provenance;
    /// assert_eq!(manifest.population, 2);
    /// assert_eq!(manifest.tables[0].rows, 2);
    /// assert_eq!(manifest.definition_sha256, caas_core::provenance::definition_hash(cohort.definition())?);
    /// let json = manifest.to_json()?;
    /// assert!(json.contains(r#""index_date": "2025-03-31""#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Result<String> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| CaasError::internal(format!("cannot write the provenance: {e}")))?;
        text.push('\n');
        Ok(text)
    }

    /// Reads a manifest written by [`Provenance::to_json`].
    ///
    /// ```
    /// # use caas_core::provenance::Provenance;
    /// let err = Provenance::from_json("{}").unwrap_err();
    /// assert_eq!(err.code(), "syntax");
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| CaasError::Syntax {
            format: crate::Format::Json,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }
}

/// The JSON Schema of the provenance manifest, generated from the Rust types. The copy
/// committed at `schema/provenance.schema.json` is checked against it by a test.
///
/// ```
/// let schema = caas_core::provenance::provenance_schema();
/// assert!(schema.contains("\"definition_sha256\""));
/// ```
pub fn provenance_schema() -> String {
    let schema = schemars::schema_for!(Provenance);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The input tables of `run` with their row counts, counted concurrently.
pub(crate) async fn inputs(run: &Run) -> Result<Vec<InputTable>> {
    let tables = run.used_tables();
    let counts =
        futures::future::try_join_all(tables.iter().map(|t| t.data.clone().count())).await?;
    Ok(inputs_counted(run, |i, _| {
        counts.get(i).map_or(0, |n| *n as u64)
    }))
}

/// [`inputs`] with the rows of the `i`th table, called `name`, from `rows(i, name)`.
pub(crate) fn inputs_counted(run: &Run, rows: impl Fn(usize, &str) -> u64) -> Vec<InputTable> {
    run.used_tables()
        .iter()
        .enumerate()
        .map(|(i, table)| InputTable {
            name: table.name.clone(),
            role: table.shape.role,
            code_system: table.shape.code_system,
            rows: rows(i, &table.name),
            columns: table
                .data
                .schema()
                .fields()
                .iter()
                .map(|f| InputColumn {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
        })
        .collect()
}
