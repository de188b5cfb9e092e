//! `caas_core::CaasError` raised as the exception classes of `caas.errors`.
//!
//! The class follows the error's kind: `DefinitionError` for what is wrong in a definition
//! or its parameters, `DataError` for tables that cannot be read, registered or used as the
//! definition needs, `EngineError` for failures inside DataFusion or Arrow. Each exception
//! carries the error's `code` and the place at fault (line, column, variable, rule,
//! parameter, codelist, table, column name) as attributes.

use caas_core::{CaasError, Place};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The `caas.errors` class for an error code.
fn class_name(code: &str) -> &'static str {
    match code {
        "engine" => "EngineError",
        "table" | "registration" | "missing_column" | "column_type" | "io" => "DataError",
        _ => "DefinitionError",
    }
}

/// The Python exception for a caas error.
pub fn to_py(py: Python<'_>, err: CaasError) -> PyErr {
    let kwargs = PyDict::new(py);
    match fill(&kwargs, &err) {
        Ok(()) => raise(py, class_name(err.code()), &err.to_string(), &kwargs),
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

fn raise(py: Python<'_>, class: &str, message: &str, kwargs: &Bound<'_, PyDict>) -> PyErr {
    let made = py
        .import("caas.errors")
        .and_then(|m| m.getattr(class))
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
        _ => {}
    }
    Ok(())
}
