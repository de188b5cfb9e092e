//! What an evaluation returns, handed to Python through the Arrow PyCapsule interface.

use arrow::array::RecordBatch;
use caas_core::Evaluation;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::errors::check;

/// The result of evaluating a cohort: members and attrition.
#[pyclass(name = "Evaluation", module = "caas._caas", frozen)]
pub struct PyEvaluation {
    inner: Evaluation,
}

impl PyEvaluation {
    pub fn new(inner: Evaluation) -> Self {
        PyEvaluation { inner }
    }
}

/// A record batch as a pyarrow Table; the buffers are shared, not copied.
fn to_pyarrow<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    PyTable::try_new(vec![batch.clone()], batch.schema())?.into_pyarrow(py)
}

#[pymethods]
impl PyEvaluation {
    /// One row per member, sorted by `person_id`: `person_id` and the output columns.
    fn members<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.inner.members)
    }

    /// One row per rule: step, rule, action, before, after, removed.
    fn attrition<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.inner.attrition)
    }

    /// The attrition as a text table.
    fn attrition_text(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.attrition_table())
    }

    /// People in the person table.
    #[getter]
    fn population(&self) -> u64 {
        self.inner.population
    }

    /// People in the cohort.
    #[getter]
    fn member_count(&self) -> usize {
        self.inner.member_count()
    }
}
