//! Evaluation options from Python: data-quality policies, the reference date of "future"
//! dates and the pseudonym key, turned into `caas_core::EvaluationOptions` by the core's
//! own readers, so that a policy or a date is accepted or refused exactly as in Rust and C.

use caas_core::governance::PseudonymKey;
use caas_core::quality::{FindingKind, QualityPolicies};
use caas_core::{CaasError, EvaluationOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::errors::to_py;

/// A serde message without its " at line 1 column 20" (the JSON is not the user's text).
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    }
}

fn invalid(py: Python<'_>, option: &'static str, message: String) -> PyErr {
    to_py(py, CaasError::InvalidOption { option, message })
}

/// The options of one evaluation. `quality` is a JSON object of finding kinds to policies,
/// `reference_date` is `YYYY-MM-DD`, and `pseudonym_key` is bytes or hexadecimal text; the
/// key's bytes go straight into a `PseudonymKey`, which wipes them when dropped.
pub fn evaluation_options(
    py: Python<'_>,
    quality: Option<&str>,
    reference_date: Option<&str>,
    pseudonym_key: Option<&Bound<'_, PyAny>>,
) -> PyResult<EvaluationOptions> {
    let mut options = EvaluationOptions::new();
    if let Some(quality) = quality {
        options.quality = serde_json::from_str::<QualityPolicies>(quality)
            .map_err(|e| invalid(py, "quality", without_position(&e)))?;
    }
    if let Some(date) = reference_date {
        let json = serde_json::json!({ "reference_date": date });
        let read: EvaluationOptions = serde_json::from_value(json)
            .map_err(|e| invalid(py, "reference_date", without_position(&e)))?;
        options.reference_date = read.reference_date;
    }
    if let Some(key) = pseudonym_key {
        let key = if let Ok(bytes) = key.cast::<PyBytes>() {
            PseudonymKey::new(bytes.as_bytes().to_vec())
        } else if let Ok(bytes) = key.cast::<PyByteArray>() {
            PseudonymKey::new(bytes.to_vec())
        } else if let Ok(text) = key.cast::<PyString>() {
            PseudonymKey::from_hex(text.to_str()?)
        } else {
            return Err(PyTypeError::new_err(format!(
                "pseudonym_key: expected bytes or hexadecimal text, got {}",
                key.get_type().name()?
            )));
        };
        options.pseudonym_key = Some(key.map_err(|e| to_py(py, e))?);
    }
    Ok(options)
}

/// The kinds of data-quality finding: (name, what a row with it has, default policy), in
/// the order of reports.
#[pyfunction]
pub fn finding_kinds() -> Vec<(&'static str, &'static str, String)> {
    let defaults = QualityPolicies::default();
    FindingKind::ALL
        .iter()
        .map(|kind| {
            (
                kind.name(),
                kind.description(),
                defaults.get(*kind).to_string(),
            )
        })
        .collect()
}
