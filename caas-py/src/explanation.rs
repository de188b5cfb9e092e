//! Why a person is in a cohort or not, as Python objects over the core's
//! `caas_core::Explanation`: its text, JSON and notebook HTML are the core's, and its rules
//! and variables are the core's values, converted once here (dates as `datetime.date`).

use caas_core::Explanation;
use caas_core::explain::{
    Datum, EventRow, PeriodRow, PersonId, RuleOutcome, VariableExplanation, Verdict,
};
use caas_core::report::notebook;
use chrono::NaiveDate;
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDate, PyFloat, PyInt, PyString, PyTuple};

use crate::errors::check;

/// `Name(field=repr, ...)`, as a dataclass prints itself.
fn repr(name: &str, fields: Vec<(&str, Bound<'_, PyAny>)>) -> PyResult<String> {
    let fields = fields
        .into_iter()
        .map(|(field, value)| Ok(format!("{field}={}", value.repr()?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{name}({})", fields.join(", ")))
}

/// An event row behind a variable's value.
#[pyclass(
    name = "EventRow",
    module = "caas.explain",
    frozen,
    eq,
    get_all,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyEventRow {
    /// The event table.
    table: String,
    /// The event's date.
    date: NaiveDate,
    /// The code that matched.
    code: String,
    /// The event's value, if the table has values.
    value: Option<f64>,
}

impl From<&EventRow> for PyEventRow {
    fn from(row: &EventRow) -> Self {
        PyEventRow {
            table: row.table.clone(),
            date: row.date,
            code: row.code.clone(),
            value: row.value,
        }
    }
}

#[pymethods]
impl PyEventRow {
    #[new]
    #[pyo3(signature = (table, date, code, value=None))]
    fn new(table: String, date: NaiveDate, code: String, value: Option<f64>) -> Self {
        PyEventRow {
            table,
            date,
            code,
            value,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "EventRow",
            vec![
                ("table", self.table.clone().into_pyobject(py)?.into_any()),
                ("date", self.date.into_pyobject(py)?.into_any()),
                ("code", self.code.clone().into_pyobject(py)?.into_any()),
                ("value", self.value.into_pyobject(py)?.into_any()),
            ],
        )
    }
}

/// A period row behind a `registered` or `practice` variable.
#[pyclass(
    name = "PeriodRow",
    module = "caas.explain",
    frozen,
    eq,
    get_all,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyPeriodRow {
    /// The period table.
    table: String,
    /// First day of the period.
    start_date: Option<NaiveDate>,
    /// Last day of the period; `None` while it is open.
    end_date: Option<NaiveDate>,
    /// The practice of the period.
    practice: Option<String>,
}

impl From<&PeriodRow> for PyPeriodRow {
    fn from(row: &PeriodRow) -> Self {
        PyPeriodRow {
            table: row.table.clone(),
            start_date: row.start_date,
            end_date: row.end_date,
            practice: row.practice.clone(),
        }
    }
}

#[pymethods]
impl PyPeriodRow {
    #[new]
    #[pyo3(signature = (table, start_date, end_date, practice=None))]
    fn new(
        table: String,
        start_date: Option<NaiveDate>,
        end_date: Option<NaiveDate>,
        practice: Option<String>,
    ) -> Self {
        PyPeriodRow {
            table,
            start_date,
            end_date,
            practice,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "PeriodRow",
            vec![
                ("table", self.table.clone().into_pyobject(py)?.into_any()),
                ("start_date", self.start_date.into_pyobject(py)?.into_any()),
                ("end_date", self.end_date.into_pyobject(py)?.into_any()),
                (
                    "practice",
                    self.practice.clone().into_pyobject(py)?.into_any(),
                ),
            ],
        )
    }
}

/// A variable's value for a person, as Python has it: `None`, a bool, an int, a float, a
/// `datetime.date` or a str.
#[derive(Clone, PartialEq)]
struct Held(Datum);

impl<'py> IntoPyObject<'py> for &Held {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.0 {
            Datum::Null => py.None().into_bound(py),
            Datum::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Datum::Int(n) => n.into_pyobject(py)?.into_any(),
            Datum::Float(x) => x.into_pyobject(py)?.into_any(),
            Datum::Date(d) => d.into_pyobject(py)?.into_any(),
            Datum::Text(s) => s.into_pyobject(py)?.into_any(),
        })
    }
}

impl Held {
    fn extract(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Held(if value.is_none() {
            Datum::Null
        } else if value.is_instance_of::<PyBool>() {
            Datum::Bool(value.extract()?)
        } else if value.is_instance_of::<PyInt>() {
            Datum::Int(value.extract()?)
        } else if value.is_instance_of::<PyFloat>() {
            Datum::Float(value.extract()?)
        } else if value.is_instance_of::<PyDate>() {
            Datum::Date(value.extract()?)
        } else if value.is_instance_of::<PyString>() {
            Datum::Text(value.extract()?)
        } else {
            return Err(PyTypeError::new_err(format!(
                "value: expected None, a bool, an int, a float, a date or a str, got {}",
                value.get_type().name()?
            )));
        }))
    }
}

/// One variable of an explanation: its value for the person and the rows behind it.
#[pyclass(
    name = "VariableExplanation",
    module = "caas.explain",
    frozen,
    eq,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyVariableExplanation {
    name: String,
    kind: String,
    sentence: String,
    value: Held,
    selected: Option<u64>,
    events: Vec<PyEventRow>,
    periods: Vec<PyPeriodRow>,
}

impl From<&VariableExplanation> for PyVariableExplanation {
    fn from(v: &VariableExplanation) -> Self {
        PyVariableExplanation {
            name: v.name.clone(),
            kind: v.kind.to_string(),
            sentence: v.sentence.clone(),
            value: Held(v.value.clone()),
            selected: v.selected,
            events: v.events.iter().map(PyEventRow::from).collect(),
            periods: v.periods.iter().map(PyPeriodRow::from).collect(),
        }
    }
}

#[pymethods]
impl PyVariableExplanation {
    #[new]
    #[pyo3(signature = (name, kind, sentence, value, selected=None, events=Vec::new(), periods=Vec::new()))]
    fn new(
        name: String,
        kind: String,
        sentence: String,
        value: &Bound<'_, PyAny>,
        selected: Option<u64>,
        events: Vec<PyEventRow>,
        periods: Vec<PyPeriodRow>,
    ) -> PyResult<Self> {
        Ok(PyVariableExplanation {
            name,
            kind,
            sentence,
            value: Held::extract(value)?,
            selected,
            events,
            periods,
        })
    }

    /// Its name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Its kind, as in the definition (`age`, `events`, `derived`, ...).
    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    /// What it is, in plain English; names in backticks.
    #[getter]
    fn sentence(&self) -> &str {
        &self.sentence
    }

    /// Its value: `None` (unknown), a bool, an int, a float, a `datetime.date` or a str.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        (&self.value).into_pyobject(py)
    }

    /// For event, `registered` and `practice` variables, how many rows it selected.
    #[getter]
    fn selected(&self) -> Option<u64> {
        self.selected
    }

    /// The event rows behind the value.
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.events.iter().cloned())
    }

    /// The period rows behind the value.
    #[getter]
    fn periods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.periods.iter().cloned())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "VariableExplanation",
            vec![
                ("name", self.name.clone().into_pyobject(py)?.into_any()),
                ("kind", self.kind.clone().into_pyobject(py)?.into_any()),
                (
                    "sentence",
                    self.sentence.clone().into_pyobject(py)?.into_any(),
                ),
                ("value", self.value(py)?),
                ("selected", self.selected.into_pyobject(py)?.into_any()),
                ("events", self.events(py)?.into_any()),
                ("periods", self.periods(py)?.into_any()),
            ],
        )
    }
}

/// One rule of an explanation: the value of its condition for the person, and whether
/// they passed.
#[pyclass(
    name = "RuleOutcome",
    module = "caas.explain",
    frozen,
    eq,
    get_all,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub struct PyRuleOutcome {
    /// 1-based position in the attrition.
    step: usize,
    /// The rule's name.
    name: String,
    /// `include` or `exclude`.
    action: String,
    /// The condition, in its canonical text.
    condition: String,
    /// What the rule does, in plain English.
    sentence: String,
    /// `true`, `false` or `unknown`.
    outcome: String,
    /// Whether the person passed the rule.
    passed: bool,
}

impl From<&RuleOutcome> for PyRuleOutcome {
    fn from(r: &RuleOutcome) -> Self {
        PyRuleOutcome {
            step: r.step,
            name: r.name.clone(),
            action: r.action.to_string(),
            condition: r.condition.clone(),
            sentence: r.sentence.clone(),
            outcome: r.outcome.to_string(),
            passed: r.passed,
        }
    }
}

#[pymethods]
impl PyRuleOutcome {
    #[new]
    fn new(
        step: usize,
        name: String,
        action: String,
        condition: String,
        sentence: String,
        outcome: String,
        passed: bool,
    ) -> Self {
        PyRuleOutcome {
            step,
            name,
            action,
            condition,
            sentence,
            outcome,
            passed,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr(
            "RuleOutcome",
            vec![
                ("step", self.step.into_pyobject(py)?.into_any()),
                ("name", self.name.clone().into_pyobject(py)?.into_any()),
                ("action", self.action.clone().into_pyobject(py)?.into_any()),
                (
                    "condition",
                    self.condition.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "sentence",
                    self.sentence.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "outcome",
                    self.outcome.clone().into_pyobject(py)?.into_any(),
                ),
                ("passed", PyBool::new(py, self.passed).to_owned().into_any()),
            ],
        )
    }
}

/// Why a person is in the cohort or not: each variable's value with the event rows behind
/// it, each rule's outcome, and the verdict.
///
/// `str()` is the engine's plain-text explanation, `to_json()` its JSON, and in a notebook
/// it renders as the engine's HTML.
#[pyclass(name = "Explanation", module = "caas.explain", frozen)]
pub struct PyExplanation {
    inner: Explanation,
    rules: Vec<PyRuleOutcome>,
    variables: Vec<PyVariableExplanation>,
}

impl From<Explanation> for PyExplanation {
    fn from(inner: Explanation) -> Self {
        PyExplanation {
            rules: inner.rules.iter().map(PyRuleOutcome::from).collect(),
            variables: inner
                .variables
                .iter()
                .map(PyVariableExplanation::from)
                .collect(),
            inner,
        }
    }
}

#[pymethods]
impl PyExplanation {
    /// The cohort's id.
    #[getter]
    fn cohort(&self) -> &str {
        &self.inner.cohort
    }

    /// The person, as the engine read the id.
    #[getter]
    fn person_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.inner.person_id {
            PersonId::Int(n) => n.into_pyobject(py)?.into_any(),
            PersonId::Text(s) => s.into_pyobject(py)?.into_any(),
        })
    }

    /// The step of the rule that removed the person; `None` for a member.
    #[getter]
    fn removed_at(&self) -> Option<usize> {
        match &self.inner.verdict {
            Verdict::In => None,
            Verdict::Out { step, .. } => Some(*step),
        }
    }

    /// The name of the rule that removed the person; `None` for a member.
    #[getter]
    fn removed_by(&self) -> Option<&str> {
        match &self.inner.verdict {
            Verdict::In => None,
            Verdict::Out { rule, .. } => Some(rule),
        }
    }

    /// Whether the person is a member (passed every rule).
    #[getter]
    fn in_cohort(&self) -> bool {
        self.inner.verdict == Verdict::In
    }

    /// `in` or `out`.
    #[getter]
    fn verdict(&self) -> &'static str {
        match self.inner.verdict {
            Verdict::In => "in",
            Verdict::Out { .. } => "out",
        }
    }

    /// Each rule, in order.
    #[getter]
    fn rules<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.rules.iter().cloned())
    }

    /// Each variable, in the definition's order.
    #[getter]
    fn variables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.variables.iter().cloned())
    }

    /// A variable by name; `KeyError` if the definition has none of that name.
    fn variable(&self, name: &str) -> PyResult<PyVariableExplanation> {
        self.variables
            .iter()
            .find(|v| v.name == name)
            .cloned()
            .ok_or_else(|| PyKeyError::new_err(name.to_string()))
    }

    /// A rule by name; `KeyError` if the definition has none of that name.
    fn rule(&self, name: &str) -> PyResult<PyRuleOutcome> {
        self.rules
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .ok_or_else(|| PyKeyError::new_err(name.to_string()))
    }

    /// The engine's JSON text of the explanation.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        check(py, self.inner.to_json())
    }

    /// The explanation as the engine's JSON, parsed.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = self.to_json(py)?;
        py.import("json")?.call_method1("loads", (json,))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let removed = match &self.inner.verdict {
            Verdict::In => String::new(),
            Verdict::Out { rule, .. } => {
                format!(", removed_by={}", rule.into_pyobject(py)?.repr()?)
            }
        };
        Ok(format!(
            "Explanation(cohort={}, person_id={}, verdict='{}'{removed})",
            self.inner.cohort.as_str().into_pyobject(py)?.repr()?,
            self.person_id(py)?.repr()?,
            self.verdict(),
        ))
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        check(py, notebook::explanation_html(&self.inner))
    }
}
