//! A checked cohort definition: parsed, its codelists loaded, its expressions parsed and
//! typed, its variables ordered so that each comes after those it uses.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use indexmap::IndexMap;

use super::definition::{AgeUnit, Aggregation, Definition, Rule, Ties, Variable};
use super::expr::{Expr, KEYWORDS, Type, eval_constant, infer_type, parse_with_depth};
use super::value::{Parameters, Value, iso_date};
use crate::codelist::Codelist;
use crate::error::{CaasError, Format, Place, Result};
use crate::limits::Limits;

/// A cohort definition that has been read and checked.
///
/// ```
/// use caas_core::Cohort;
/// let cohort = Cohort::from_yaml_str(r#"
/// id: older
/// title: People aged 65 or over
/// purpose: direct_care
/// parameters:
///   index_date: 2026-03-31
/// variables:
///   age: { kind: age, on: index_date }
/// rules:
///   - include: age >= 65
/// output:
///   columns: [age]
/// "#).unwrap();
/// assert_eq!(cohort.id(), "older");
///
/// let err = Cohort::from_yaml_str("id: x\ntitle: y\npurpose: care\n").unwrap_err();
/// assert_eq!(err.line_column(), Some((3, 10)));
/// ```
#[derive(Debug, Clone)]
pub struct Cohort {
    definition: Definition,
    codelists: IndexMap<String, Codelist>,
    parameters: IndexMap<String, Value>,
    variables: IndexMap<String, VariableDef>,
    rules: Vec<RuleDef>,
}

/// A checked variable.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableDef {
    /// Its name.
    pub name: String,
    /// What it computes.
    pub kind: VariableKind,
    /// Its type ([`Type::Any`] for person columns, whose type comes from the data).
    pub data_type: Type,
    /// The variables it uses directly.
    pub depends_on: Vec<String>,
}

/// What a checked variable computes; expressions are parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VariableKind {
    /// Age in whole years or months on a date.
    Age {
        /// The date.
        on: Expr,
        /// Years or months.
        unit: AgeUnit,
    },
    /// The `sex` column.
    Sex,
    /// Not dead on a date: no date of death on or before it (birth is not considered).
    Alive {
        /// The date.
        on: Expr,
    },
    /// Has a period covering a date.
    Registered {
        /// The period table.
        table: String,
        /// The date (constant).
        on: Expr,
    },
    /// The practice of the period covering a date.
    Practice {
        /// The period table.
        table: String,
        /// The date (constant).
        on: Expr,
    },
    /// A person-table column.
    PersonColumn {
        /// The column's mapped name.
        column: String,
    },
    /// An aggregate over events.
    Events(EventSelection),
    /// An expression over variables and parameters.
    Derived {
        /// The expression.
        expr: Expr,
    },
    /// Membership of another cohort.
    MemberOf {
        /// The other cohort's id.
        cohort: String,
    },
}

/// The events an event variable selects, and what it computes from them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSelection {
    /// The event table.
    pub table: String,
    /// Codelists (any of them); empty means every event.
    pub codelists: Vec<String>,
    /// First day of the window, inclusive: over parameters and the person's earlier
    /// variables.
    pub from: Option<Expr>,
    /// Last day of the window, inclusive: over parameters and the person's earlier
    /// variables.
    pub to: Option<Expr>,
    /// Smallest value, inclusive.
    pub min_value: Option<f64>,
    /// Largest value, inclusive.
    pub max_value: Option<f64>,
    /// Extra condition over the event's columns, parameters and the person's earlier
    /// variables (a name is the event's column where the table has one).
    pub condition: Option<Expr>,
    /// The aggregate.
    pub returns: Aggregation,
    /// Which of several events on the first (last) date `first_*` (`last_*`) takes.
    pub ties: Ties,
    /// The event table's columns that break the ties of a date for `first_*` and
    /// `last_*`, in order (the definition's `order_by` after `date`).
    pub order_by: Vec<String>,
    /// The column of the chosen event that `first_value` and `last_value` return, in
    /// place of `value`.
    pub column: Option<String>,
    /// For `count_episodes`, the days from one event to the next that start a new episode.
    pub gap_days: Option<u32>,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    /// The rule's name (given, or `rule N`).
    pub name: String,
    /// `exclude` (true) or `include` (false).
    pub exclude: bool,
    /// The condition.
    pub expr: Expr,
    /// The place, for errors.
    pub place: Place,
}

impl Cohort {
    /// Reads a definition from YAML text; codelist files are resolved from the current
    /// directory.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        Self::from_str_in(text, Format::Yaml, Path::new("."))
    }

    /// Reads a definition from JSON text; codelist files are resolved from the current
    /// directory.
    pub fn from_json_str(text: &str) -> Result<Self> {
        Self::from_str_in(text, Format::Json, Path::new("."))
    }

    /// Reads a definition file (`.json` is JSON, anything else YAML); codelist files are
    /// resolved from the file's folder.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_path_with(path, &Limits::default())
    }

    /// [`from_path`](Self::from_path) within the given limits.
    pub fn from_path_with(path: impl AsRef<Path>, limits: &Limits) -> Result<Self> {
        let path = path.as_ref();
        let within = Limits {
            max_file_bytes: limits.max_definition_bytes as u64,
            ..*limits
        };
        let bytes = within.read_file(path, Place::Definition)?;
        let text = String::from_utf8(bytes).map_err(|_| CaasError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        let base = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self::from_str_with(&text, format, &base, limits)
    }

    /// Reads a definition from text in the given format, resolving codelist files from
    /// `base_dir`.
    pub fn from_str_in(text: &str, format: Format, base_dir: &Path) -> Result<Self> {
        Self::from_str_with(text, format, base_dir, &Limits::default())
    }

    /// [`from_str_in`](Self::from_str_in) within the given limits, which are checked before
    /// the text is parsed.
    pub fn from_str_with(
        text: &str,
        format: Format,
        base_dir: &Path,
        limits: &Limits,
    ) -> Result<Self> {
        limits.check_definition_bytes(text.len())?;
        let definition = match format {
            Format::Yaml => serde_yaml_ng::from_str(check_yaml_nesting(text)?).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                syntax_error(format, line, column, e.to_string())
            })?,
            Format::Json => serde_json::from_str(text)
                .map_err(|e| syntax_error(format, e.line(), e.column(), e.to_string()))?,
        };
        check(definition, base_dir, limits).map_err(|e| with_line(e, text))
    }

    /// Checks a definition built in code (e.g. by a builder); codelist files are resolved
    /// from `base_dir`.
    pub fn from_definition_in(definition: Definition, base_dir: &Path) -> Result<Self> {
        check(definition, base_dir, &Limits::default())
    }

    /// Checks the cohort against `limits` (an engine's, which may differ from those it was
    /// read with): the depth and expanded size of its expressions and the size of its
    /// codelists. The sizes of its text and files are checked when it is read.
    pub fn check_limits(&self, limits: &Limits) -> Result<()> {
        for (name, codelist) in &self.codelists {
            limits.check_codelist_codes(name, codelist.codes().len())?;
        }
        if self.variables.len() > limits.max_variables {
            let max = limits.max_variables as u64;
            return Err(Limits::exceeded(Place::Definition, "max_variables", max));
        }
        if let Some((name, _)) = (self.variable_levels().into_iter())
            .find(|(_, level)| *level >= limits.max_variable_depth)
        {
            let place = Place::Variable(name.to_string());
            let max = limits.max_variable_depth as u64;
            return Err(Limits::exceeded(place, "max_variable_depth", max));
        }
        let variables = self.variables.values().flat_map(|v| {
            let condition = match &v.kind {
                VariableKind::Events(ev) => ev.condition.as_ref(),
                _ => None,
            };
            let place = Place::Variable(v.name.clone());
            person_expressions(&v.kind)
                .into_iter()
                .chain(condition)
                .map(move |e| (e, place.clone()))
        });
        let rules = self.rules.iter().map(|r| (&r.expr, r.place.clone()));
        for (expr, place) in variables.chain(rules) {
            if expr.depth() > limits.max_expression_depth {
                let max = limits.max_expression_depth as u64;
                return Err(Limits::exceeded(place, "max_expression_depth", max));
            }
            if expr.expanded_size() > limits.max_expression_nodes {
                let max = limits.max_expression_nodes;
                return Err(Limits::exceeded(place, "max_expression_nodes", max));
            }
        }
        Ok(())
    }

    /// The definition as written.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The cohort's id.
    pub fn id(&self) -> &str {
        &self.definition.id
    }

    /// The loaded codelists.
    pub fn codelists(&self) -> &IndexMap<String, Codelist> {
        &self.codelists
    }

    /// The parameters' default values.
    pub fn parameter_defaults(&self) -> &IndexMap<String, Value> {
        &self.parameters
    }

    /// The checked variables, each after the variables it uses.
    pub fn variables(&self) -> impl Iterator<Item = &VariableDef> {
        self.variables.values()
    }

    /// Each variable's place in its chain of variables: 0 for one that uses no other, else
    /// one more than the highest of those it uses. In the order of [`Cohort::variables`].
    pub fn variable_levels(&self) -> IndexMap<&str, usize> {
        let mut levels: IndexMap<&str, usize> = IndexMap::new();
        for var in self.variables() {
            let level = (var.depends_on.iter())
                .filter_map(|d| levels.get(d.as_str()))
                .max()
                .map_or(0, |l| l + 1);
            levels.insert(&var.name, level);
        }
        levels
    }

    /// A checked variable by name.
    pub fn variable(&self, name: &str) -> Option<&VariableDef> {
        self.variables.get(name)
    }

    /// The checked rules, in order.
    pub fn rules(&self) -> &[RuleDef] {
        &self.rules
    }

    /// `rules` checked as this cohort's rules would be, in place of its own: over its
    /// variables and parameters, each named (`rule N` by its place if not).
    pub(crate) fn check_other_rules(
        &self,
        rules: &[Rule],
        limits: &Limits,
    ) -> Result<Vec<RuleDef>> {
        check_rules(rules, &self.variables, &self.parameters, limits)
    }

    /// The output columns besides `person_id`.
    pub fn output_columns(&self) -> &[String] {
        &self.definition.output.columns
    }

    /// The parameter values for a run: the defaults overridden by `overrides`, which must
    /// be declared and of the declared type (a whole number may stand for a decimal one).
    /// Window bounds are checked with the resulting values.
    pub fn bind(&self, overrides: &Parameters) -> Result<IndexMap<String, Value>> {
        let mut values = self.parameters.clone();
        for (name, value) in overrides.iter() {
            let Some(default) = values.get_mut(name) else {
                return Err(CaasError::UnknownParameter {
                    name: name.to_string(),
                    declared: declared_list(self.parameters.keys()),
                });
            };
            *default = match (&*default, value) {
                (Value::Float(_), Value::Int(n)) => Value::Float(n as f64),
                // Text from JSON, YAML or a command line stands for a date where one is
                // declared; a text parameter keeps it as text.
                (Value::Date(_), Value::Text(text)) => match iso_date(&text) {
                    Some(date) => Value::Date(date),
                    None => {
                        return Err(CaasError::type_mismatch(
                            &Place::Parameter(name.to_string()),
                            "declared as date, given text that is not a date (YYYY-MM-DD)",
                        ));
                    }
                },
                (d, v) if d.data_type() == v.data_type() => v,
                (d, v) => {
                    return Err(CaasError::type_mismatch(
                        &Place::Parameter(name.to_string()),
                        format!("declared as {}, given {}", d.data_type(), v.data_type()),
                    ));
                }
            };
            check_parameter(name, default)?;
        }
        check_windows(self.variables.values(), &values)?;
        Ok(values)
    }

    /// Types of the variables when the person table's columns have the types
    /// `person_column` gives, and the columns of event tables those `event_column` gives
    /// (by table and column).
    pub fn variable_types(
        &self,
        person_column: &dyn Fn(&str) -> Option<Type>,
        event_column: &dyn Fn(&str, &str) -> Option<Type>,
    ) -> Result<IndexMap<String, Type>> {
        let mut types: IndexMap<String, Type> = IndexMap::new();
        for var in self.variables.values() {
            let t = match &var.kind {
                VariableKind::PersonColumn { column } => person_column(column).unwrap_or(Type::Any),
                VariableKind::Events(EventSelection {
                    table,
                    column: Some(column),
                    ..
                }) => event_column(table, column).unwrap_or(Type::Any),
                VariableKind::Derived { expr } => {
                    let resolve = |n: &str| {
                        types
                            .get(n)
                            .copied()
                            .or_else(|| self.parameters.get(n).map(Value::data_type))
                    };
                    infer_type(expr, &resolve, &Place::Variable(var.name.clone()))?
                }
                _ => var.data_type,
            };
            types.insert(var.name.clone(), t);
        }
        Ok(types)
    }
}

/// How deep YAML's brackets may nest: as deep as the YAML reader itself goes.
const MAX_YAML_NESTING: usize = 128;

/// `text`, unless its flow collections (`[...]`, `{...}`) nest deeper than the YAML reader
/// goes: the reader refuses those too, but only after a pass whose time grows with the
/// square of the depth (48 s for 200 KB of brackets), so they are refused here first, in
/// one pass. Quoted text and comments are skipped; a stray bracket in a plain value at
/// worst counts one level too many.
///
/// ```
/// use caas_core::Cohort;
/// let text = format!("id: {}x{}", "[".repeat(100_000), "]".repeat(100_000));
/// let err = Cohort::from_yaml_str(&text).unwrap_err();
/// assert_eq!(err.to_string(), "YAML error at line 1, column 133: nested deeper than 128 levels");
/// ```
fn check_yaml_nesting(text: &str) -> Result<&str> {
    let (mut depth, mut line, mut column) = (0usize, 1, 0);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        column += 1;
        match (quote, c) {
            // A quote left open at the end of a line is most likely an apostrophe.
            (_, '\n') => (line, column, comment, quote) = (line + 1, 0, false, None),
            _ if comment => {}
            (Some('"'), '\\') => {
                chars.next();
                column += 1;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_YAML_NESTING {
                    let message = format!("nested deeper than {MAX_YAML_NESTING} levels");
                    return Err(syntax_error(Format::Yaml, line, column, message));
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(text)
}

fn syntax_error(format: Format, line: usize, column: usize, message: String) -> CaasError {
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    CaasError::Syntax {
        format,
        line,
        column,
        message,
    }
}

/// `error`, where it is a syntax error of an expression, with the line of `text` where the
/// expression is: the first line holding its first line, after the line that names its
/// variable or rule where there is one (a quoted or escaped expression is not found).
fn with_line(error: CaasError, text: &str) -> CaasError {
    let CaasError::ExpressionSyntax {
        place,
        column,
        message,
        expression,
        suggestion,
        ..
    } = error
    else {
        return error;
    };
    let first = expression.lines().next().unwrap_or("").trim();
    // A variable's key (`name:` in YAML, `"name":` in JSON), a rule's `name` field.
    let names_it = |line: &str| match &place {
        Place::Variable(name) => {
            let key = line.trim_start().trim_start_matches('"');
            key.strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with("\":"))
        }
        Place::Rule { name, .. } => line.contains(&format!("name: {name}")),
        _ => false,
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| names_it(l)).unwrap_or(0);
    let holds = |l: &&str| !first.is_empty() && l.contains(first);
    let found = (lines.iter().skip(start).position(holds).map(|i| i + start))
        .or_else(|| lines.iter().position(holds));
    CaasError::ExpressionSyntax {
        place,
        column,
        message,
        expression,
        line: found.and_then(|i| u32::try_from(i + 1).ok()),
        suggestion,
    }
}

fn declared_list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "no parameters".to_string()
    } else {
        names.join(", ")
    }
}

/// Refuses a parameter value that no engine holds alike: a date outside the years 0001 to
/// 9999 (year 0 would give negative ages; Python and SQL have no later years) and a
/// decimal that is not finite (a NaN is neither greater nor smaller than anything).
fn check_parameter(name: &str, value: &Value) -> Result<()> {
    let problem = match value {
        Value::Date(d) if !(1..=9999).contains(&d.year()) => {
            "a date outside the years 0001 to 9999"
        }
        Value::Float(x) if !x.is_finite() => "a number that is not finite",
        _ => return Ok(()),
    };
    Err(CaasError::type_mismatch(
        &Place::Parameter(name.to_string()),
        problem,
    ))
}

fn check_name(name: &str, place: Place) -> Result<()> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let valid = starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let lower = name.to_ascii_lowercase();
    if !valid || KEYWORDS.contains(&lower.as_str()) {
        return Err(CaasError::invalid(
            place,
            "a name must start with a letter or `_`, hold only letters, digits and `_`, and not be a keyword",
        ));
    }
    Ok(())
}

fn check(definition: Definition, base_dir: &Path, limits: &Limits) -> Result<Cohort> {
    let mut parameters = IndexMap::new();
    for (name, raw) in &definition.parameters {
        check_name(name, Place::Parameter(name.clone()))?;
        let value = Value::from(raw);
        check_parameter(name, &value)?;
        parameters.insert(name.clone(), value);
    }

    let mut codelists = IndexMap::new();
    for (name, spec) in &definition.codelists {
        codelists.insert(name.clone(), Codelist::load(name, spec, base_dir, limits)?);
    }

    let mut parsed: IndexMap<String, (VariableKind, Vec<String>)> = IndexMap::new();
    for (name, var) in &definition.variables {
        let place = Place::Variable(name.clone());
        check_name(name, place.clone())?;
        if parameters.contains_key(name) {
            return Err(CaasError::invalid(place, "a parameter has the same name"));
        }
        let kind = parse_variable(var, &place, &codelists, limits.max_expression_depth)?;
        let names = kind_names(&kind);
        parsed.insert(name.clone(), (kind, names));
    }

    // A `where` names the event's columns too, which only the tables tell: here its names
    // that are other variables are dependencies, and the rest are checked on compiling.
    let variable_names: HashSet<String> = parsed.keys().cloned().collect();
    for (name, (kind, names)) in parsed.iter_mut() {
        if let VariableKind::Events(EventSelection {
            condition: Some(condition),
            ..
        }) = kind
        {
            for n in condition.names() {
                if n != name && variable_names.contains(n) && !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
    }

    for (name, (_, names)) in &parsed {
        for n in names {
            if !parsed.contains_key(n) && !parameters.contains_key(n) {
                let known = parsed.keys().chain(parameters.keys()).map(String::as_str);
                let place = Place::Variable(name.clone());
                return Err(CaasError::unknown(place, "variable or parameter", n, known));
            }
        }
    }

    let order = topological_order(&parsed)?;
    let mut variables: IndexMap<String, VariableDef> = IndexMap::new();
    for name in order {
        let Some((kind, names)) = parsed.shift_remove(&name) else {
            continue;
        };
        let place = Place::Variable(name.clone());
        let resolve = |n: &str| {
            variables
                .get(n)
                .map(|v| v.data_type)
                .or_else(|| parameters.get(n).map(Value::data_type))
        };
        let data_type = variable_type(&kind, &resolve, &parameters, &place, &definition.id)?;
        let depends_on = names
            .into_iter()
            .filter(|n| variables.contains_key(n))
            .collect::<Vec<_>>();
        variables.insert(
            name.clone(),
            VariableDef {
                name,
                kind,
                data_type,
                depends_on,
            },
        );
    }

    let rules = check_rules(&definition.rules, &variables, &parameters, limits)?;
    check_output(&definition, &variables)?;
    check_windows(variables.values(), &parameters)?;
    let cohort = Cohort {
        definition,
        codelists,
        parameters,
        variables,
        rules,
    };
    cohort.check_limits(limits)?;
    Ok(cohort)
}

fn parse_variable(
    var: &Variable,
    place: &Place,
    codelists: &IndexMap<String, Codelist>,
    max_depth: usize,
) -> Result<VariableKind> {
    let parse = |text: &str, place: &Place| parse_with_depth(text, place, max_depth);
    let parse_opt =
        |text: &Option<String>, place: &Place| text.as_deref().map(|t| parse(t, place)).transpose();
    Ok(match var {
        Variable::Age { on, unit } => VariableKind::Age {
            on: parse(on, place)?,
            unit: *unit,
        },
        Variable::Sex => VariableKind::Sex,
        Variable::Alive { on } => VariableKind::Alive {
            on: parse(on, place)?,
        },
        Variable::Registered { table, on } => VariableKind::Registered {
            table: table.clone(),
            on: parse(on, place)?,
        },
        Variable::Practice { table, on } => VariableKind::Practice {
            table: table.clone(),
            on: parse(on, place)?,
        },
        Variable::PersonColumn { column } => VariableKind::PersonColumn {
            column: column.clone(),
        },
        Variable::Events(ev) => {
            for list in &ev.codelists {
                if !codelists.contains_key(list) {
                    let known = codelists.keys().map(String::as_str);
                    return Err(CaasError::unknown(place.clone(), "codelist", list, known));
                }
            }
            if let (Some(lo), Some(hi)) = (ev.min_value, ev.max_value)
                && lo > hi
            {
                return Err(CaasError::invalid(
                    place.clone(),
                    format!("min_value {lo} is greater than max_value {hi}"),
                ));
            }
            if !ev.ties.is_code() && !ev.returns.takes_one_event() {
                return Err(CaasError::invalid(
                    place.clone(),
                    "`ties` chooses among events on one date: give it only with first_value, \
                     last_value, first_code or last_code",
                ));
            }
            let order_by = match ev.order_by.split_first() {
                None => &[][..],
                Some((first, rest)) if first == "date" => rest,
                Some(_) => {
                    return Err(CaasError::invalid(
                        place.clone(),
                        "`order_by` starts with `date`: events are first ordered in time",
                    ));
                }
            };
            if let Some(again) = (order_by.iter().enumerate())
                .find(|(i, c)| *c == "date" || order_by[..*i].contains(c))
                .map(|(_, c)| c)
            {
                return Err(CaasError::invalid(
                    place.clone(),
                    format!("`order_by` names `{again}` twice"),
                ));
            }
            if !order_by.is_empty() && !ev.returns.takes_one_event() {
                return Err(CaasError::invalid(
                    place.clone(),
                    "`order_by` decides the first and last event: give it only with \
                     first_value, last_value, first_code or last_code",
                ));
            }
            if !order_by.is_empty() && !ev.ties.is_code() {
                return Err(CaasError::invalid(
                    place.clone(),
                    "give `ties` or `order_by`, not both: each decides the ties of a date",
                ));
            }
            if ev.column.is_some()
                && !matches!(ev.returns, Aggregation::FirstValue | Aggregation::LastValue)
            {
                return Err(CaasError::invalid(
                    place.clone(),
                    "`column` names what the chosen event gives: give it only with \
                     first_value or last_value",
                ));
            }
            match (ev.returns == Aggregation::CountEpisodes, ev.gap_days) {
                (true, Some(1..)) | (false, None) => {}
                (true, _) => {
                    return Err(CaasError::invalid(
                        place.clone(),
                        "count_episodes needs `gap_days`, the days (1 or more) from one \
                         event to the next that start a new episode",
                    ));
                }
                (false, Some(_)) => {
                    return Err(CaasError::invalid(
                        place.clone(),
                        "`gap_days` separates episodes: give it only with count_episodes",
                    ));
                }
            }
            VariableKind::Events(EventSelection {
                table: ev.table.clone(),
                codelists: ev.codelists.clone(),
                from: parse_opt(&ev.from, place)?,
                to: parse_opt(&ev.to, place)?,
                min_value: ev.min_value,
                max_value: ev.max_value,
                condition: parse_opt(&ev.condition, place)?,
                returns: ev.returns,
                ties: ev.ties,
                order_by: order_by.to_vec(),
                column: ev.column.clone(),
                gap_days: ev.gap_days,
            })
        }
        Variable::Derived { expr } => VariableKind::Derived {
            expr: parse(expr, place)?,
        },
        Variable::MemberOf { cohort } => VariableKind::MemberOf {
            cohort: cohort.clone(),
        },
    })
}

/// The expressions of a variable over persons and parameters: all but an event
/// condition, which is over the event's columns.
fn person_expressions(kind: &VariableKind) -> Vec<&Expr> {
    match kind {
        VariableKind::Age { on, .. }
        | VariableKind::Alive { on }
        | VariableKind::Registered { on, .. }
        | VariableKind::Practice { on, .. } => vec![on],
        VariableKind::Events(ev) => ev.from.iter().chain(ev.to.iter()).collect(),
        VariableKind::Derived { expr } => vec![expr],
        VariableKind::Sex | VariableKind::PersonColumn { .. } | VariableKind::MemberOf { .. } => {
            vec![]
        }
    }
}

fn kind_names(kind: &VariableKind) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in person_expressions(kind) {
        for n in e.names() {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
    }
    names
}

fn topological_order(
    parsed: &IndexMap<String, (VariableKind, Vec<String>)>,
) -> Result<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        parsed: &IndexMap<String, (VariableKind, Vec<String>)>,
        marks: &mut HashMap<String, Mark>,
        stack: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<()> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == name).unwrap_or(0);
                let mut path = stack[start..].to_vec();
                path.push(name.to_string());
                return Err(CaasError::Cycle {
                    what: "variables",
                    path,
                });
            }
            None => {}
        }
        let Some((_, deps)) = parsed.get(name) else {
            return Ok(());
        };
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        for dep in deps {
            if parsed.contains_key(dep) {
                visit(dep, parsed, marks, stack, order)?;
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        order.push(name.to_string());
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut order = Vec::new();
    for name in parsed.keys() {
        visit(name, parsed, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

fn expect_type(
    expr: &Expr,
    wanted: Type,
    resolve: &dyn Fn(&str) -> Option<Type>,
    place: &Place,
    what: &str,
) -> Result<()> {
    let t = infer_type(expr, resolve, place)?;
    if t == wanted || matches!(t, Type::Null | Type::Any) {
        Ok(())
    } else {
        Err(CaasError::type_mismatch(
            place,
            format!("{what} must be a {wanted}, found {t}"),
        ))
    }
}

/// A date that must be known before any data is read: only parameters and literals.
fn expect_constant(
    expr: &Expr,
    parameters: &IndexMap<String, Value>,
    place: &Place,
    what: &str,
) -> Result<()> {
    if let Some(name) = expr
        .names()
        .into_iter()
        .find(|n| !parameters.contains_key(*n))
    {
        return Err(CaasError::invalid(
            place.clone(),
            format!("{what} may use only parameters and literals, not `{name}`"),
        ));
    }
    let resolve = |n: &str| parameters.get(n).map(Value::data_type);
    expect_type(expr, Type::Date, &resolve, place, what)?;
    eval_constant(expr, parameters, place)?;
    Ok(())
}

fn variable_type(
    kind: &VariableKind,
    resolve: &dyn Fn(&str) -> Option<Type>,
    parameters: &IndexMap<String, Value>,
    place: &Place,
    own_id: &str,
) -> Result<Type> {
    Ok(match kind {
        VariableKind::Age { on, .. } => {
            expect_type(on, Type::Date, resolve, place, "`on`")?;
            Type::Int
        }
        VariableKind::Sex => Type::Text,
        VariableKind::Alive { on } => {
            expect_type(on, Type::Date, resolve, place, "`on`")?;
            Type::Bool
        }
        VariableKind::Registered { on, .. } => {
            expect_constant(on, parameters, place, "`on`")?;
            Type::Bool
        }
        VariableKind::Practice { on, .. } => {
            expect_constant(on, parameters, place, "`on`")?;
            Type::Text
        }
        VariableKind::PersonColumn { .. } => Type::Any,
        VariableKind::Events(ev) => {
            for bound in ev.from.iter().chain(ev.to.iter()) {
                expect_type(bound, Type::Date, resolve, place, "a window bound")?;
            }
            // The column's type is the table's, known when the cohort is compiled.
            if ev.column.is_some() {
                return Ok(Type::Any);
            }
            match ev.returns {
                Aggregation::Exists => Type::Bool,
                Aggregation::Count
                | Aggregation::CountDistinctCodes
                | Aggregation::CountDistinctDates
                | Aggregation::CountEpisodes => Type::Int,
                Aggregation::FirstDate | Aggregation::LastDate => Type::Date,
                Aggregation::FirstCode | Aggregation::LastCode => Type::Text,
                Aggregation::FirstValue
                | Aggregation::LastValue
                | Aggregation::MinValue
                | Aggregation::MaxValue
                | Aggregation::Sum
                | Aggregation::Mean => Type::Float,
            }
        }
        VariableKind::Derived { expr } => {
            let t = infer_type(expr, resolve, place)?;
            if t == Type::Duration {
                return Err(CaasError::type_mismatch(
                    place,
                    "a duration is not a value; add it to a date",
                ));
            }
            t
        }
        VariableKind::MemberOf { cohort } => {
            if cohort == own_id {
                return Err(CaasError::Cycle {
                    what: "cohorts",
                    path: vec![own_id.to_string(), own_id.to_string()],
                });
            }
            Type::Bool
        }
    })
}

fn check_rules(
    given: &[Rule],
    variables: &IndexMap<String, VariableDef>,
    parameters: &IndexMap<String, Value>,
    limits: &Limits,
) -> Result<Vec<RuleDef>> {
    let resolve = |n: &str| {
        variables
            .get(n)
            .map(|v| v.data_type)
            .or_else(|| parameters.get(n).map(Value::data_type))
    };
    let mut names = HashSet::new();
    let mut rules = Vec::new();
    for (i, rule) in given.iter().enumerate() {
        let index = i + 1;
        let name = rule.name.clone().unwrap_or_else(|| format!("rule {index}"));
        let place = Place::Rule {
            index,
            name: name.clone(),
        };
        if !names.insert(name.clone()) {
            return Err(CaasError::invalid(place, "another rule has the same name"));
        }
        let (text, exclude) = match (&rule.include, &rule.exclude) {
            (Some(t), None) => (t, false),
            (None, Some(t)) => (t, true),
            _ => {
                return Err(CaasError::invalid(
                    place,
                    "a rule gives exactly one of `include` and `exclude`",
                ));
            }
        };
        let expr = parse_with_depth(text, &place, limits.max_expression_depth)?;
        if let Some(unknown) = expr.names().into_iter().find(|n| resolve(n).is_none()) {
            let known = variables
                .keys()
                .chain(parameters.keys())
                .map(String::as_str);
            let what = "variable or parameter";
            return Err(CaasError::unknown(place, what, unknown, known));
        }
        expect_type(&expr, Type::Bool, &resolve, &place, "a rule")?;
        rules.push(RuleDef {
            name,
            exclude,
            expr,
            place,
        });
    }
    Ok(rules)
}

fn check_output(definition: &Definition, variables: &IndexMap<String, VariableDef>) -> Result<()> {
    let mut seen = HashSet::new();
    for column in &definition.output.columns {
        if !variables.contains_key(column) {
            let known = variables.keys().map(String::as_str);
            return Err(CaasError::unknown(Place::Output, "variable", column, known));
        }
        if !seen.insert(column) {
            return Err(CaasError::invalid(
                Place::Output,
                format!("column `{column}` is listed twice"),
            ));
        }
    }
    Ok(())
}

/// Windows of constant bounds must not end before they start, with the parameters of the
/// run. A window over the person's variables may be empty for some people: it selects
/// nothing for them.
fn check_windows<'a>(
    variables: impl Iterator<Item = &'a VariableDef>,
    parameters: &IndexMap<String, Value>,
) -> Result<()> {
    for var in variables {
        let VariableKind::Events(ev) = &var.kind else {
            continue;
        };
        let (Some(from), Some(to)) = (&ev.from, &ev.to) else {
            continue;
        };
        let constant = |e: &Expr| e.names().iter().all(|n| parameters.contains_key(*n));
        if !constant(from) || !constant(to) {
            continue;
        }
        let place = Place::Variable(var.name.clone());
        let from = eval_constant(from, parameters, &place)?;
        let to = eval_constant(to, parameters, &place)?;
        if let (Some(Value::Date(f)), Some(Value::Date(t))) = (&from, &to)
            && t < f
        {
            return Err(CaasError::EmptyWindow {
                place,
                from: f.to_string(),
                to: t.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of the error that checking an event variable with `fields` gives.
    fn event_error(fields: &str) -> String {
        let text = format!(
            "id: c\ntitle: T\npurpose: direct_care\n\
             codelists: {{ bmi: {{ system: snomed_ct, codes: [\"60621009\"] }} }}\n\
             variables:\n  v: {{ kind: events, table: gp, codelists: [bmi], {fields} }}\n"
        );
        match Cohort::from_yaml_str(&text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const TYPO: &str = "id: c
title: T
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: [\"195967001\"] }
variables:
  recent:
    kind: events
    table: gp
    codelists: [asthma]
    from: index_date - 12 mnths
    returns: exists
";

    #[test]
    fn an_expression_error_quotes_its_line_with_a_caret_and_a_suggestion() {
        let error = Cohort::from_yaml_str(TYPO).map(|_| ()).unwrap_err();
        // The caret is under the `m` of `mnths`, the 17th character of the expression.
        let caret = format!("{}^", " ".repeat("line 12: ".len() + 16));
        assert_eq!(
            error.to_string(),
            format!(
                "variable `recent`: cannot parse expression at character 17: unexpected \
                 text after the expression (did you mean `months`?)\n  \
                 line 12: index_date - 12 mnths\n  {caret}"
            )
        );
        // Without the definition's text (a builder's), no line; a word far from any
        // keyword, no suggestion.
        let bare = parse_with_depth("a + + b", &Place::Definition, 10).unwrap_err();
        assert_eq!(
            bare.to_string(),
            "definition: cannot parse expression at character 5: unexpected `+`\n  \
             a + + b\n      ^"
        );
    }

    /// [`TYPO`] with its duration written right.
    fn fixed() -> String {
        TYPO.replace("12 mnths", "12 months")
    }

    #[test]
    fn a_long_expression_is_shown_around_the_place() {
        let text = format!("{} + + b", vec!["a"; 100].join(" + "));
        let error = parse_with_depth(&text, &Place::Definition, 1000).unwrap_err();
        let message = error.to_string();
        let shown = message.lines().nth(1).unwrap();
        // 60 characters before the place, 3 from it to the end, and a mark of the cut.
        assert_eq!(shown.chars().count(), 2 + 1 + 60 + 3);
        assert!(
            shown.starts_with("  …") && shown.ends_with("+ + b"),
            "{message}"
        );
        let caret = message.lines().nth(2).unwrap();
        assert_eq!(caret, format!("{}^", " ".repeat(2 + 1 + 60)));
    }

    #[test]
    fn an_unknown_name_suggests_the_nearest_known_one() {
        let cases = [
            (
                format!("{}  later: {{ kind: derived, expr: recnt }}\n", fixed()),
                "variable `later`: unknown variable or parameter `recnt` (did you mean `recent`?)",
            ),
            (
                format!("{}rules: [ {{ name: r, include: recnet }} ]\n", fixed()),
                "rule 1 (`r`): unknown variable or parameter `recnet` (did you mean `recent`?)",
            ),
            (
                fixed().replace("[asthma]", "[athsma]"),
                "variable `recent`: unknown codelist `athsma` (did you mean `asthma`?)",
            ),
            (
                format!("{}  later: {{ kind: derived, expr: zzz }}\n", fixed()),
                "variable `later`: unknown variable or parameter `zzz`",
            ),
        ];
        for (text, message) in cases {
            let error = Cohort::from_yaml_str(&text).map(|_| ()).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn row_choice_is_checked_with_the_aggregate() {
        let cases = [
            (
                "returns: count, order_by: [date, value]",
                "give it only with first_value",
            ),
            (
                "returns: last_value, ties: max_value, order_by: [date, value]",
                "give `ties` or `order_by`, not both",
            ),
            (
                "returns: last_value, order_by: [date, value, value]",
                "names `value` twice",
            ),
            (
                "returns: last_value, order_by: [date, date]",
                "names `date` twice",
            ),
            (
                "returns: last_code, column: practice",
                "give it only with first_value or last_value",
            ),
        ];
        for (fields, message) in cases {
            let error = event_error(fields);
            assert!(error.contains(message), "{fields}: {error}");
            assert!(error.contains("variable `v`"), "{fields}: {error}");
        }
        assert_eq!(event_error("returns: last_value, order_by: [date]"), "");
    }
}
