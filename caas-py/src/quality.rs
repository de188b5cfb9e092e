//! The data-quality findings of an evaluation as Python objects over the core's
//! `caas_core::quality::DataQuality`: the counts, the text, the JSON and the notebook HTML
//! are the core's.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use caas_core::model::Purpose;
use caas_core::quality::{ArithmeticFinding, DataQuality, Finding, FindingKind, TableQuality};
use caas_core::report::notebook;
use caas_core::{CaasError, Role};
use chrono::NaiveDate;
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::PyTable;

use crate::errors::{check, to_py};

/// A kind of finding by its name; a name of no kind is a `ValueError` listing them.
fn kind(name: &str) -> PyResult<FindingKind> {
    FindingKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.name()).collect();
            PyValueError::new_err(format!(
                "no kind of finding is named {name:?}; the kinds are {}",
                names.join(", ")
            ))
        })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Person => "person",
        Role::Events => "events",
        Role::Periods => "periods",
    }
}

/// How many rows of a table have one kind of finding, and what was done about them.
#[pyclass(name = "Finding", module = "caas.quality", frozen, eq, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct PyFinding {
    table: String,
    inner: Finding,
}

#[pymethods]
impl PyFinding {
    /// The table.
    #[getter]
    fn table(&self) -> &str {
        &self.table
    }

    /// The kind, e.g. `invalid_nhs_number`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.name()
    }

    /// The column or columns checked, comma-separated.
    #[getter]
    fn column(&self) -> &str {
        &self.inner.column
    }

    /// Rows with the finding.
    #[getter]
    fn count(&self) -> u64 {
        self.inner.count
    }

    /// The policy applied: `keep`, `exclude` or `fail`.
    #[getter]
    fn policy(&self) -> String {
        self.inner.policy.to_string()
    }

    /// Rows with the finding that were removed (`count` under `exclude`, else 0).
    #[getter]
    fn excluded(&self) -> u64 {
        self.inner.excluded
    }

    /// What a row with this finding has, e.g. `an invalid NHS number`.
    #[getter]
    fn description(&self) -> &'static str {
        self.inner.kind.description()
    }

    fn __str__(&self) -> String {
        self.inner.sentence(&self.table)
    }

    fn __repr__(&self) -> String {
        format!(
            "Finding(table={:?}, kind={:?}, count={}, policy={:?})",
            self.table,
            self.inner.kind.name(),
            self.inner.count,
            self.inner.policy.to_string()
        )
    }
}

/// How many people's values of a derived variable or a rule arithmetic left missing (a
/// division by zero, a whole number out of range, a date outside the years 1 to 9999).
#[pyclass(
    name = "ArithmeticFinding",
    module = "caas.quality",
    frozen,
    eq,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyArithmeticFinding {
    inner: ArithmeticFinding,
}

#[pymethods]
impl PyArithmeticFinding {
    /// The derived variable, for a variable's finding.
    #[getter]
    fn variable(&self) -> Option<&str> {
        self.inner.variable.as_deref()
    }

    /// The rule's name, for a rule's finding.
    #[getter]
    fn rule(&self) -> Option<&str> {
        self.inner.rule.as_deref()
    }

    /// People whose value it left missing.
    #[getter]
    fn count(&self) -> u64 {
        self.inner.count
    }

    /// The policy applied: `keep` or `fail`.
    #[getter]
    fn policy(&self) -> String {
        self.inner.policy.to_string()
    }

    fn __str__(&self) -> String {
        self.inner.sentence()
    }

    fn __repr__(&self) -> String {
        format!(
            "ArithmeticFinding({}, count={}, policy={:?})",
            self.inner.place(),
            self.inner.count,
            self.inner.policy.to_string()
        )
    }
}

fn findings(table: &TableQuality) -> impl ExactSizeIterator<Item = PyFinding> + '_ {
    table.findings.iter().map(|f| PyFinding {
        table: table.table.clone(),
        inner: f.clone(),
    })
}

/// The findings in one table.
#[pyclass(
    name = "TableQuality",
    module = "caas.quality",
    frozen,
    eq,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyTableQuality {
    inner: TableQuality,
}

#[pymethods]
impl PyTableQuality {
    /// The table's registered name.
    #[getter]
    fn table(&self) -> &str {
        &self.inner.table
    }

    /// Its role: `person`, `events` or `periods`.
    #[getter]
    fn role(&self) -> &'static str {
        role_name(self.inner.role)
    }

    /// Rows read.
    #[getter]
    fn rows(&self) -> u64 {
        self.inner.rows
    }

    /// Rows removed by `exclude` policies (a row with several findings counts once).
    #[getter]
    fn rows_excluded(&self) -> u64 {
        self.inner.rows_excluded
    }

    /// One entry per kind checked in this table, found or not.
    #[getter]
    fn findings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, findings(&self.inner))
    }

    fn __repr__(&self) -> String {
        format!(
            "TableQuality(table={:?}, role={:?}, rows={}, rows_excluded={})",
            self.inner.table,
            role_name(self.inner.role),
            self.inner.rows,
            self.inner.rows_excluded
        )
    }
}

/// The data-quality findings of an evaluation: per table read, per kind checked.
///
/// `str()` lists what was found; `to_arrow()` gives one row per table and kind checked;
/// `count()` and `total()` answer the usual questions. In a notebook its counts are shown
/// as the report shows them (under disclosure control but for direct care).
#[pyclass(name = "DataQuality", module = "caas.quality", frozen)]
pub struct PyDataQuality {
    inner: Arc<DataQuality>,
    /// The purpose of the evaluation, which decides how a notebook shows the counts.
    purpose: Purpose,
}

impl PyDataQuality {
    /// The same findings with those of arithmetic.
    pub fn with_arithmetic(&self, arithmetic: Vec<ArithmeticFinding>) -> Self {
        let mut inner = DataQuality::clone(&self.inner);
        inner.arithmetic = arithmetic;
        PyDataQuality::new(inner, self.purpose)
    }

    pub fn new(inner: DataQuality, purpose: Purpose) -> Self {
        PyDataQuality {
            inner: Arc::new(inner),
            purpose,
        }
    }

    /// The engine's record of the findings.
    pub fn inner(&self) -> &DataQuality {
        &self.inner
    }
}

#[pymethods]
impl PyDataQuality {
    /// The day after which a date is in the future; `None` when nothing was checked.
    #[getter]
    fn reference_date(&self, py: Python<'_>) -> PyResult<Option<NaiveDate>> {
        if self.inner.reference_date.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(&self.inner.reference_date, "%Y-%m-%d")
            .map(Some)
            .map_err(|e| {
                to_py(
                    py,
                    CaasError::Internal(format!("the reference date is not a date: {e}")),
                )
            })
    }

    /// One entry per table read, the person table first.
    #[getter]
    fn tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            self.inner
                .tables
                .iter()
                .map(|t| PyTableQuality { inner: t.clone() }),
        )
    }

    /// The findings with at least one row, over every table.
    #[getter]
    fn findings(&self) -> Vec<PyFinding> {
        self.inner
            .found()
            .map(|(table, f)| PyFinding {
                table: table.to_string(),
                inner: f.clone(),
            })
            .collect()
    }

    /// One entry per derived variable and rule that divides or does whole-number
    /// arithmetic, found or not: how many people's values it left missing.
    #[getter]
    fn arithmetic(&self) -> Vec<PyArithmeticFinding> {
        self.inner
            .arithmetic
            .iter()
            .map(|a| PyArithmeticFinding { inner: a.clone() })
            .collect()
    }

    /// The findings of a table; `KeyError` if the evaluation did not read it.
    fn table(&self, name: &str) -> PyResult<PyTableQuality> {
        self.inner
            .table(name)
            .map(|t| PyTableQuality { inner: t.clone() })
            .ok_or_else(|| PyKeyError::new_err(name.to_string()))
    }

    /// Rows of `table` with findings of `kind`; `None` if that kind was not checked there
    /// (or the table not read).
    fn count(&self, table: &str, kind: &str) -> PyResult<Option<u64>> {
        Ok(self.inner.count(table, self::kind(kind)?))
    }

    /// Rows with findings of `kind` over every table.
    fn total(&self, kind: &str) -> PyResult<u64> {
        Ok(self.inner.total(self::kind(kind)?))
    }

    /// One row per table and kind checked: `table`, `role`, `kind`, `column`, `count`,
    /// `policy`, `excluded`.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rows: Vec<(&TableQuality, &Finding)> = self
            .inner
            .tables
            .iter()
            .flat_map(|t| t.findings.iter().map(move |f| (t, f)))
            .collect();
        let text = |get: &dyn Fn(&(&TableQuality, &Finding)) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(get).collect::<Vec<_>>()))
        };
        let number = |get: &dyn Fn(&(&TableQuality, &Finding)) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from(rows.iter().map(get).collect::<Vec<_>>()))
        };
        let columns = vec![
            text(&|(t, _)| t.table.clone()),
            text(&|(t, _)| role_name(t.role).to_string()),
            text(&|(_, f)| f.kind.name().to_string()),
            text(&|(_, f)| f.column.clone()),
            number(&|(_, f)| f.count),
            text(&|(_, f)| f.policy.to_string()),
            number(&|(_, f)| f.excluded),
        ];
        let schema = Arc::new(Schema::new(
            [
                ("table", DataType::Utf8),
                ("role", DataType::Utf8),
                ("kind", DataType::Utf8),
                ("column", DataType::Utf8),
                ("count", DataType::UInt64),
                ("policy", DataType::Utf8),
                ("excluded", DataType::UInt64),
            ]
            .into_iter()
            .map(|(name, data_type)| Field::new(name, data_type, false))
            .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
            to_py(
                py,
                CaasError::Internal(format!("cannot tabulate the findings: {e}")),
            )
        })?;
        PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
    }

    /// The engine's JSON text of the findings.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.to_json())
    }

    /// The findings as the engine's JSON, parsed.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = self.to_json(py)?;
        py.import("json")?.call_method1("loads", (json,))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        let tables: Vec<&str> = self.inner.tables.iter().map(|t| t.table.as_str()).collect();
        format!(
            "DataQuality(tables={tables:?}, findings={})",
            self.inner.found().count()
        )
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        check(py, notebook::data_quality_html(&self.inner, self.purpose))
    }
}
