//! What an evaluation returns, handed to Python through the Arrow PyCapsule interface and
//! as the core's own values: members and attrition, explanations of people, the audit table,
//! the provenance manifest, the data-quality findings, the report, the notebook view and the
//! difference with an earlier run.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use caas_core::explain::PersonId;
use caas_core::report::{ReportOptions, SavedRun, notebook};
use caas_core::results::{Difference, RuleChanges, WhatIf};
use caas_core::{CaasError, CharacteriseOptions, Evaluation};
use pyo3::prelude::*;
use pyo3_arrow::PyTable;
use pyo3_arrow::input::AnyRecordBatch;

use crate::errors::{check, to_py};
use crate::explanation::PyExplanation;
use crate::quality::PyDataQuality;
use crate::wait::run;

/// The result of evaluating a cohort.
#[pyclass(name = "Evaluation", module = "caas._caas", frozen)]
pub struct PyEvaluation {
    // Shared with the tasks that explain, audit and compare it off the Python thread.
    inner: Arc<Evaluation>,
}

impl PyEvaluation {
    pub fn new(inner: Evaluation) -> Self {
        PyEvaluation {
            inner: Arc::new(inner),
        }
    }
}

/// A record batch as a pyarrow Table; the buffers are shared, not copied.
pub(crate) fn to_pyarrow<'py>(py: Python<'py>, batch: &RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    PyTable::try_new(vec![batch.clone()], batch.schema())?.into_pyarrow(py)
}

/// A person id from Python: an integer or a text.
#[derive(FromPyObject)]
pub enum PersonArg {
    Int(i64),
    Text(String),
}

impl From<PersonArg> for PersonId {
    fn from(arg: PersonArg) -> Self {
        match arg {
            PersonArg::Int(n) => PersonId::Int(n),
            PersonArg::Text(s) => PersonId::Text(s),
        }
    }
}

type DifferenceTuple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, u64);

fn difference<'py>(py: Python<'py>, diff: &Difference) -> PyResult<DifferenceTuple<'py>> {
    Ok((
        to_pyarrow(py, &diff.joined)?,
        to_pyarrow(py, &diff.left)?,
        diff.stayed,
    ))
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

    /// The attrition as a text table, counts under the report's disclosure control.
    fn attrition_text(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.attrition_table())
    }

    /// The title, the attrition and the cohort's size, counts as `attrition_text`'s.
    fn summary(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.summary())
    }

    /// A count as the evaluation's purpose lets it be shown (`*` when suppressed).
    fn shown(&self, count: u64) -> String {
        self.inner.shown(count).to_string()
    }

    /// The notebook view: the attrition with the report's funnel and the members'
    /// characteristics, counts under the report's disclosure control for purposes other
    /// than direct care. It reads the person table, with the GIL released.
    fn notebook_html(&self, py: Python<'_>) -> PyResult<String> {
        let evaluation = &self.inner;
        let html = py.detach(|| notebook::evaluation_html(evaluation));
        check(py, html)
    }

    /// The characterisation of the members ("Table 1") as a pyarrow Table, one row per
    /// statistic; `options` is JSON (`disclosure_control`, `age_on`, `age_bands`, `region`,
    /// `top`). Reads the person table with the GIL released.
    #[pyo3(signature = (options=None, progress=None))]
    fn characterise<'py>(
        &self,
        py: Python<'py>,
        options: Option<&str>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = match options {
            Some(text) => check(py, CharacteriseOptions::from_json(text))?,
            None => CharacteriseOptions::default(),
        };
        let evaluation = Arc::clone(&self.inner);
        let characterisation = run(
            py,
            async move { evaluation.characterise(&options).await },
            progress,
        )?;
        to_pyarrow(py, &characterisation.table)
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

    /// Why a person is in the cohort or not. Reads only that person's rows, with the GIL
    /// released.
    #[pyo3(signature = (person, progress=None))]
    fn explain(
        &self,
        py: Python<'_>,
        person: PersonArg,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyExplanation> {
        let evaluation = Arc::clone(&self.inner);
        let person = PersonId::from(person);
        let explanation = run(
            py,
            async move { evaluation.explain(person).await },
            progress,
        )?;
        Ok(PyExplanation::from(explanation))
    }

    /// Every person's rule outcomes, as a pyarrow Table.
    #[pyo3(signature = (progress=None))]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let evaluation = Arc::clone(&self.inner);
        let batch = run(py, async move { evaluation.audit().await }, progress)?;
        to_pyarrow(py, &batch)
    }

    /// The provenance manifest as JSON text.
    fn provenance_json(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.provenance.to_json())
    }

    /// The data-quality findings.
    fn data_quality(&self) -> PyDataQuality {
        PyDataQuality::new(
            self.inner.data_quality.clone(),
            self.inner.provenance.purpose,
        )
    }

    /// The report: (Markdown, self-contained HTML, standalone funnel SVG).
    #[pyo3(signature = (disclosure_control=false))]
    fn report(
        &self,
        py: Python<'_>,
        disclosure_control: bool,
    ) -> PyResult<(String, String, String)> {
        let options = ReportOptions { disclosure_control };
        let evaluation = &self.inner;
        let report = py.detach(|| evaluation.report(&options));
        let report = check(py, report)?;
        Ok((report.markdown, report.html, report.funnel_svg))
    }

    /// The run saved for reporting later, as JSON.
    fn saved_run_json(&self, py: Python<'_>) -> PyResult<String> {
        let evaluation = &self.inner;
        let saved = py.detach(|| evaluation.saved()?.to_json());
        check(py, saved)
    }

    /// Who joined and who left since an earlier run, given its members as any object with
    /// `__arrow_c_stream__`: (joined, left, how many stayed).
    fn diff<'py>(
        &self,
        py: Python<'py>,
        previous: AnyRecordBatch,
    ) -> PyResult<DifferenceTuple<'py>> {
        let reader = previous.into_reader()?;
        let schema = reader.schema();
        let unreadable = |e: &dyn std::fmt::Display| {
            to_py(
                py,
                CaasError::InvalidInput {
                    what: "previous members".to_string(),
                    // The producer's message may quote the cell it failed on.
                    message: format!(
                        "cannot read the Arrow stream: {}",
                        caas_core::error::scrub(&e.to_string())
                    ),
                },
            )
        };
        // A producer that needs the GIL (a Python iterator of batches) takes it itself.
        let batches = py
            .detach(move || reader.collect::<Result<Vec<_>, _>>())
            .map_err(|e| unreadable(&e))?;
        let previous = concat_batches(&schema, &batches).map_err(|e| unreadable(&e))?;
        let evaluation = &self.inner;
        let diff = py.detach(|| evaluation.diff(&previous));
        difference(py, &check(py, diff)?)
    }

    /// The attrition had the rules been changed as `changes` (JSON: `drop`, `order`,
    /// `add`) says, from the outcomes held for every person, with the GIL released.
    fn what_if(&self, py: Python<'_>, changes: &str) -> PyResult<PyWhatIf> {
        let changes = check(py, RuleChanges::from_json(changes))?;
        let evaluation = Arc::clone(&self.inner);
        let what_if = run(py, async move { evaluation.what_if(&changes).await }, None)?;
        Ok(PyWhatIf { inner: what_if })
    }

    /// [`diff`](Self::diff) with the earlier members read from a Parquet, Arrow IPC or CSV
    /// file, or a folder of them.
    fn diff_path<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<DifferenceTuple<'py>> {
        let evaluation = Arc::clone(&self.inner);
        let diff = run(py, async move { evaluation.diff_path(path).await }, None)?;
        difference(py, &diff)
    }
}

/// An evaluation's attrition under changed rules.
#[pyclass(name = "WhatIf", module = "caas._caas", frozen)]
pub struct PyWhatIf {
    inner: WhatIf,
}

#[pymethods]
impl PyWhatIf {
    /// One row per step: step, rule, action, before, after, removed.
    fn attrition<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow(py, &self.inner.attrition)
    }

    /// The attrition as a text table, counts under the report's disclosure control.
    fn attrition_text(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.attrition_table())
    }

    /// The title and changes, the attrition and the cohort's size.
    fn summary(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.summary())
    }

    /// A count as the evaluation's purpose lets it be shown (`*` when suppressed).
    fn shown(&self, count: u64) -> String {
        self.inner.shown(count).to_string()
    }

    /// The notebook view, as an evaluation's.
    fn notebook_html(&self, py: Python<'_>) -> PyResult<String> {
        check(py, notebook::what_if_html(&self.inner))
    }

    /// People in the person table.
    #[getter]
    fn population(&self) -> u64 {
        self.inner.population
    }

    /// People the changed rules keep.
    #[getter]
    fn member_count(&self) -> u64 {
        self.inner.members
    }
}

/// The report of a saved run (its JSON, from `saved_run_json`): (Markdown, HTML, funnel SVG).
#[pyfunction]
pub fn saved_run_report(
    py: Python<'_>,
    json: &str,
    disclosure_control: bool,
) -> PyResult<(String, String, String)> {
    let options = ReportOptions { disclosure_control };
    let report = py.detach(|| SavedRun::from_json(json)?.report(&options));
    let report = check(py, report)?;
    Ok((report.markdown, report.html, report.funnel_svg))
}
