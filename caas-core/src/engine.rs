//! The [`Engine`]: the facade that registers tables and cohorts and evaluates cohorts,
//! driving the stages below — snapshot the catalog, check data quality, compile the plan,
//! execute it, apply governance, and record the provenance.

use std::path::Path;
use std::sync::{Arc, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use indexmap::IndexMap;

use crate::compile::plan::CohortPlan;
use crate::compile::shared;
use crate::error::{CaasError, Place, Result};
use crate::execute::sql::{CohortSql, Dialect, TableNames};
use crate::execute::{self, Collected, EngineOptions, EvaluationOptions, Run, governance};
use crate::limits::Limits;
use crate::model::{Cohort, Parameters, Purpose};
use crate::quality::{ArithmeticFinding, DataQuality, FindingKind};
use crate::results::provenance::InputTable;
use crate::results::{Evaluation, provenance};
use crate::runtime::block_on;
use crate::source::quality::inspect::{Inspection, checked_tables};
use crate::source::{Catalog, SourceFile, TableSpec, counted, dates};

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
    catalog: Catalog,
    cohorts: RwLock<IndexMap<String, Arc<Cohort>>>,
    limits: Limits,
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
        let options = EngineOptions::default();
        let session = execute::session(options.config(), Arc::new(RuntimeEnv::default()));
        Self::from_context(session, options.limits())
    }

    /// An engine with the given options.
    pub fn with_options(options: &EngineOptions) -> Result<Self> {
        Ok(Self::from_context(options.session()?, options.limits()))
    }

    fn from_context(ctx: SessionContext, limits: Limits) -> Self {
        Engine {
            ctx,
            catalog: Catalog::default(),
            cohorts: RwLock::new(IndexMap::new()),
            limits,
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

    /// Registers a table from a Parquet, CSV or Arrow IPC file, or a folder of them. A file
    /// the reader cannot make sense of (a corrupt Parquet footer, say) is a
    /// [`CaasError::Registration`] that names the table, the file and the reader's reason.
    pub async fn register_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        spec: TableSpec,
    ) -> Result<()> {
        let path = path.as_ref();
        let data = SourceFile::new(path)
            .read(&self.ctx, name, &spec)
            .await
            .map_err(|e| match e {
                CaasError::Engine { message, .. } => CaasError::Registration {
                    table: name.to_string(),
                    message: format!("cannot read {}: {message}", path.display()),
                },
                other => other,
            })?;
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
        self.catalog.add(name, shape, counted(name, data)?)
    }

    /// Removes a table; returns whether it was registered.
    pub fn deregister(&self, name: &str) -> Result<bool> {
        self.catalog.remove(name)
    }

    /// The names of the registered tables.
    pub fn table_names(&self) -> Result<Vec<String>> {
        self.catalog.names()
    }

    /// The rows of a registered table as caas reads them (CSV text parsed to the types
    /// caas inferred), in one batch: to load the same rows into another engine.
    pub async fn read_table(&self, name: &str) -> Result<RecordBatch> {
        let table = self.catalog.get(name)?.ok_or_else(|| CaasError::Table {
            place: crate::Place::Definition,
            table: name.to_string(),
            problem: "is not registered".to_string(),
        })?;
        let schema = Arc::new(table.data.schema().as_arrow().clone());
        let batches = table.data.clone().collect().await?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    }

    /// [`Engine::read_table`], blocking the calling thread.
    pub fn read_table_blocking(&self, name: &str) -> Result<RecordBatch> {
        block_on(self.read_table(name))?
    }

    /// Registers a cohort so that others can use its membership (`kind: member_of`).
    pub fn register_cohort(&self, cohort: Cohort) -> Result<()> {
        cohort.check_limits(&self.limits)?;
        let mut cohorts = self.cohorts.write().map_err(|_| poisoned())?;
        cohorts.insert(cohort.id().to_string(), Arc::new(cohort));
        Ok(())
    }

    /// The inputs of an evaluation of `cohort` with `parameters`, as registered now.
    fn snapshot(&self, cohort: &Cohort, parameters: &Parameters) -> Result<Run> {
        cohort.check_limits(&self.limits)?;
        let cohorts = self.cohorts.read().map_err(|_| poisoned())?.clone();
        Run::new(
            self.ctx.clone(),
            &self.catalog,
            cohorts,
            cohort,
            parameters,
            self.limits,
        )
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
    /// ])?;
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![persons])?;
    /// let cohort = Cohort::from_yaml_str(
    ///     "{id: all, title: Everyone, purpose: direct_care, output: {columns: []}}",
    /// )?;
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
    /// let result = engine.evaluate_with_blocking(&cohort, &Parameters::new(), &options)?;
    /// assert_eq!(result.member_count(), 1);
    /// assert_eq!(result.data_quality.tables[0].rows_excluded, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn evaluate_with(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
        options: &EvaluationOptions,
    ) -> Result<Evaluation> {
        let run = self.snapshot(cohort, parameters)?;
        let tables = run.tables.clone();
        match self.evaluate_run(run, cohort, options).await {
            Err(err) => Err(dates::with_row(err, &tables).await),
            done => done,
        }
    }

    async fn evaluate_run(
        &self,
        run: Run,
        cohort: &Cohort,
        options: &EvaluationOptions,
    ) -> Result<Evaluation> {
        let prepared = Prepared::new(run, cohort, options).await?;
        let mut evaluations = self.evaluate_group(vec![prepared]).await?;
        evaluations
            .pop()
            .ok_or_else(|| CaasError::internal("an evaluation gave no result"))
    }

    /// Evaluates runs that [`shared::groups`] put together: one alone, several over their
    /// shared scans. The data-quality counts run one after another, alongside: the first
    /// counts a table, the others find its counts kept with the registration.
    async fn evaluate_group(
        &self,
        group: Vec<(Prepared<'_>, Inspection)>,
    ) -> Result<Vec<Evaluation>> {
        let (runs, inspections): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let quality = async {
            let mut found = Vec::with_capacity(inspections.len());
            for inspection in inspections {
                found.push(inspection.run().await?);
            }
            Ok(found)
        };
        let collected = async {
            match runs.as_slice() {
                [one] => {
                    let frame = one.run.lowering().cohort(&one.plan)?;
                    Ok(vec![
                        execute::collect(one.cohort(), &one.plan, frame).await?,
                    ])
                }
                many => {
                    let plans: Vec<(&Run, &CohortPlan)> =
                        many.iter().map(|r| (r.run.as_ref(), &r.plan)).collect();
                    execute::collect_shared(&plans).await
                }
            }
        };
        let opt_outs = futures::future::try_join_all(
            runs.iter()
                .map(|r| governance::count_opt_outs(r.run.person_table(), r.cohort())),
        );
        let inputs = futures::future::try_join_all(runs.iter().map(|r| provenance::inputs(&r.run)));
        let (quality, collected, opt_outs, inputs) =
            futures::try_join!(quality, collected, opt_outs, inputs)?;
        let mut evaluations = Vec::with_capacity(runs.len());
        for ((((run, quality), collected), opt_outs), inputs) in runs
            .into_iter()
            .zip(quality)
            .zip(collected)
            .zip(opt_outs)
            .zip(inputs)
        {
            evaluations.push(
                self.finish(run, collected, quality, opt_outs, inputs)
                    .await?,
            );
        }
        Ok(evaluations)
    }

    /// The evaluation of a run from what its pass over the tables gave.
    async fn finish(
        &self,
        prepared: Prepared<'_>,
        mut collected: Collected,
        mut data_quality: DataQuality,
        opt_outs: Option<(u64, u64)>,
        inputs: Vec<InputTable>,
    ) -> Result<Evaluation> {
        let Prepared { run, plan, options } = prepared;
        let places: Vec<Place> = plan.arithmetic.iter().map(|c| c.place.clone()).collect();
        let policy = options.quality.get(FindingKind::ArithmeticError);
        data_quality.arithmetic =
            ArithmeticFinding::from_counts(&places, &collected.arithmetic, policy)?;
        governance::record_opt_outs(&mut collected, opt_outs)?;
        if let Some(key) = &options.pseudonym_key {
            let person = run.person_table();
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

    /// Evaluates several cohorts with the default [`EvaluationOptions`]; see
    /// [`Engine::evaluate_many_with`].
    pub async fn evaluate_many(&self, runs: &[(&Cohort, &Parameters)]) -> Result<Vec<Evaluation>> {
        let options = EvaluationOptions::default();
        let runs: Vec<_> = runs
            .iter()
            .map(|(cohort, parameters)| (*cohort, *parameters, &options))
            .collect();
        self.evaluate_many_with(&runs).await
    }

    /// Evaluates several cohorts, each with its parameters and options, in one pass over
    /// the tables where they allow it; the results come in the order of `runs`, each what
    /// [`Engine::evaluate_with`] gives for that run alone. Fails with the first error of
    /// any of them.
    ///
    /// Runs with the same data-quality policies and reference date, the same person step
    /// and no scan that reads a person's own variables share their scans: each event and
    /// period table is read and aggregated per person once for all of them, and a measure
    /// that several compute alike is computed once; each cohort's variables and rules run
    /// over those rows as they stream. The other runs go alongside, each alone.
    pub async fn evaluate_many_with(
        &self,
        runs: &[(&Cohort, &Parameters, &EvaluationOptions)],
    ) -> Result<Vec<Evaluation>> {
        let mut prepared = Vec::with_capacity(runs.len());
        for (cohort, parameters, options) in runs {
            let run = self.snapshot(cohort, parameters)?;
            let tables = run.tables.clone();
            match Prepared::new(run, cohort, options).await {
                Ok(ready) => prepared.push(ready),
                Err(err) => return Err(dates::with_row(err, &tables).await),
            }
        }
        let groups = Prepared::groups(&prepared);
        let mut slots: Vec<Option<_>> = prepared.into_iter().map(Some).collect();
        let evaluations = groups.into_iter().map(|group| {
            let runs: Vec<_> = group.iter().filter_map(|i| slots[*i].take()).collect();
            let tables = runs.first().map(|(r, _)| r.run.tables.clone());
            async move {
                match self.evaluate_group(runs).await {
                    Ok(evaluations) => Ok(group.into_iter().zip(evaluations)),
                    Err(err) => Err(match tables {
                        Some(tables) => dates::with_row(err, &tables).await,
                        None => err,
                    }),
                }
            }
        });
        let mut results: Vec<Option<Evaluation>> = runs.iter().map(|_| None).collect();
        for (i, evaluation) in futures::future::try_join_all(evaluations)
            .await?
            .into_iter()
            .flatten()
        {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(evaluation);
            }
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| CaasError::internal("a run of evaluate_many gave no result")))
            .collect()
    }

    /// [`Engine::evaluate_many`], blocking the calling thread.
    pub fn evaluate_many_blocking(
        &self,
        runs: &[(&Cohort, &Parameters)],
    ) -> Result<Vec<Evaluation>> {
        block_on(self.evaluate_many(runs))?
    }

    /// [`Engine::evaluate_many_with`], blocking the calling thread.
    pub fn evaluate_many_with_blocking(
        &self,
        runs: &[(&Cohort, &Parameters, &EvaluationOptions)],
    ) -> Result<Vec<Evaluation>> {
        block_on(self.evaluate_many_with(runs))?
    }

    /// Every person's value of every variable (one row per person, sorted by person id):
    /// what the rules were evaluated on. Only for a `direct_care` definition: for research
    /// and planning, only the output columns may leave the engine, with pseudonyms
    /// ([`CaasError::InvalidInput`]; evaluate with a pseudonym key instead).
    pub async fn variables(&self, cohort: &Cohort, parameters: &Parameters) -> Result<RecordBatch> {
        if cohort.definition().purpose != Purpose::DirectCare {
            return Err(CaasError::InvalidInput {
                what: "variables".to_string(),
                message: format!(
                    "every variable of every person by id is only for direct care; `{}` is \
                     for {:?}: evaluate it, with a pseudonym key",
                    cohort.id(),
                    cohort.definition().purpose
                ),
            });
        }
        let plan = self.compile(cohort, parameters)?;
        execute::variables(cohort, plan).await
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
    pub async fn plan(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        let plan = self.compile(cohort, parameters)?;
        let logical = plan.clone().into_optimized_plan()?;
        let physical = plan.create_physical_plan().await?;
        Ok(format!(
            "logical plan:\n{}\n\nphysical plan:\n{}",
            logical.display_indent(),
            displayable(physical.as_ref()).indent(true)
        ))
    }

    /// The backend-neutral plan of a cohort, as text: the person step, one scan per event
    /// and period table with its code table and measures, the memberships, the variables
    /// in layers and the rules — what every backend lowers. Checks the definition against
    /// the registered tables as an evaluation would, with the same errors.
    pub fn cohort_plan(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        Ok(self
            .snapshot(cohort, parameters)?
            .cohort_plan()?
            .to_string())
    }

    /// Runs the cohort's plan and returns it annotated with what each operator did (rows,
    /// time, memory): for finding where an evaluation spends its time.
    pub async fn plan_analyze(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        let plan = self.compile(cohort, parameters)?;
        let batches = plan.explain(false, true)?.collect().await?;
        Ok(arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    /// The cohort as SQL for another engine, over tables of the same names and types as
    /// the registered ones (`names` gives the engine's name of a table where it differs):
    /// the statements that create the code tables, the members query and the attrition
    /// query, and the data-quality checks that `options` make fail. Checks the definition
    /// against the registered tables as an evaluation would, with the same errors; a
    /// construct the dialect cannot express is [`CaasError::Unsupported`], and options the
    /// SQL cannot honour yet (data-quality policies other than the defaults, pseudonyms)
    /// are [`CaasError::InvalidOption`].
    pub fn to_sql(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
        dialect: Dialect,
        names: &TableNames,
        options: &EvaluationOptions,
    ) -> Result<CohortSql> {
        let run = self.snapshot(cohort, parameters)?;
        let plan = run.cohort_plan()?;
        let checked = checked_tables(&run.tables, &run.cohorts, cohort);
        execute::sql::lower(
            &plan,
            cohort.output_columns(),
            &run.tables,
            &checked,
            dialect,
            names,
            options,
        )
    }

    /// The evaluation of `cohort` that another engine made from this engine's SQL
    /// ([`Engine::to_sql`], with the same `parameters` and `options`): the `members` and
    /// `attrition` that engine gave, and the findings of its data-quality counts
    /// ([`CohortSql::data_quality`]). The tables registered here stand for that engine's:
    /// their rows are not read (the provenance takes each table's rows from the findings,
    /// less the rows excluded), so that the provenance and the report of the run read as
    /// those of an in-process one.
    pub fn evaluation_of(
        &self,
        cohort: &Cohort,
        parameters: &Parameters,
        options: &EvaluationOptions,
        members: RecordBatch,
        attrition: &RecordBatch,
        data_quality: DataQuality,
    ) -> Result<Evaluation> {
        let run = Arc::new(self.snapshot(cohort, parameters)?);
        let inputs = provenance::inputs_counted(&run, |_, name| {
            data_quality
                .table(name)
                .map_or(0, |t| t.rows.saturating_sub(t.rows_excluded))
        });
        let collected = Collected::from_engine(members, attrition)?;
        let mut evaluation = Evaluation::new(collected, run, inputs, data_quality)?;
        evaluation.pseudonymised = options.pseudonym_key.is_some();
        Ok(evaluation)
    }

    /// [`Engine::plan`], blocking the calling thread.
    pub fn plan_blocking(&self, cohort: &Cohort, parameters: &Parameters) -> Result<String> {
        block_on(self.plan(cohort, parameters))?
    }
}

/// A table of another engine that a definition reads: its name there, its role and mapping,
/// and the Arrow schema of its columns.
#[derive(Debug, Clone)]
pub struct TableBinding {
    /// The table or view in the other engine (possibly qualified, `schema.table`).
    pub table: String,
    /// Its role, mapping and code system, as for [`Engine::register_batches`].
    pub spec: TableSpec,
    /// Its columns.
    pub schema: SchemaRef,
}

/// A cohort as SQL for `dialect` over the tables of another engine, named as the
/// definition names them; `cohorts` are the other cohorts that `member_of` may use.
/// See [`Engine::to_sql`].
pub fn to_sql(
    cohort: &Cohort,
    parameters: &Parameters,
    dialect: Dialect,
    tables: &IndexMap<String, TableBinding>,
    cohorts: &[Cohort],
    options: &EvaluationOptions,
) -> Result<CohortSql> {
    let engine = Engine::new();
    let mut names = TableNames::new();
    for (name, binding) in tables {
        engine.register_batches(
            name,
            binding.spec.clone(),
            binding.schema.clone(),
            Vec::new(),
        )?;
        names.insert(name.clone(), binding.table.clone());
    }
    for other in cohorts {
        engine.register_cohort(other.clone())?;
    }
    engine.to_sql(cohort, parameters, dialect, &names, options)
}

fn poisoned() -> CaasError {
    CaasError::internal("a thread panicked while holding the engine's cohorts")
}

/// A run ready to be evaluated: its tables after the rows that `exclude` policies remove
/// (explanations and audits read the same), and its plan.
struct Prepared<'a> {
    run: Arc<Run>,
    plan: CohortPlan,
    options: &'a EvaluationOptions,
}

impl<'a> Prepared<'a> {
    /// Plans the data-quality checks of `run` (returned, to run alongside the cohort) and
    /// the cohort's plan over the tables they leave.
    async fn new(
        mut run: Run,
        cohort: &Cohort,
        options: &'a EvaluationOptions,
    ) -> Result<(Self, Inspection)> {
        let (inspection, tables) = Inspection::new(
            &run.tables,
            &run.cohorts,
            cohort,
            &options.quality,
            options.reference_date_or_today(),
        )
        .await?;
        run.tables = tables;
        let plan = run.cohort_plan()?;
        let run = Arc::new(run);
        Ok((Prepared { run, plan, options }, inspection))
    }

    fn cohort(&self) -> &Cohort {
        &self.run.cohort
    }

    /// The runs (by index) in groups that evaluate together: the same data-quality
    /// policies and reference date, and plans that [`shared::groups`] puts together.
    fn groups(runs: &[(Self, Inspection)]) -> Vec<Vec<usize>> {
        let mut by_options: Vec<Vec<usize>> = Vec::new();
        for (i, (run, _)) in runs.iter().enumerate() {
            let agrees = |j: &usize| {
                let other = &runs[*j].0.options;
                other.quality == run.options.quality
                    && other.reference_date_or_today() == run.options.reference_date_or_today()
            };
            match by_options
                .iter_mut()
                .find(|g| g.first().is_some_and(agrees))
            {
                Some(group) => group.push(i),
                None => by_options.push(vec![i]),
            }
        }
        let mut groups = Vec::new();
        for group in by_options {
            let plans: Vec<&CohortPlan> = group.iter().map(|i| &runs[*i].0.plan).collect();
            for shared in shared::groups(&plans) {
                groups.push(shared.into_iter().map(|i| group[i]).collect());
            }
        }
        groups
    }
}
