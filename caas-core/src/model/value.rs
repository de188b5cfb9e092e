//! Parameter values and their run-time binding.

use std::fmt;

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::definition::ParameterValue;
use super::expr::Type;

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// true / false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// A calendar date.
    Date(NaiveDate),
    /// Text.
    Text(String),
}

impl Value {
    /// The value's type.
    pub fn data_type(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::Date(_) => Type::Date,
            Value::Text(_) => Type::Text,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Value::Text(s) => write!(f, "{s}"),
        }
    }
}

/// A date written `YYYY-MM-DD` (exactly: ten characters), or none.
pub(crate) fn iso_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
}

impl From<&ParameterValue> for Value {
    /// A definition's default value: there, text of the form `YYYY-MM-DD` is a date (the
    /// definition format has no other way to write one).
    fn from(raw: &ParameterValue) -> Self {
        match raw {
            ParameterValue::Bool(b) => Value::Bool(*b),
            ParameterValue::Int(n) => Value::Int(*n),
            ParameterValue::Float(x) => Value::Float(*x),
            ParameterValue::Text(s) => match iso_date(s) {
                Some(date) => Value::Date(date),
                None => Value::Text(s.clone()),
            },
        }
    }
}

impl From<Value> for ParameterValue {
    fn from(value: Value) -> Self {
        match value {
            Value::Bool(b) => ParameterValue::Bool(b),
            Value::Int(n) => ParameterValue::Int(n),
            Value::Float(x) => ParameterValue::Float(x),
            Value::Date(d) => ParameterValue::Text(d.format("%Y-%m-%d").to_string()),
            Value::Text(s) => ParameterValue::Text(s),
        }
    }
}

impl From<NaiveDate> for Value {
    fn from(date: NaiveDate) -> Self {
        Value::Date(date)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Parameter values given at run time; they override the definition's defaults.
///
/// Built in code with typed values, or read from a JSON or YAML mapping. Text stays text
/// until it is [bound](crate::Cohort::bind): where the definition declares a date parameter
/// it must then be a date written `YYYY-MM-DD`, and where it declares a text parameter it is
/// taken as it is, even when it looks like a date.
///
/// ```
/// use caas_core::{Cohort, Parameters, Value};
/// use chrono::NaiveDate;
/// let cohort = Cohort::from_yaml_str(
///     "{id: c, title: T, purpose: direct_care, parameters: {index_date: 2020-01-01, batch: a}}",
/// )?;
/// let from_json: Parameters = serde_json::from_str(r#"{"index_date": "2025-03-31"}"#)?;
/// let date = NaiveDate::from_ymd_opt(2025, 3, 31).ok_or("no such date")?;
/// let built = Parameters::new().with("index_date", date);
/// assert_eq!(cohort.bind(&from_json)?, cohort.bind(&built)?);
/// // A text parameter keeps text that looks like a date.
/// let batch = Parameters::new().with("batch", "2025-03-31");
/// assert_eq!(cohort.bind(&batch)?["batch"], Value::Text("2025-03-31".to_string()));
/// // A date parameter given text that is not a date is refused, naming the parameter.
/// let wrong = Parameters::new().with("index_date", "31/03/2025");
/// let err = cohort.bind(&wrong).unwrap_err();
/// assert_eq!(err.code(), "type_mismatch");
/// assert!(err.to_string().contains("`index_date`"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    from = "IndexMap<String, ParameterValue>",
    into = "IndexMap<String, ParameterValue>"
)]
pub struct Parameters(IndexMap<String, Value>);

impl From<IndexMap<String, ParameterValue>> for Parameters {
    /// Values read from JSON or YAML: text stays text until bound.
    fn from(raw: IndexMap<String, ParameterValue>) -> Self {
        Parameters(
            raw.into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        ParameterValue::Text(s) => Value::Text(s),
                        other => Value::from(&other),
                    };
                    (name, value)
                })
                .collect(),
        )
    }
}

impl From<Parameters> for IndexMap<String, ParameterValue> {
    fn from(parameters: Parameters) -> Self {
        parameters
            .0
            .into_iter()
            .map(|(name, value)| (name, ParameterValue::from(value)))
            .collect()
    }
}

impl Parameters {
    /// No overrides: every parameter takes its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a parameter.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets a parameter.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    /// The overrides, as given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.clone()))
    }

    /// Whether no parameter is overridden.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Days since the Unix epoch of a date, as Arrow's Date32 holds it.
pub(crate) fn date32(date: NaiveDate) -> i32 {
    arrow::datatypes::Date32Type::from_naive_date(date)
}

/// The first and last days that caas holds, 0001-01-01 and 9999-12-31, as [`date32`]: the
/// calendar every engine and front end shares (Python's dates end in 9999; year 0 would
/// give negative ages).
pub(crate) fn calendar() -> (i32, i32) {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).map_or(0, date32);
    (day(1, 1, 1), day(9999, 12, 31))
}
