//! Python bindings of caas-core: the compiled module `caas._caas`.
//!
//! This module converts and delegates; the semantics live in `caas-core`. The pure-Python
//! package `caas` (in `python/caas`) wraps it in the documented API: `caas.Cohort`,
//! `caas.Engine`, `caas.Result`, the exception classes and the `caas` command.
//!
//! - `cohort`: reading, checking, describing and serialising definitions.
//! - `engine`: registering tables (files, or any Arrow C stream without copying) and
//!   evaluating cohorts.
//! - `evaluation`: members, attrition, audit and differences handed to Python as Arrow
//!   tables; provenance and reports as the core's JSON and text; the notebook views as the
//!   core's HTML.
//! - `explanation` and `quality`: explanations of people and data-quality findings as
//!   Python objects over the core's own values (their counts, text and HTML the core's).
//! - `options`: evaluation options (data-quality policies, reference date, pseudonym key)
//!   read by the core's own readers.
//! - `errors`: `caas_core::CaasError` raised as the `caas.errors` exception class of its
//!   category, with the place at fault as attributes; the core's error codes and categories.
//! - `wait`: running async work on the process-wide runtime with the GIL released, and
//!   cancelling it on Ctrl-C.
//! - `synthetic` and `examples`: the synthetic population and the embedded flu example
//!   behind `caas demo`.

mod cohort;
mod engine;
mod errors;
mod evaluation;
mod examples;
mod explanation;
mod options;
mod quality;
mod synthetic;
mod wait;

use pyo3::prelude::*;

/// The compiled core of the `caas` package.
#[pymodule]
fn _caas(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<cohort::PyCohort>()?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<evaluation::PyEvaluation>()?;
    m.add_class::<evaluation::PyWhatIf>()?;
    m.add_class::<explanation::PyExplanation>()?;
    m.add_class::<explanation::PyRuleOutcome>()?;
    m.add_class::<explanation::PyVariableExplanation>()?;
    m.add_class::<explanation::PyEventRow>()?;
    m.add_class::<explanation::PyPeriodRow>()?;
    m.add_class::<quality::PyDataQuality>()?;
    m.add_class::<quality::PyTableQuality>()?;
    m.add_class::<quality::PyFinding>()?;
    m.add_class::<quality::PyArithmeticFinding>()?;
    m.add_function(wrap_pyfunction!(engine::read_tables_file, m)?)?;
    m.add_function(wrap_pyfunction!(engine::quote_table, m)?)?;
    m.add_function(wrap_pyfunction!(engine::parquet_view, m)?)?;
    m.add_function(wrap_pyfunction!(evaluation::saved_run_report, m)?)?;
    m.add_function(wrap_pyfunction!(synthetic::generate, m)?)?;
    m.add_function(wrap_pyfunction!(synthetic::table_specs, m)?)?;
    m.add_function(wrap_pyfunction!(examples::example_files, m)?)?;
    m.add_function(wrap_pyfunction!(options::finding_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(options::pseudonym_parameters, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    Ok(())
}
