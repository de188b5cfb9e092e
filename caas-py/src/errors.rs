//! `caas_core::CaasError` raised as the exception classes of `caas.errors`.
//!
//! This side gives the error's message, its `code`, its `category` (decided by the core, as
//! for every front end) and the place at fault (line, column, variable, rule, parameter,
//! codelist, table, column name, finding kind and count, option) as keyword arguments;
//! `caas.errors` chooses the class from the category, so that the hierarchy is documented
//! in one place and decided in the core.

use caas_core::error::ERROR_CODES;
use caas_core::quality::FindingKind;
use caas_core::{CaasError, Place};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The Python exception for a caas error.
pub fn to_py(py: Python<'_>, err: CaasError) -> PyErr {
    to_py_saying(py, &err, &err.to_string())
}

/// Converts a caas result into a Python one.
pub fn check<T>(py: Python<'_>, result: caas_core::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_py(py, e))
}

/// The Python exception for `err` with another message: for an error this module finds in
/// a document before the core sees it (a dict that does not fit the definition's shape),
/// whose message names the field but not the line of a text the user never wrote.
pub fn to_py_saying(py: Python<'_>, err: &CaasError, message: &str) -> PyErr {
    let kwargs = PyDict::new(py);
    match fill(&kwargs, err) {
        Ok(()) => raise(py, "from_core", message, &kwargs),
        Err(e) => e,
    }
}

/// Every error code of the core with its category's name, for `caas.errors.error_codes`.
#[pyfunction]
pub fn error_codes() -> Vec<(&'static str, &'static str)> {
    ERROR_CODES
        .iter()
        .map(|(code, category)| (*code, category.name()))
        .collect()
}

/// The exception that `factory` of `caas.errors` makes.
fn raise(py: Python<'_>, factory: &str, message: &str, kwargs: &Bound<'_, PyDict>) -> PyErr {
    let made = py
        .import("caas.errors")
        .and_then(|m| m.getattr(factory))
        .and_then(|c| c.call((message,), Some(kwargs)));
    match made {
        Ok(value) => PyErr::from_value(value),
        // Only when the compiled module is used without its package.
        Err(_) => PyRuntimeError::new_err(message.to_string()),
    }
}

fn fill(kwargs: &Bound<'_, PyDict>, err: &CaasError) -> PyResult<()> {
    kwargs.set_item("code", err.code())?;
    kwargs.set_item("category", err.category().name())?;
    if let Some((line, column)) = err.line_column() {
        kwargs.set_item("line", line)?;
        kwargs.set_item("column", column)?;
    }
    if let Some(place) = err.place() {
        kwargs.set_item("place", place.to_string())?;
        match place {
            Place::Variable(name) => kwargs.set_item("variable", name)?,
            Place::Rule { index, name } => {
                kwargs.set_item("rule", name)?;
                kwargs.set_item("rule_index", index)?;
            }
            Place::Parameter(name) => kwargs.set_item("parameter", name)?,
            Place::Codelist(name) => kwargs.set_item("codelist", name)?,
            _ => {}
        }
    }
    if let Some(suggestion) = err.suggestion() {
        kwargs.set_item("suggestion", suggestion)?;
    }
    match err {
        CaasError::ExpressionSyntax { column, line, .. } => {
            kwargs.set_item("column", column)?;
            if let Some(line) = line {
                kwargs.set_item("line", line)?;
            }
        }
        CaasError::UnknownReference { name, .. } => kwargs.set_item("reference", name)?,
        CaasError::UnknownParameter { name, .. } => kwargs.set_item("parameter", name)?,
        CaasError::Cycle { path, .. } => kwargs.set_item("cycle", path.clone())?,
        CaasError::CodeSystemMismatch {
            codelist, table, ..
        } => {
            kwargs.set_item("codelist", codelist)?;
            kwargs.set_item("table", table)?;
        }
        CaasError::Codelist { codelist, path, .. } => {
            kwargs.set_item("codelist", codelist)?;
            kwargs.set_item("path", path)?;
        }
        CaasError::Table { table, .. } | CaasError::Registration { table, .. } => {
            kwargs.set_item("table", table)?;
        }
        CaasError::MissingColumn { table, column, .. }
        | CaasError::ColumnType { table, column, .. } => {
            kwargs.set_item("table", table)?;
            kwargs.set_item("column_name", column)?;
        }
        CaasError::UnreadableDate {
            table, column, row, ..
        } => {
            kwargs.set_item("table", table)?;
            kwargs.set_item("column_name", column)?;
            kwargs.set_item("row", row)?;
        }
        CaasError::Io { path, .. } => kwargs.set_item("path", path)?,
        CaasError::DataQuality {
            table,
            column,
            kind,
            count,
        } => {
            kwargs.set_item("table", table)?;
            kwargs.set_item("column_name", column)?;
            kwargs.set_item("kind", kind.name())?;
            kwargs.set_item("count", count)?;
        }
        CaasError::ArithmeticError { count, .. } => {
            kwargs.set_item("kind", FindingKind::ArithmeticError.name())?;
            kwargs.set_item("count", count)?;
        }
        CaasError::UnknownPerson { table } => kwargs.set_item("table", table)?,
        CaasError::InvalidInput { what, .. } => kwargs.set_item("input", what)?,
        CaasError::InvalidOption { option, .. }
        | CaasError::LimitExceeded { limit: option, .. } => kwargs.set_item("option", option)?,
        _ => {}
    }
    Ok(())
}
