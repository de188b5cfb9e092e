//! The engine: registering tables from files or Arrow streams, and evaluating cohorts.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::compute::concat_batches;
use caas_core::sql::{ArithmeticSql, Dialect, PseudonymSql, QualityQuery};
use caas_core::{
    CaasError, CodeSystem, ColumnMapping, DateFormat, Engine, EngineOptions, Format, Role,
    TableSpec,
};
use indexmap::IndexMap;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;
use pyo3_arrow::input::AnyRecordBatch;
use serde::Deserialize;

use crate::cohort::{PyCohort, to_parameters};
use crate::errors::{check, to_py};
use crate::evaluation::PyEvaluation;
use crate::options::{evaluation_options, from_mapping};
use crate::quality::PyDataQuality;
use crate::wait::run;

/// One run of `evaluate_many`: cohort, parameters, quality policies, reference date,
/// pseudonym key.
type Run<'py> = (
    PyRef<'py, PyCohort>,
    Option<Bound<'py, PyDict>>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// Evaluates cohort definitions over registered tables; shared between threads.
#[pyclass(name = "Engine", module = "caas._caas", frozen)]
pub struct PyEngine {
    inner: Arc<Engine>,
}

/// A table specification given as a dict (`role`, `code_system`, `mapping`), read by the
/// core's serde definition of `TableSpec`.
fn table_spec(py: Python<'_>, table: &str, spec: &Bound<'_, PyAny>) -> PyResult<TableSpec> {
    from_mapping(spec).map_err(|message| {
        to_py(
            py,
            CaasError::Registration {
                table: table.to_string(),
                message,
            },
        )
    })
}

#[pymethods]
impl PyEngine {
    /// An engine; unset options take the engine's defaults.
    #[new]
    #[pyo3(signature = (
        target_partitions=None,
        memory_limit=None,
        batch_size=None,
        max_expression_depth=None,
        max_expression_nodes=None,
        max_definition_bytes=None,
        max_variables=None,
        max_variable_depth=None,
        max_codelist_codes=None,
        max_file_bytes=None,
    ))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, one per option.
    fn new(
        py: Python<'_>,
        target_partitions: Option<usize>,
        memory_limit: Option<usize>,
        batch_size: Option<usize>,
        max_expression_depth: Option<usize>,
        max_expression_nodes: Option<u64>,
        max_definition_bytes: Option<usize>,
        max_variables: Option<usize>,
        max_variable_depth: Option<usize>,
        max_codelist_codes: Option<usize>,
        max_file_bytes: Option<u64>,
    ) -> PyResult<Self> {
        let options = EngineOptions {
            target_partitions,
            memory_limit,
            batch_size,
            max_expression_depth,
            max_expression_nodes,
            max_definition_bytes,
            max_variables,
            max_variable_depth,
            max_codelist_codes,
            max_file_bytes,
        };
        let engine = check(py, Engine::with_options(&options))?;
        Ok(PyEngine {
            inner: Arc::new(engine),
        })
    }

    /// Registers a Parquet, CSV or Arrow IPC file, or a folder of them; `spec` is a
    /// `TableSpec` as a dict.
    fn register_file(
        &self,
        py: Python<'_>,
        name: String,
        path: PathBuf,
        spec: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let spec = table_spec(py, &name, spec)?;
        let engine = Arc::clone(&self.inner);
        run(
            py,
            async move { engine.register_file(&name, &path, spec).await },
            None,
        )
    }

    /// Registers any object exposing the Arrow PyCapsule interface (`__arrow_c_stream__`
    /// or `__arrow_c_array__`). The batches are imported without copying their buffers.
    fn register_arrow(
        &self,
        py: Python<'_>,
        name: &str,
        data: AnyRecordBatch,
        spec: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let spec = table_spec(py, name, spec)?;
        let reader = data.into_reader()?;
        let schema = reader.schema();
        // A producer that needs the GIL (a Python iterator of batches) takes it itself.
        let batches = py
            .detach(move || reader.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                to_py(
                    py,
                    CaasError::Registration {
                        table: name.to_string(),
                        // The producer's message may quote the cell it failed on.
                        message: format!(
                            "cannot read the Arrow stream: {}",
                            caas_core::error::scrub(&e.to_string())
                        ),
                    },
                )
            })?;
        check(py, self.inner.register_batches(name, spec, schema, batches))
    }

    /// The rows of a registered table as caas reads them.
    fn read_table<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = Arc::clone(&self.inner);
        let batch = run(py, async move { engine.read_table(&name).await }, None)?;
        crate::evaluation::to_pyarrow(py, &batch)
    }

    /// The cohort as SQL for `dialect` over tables like the registered ones; `tables` maps
    /// a definition's table names to the other engine's. A dict of the statements
    /// (`checks`, `setup`, `members`, `attrition`, `population`), the code tables, the
    /// whole `script` and its `sha256`.
    #[pyo3(signature = (
        cohort, parameters, dialect, tables=None, quality=None, reference_date=None,
        pseudonym_key=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn to_sql<'py>(
        &self,
        py: Python<'py>,
        cohort: &PyCohort,
        parameters: Option<&Bound<'_, PyDict>>,
        dialect: &str,
        tables: Option<IndexMap<String, String>>,
        quality: Option<&Bound<'_, PyAny>>,
        reference_date: Option<&Bound<'_, PyAny>>,
        pseudonym_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let parameters = to_parameters(parameters)?;
        let options = evaluation_options(py, quality, reference_date, pseudonym_key)?;
        let dialect = check(py, dialect.parse::<Dialect>())?;
        let names = tables.unwrap_or_default();
        let sql = check(
            py,
            self.inner
                .to_sql(&cohort.inner, &parameters, dialect, &names, &options),
        )?;
        pythonize::pythonize(py, &sql.document())
            .map_err(|e| PyRuntimeError::new_err(format!("the SQL as Python values: {e}")))
    }

    /// The error of `count` members of a cohort's SQL without an NHS number to make a
    /// pseudonym from (its `pseudonyms` part), as in-process.
    #[staticmethod]
    fn pseudonym_failure<'py>(
        py: Python<'py>,
        pseudonyms: &Bound<'py, PyAny>,
        count: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pseudonyms: PseudonymSql = pythonize::depythonize(pseudonyms).map_err(|e| {
            PyTypeError::new_err(format!("not the pseudonyms part of a cohort's SQL: {e}"))
        })?;
        Ok(to_py(py, pseudonyms.failure(count))
            .into_value(py)
            .into_bound(py)
            .into_any())
    }

    /// The data-quality findings of `cohort` run as SQL in another engine, from the
    /// rows of counts that the SQL's `quality` queries gave (one each, in order); raises
    /// the in-process `DataQualityError` where a `fail` policy finds rows.
    #[staticmethod]
    fn sql_data_quality(
        py: Python<'_>,
        cohort: &PyCohort,
        reference_date: &str,
        quality: &Bound<'_, PyAny>,
        rows: Vec<Vec<u64>>,
    ) -> PyResult<PyDataQuality> {
        let queries: Vec<QualityQuery> = pythonize::depythonize(quality).map_err(|e| {
            PyTypeError::new_err(format!("not the quality queries of a cohort's SQL: {e}"))
        })?;
        let findings = check(
            py,
            caas_core::sql::data_quality(reference_date, &queries, &rows),
        )?;
        Ok(PyDataQuality::new(
            findings,
            cohort.inner.definition().purpose,
        ))
    }

    /// `data_quality` with the findings of arithmetic, from the row of counts that the
    /// `arithmetic` query of a cohort's SQL gave; raises the in-process `DataQualityError`
    /// where the policy `fail` finds people.
    #[staticmethod]
    fn sql_arithmetic(
        py: Python<'_>,
        data_quality: &PyDataQuality,
        arithmetic: &Bound<'_, PyAny>,
        counts: Vec<u64>,
    ) -> PyResult<PyDataQuality> {
        let arithmetic: ArithmeticSql = pythonize::depythonize(arithmetic).map_err(|e| {
            PyTypeError::new_err(format!("not the arithmetic part of a cohort's SQL: {e}"))
        })?;
        let findings = check(py, arithmetic.findings(&counts))?;
        Ok(data_quality.with_arithmetic(findings))
    }

    /// Registers a cohort so that others can use its membership (`kind: member_of`).
    fn register_cohort(&self, py: Python<'_>, cohort: &PyCohort) -> PyResult<()> {
        check(
            py,
            self.inner.register_cohort(cohort.inner.as_ref().clone()),
        )
    }

    /// Removes a table; returns whether it was registered.
    fn deregister(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        check(py, self.inner.deregister(name))
    }

    /// The names of the registered tables, in registration order.
    fn table_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        check(py, self.inner.table_names())
    }

    /// Evaluates a cohort with run-time parameters and evaluation options (see
    /// `options::evaluation_options`).
    #[pyo3(signature = (
        cohort, parameters=None, quality=None, reference_date=None, pseudonym_key=None,
        progress=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        cohort: &PyCohort,
        parameters: Option<&Bound<'_, PyDict>>,
        quality: Option<&Bound<'_, PyAny>>,
        reference_date: Option<&Bound<'_, PyAny>>,
        pseudonym_key: Option<&Bound<'_, PyAny>>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEvaluation> {
        let parameters = to_parameters(parameters)?;
        let options = evaluation_options(py, quality, reference_date, pseudonym_key)?;
        let engine = Arc::clone(&self.inner);
        let cohort = Arc::clone(&cohort.inner);
        let result = run(
            py,
            async move { engine.evaluate_with(&cohort, &parameters, &options).await },
            progress,
        )?;
        Ok(PyEvaluation::new(result))
    }

    /// The evaluation of `cohort` that another engine made from this engine's SQL, with
    /// the same parameters and options: the `members` and `attrition` it gave (pyarrow
    /// tables) and the findings of its data-quality counts.
    #[pyo3(signature = (
        cohort, parameters, quality, reference_date, pseudonym_key, members, attrition,
        data_quality
    ))]
    #[allow(clippy::too_many_arguments)]
    fn evaluation_of(
        &self,
        py: Python<'_>,
        cohort: &PyCohort,
        parameters: Option<&Bound<'_, PyDict>>,
        quality: Option<&Bound<'_, PyAny>>,
        reference_date: Option<&Bound<'_, PyAny>>,
        pseudonym_key: Option<&Bound<'_, PyAny>>,
        members: PyTable,
        attrition: PyTable,
        data_quality: &PyDataQuality,
    ) -> PyResult<PyEvaluation> {
        let parameters = to_parameters(parameters)?;
        let options = evaluation_options(py, quality, reference_date, pseudonym_key)?;
        let one_batch = |table: PyTable| {
            let (batches, schema) = table.into_inner();
            concat_batches(&schema, &batches).map_err(|e| {
                to_py(
                    py,
                    CaasError::InvalidInput {
                        what: "the results of another engine".to_string(),
                        // Arrow's message may quote a cell.
                        message: caas_core::error::scrub(&e.to_string()),
                    },
                )
            })
        };
        let evaluation = self.inner.evaluation_of(
            &cohort.inner,
            &parameters,
            &options,
            one_batch(members)?,
            &one_batch(attrition)?,
            data_quality.inner().clone(),
        );
        Ok(PyEvaluation::new(check(py, evaluation)?))
    }

    /// Evaluates several cohorts, sharing their scans where they can (see the core's
    /// `Engine::evaluate_many_with`): a list of (cohort, parameters, quality, reference
    /// date, pseudonym key), each but the cohort possibly None. The results come in the
    /// order of the runs; the first error of any of them is raised and stops the others.
    #[pyo3(signature = (runs, progress=None))]
    fn evaluate_many(
        &self,
        py: Python<'_>,
        runs: Vec<Run<'_>>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyEvaluation>> {
        let owned = runs
            .iter()
            .map(|(cohort, parameters, quality, reference_date, key)| {
                Ok((
                    Arc::clone(&cohort.inner),
                    to_parameters(parameters.as_ref())?,
                    evaluation_options(
                        py,
                        quality.as_ref(),
                        reference_date.as_ref(),
                        key.as_ref(),
                    )?,
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let engine = Arc::clone(&self.inner);
        let results = run(
            py,
            async move {
                let runs: Vec<_> = owned
                    .iter()
                    .map(|(cohort, parameters, options)| (cohort.as_ref(), parameters, options))
                    .collect();
                engine.evaluate_many_with(&runs).await
            },
            progress,
        )?;
        Ok(results.into_iter().map(PyEvaluation::new).collect())
    }

    /// Every person's value of every variable, as a pyarrow Table.
    #[pyo3(signature = (cohort, parameters=None))]
    fn variables<'py>(
        &self,
        py: Python<'py>,
        cohort: &PyCohort,
        parameters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let parameters = to_parameters(parameters)?;
        let engine = Arc::clone(&self.inner);
        let cohort = Arc::clone(&cohort.inner);
        let batch = run(
            py,
            async move { engine.variables(&cohort, &parameters).await },
            None,
        )?;
        PyTable::try_new(vec![batch.clone()], batch.schema())?.into_pyarrow(py)
    }

    /// The DataFusion logical and physical plans of a cohort, as text.
    #[pyo3(signature = (cohort, parameters=None))]
    fn plan(
        &self,
        py: Python<'_>,
        cohort: &PyCohort,
        parameters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        let parameters = to_parameters(parameters)?;
        let engine = Arc::clone(&self.inner);
        let cohort = Arc::clone(&cohort.inner);
        run(
            py,
            async move { engine.plan(&cohort, &parameters).await },
            None,
        )
    }
}

/// A table's name as the SQL of `dialect` writes it (each dotted part quoted).
#[pyfunction]
pub fn quote_table(py: Python<'_>, dialect: &str, name: &str) -> PyResult<String> {
    Ok(check(py, dialect.parse::<Dialect>())?.quote_table(name))
}

/// A statement making the Parquet files at `path` a view called `table` in `dialect`.
#[pyfunction]
pub fn parquet_view(py: Python<'_>, dialect: &str, table: &str, path: PathBuf) -> PyResult<String> {
    let dialect = check(py, dialect.parse::<Dialect>())?;
    let folder = path.is_dir();
    check(
        py,
        dialect.parquet_view(table, &path.to_string_lossy(), folder),
    )
}

/// One table of a tables file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    path: String,
    /// The table's name in another engine, for `caas sql`.
    #[serde(default)]
    table: Option<String>,
    role: Role,
    #[serde(default)]
    code_system: Option<CodeSystem>,
    #[serde(default)]
    mapping: ColumnMapping,
    #[serde(default)]
    date_format: Option<DateFormat>,
}

/// A tables file: how the files of a data folder are registered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TablesFile {
    tables: IndexMap<String, TableEntry>,
}

/// One table of a tables file: (name, path, spec as a dict, the name in another engine).
type TablesFileEntry<'py> = (String, String, Bound<'py, PyAny>, Option<String>);

/// Reads a tables file (YAML, or JSON when `json`): a `tables` mapping of table names to
/// `{path, role, code_system, mapping, table}`. Returns (name, path, spec as a dict, the
/// name in another engine if given) per table.
#[pyfunction]
pub fn read_tables_file<'py>(
    py: Python<'py>,
    text: &str,
    json: bool,
) -> PyResult<Vec<TablesFileEntry<'py>>> {
    let (format, parsed) = if json {
        let parsed = serde_json::from_str::<TablesFile>(text)
            .map_err(|e| (e.line(), e.column(), e.to_string()));
        (Format::Json, parsed)
    } else {
        let parsed = serde_yaml_ng::from_str::<TablesFile>(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            (line, column, e.to_string())
        });
        (Format::Yaml, parsed)
    };
    let file = parsed.map_err(|(line, column, message)| {
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        to_py(
            py,
            CaasError::Syntax {
                format,
                line,
                column,
                message,
            },
        )
    })?;
    file.tables
        .into_iter()
        .map(|(name, entry)| {
            let spec = TableSpec {
                role: entry.role,
                code_system: entry.code_system,
                mapping: entry.mapping,
                date_format: entry.date_format,
            };
            let spec = pythonize::pythonize(py, &spec).map_err(|e| {
                to_py(
                    py,
                    CaasError::Registration {
                        table: name.clone(),
                        message: e.to_string(),
                    },
                )
            })?;
            Ok((name, entry.path, spec, entry.table))
        })
        .collect()
}
