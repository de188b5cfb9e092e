//! Cohort definitions: read from YAML, JSON or a document built in Python, checked by the
//! core, described in plain English and written back out.

use std::path::PathBuf;
use std::sync::Arc;

use caas_core::report::notebook;
use caas_core::{
    CaasError, Cohort, Definition, EngineOptions, Format, Limits, Parameters, Place, Value,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::errors::{check, to_py, to_py_saying};
use crate::options::{from_mapping, type_name, typed_date};

/// A checked cohort definition.
#[pyclass(name = "Cohort", module = "caas._caas", frozen)]
pub struct PyCohort {
    pub inner: Arc<Cohort>,
}

fn base(base_dir: Option<PathBuf>) -> PathBuf {
    base_dir.unwrap_or_else(|| PathBuf::from("."))
}

/// The limits of the JSON of engine options (`None`: the defaults).
fn parse_limits(py: Python<'_>, json: Option<&str>) -> PyResult<Limits> {
    let options: EngineOptions = match json {
        None => EngineOptions::default(),
        Some(json) => serde_json::from_str(json).map_err(|e| {
            let err = CaasError::InvalidOption {
                option: "limits",
                message: e.to_string(),
            };
            to_py(py, err)
        })?,
    };
    Ok(options.limits())
}

/// A cohort read from `text` within the limits of the JSON of engine options.
fn read(
    py: Python<'_>,
    text: &str,
    format: Format,
    base_dir: Option<PathBuf>,
    limits: Option<&str>,
) -> PyResult<PyCohort> {
    let (base, limits) = (base(base_dir), parse_limits(py, limits)?);
    check(py, Cohort::from_str_with(text, format, &base, &limits)).map(PyCohort::new)
}

impl PyCohort {
    fn new(cohort: Cohort) -> Self {
        PyCohort {
            inner: Arc::new(cohort),
        }
    }
}

#[pymethods]
impl PyCohort {
    /// Reads a definition from YAML text; codelist files are resolved from `base_dir`;
    /// `limits` is NULL or the JSON of engine options whose limits apply.
    #[staticmethod]
    #[pyo3(signature = (text, base_dir=None, limits=None))]
    fn from_yaml(
        py: Python<'_>,
        text: &str,
        base_dir: Option<PathBuf>,
        limits: Option<&str>,
    ) -> PyResult<Self> {
        read(py, text, Format::Yaml, base_dir, limits)
    }

    /// Reads a definition from JSON text, as [`from_yaml`](Self::from_yaml).
    #[staticmethod]
    #[pyo3(signature = (text, base_dir=None, limits=None))]
    fn from_json(
        py: Python<'_>,
        text: &str,
        base_dir: Option<PathBuf>,
        limits: Option<&str>,
    ) -> PyResult<Self> {
        read(py, text, Format::Json, base_dir, limits)
    }

    /// Reads a definition file (`.json` is JSON, anything else YAML).
    #[staticmethod]
    #[pyo3(signature = (path, limits=None))]
    fn from_path(py: Python<'_>, path: PathBuf, limits: Option<&str>) -> PyResult<Self> {
        let limits = parse_limits(py, limits)?;
        check(py, Cohort::from_path_with(&path, &limits)).map(Self::new)
    }

    /// Checks a definition document given as a Python mapping (dates as `YYYY-MM-DD`
    /// text), read by the core's serde definition of `Definition`. Shape errors name the
    /// field but no line: the document has none.
    #[staticmethod]
    #[pyo3(signature = (document, base_dir=None))]
    fn from_document(
        py: Python<'_>,
        document: &Bound<'_, PyAny>,
        base_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let definition: Definition = from_mapping(document).map_err(|message| {
            // Line 0: the document was built in Python, so there is no text to point into.
            let err = CaasError::Syntax {
                format: Format::Json,
                line: 0,
                column: 0,
                message: message.clone(),
            };
            to_py_saying(py, &err, &format!("definition: {message}"))
        })?;
        let base = base(base_dir);
        check(py, Cohort::from_definition_in(definition, &base)).map(Self::new)
    }

    /// The cohort's id.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// The cohort's title.
    #[getter]
    fn title(&self) -> &str {
        &self.inner.definition().title
    }

    /// Names of the rules, in order.
    #[getter]
    fn rule_names(&self) -> Vec<String> {
        self.inner.rules().iter().map(|r| r.name.clone()).collect()
    }

    /// The members table's columns besides `person_id`.
    #[getter]
    fn output_columns(&self) -> Vec<String> {
        self.inner.output_columns().to_vec()
    }

    /// The definition as JSON text (the canonical document, as a builder would make it).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string_pretty(self.inner.definition())
            .map_err(|e| to_py(py, CaasError::Internal(e.to_string())))
    }

    /// The definition as YAML text.
    fn to_yaml(&self, py: Python<'_>) -> PyResult<String> {
        serde_yaml_ng::to_string(self.inner.definition())
            .map_err(|e| to_py(py, CaasError::Internal(e.to_string())))
    }

    /// The plain-English description as JSON text (see `caas_core::report::Description`).
    fn describe_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(&self.inner.describe())
            .map_err(|e| to_py(py, CaasError::Internal(e.to_string())))
    }

    /// The plain-English description as the notebook shows it (HTML).
    fn notebook_html(&self, py: Python<'_>) -> PyResult<String> {
        check(py, notebook::cohort_html(&self.inner))
    }

    /// The plain-English description as text.
    fn summary(&self) -> String {
        self.inner.describe().to_string()
    }

    /// Checks run-time parameter values against the definition: declared, of the declared
    /// type, and giving windows that do not end before they start.
    #[pyo3(signature = (parameters=None))]
    fn check_parameters(
        &self,
        py: Python<'_>,
        parameters: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let parameters = to_parameters(parameters)?;
        check(py, self.inner.bind(&parameters)).map(|_| ())
    }

    fn __repr__(&self) -> String {
        format!(
            "Cohort(id={:?}, title={:?})",
            self.inner.id(),
            self.inner.definition().title
        )
    }
}

/// Run-time parameters from a Python mapping of names to values, each as itself: a bool, an
/// int, a float, a `datetime.date` (or a `datetime.datetime` at midnight) or a str. A str
/// stays text: the core takes it as a date only where the definition declares a date. A
/// value that is none of these, or a number that no engine holds (an int over 64 bits, a
/// NaN), is the core's `type_mismatch` error naming the parameter.
pub fn to_parameters(values: Option<&Bound<'_, PyDict>>) -> PyResult<Parameters> {
    let mut parameters = Parameters::new();
    let Some(values) = values else {
        return Ok(parameters);
    };
    let py = values.py();
    for (key, value) in values.iter() {
        let name: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("parameter names must be text"))?;
        let wrong = |message: String| {
            let place = Place::Parameter(name.clone());
            to_py(py, CaasError::TypeMismatch { place, message })
        };
        let value = if value.is_instance_of::<PyBool>() {
            Value::Bool(value.extract()?)
        } else if value.is_instance_of::<PyInt>() {
            Value::Int(
                value
                    .extract()
                    .map_err(|_| wrong("a whole number outside the 64-bit range".to_string()))?,
            )
        } else if value.is_instance_of::<PyFloat>() {
            let x: f64 = value.extract()?;
            if !x.is_finite() {
                return Err(wrong("a number that is not finite".to_string()));
            }
            Value::Float(x)
        } else if let Some(date) = typed_date(&value).map_err(wrong)? {
            Value::Date(date)
        } else if value.is_instance_of::<PyString>() {
            Value::Text(value.extract()?)
        } else {
            return Err(wrong(format!(
                "expected a date, a number, a boolean or text, got {}",
                type_name(&value)?
            )));
        };
        parameters.set(name, value);
    }
    Ok(parameters)
}
