//! Evaluation options and other typed values from Python: data-quality policies (a dict
//! read by the core's own serde definition of `QualityPolicies`), the reference date of
//! "future" dates (a `datetime.date`, or `YYYY-MM-DD` text read by the core's reader) and
//! the pseudonym key, so that a policy or a date is accepted or refused exactly as in Rust
//! and C. A value of the wrong type is a `TypeError` naming the option.

use caas_core::governance::PseudonymKey;
use caas_core::quality::{FindingKind, QualityPolicies};
use caas_core::{CaasError, EvaluationOptions};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDate, PyDateTime, PyDict, PyMapping, PyString};
use serde::de::DeserializeOwned;

use crate::errors::to_py;

fn invalid(py: Python<'_>, option: &'static str, message: String) -> PyErr {
    to_py(py, CaasError::InvalidOption { option, message })
}

/// The name of a Python value's type, for messages that must not quote the value.
pub fn type_name(value: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(value.get_type().name()?.to_string())
}

/// A Python mapping read into a Rust value by its serde definition; an error is serde's
/// message.
pub fn from_mapping<T: DeserializeOwned>(value: &Bound<'_, PyAny>) -> Result<T, String> {
    pythonize::depythonize(value).map_err(|e| e.to_string())
}

/// A `datetime.date` as a date; a `datetime.datetime` only at midnight and without a time
/// zone (it is then a date), else `Err` with what is wrong with it. Anything else is
/// `Ok(None)`.
pub fn typed_date(value: &Bound<'_, PyAny>) -> Result<Option<NaiveDate>, String> {
    if value.is_instance_of::<PyDateTime>() {
        let at: NaiveDateTime = value
            .extract()
            .map_err(|_| "a date and time with a time zone; give a date".to_string())?;
        if at.time() != NaiveTime::MIN {
            return Err("a date and time with a time of day; give a date".to_string());
        }
        return Ok(Some(at.date()));
    }
    if value.is_instance_of::<PyDate>() {
        return value
            .extract::<NaiveDate>()
            .map(Some)
            .map_err(|e| e.to_string());
    }
    Ok(None)
}

/// The options of one evaluation. `quality` is a mapping of finding kinds to policies,
/// `reference_date` a `datetime.date` or `YYYY-MM-DD` text, and `pseudonym_key` bytes or
/// hexadecimal text; the key's bytes go straight into a `PseudonymKey`, which wipes them
/// when dropped.
pub fn evaluation_options(
    py: Python<'_>,
    quality: Option<&Bound<'_, PyAny>>,
    reference_date: Option<&Bound<'_, PyAny>>,
    pseudonym_key: Option<&Bound<'_, PyAny>>,
) -> PyResult<EvaluationOptions> {
    let mut options = EvaluationOptions::new();
    if let Some(quality) = quality.filter(|q| !q.is_none()) {
        if !quality.is_instance_of::<PyMapping>() || quality.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "quality must be a mapping of finding kinds to policies ('keep', 'exclude', \
                 'fail'), not {}",
                type_name(quality)?
            )));
        }
        options.quality = from_mapping::<QualityPolicies>(quality)
            .map_err(|message| invalid(py, "quality", message))?;
    }
    if let Some(date) = reference_date.filter(|d| !d.is_none()) {
        let typed = typed_date(date)
            .map_err(|problem| PyTypeError::new_err(format!("reference_date: {problem}")))?;
        options.reference_date = Some(match typed {
            Some(date) => date,
            None => {
                let Ok(text) = date.cast::<PyString>() else {
                    return Err(PyTypeError::new_err(format!(
                        "reference_date must be a datetime.date or 'YYYY-MM-DD', not {}",
                        type_name(date)?
                    )));
                };
                // The core's reader of the option, so that text is refused as in Rust and C.
                let given = PyDict::new(py);
                given.set_item("reference_date", text)?;
                let read: EvaluationOptions = from_mapping(given.as_any())
                    .map_err(|message| invalid(py, "reference_date", message))?;
                read.reference_date.ok_or_else(|| {
                    invalid(
                        py,
                        "reference_date",
                        "is not a date (YYYY-MM-DD)".to_string(),
                    )
                })?
            }
        });
    }
    if let Some(key) = pseudonym_key.filter(|k| !k.is_none()) {
        options.pseudonym_key = Some(to_key(py, key)?);
    }
    Ok(options)
}

/// A pseudonym key from bytes or hexadecimal text.
fn to_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PseudonymKey> {
    let key = if let Ok(bytes) = key.cast::<PyBytes>() {
        PseudonymKey::new(bytes.as_bytes().to_vec())
    } else if let Ok(bytes) = key.cast::<PyByteArray>() {
        PseudonymKey::new(bytes.to_vec())
    } else if let Ok(text) = key.cast::<PyString>() {
        PseudonymKey::from_hex(text.to_str()?)
    } else {
        // The type only: the value is a secret.
        return Err(PyTypeError::new_err(format!(
            "pseudonym_key must be bytes or hexadecimal text, not {}",
            type_name(key)?
        )));
    };
    key.map_err(|e| to_py(py, e))
}

/// The parameters that the members query of a cohort's SQL binds to make pseudonyms
/// under `key` (bytes or hexadecimal text): `caas_ipad` and `caas_opad`, as secret as
/// the key.
#[pyfunction]
pub fn pseudonym_parameters(
    py: Python<'_>,
    key: &Bound<'_, PyAny>,
) -> PyResult<std::collections::HashMap<&'static str, String>> {
    let (inner, outer) = to_key(py, key)?.hmac_pads();
    Ok([("caas_ipad", inner), ("caas_opad", outer)].into())
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
