//! `caas_core::CaasError` raised as the exception classes of `caas.errors`.
//!
//! This side gives the error's message, its `code` and the place at fault (line, column,
//! variable, rule, parameter, codelist, table, column name, finding kind and count, option)
//! as keyword arguments; `caas.errors` chooses the class from the code, so that the
//! hierarchy is documented and decided in one place.

use caas_core::{CaasError, Place};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The Python exception for a caas error.
pub fn to_py(py: Python<'_>, err: CaasError) -> PyErr {
    let kwargs = PyDict::new(py);
    match fill(&kwargs, &err) {
        Ok(()) => raise(py, "from_core", &err.to_string(), &kwargs),
        Err(e) => e,
    }
}

/// Converts a caas result into a Python one.
pub fn check<T>(py: Python<'_>, result: caas_core::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_py(py, e))
}

/// A `DefinitionError` with the given code and message, for problems the Python layer finds
/// in a document before the core sees it (a dict that does not fit the definition's shape).
pub fn definition_error(py: Python<'_>, code: &str, message: &str) -> PyErr {
    let kwargs = PyDict::new(py);
    match kwargs.set_item("code", code) {
        Ok(()) => raise(py, "DefinitionError", message, &kwargs),
        Err(e) => e,
    }
}

/// The exception that `factory` of `caas.errors` (a class, or `from_core`) makes.
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
    match err {
        CaasError::ExpressionSyntax { column, .. } => kwargs.set_item("column", column)?,
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
        CaasError::UnknownPerson { table } => kwargs.set_item("table", table)?,
        CaasError::InvalidInput { what, .. } => kwargs.set_item("input", what)?,
        CaasError::InvalidOption { option, .. } => kwargs.set_item("option", option)?,
        _ => {}
    }
    Ok(())
}
