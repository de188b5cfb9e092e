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

impl From<&ParameterValue> for Value {
    fn from(raw: &ParameterValue) -> Self {
        match raw {
            ParameterValue::Bool(b) => Value::Bool(*b),
            ParameterValue::Int(n) => Value::Int(*n),
            ParameterValue::Float(x) => Value::Float(*x),
            ParameterValue::Text(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(date) if s.len() == 10 => Value::Date(date),
                _ => Value::Text(s.clone()),
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

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Parameter values given at run time; they override the definition's defaults.
///
/// Read from a JSON or YAML mapping (dates as `YYYY-MM-DD` text), or built in code:
///
/// ```
/// use caas_core::Parameters;
/// use chrono::NaiveDate;
/// let from_json: Parameters = serde_json::from_str(r#"{"index_date": "2025-03-31"}"#).unwrap();
/// let built = Parameters::new().with("index_date", NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
/// assert_eq!(from_json, built);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Parameters(IndexMap<String, ParameterValue>);

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
        self.0
            .insert(name.into(), ParameterValue::from(value.into()));
    }

    /// The overrides, as resolved values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), Value::from(v)))
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
