//! The [`Engine`]: registered tables and cohorts, and evaluation.

mod run;

pub(crate) use run::Run;

use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{CaasError, EngineFailure, Result};
use crate::model::{Cohort, Parameters};
use crate::results::{self, Evaluation};
use crate::source::{Role, SourceFile, TableShape, TableSpec};

mod evaluate;
mod options;

pub use options::EvaluationOptions;

/// How the engine runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineOptions {
    /// Partitions (and threads) per plan; default: the machine's cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_partitions: Option<usize>,
    /// Memory for evaluation in bytes; over it, sorts and aggregates spill to disk.
    /// Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<usize>,
    /// Rows per batch; default DataFusion's (8192).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

/// A registered table.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: String,
    pub shape: TableShape,
    pub data: DataFrame,
    /// The data-quality counts made of this registration.
    pub quality: crate::quality::QualityMemo,
}

/// Evaluates cohort definitions over registered tables.
///
/// An engine is shared between threads by reference: registration and evaluation take
/// `&self`.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Date32Array, Int64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use caas_core::{Cohort, Engine, Parameters, TableSpec};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("person_id", DataType::Int64, false),
///     Field::new("date_of_birth", DataType::Date32, true),
/// ]));
/// // Born 1950-01-01 and 2000-01-01 (days since 1970-01-01).
/// let persons = RecordBatch::try_new(schema.clone(), vec![
///     Arc::new(Int64Array::from(vec![1, 2])),
///     Arc::new(Date32Array::from(vec![-7305, 10957])),
/// ]).unwrap();
///
/// let engine = Engine::new();
/// engine.register_batches("persons", TableSpec::person(), schema, vec![persons]).unwrap();
/// let cohort = Cohort::from_yaml_str(r#"
/// id: older
/// title: Aged 65 or over
/// purpose: direct_care
/// parameters: { index_date: 2026-03-31 }
/// variables:
///   age: { kind: age, on: index_date }
/// rules:
///   - { name: aged 65+, include: age >= 65 }
/// output: { columns: [age] }
/// "#).unwrap();
/// let result = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap();
/// assert_eq!(result.members.num_rows(), 1);
/// assert_eq!(result.member_count(), 1);
/// ```
pub struct Engine {
    ctx: SessionContext,
    tables: RwLock<IndexMap<String, Arc<Table>>>,
    cohorts: RwLock<IndexMap<String, Arc<Cohort>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("session", &self.ctx.session_id())
            .field("tables", &self.table_names().unwrap_or_default())
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with default options.
    pub fn new() -> Self {
        Self::from_context(SessionContext::new_with_config(Self::config(
            &EngineOptions::default(),
        )))
    }

    /// An engine with the given options.
    pub fn with_options(options: &EngineOptions) -> Result<Self> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = options.memory_limit {
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        let runtime = runtime.build_arc()?;
        let ctx = SessionContext::new_with_config_rt(Self::config(options), runtime);
        Ok(Self::from_context(ctx))
    }

    fn config(options: &EngineOptions) -> SessionConfig {
        let mut config = SessionConfig::new();
        // Event tables are joined to a few thousand codes out of millions of rows: decoding
        // the code column first and the others only for matching rows (late
        // materialisation, with the join's dynamic filter) saves most of the scan.
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.pushdown_filters = true;
        parquet.reorder_filters = true;
        if let Some(n) = options.target_partitions {
            config = config.with_target_partitions(n.max(1));
        }
        if let Some(n) = options.batch_size {
            config = config.with_batch_size(n.max(1));
        }
        config
    }

    fn from_context(ctx: SessionContext) -> Self {
        Engine {
            ctx,
            tables: RwLock::new(IndexMap::new()),
            cohorts: RwLock::new(IndexMap::new()),
        }
    }

    /// Registers a table held in memory as record batches of `schema`.
    pub fn register_batches(
        &self,
        name: &str,
        spec: TableSpec,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let table =
            MemTable::try_new(schema, vec![batches]).map_err(|e| CaasError::Registration {
                table: name.to_string(),
                message: format!("the batches do not match the schema: {e}"),
            })?;
        let data = self.ctx.read_table(Arc::new(table))?;
        self.add(name, spec, data)
    }

    /// Registers a table from a Parquet, CSV or Arrow IPC file, or a folder of them.
    pub async fn register_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        spec: TableSpec,
    ) -> Result<()> {
        let data = SourceFile::new(path.as_ref())
            .read(&self.ctx, name, &spec)
            .await?;
        self.add(name, spec, data)
    }

    /// [`Engine::register_file`], blocking the calling thread.
    pub fn register_file_blocking(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        spec: TableSpec,
    ) -> Result<()> {
        block_on(self.register_file(name, path, spec))?
    }

    fn add(&self, name: &str, spec: TableSpec, data: DataFrame) -> Result<()> {
        let shape = spec.check(name, data.schema().as_arrow())?;
        let mut tables = self.tables.write().map_err(|_| poisoned())?;
        if shape.role == Role::Person
            && let Some(other) = tables
                .values()
                .find(|t| t.shape.role == Role::Person && t.name != name)
        {
            return Err(CaasError::Registration {
                table: name.to_string(),
                message: format!("`{}` is already the person table", other.name),
            });
        }
        tables.insert(
            name.to_string(),
            Arc::new(Table {
                name: name.to_string(),
                shape,
                data,
                quality: Default::default(),
            }),
        );
        Ok(())
    }

    /// Removes a table; returns whether it was registered.
    pub fn deregister(&self, name: &str) -> Result<bool> {
        Ok(self
            .tables
            .write()
            .map_err(|_| poisoned())?
            .shift_remove(name)
            .is_some())
    }

    /// The names of the registered tables.
    pub fn table_names(&self) -> Result<Vec<String>> {
        Ok(self
            .tables
            .read()
            .map_err(|_| poisoned())?
            .keys()
            .cloned()
            .collect())
    }

    /// Registers a cohort so that others can use its membership (`kind: member_of`).
    pub fn register_cohort(&self, cohort: Cohort) -> Result<()> {
        let mut cohorts = self.cohorts.write().map_err(|_| poisoned())?;
        cohorts.insert(cohort.id().to_string(), Arc::new(cohort));
        Ok(())
    }

    fn compile(&self, cohort: &Cohort, parameters: &Parameters) -> Result<DataFrame> {
        self.snapshot(cohort, parameters)?.plan()
    }

    /// Evaluates a cohort with the default [`EvaluationOptions`]: its members, attrition,
    /// data-quality findings and provenance. The evaluation keeps the tables it read, to
    /// explain people and to report on the run later.
    pub async fn evaluate(&self, cohort: &Cohort, parameters: &Parameters) -> Result<Evaluation> {
        self.evaluate_with(cohort, parameters, &EvaluationOptions::default())
            .await
    }

    /// [`Engine::evaluate`], blocking the calling thread.
    pub fn evaluate_blocking(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
    ) -> Result<Evaluation> {
        block_on(self.evaluate(cohort, parameters))?
    }

    /// Evaluates several cohorts concurrently; the results come in the order of `runs`.
    /// Fails with the first error of any of them.
    pub async fn evaluate_many(&self, runs: &[(&Cohort, &Parameters)]) -> Result<Vec<Evaluation>> {
        futures::future::try_join_all(
            runs.iter()
                .map(|(cohort, parameters)| self.evaluate(cohort, parameters)),
        )
        .await
    }

    /// [`Engine::evaluate_many`], blocking the calling thread.
    pub fn evaluate_many_blocking(
        &self,
        runs: &[(&Cohort, &Parameters)],
    ) -> Result<Vec<Evaluation>> {
        block_on(self.evaluate_many(runs))?
    }

    /// Every person's value of every variable (one row per person, sorted by person id):
    /// what the rules were evaluated on.
    pub async fn variables(&self, cohort: &Cohort, parameters: &Parameters) -> Result<RecordBatch> {
        let plan = self.compile(cohort, parameters)?;
        results::variables(cohort, plan).await
    }

    /// [`Engine::variables`], blocking the calling thread.
    pub fn variables_blocking(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
    ) -> Result<RecordBatch> {
        block_on(self.variables(cohort, parameters))?
    }

    /// The optimised DataFusion logical plan and the physical plan of a cohort, as text:
    /// what will run, for inspection and for tests of the plan's shape.
    pub async fn explain(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        let plan = self.compile(cohort, parameters)?;
        let logical = plan.clone().into_optimized_plan()?;
        let physical = plan.create_physical_plan().await?;
        Ok(format!(
            "logical plan:\n{}\n\nphysical plan:\n{}",
            logical.display_indent(),
            displayable(physical.as_ref()).indent(true)
        ))
    }

    /// Runs the cohort's plan and returns it annotated with what each operator did (rows,
    /// time, memory): for finding where an evaluation spends its time.
    pub async fn explain_analyze(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
    ) -> Result<String> {
        let plan = self.compile(cohort, parameters)?;
        let batches = plan.explain(false, true)?.collect().await?;
        Ok(arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    /// [`Engine::explain`], blocking the calling thread.
    pub fn explain_blocking(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        block_on(self.explain(cohort, parameters))?
    }
}

fn poisoned() -> CaasError {
    CaasError::internal("a thread panicked while holding the engine's registry")
}

/// The process-wide async runtime on which the blocking methods run, started on first use.
///
/// Front ends that must stay responsive while an evaluation runs (the Python package checks
/// for Ctrl-C; the C library keeps one runtime for the process) spawn the async methods on
/// it instead of starting runtimes of their own.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("caas")
            .build()
            .map_err(|e| e.to_string())
    });
    runtime
        .as_ref()
        .map_err(|e| CaasError::engine(EngineFailure::Runtime, format!("cannot start the async runtime: {e}")))
}

/// Runs a future to completion on the process-wide runtime.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(CaasError::engine(
            EngineFailure::Runtime,
            "a blocking call was made inside an async runtime; await the async method instead",
        ));
    }
    Ok(runtime()?.block_on(future))
}
