//! A deliberately simple reference evaluator of cohort definitions: plain Rust over rows,
//! one person at a time, written from the semantics of the definition format and sharing
//! nothing with the engine's compiler. [`crate::differential`] compares it with the engine.
//!
//! It reads the checked [`Cohort`] (parsed expressions, variables in dependency order) and
//! uses [`caas_core::Codelist::matches`] and [`add_duration`] from the crate; everything else
//! (three-valued logic, aggregates, ties, typing of results) is implemented here.
//!
//! Nulls are `None`. A person table has an integer `person_id` and the canonical columns
//! `date_of_birth`, `date_of_death` and `sex`; an event table has `person_id`, `date`, `code`
//! and optionally `value`; a period table has `person_id`, `start_date`, `end_date` and
//! `practice`. Other columns are looked up by name.

use std::cmp::Ordering;

use caas_core::Value;
use caas_core::model::expr::{
    BinaryOp, Duration, DurationUnit, Expr, Function, Literal, Type, UnaryOp, add_duration,
};
use caas_core::model::{Aggregation, Cohort, EventSelection, Ties, VariableKind};
use chrono::{Datelike, NaiveDate};
use indexmap::IndexMap;

/// One value of a table or of a variable; `None` is null.
pub type Cell = Option<Value>;

/// A table as typed columns and rows of cells.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names and their types.
    pub columns: Vec<(String, Type)>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The position of a column.
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(name, _)| name == column)
    }

    fn type_of(&self, column: &str) -> Option<Type> {
        self.columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, t)| *t)
    }
}

/// The person table and the other tables by name.
#[derive(Debug, Clone)]
pub struct Database {
    /// One row per person.
    pub person: Table,
    /// Event and period tables.
    pub tables: IndexMap<String, Table>,
}

/// One row of the attrition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The rule's name.
    pub rule: String,
    /// Whether it excludes.
    pub exclude: bool,
    /// People before the rule.
    pub before: u64,
    /// People after it.
    pub after: u64,
}

/// What the reference computes.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every person (sorted by id) with every variable, in definition order.
    pub variables: Vec<(i64, Vec<Cell>)>,
    /// The members (sorted by id) with the output columns.
    pub members: Vec<(i64, Vec<Cell>)>,
    /// One step per rule.
    pub attrition: Vec<Step>,
}

/// Evaluates `cohort` over `db` with the bound `parameters` (see [`Cohort::bind`]).
pub fn evaluate(cohort: &Cohort, parameters: &IndexMap<String, Value>, db: &Database) -> Outcome {
    let reference = Reference {
        cohort,
        parameters,
        db,
        types: variable_types(cohort, parameters, db),
    };
    let id_column = column_index(&db.person, "person_id");
    let mut persons: Vec<(i64, &[Cell])> = db
        .person
        .rows
        .iter()
        .map(|row| (as_int(&row[id_column]), row.as_slice()))
        .collect();
    persons.sort_by_key(|(id, _)| *id);

    let definition_order: Vec<&String> = cohort.definition().variables.keys().collect();
    let mut variables = Vec::new();
    let mut members = Vec::new();
    let mut passed = vec![0u64; cohort.rules().len()];
    for (id, row) in persons {
        let values = reference.person_variables(id, row);
        let lookup = |name: &str| reference.name(name, &values);
        let mut member = true;
        for (i, rule) in cohort.rules().iter().enumerate() {
            let satisfied = eval(&rule.expr, &lookup) == TRUE;
            member &= satisfied != rule.exclude;
            passed[i] += u64::from(member);
        }
        if member {
            let output = cohort
                .output_columns()
                .iter()
                .map(|c| values[c].clone())
                .collect();
            members.push((id, output));
        }
        let all = definition_order
            .iter()
            .map(|n| values[*n].clone())
            .collect();
        variables.push((id, all));
    }

    let mut before = variables.len() as u64;
    let attrition = cohort
        .rules()
        .iter()
        .zip(passed)
        .map(|(rule, after)| {
            let step = Step {
                rule: rule.name.clone(),
                exclude: rule.exclude,
                before,
                after,
            };
            before = after;
            step
        })
        .collect();
    Outcome {
        variables,
        members,
        attrition,
    }
}

struct Reference<'a> {
    cohort: &'a Cohort,
    parameters: &'a IndexMap<String, Value>,
    db: &'a Database,
    /// Static type of every variable, to type the results of derived variables.
    types: IndexMap<String, Type>,
}

impl Reference<'_> {
    /// A variable computed so far, else a parameter.
    fn name(&self, name: &str, values: &IndexMap<String, Cell>) -> Cell {
        match values.get(name) {
            Some(v) => v.clone(),
            None => self.parameter(name),
        }
    }

    fn parameter(&self, name: &str) -> Cell {
        match self.parameters.get(name) {
            Some(v) => Some(v.clone()),
            None => panic!("reference: unknown name `{name}`"),
        }
    }

    /// A constant (the dates of period variables): parameters and literals.
    fn constant(&self, expr: &Expr) -> Cell {
        eval(expr, &|name| self.parameter(name))
    }

    fn person_variables(&self, id: i64, row: &[Cell]) -> IndexMap<String, Cell> {
        let person = |column: &str| row[column_index(&self.db.person, column)].clone();
        let mut values: IndexMap<String, Cell> = IndexMap::new();
        for var in self.cohort.variables() {
            let lookup = |name: &str| self.name(name, &values);
            let value = match &var.kind {
                VariableKind::Age { on, unit } => between(
                    unit.duration_unit(),
                    &person("date_of_birth"),
                    &eval(on, &lookup),
                ),
                VariableKind::Sex => person("sex"),
                VariableKind::Alive { on } => {
                    let on = eval(on, &lookup);
                    let dod = person("date_of_death");
                    or(
                        Some(Value::Bool(dod.is_none())),
                        compare(Cmp::Gt, &dod, &on),
                    )
                }
                VariableKind::Registered { table, on } => {
                    Some(Value::Bool(self.covering(table, on, id).next().is_some()))
                }
                VariableKind::Practice { table, on } => self.practice(table, on, id),
                VariableKind::PersonColumn { column } => person(column),
                VariableKind::Events(selection) => self.events(selection, id, &values),
                VariableKind::Derived { expr } => {
                    coerce(eval(expr, &lookup), self.types[&var.name])
                }
                other => panic!("reference: unsupported variable kind {other:?}"),
            };
            values.insert(var.name.clone(), value);
        }
        values
    }

    /// The rows of the person's periods that cover the date `on`.
    fn covering<'t>(
        &'t self,
        table: &str,
        on: &Expr,
        id: i64,
    ) -> impl Iterator<Item = &'t [Cell]> + 't {
        let periods = &self.db.tables[table];
        let on = self.constant(on);
        let (pid, start, end) = (
            column_index(periods, "person_id"),
            column_index(periods, "start_date"),
            column_index(periods, "end_date"),
        );
        periods
            .rows
            .iter()
            .map(Vec::as_slice)
            .filter(move |row| as_int(&row[pid]) == id)
            .filter(move |row| {
                let started = compare(Cmp::LtEq, &row[start], &on);
                let open = row[end].is_none() || compare(Cmp::GtEq, &row[end], &on) == TRUE;
                started == TRUE && open
            })
    }

    fn practice(&self, table: &str, on: &Expr, id: i64) -> Cell {
        let periods = &self.db.tables[table];
        let (start, practice) = (
            column_index(periods, "start_date"),
            column_index(periods, "practice"),
        );
        self.covering(table, on, id)
            .max_by(|a, b| {
                order_cells(&a[start], &b[start]).then(order_cells(&a[practice], &b[practice]))
            })
            .and_then(|row| row[practice].clone())
    }

    /// The event variable `selection` of person `id`, whose earlier variables are `values`.
    fn events(&self, selection: &EventSelection, id: i64, values: &IndexMap<String, Cell>) -> Cell {
        let events = &self.db.tables[&selection.table];
        let column = |name: &str| events.index(name);
        let (pid, date, code) = (
            column_index(events, "person_id"),
            column_index(events, "date"),
            column_index(events, "code"),
        );
        let value_of = |row: &[Cell]| column("value").and_then(|i| row[i].clone());
        let codelists: Vec<_> = selection
            .codelists
            .iter()
            .map(|name| &self.cohort.codelists()[name])
            .collect();
        // Bounds over the person's variables and the parameters; a `where` names the
        // event's columns first.
        let person = |name: &str| self.name(name, values);
        let from = selection.from.as_ref().map(|e| eval(e, &person));
        let to = selection.to.as_ref().map(|e| eval(e, &person));

        let selected: Vec<&[Cell]> = events
            .rows
            .iter()
            .map(Vec::as_slice)
            .filter(|row| as_int(&row[pid]) == id)
            .filter(|row| row[date].is_some())
            .filter(|row| match &row[code] {
                None => false,
                Some(c) => {
                    let c = as_text(c);
                    codelists.is_empty() || codelists.iter().any(|list| list.matches(c))
                }
            })
            .filter(|row| {
                let after_from = from
                    .as_ref()
                    .is_none_or(|f| compare(Cmp::GtEq, &row[date], f) == TRUE);
                let before_to = to
                    .as_ref()
                    .is_none_or(|t| compare(Cmp::LtEq, &row[date], t) == TRUE);
                after_from && before_to
            })
            .filter(|row| {
                let value = value_of(row);
                let above = selection
                    .min_value
                    .is_none_or(|m| compare(Cmp::GtEq, &value, &Some(Value::Float(m))) == TRUE);
                let below = selection
                    .max_value
                    .is_none_or(|m| compare(Cmp::LtEq, &value, &Some(Value::Float(m))) == TRUE);
                above && below
            })
            .filter(|row| match &selection.condition {
                None => true,
                Some(condition) => {
                    let lookup = |name: &str| match column(name) {
                        Some(i) => row[i].clone(),
                        None => person(name),
                    };
                    eval(condition, &lookup) == TRUE
                }
            })
            .collect();

        // First and last by (date, the `order_by` columns, code, value, the returned
        // column), a null smallest.
        let order_by: Vec<usize> = (selection.order_by.iter())
            .map(|c| column_index(events, c))
            .collect();
        let by_returned = |a: &&[Cell], b: &&[Cell]| match &selection.column {
            Some(c) => {
                let i = column_index(events, c);
                order_cells(&a[i], &b[i])
            }
            None => Ordering::Equal,
        };
        let by_time = |a: &&[Cell], b: &&[Cell]| {
            let columns = order_by.iter().map(|i| order_cells(&a[*i], &b[*i]));
            columns
                .fold(order_cells(&a[date], &b[date]), Ordering::then)
                .then(order_cells(&a[code], &b[code]))
                .then(order_cells(&value_of(a), &value_of(b)))
                .then(by_returned(a, b))
        };
        // What a first or last value returns: the value, or the chosen event's column.
        let returned = |row: &[Cell]| match &selection.column {
            Some(c) => row[column_index(events, c)].clone(),
            None => value_of(row),
        };
        // With ties by value: of the events on the first (last) date, the largest
        // (smallest) value wins, a missing one only where none has one, then the code.
        let by_value = |a: &&[Cell], b: &&[Cell]| {
            let (x, y) = (value_of(a), value_of(b));
            match (&x, &y, selection.ties) {
                (Some(x), Some(y), Ties::MaxValue) => order_values(x, y),
                (Some(x), Some(y), _) => order_values(y, x),
                (Some(_), None, _) => Ordering::Greater,
                (None, Some(_), _) => Ordering::Less,
                (None, None, _) => Ordering::Equal,
            }
        };
        let on = |day: Cell| selected.iter().copied().filter(move |row| row[date] == day);
        // The first (`last` false) or last event.
        let pick = |last: bool| match selection.ties {
            Ties::Code if last => selected.iter().copied().max_by(by_time),
            Ties::Code => selected.iter().copied().min_by(by_time),
            _ => {
                let dates = selected.iter().map(|row| row[date].clone());
                let day = if last {
                    dates.max_by(order_cells)
                } else {
                    dates.min_by(order_cells)
                }?;
                // The winner is the greatest by value; of equal values, the greatest code
                // for a last and the smallest for a first.
                on(day).max_by(|a, b| {
                    let rest = order_cells(&a[code], &b[code]).then(by_returned(a, b));
                    by_value(a, b).then(if last { rest } else { rest.reverse() })
                })
            }
        };
        let first = || pick(false);
        let last = || pick(true);
        let dates = || selected.iter().map(|row| row[date].clone());
        let values = || selected.iter().filter_map(|row| value_of(row));
        match selection.returns {
            Aggregation::Exists => Some(Value::Bool(!selected.is_empty())),
            Aggregation::Count => Some(Value::Int(selected.len() as i64)),
            Aggregation::FirstDate => dates().min_by(order_cells).flatten(),
            Aggregation::LastDate => dates().max_by(order_cells).flatten(),
            Aggregation::FirstValue => first().and_then(returned),
            Aggregation::LastValue => last().and_then(returned),
            Aggregation::FirstCode => first().and_then(|row| row[code].clone()),
            Aggregation::LastCode => last().and_then(|row| row[code].clone()),
            Aggregation::MinValue => values().min_by(order_values),
            Aggregation::MaxValue => values().max_by(order_values),
            Aggregation::Sum => values()
                .map(|v| as_float(&v))
                .reduce(|a, b| a + b)
                .map(Value::Float),
            Aggregation::Mean => {
                let values: Vec<f64> = values().map(|v| as_float(&v)).collect();
                (!values.is_empty())
                    .then(|| Value::Float(values.iter().sum::<f64>() / values.len() as f64))
            }
            Aggregation::CountDistinctCodes | Aggregation::CountDistinctDates => {
                let column = if selection.returns == Aggregation::CountDistinctCodes {
                    code
                } else {
                    date
                };
                let mut seen: Vec<&Value> = selected
                    .iter()
                    .filter_map(|row| row[column].as_ref())
                    .collect();
                seen.sort_by(|a, b| order_values(a, b));
                seen.dedup();
                Some(Value::Int(seen.len() as i64))
            }
            // An episode starts at the first date, and at each date at least the gap after
            // the one before it.
            Aggregation::CountEpisodes => {
                // A definition's check gives every count of episodes its gap.
                let gap = i64::from(selection.gap_days?);
                let mut days: Vec<NaiveDate> = dates().flatten().map(|d| as_date(&d)).collect();
                days.sort();
                days.dedup();
                let starts = days
                    .iter()
                    .enumerate()
                    .filter(|(i, d)| *i == 0 || (**d - days[i - 1]).num_days() >= gap)
                    .count();
                Some(Value::Int(starts as i64))
            }
        }
    }
}

const TRUE: Cell = Some(Value::Bool(true));

fn column_index(table: &Table, column: &str) -> usize {
    table
        .index(column)
        .unwrap_or_else(|| panic!("reference: no column `{column}`"))
}

fn as_int(cell: &Cell) -> i64 {
    match cell {
        Some(Value::Int(n)) => *n,
        other => panic!("reference: expected an integer, found {other:?}"),
    }
}

fn as_text(value: &Value) -> &str {
    match value {
        Value::Text(s) => s,
        other => panic!("reference: expected text, found {other:?}"),
    }
}

fn as_float(value: &Value) -> f64 {
    match value {
        Value::Int(n) => *n as f64,
        Value::Float(x) => *x,
        other => panic!("reference: expected a number, found {other:?}"),
    }
}

/// `integer`, `decimal` or `boolean` of a number or a boolean.
fn cast_value(value: Value, to: Type) -> Value {
    let number = match &value {
        Value::Bool(b) => f64::from(u8::from(*b)),
        other => as_float(other),
    };
    match (to, value) {
        (Type::Int, Value::Int(n)) => Value::Int(n),
        (Type::Int, _) => {
            let whole = number.trunc();
            assert!(
                whole.abs() < 9.0e18,
                "reference: integer({number}) is out of range"
            );
            Value::Int(whole as i64)
        }
        (Type::Float, _) => Value::Float(number),
        (Type::Bool, Value::Bool(b)) => Value::Bool(b),
        (Type::Bool, _) => Value::Bool(number != 0.0),
        (other, _) => panic!("reference: no cast to {other}"),
    }
}

fn as_date(value: &Value) -> NaiveDate {
    match value {
        Value::Date(d) => *d,
        other => panic!("reference: expected a date, found {other:?}"),
    }
}

/// The order of two non-null values of one type (numbers compare by value).
fn order_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => as_float(a)
            .partial_cmp(&as_float(b))
            .expect("reference: NaN"),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => panic!("reference: cannot compare {a:?} with {b:?}"),
    }
}

/// The order of two cells, null smallest (for ties in aggregates).
fn order_cells(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => order_values(a, b),
    }
}

#[derive(Clone, Copy)]
enum Cmp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// A SQL comparison: null if either side is null.
fn compare(cmp: Cmp, a: &Cell, b: &Cell) -> Cell {
    let (Some(a), Some(b)) = (a, b) else {
        return None;
    };
    let order = order_values(a, b);
    Some(Value::Bool(match cmp {
        Cmp::Eq => order == Ordering::Equal,
        Cmp::NotEq => order != Ordering::Equal,
        Cmp::Lt => order == Ordering::Less,
        Cmp::LtEq => order != Ordering::Greater,
        Cmp::Gt => order == Ordering::Greater,
        Cmp::GtEq => order != Ordering::Less,
    }))
}

fn as_bool(cell: &Cell) -> Option<bool> {
    match cell {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => panic!("reference: expected a boolean, found {other:?}"),
    }
}

/// Kleene `and`: false wins over null.
fn and(a: Cell, b: Cell) -> Cell {
    match (as_bool(&a), as_bool(&b)) {
        (Some(false), _) | (_, Some(false)) => Some(Value::Bool(false)),
        (Some(true), Some(true)) => Some(Value::Bool(true)),
        _ => None,
    }
}

/// Kleene `or`: true wins over null.
fn or(a: Cell, b: Cell) -> Cell {
    match (as_bool(&a), as_bool(&b)) {
        (Some(true), _) | (_, Some(true)) => Some(Value::Bool(true)),
        (Some(false), Some(false)) => Some(Value::Bool(false)),
        _ => None,
    }
}

fn not(a: Cell) -> Cell {
    as_bool(&a).map(|b| Value::Bool(!b))
}

/// Whole years (like an age), months or days from `from` to `to`; null if either is
/// null. Read off the definition rather than a formula: the greatest `n` for which `from`
/// moved `n` units (by the crate's `add_duration`) is on or before `to`.
fn between(unit: DurationUnit, from: &Cell, to: &Cell) -> Cell {
    let (Some(from), Some(to)) = (from, to) else {
        return None;
    };
    let (from, to) = (as_date(from), as_date(to));
    if unit == DurationUnit::Days {
        return Some(Value::Int((to - from).num_days()));
    }
    let moved = |amount: i64| {
        add_duration(from, Duration { amount, unit })
            .unwrap_or_else(|| panic!("reference: {from} + {amount} {unit:?} is out of range"))
    };
    let per_year = if unit == DurationUnit::Years { 1 } else { 12 };
    let mut n = i64::from(to.year() - from.year()) * per_year;
    while moved(n) > to {
        n -= 1;
    }
    while moved(n + 1) <= to {
        n += 1;
    }
    Some(Value::Int(n))
}

/// A whole number where the static type is a decimal one becomes decimal.
fn coerce(cell: Cell, to: Type) -> Cell {
    match (cell, to) {
        (Some(Value::Int(n)), Type::Float) => Some(Value::Float(n as f64)),
        (cell, _) => cell,
    }
}

/// The duration `expr` is, as (amount, unit) — its amount evaluated if it is not a
/// literal, `None` inside if that is missing or cannot be negated.
fn duration(expr: &Expr, names: &dyn Fn(&str) -> Cell) -> Option<Option<Duration>> {
    match expr {
        Expr::Literal(Literal::Duration(d)) => Some(Some(*d)),
        Expr::Duration { amount, unit } => Some(match eval(amount, names) {
            Some(Value::Int(amount)) => Some(Duration {
                amount,
                unit: *unit,
            }),
            None => None,
            Some(other) => panic!("reference: a duration of {other:?}"),
        }),
        _ => None,
    }
}

/// Evaluates an expression with SQL semantics; `names` resolves variables, parameters or
/// columns.
fn eval(expr: &Expr, names: &dyn Fn(&str) -> Cell) -> Cell {
    let ev = |e: &Expr| eval(e, names);
    match expr {
        Expr::Literal(literal) => match literal {
            Literal::Null => None,
            Literal::Bool(b) => Some(Value::Bool(*b)),
            Literal::Int(n) => Some(Value::Int(*n)),
            Literal::Float(x) => Some(Value::Float(*x)),
            Literal::Text(s) => Some(Value::Text(s.clone())),
            Literal::Date(d) => Some(Value::Date(*d)),
            Literal::Duration(d) => panic!("reference: a duration {d:?} outside a date sum"),
        },
        Expr::Duration { .. } => panic!("reference: a duration outside a date sum"),
        Expr::Name(name) => names(name),
        Expr::Unary { op, expr } => match (op, ev(expr)) {
            (UnaryOp::Not, v) => not(v),
            (UnaryOp::Neg, None) => None,
            (UnaryOp::Neg, Some(Value::Int(n))) => Some(Value::Int(-n)),
            (UnaryOp::Neg, Some(Value::Float(x))) => Some(Value::Float(-x)),
            (UnaryOp::Neg, Some(other)) => panic!("reference: cannot negate {other:?}"),
        },
        Expr::Binary { op, left, right } => binary(*op, left, right, names),
        Expr::IsNull { expr, negated } => Some(Value::Bool(ev(expr).is_none() != *negated)),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let x = ev(expr);
            let items: Vec<Cell> = list.iter().map(ev).collect();
            let found = if x.is_none() {
                None
            } else if items.iter().any(|item| compare(Cmp::Eq, &x, item) == TRUE) {
                TRUE
            } else if items.iter().any(Option::is_none) {
                None
            } else {
                Some(Value::Bool(false))
            };
            if *negated { not(found) } else { found }
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let x = ev(expr);
            let within = and(
                compare(Cmp::GtEq, &x, &ev(low)),
                compare(Cmp::LtEq, &x, &ev(high)),
            );
            if *negated { not(within) } else { within }
        }
        Expr::Call { func, args } => match func {
            Function::Coalesce => args.iter().map(ev).find(Option::is_some).flatten(),
            Function::Between(unit) => between(*unit, &ev(&args[0]), &ev(&args[1])),
            // Missing arguments are skipped; missing only when all are.
            Function::Extreme { greatest } => {
                args.iter()
                    .filter_map(ev)
                    .reduce(|a, b| match (order_values(&a, &b), greatest) {
                        (Ordering::Less, true) | (Ordering::Greater, false) => b,
                        _ => a,
                    })
            }
            Function::Part(unit) => ev(&args[0]).map(|d| {
                let d = as_date(&d);
                Value::Int(i64::from(match unit {
                    DurationUnit::Years => d.year(),
                    DurationUnit::Months => d.month() as i32,
                    DurationUnit::Days => d.day() as i32,
                }))
            }),
            Function::FirstOf { year } => ev(&args[0]).and_then(|d| {
                let d = as_date(&d);
                let month = if *year { 1 } else { d.month() };
                NaiveDate::from_ymd_opt(d.year(), month, 1).map(Value::Date)
            }),
            Function::Abs => ev(&args[0]).map(|v| match v {
                Value::Int(n) => Value::Int(
                    n.checked_abs()
                        .unwrap_or_else(|| panic!("reference: abs({n}) overflows")),
                ),
                other => Value::Float(as_float(&other).abs()),
            }),
            Function::Div => match (ev(&args[0]), ev(&args[1])) {
                (Some(Value::Int(a)), Some(Value::Int(b))) => {
                    Some(Value::Int(a.checked_div(b).unwrap_or_else(|| {
                        panic!("reference: div({a}, {b}) has no result")
                    })))
                }
                (Some(a), Some(b)) => panic!("reference: div({a:?}, {b:?})"),
                _ => None,
            },
            Function::Cast(to) => ev(&args[0]).map(|v| cast_value(v, *to)),
        },
        Expr::Case {
            branches,
            otherwise,
        } => branches
            .iter()
            .find(|(when, _)| ev(when) == TRUE)
            .map(|(_, then)| ev(then))
            .unwrap_or_else(|| otherwise.as_ref().and_then(|e| ev(e))),
    }
}

fn binary(op: BinaryOp, left: &Expr, right: &Expr, names: &dyn Fn(&str) -> Cell) -> Cell {
    let ev = |e: &Expr| eval(e, names);
    // Calendar arithmetic: date + duration, duration + date, date - duration.
    // Missing outside the years 1 to 9999, and where the amount is missing.
    let shift = |date: &Expr, duration: Option<Duration>, sign: i64| {
        let duration = duration?;
        let duration = Duration {
            amount: duration.amount.checked_mul(sign)?,
            unit: duration.unit,
        };
        let shifted = add_duration(as_date(&ev(date)?), duration)?;
        (1..=9999)
            .contains(&shifted.year())
            .then_some(Value::Date(shifted))
    };
    match (op, duration(left, names), duration(right, names)) {
        (BinaryOp::Plus, _, Some(d)) => return shift(left, d, 1),
        (BinaryOp::Plus, Some(d), _) => return shift(right, d, 1),
        (BinaryOp::Minus, _, Some(d)) => return shift(left, d, -1),
        _ => {}
    }
    let (a, b) = (ev(left), ev(right));
    let cmp = |c| compare(c, &a, &b);
    match op {
        BinaryOp::And => and(a, b),
        BinaryOp::Or => or(a, b),
        BinaryOp::Eq => cmp(Cmp::Eq),
        BinaryOp::NotEq => cmp(Cmp::NotEq),
        BinaryOp::Lt => cmp(Cmp::Lt),
        BinaryOp::LtEq => cmp(Cmp::LtEq),
        BinaryOp::Gt => cmp(Cmp::Gt),
        BinaryOp::GtEq => cmp(Cmp::GtEq),
        BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide => {
            let (Some(a), Some(b)) = (a, b) else {
                return None;
            };
            Some(arithmetic(op, &a, &b))
        }
    }
}

fn arithmetic(op: BinaryOp, a: &Value, b: &Value) -> Value {
    let overflow = || panic!("reference: {a:?} {} {b:?} overflows", op.symbol());
    match (op, a, b) {
        (BinaryOp::Minus, Value::Date(x), Value::Date(y)) => {
            Value::Int(x.signed_duration_since(*y).num_days())
        }
        (BinaryOp::Divide, _, _) => {
            let divisor = as_float(b);
            assert!(divisor != 0.0, "reference: division by zero");
            Value::Float(as_float(a) / divisor)
        }
        (_, Value::Int(x), Value::Int(y)) => Value::Int(
            match op {
                BinaryOp::Plus => x.checked_add(*y),
                BinaryOp::Minus => x.checked_sub(*y),
                _ => x.checked_mul(*y),
            }
            .unwrap_or_else(overflow),
        ),
        _ => {
            let (x, y) = (as_float(a), as_float(b));
            Value::Float(match op {
                BinaryOp::Plus => x + y,
                BinaryOp::Minus => x - y,
                _ => x * y,
            })
        }
    }
}

/// The static type of every variable, in the cohort's (dependency) order.
fn variable_types(
    cohort: &Cohort,
    parameters: &IndexMap<String, Value>,
    db: &Database,
) -> IndexMap<String, Type> {
    let person = &db.person;
    let mut types: IndexMap<String, Type> = IndexMap::new();
    for var in cohort.variables() {
        let t = match &var.kind {
            VariableKind::Age { .. } => Type::Int,
            VariableKind::Sex | VariableKind::Practice { .. } => Type::Text,
            VariableKind::Alive { .. } | VariableKind::Registered { .. } => Type::Bool,
            VariableKind::PersonColumn { column } => person
                .type_of(column)
                .unwrap_or_else(|| panic!("reference: no person column `{column}`")),
            VariableKind::Events(EventSelection {
                table,
                column: Some(column),
                ..
            }) => db.tables[table]
                .type_of(column)
                .unwrap_or_else(|| panic!("reference: no column `{column}` in `{table}`")),
            VariableKind::Events(selection) => match selection.returns {
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
            },
            VariableKind::Derived { expr } => {
                let resolve = |name: &str| match types.get(name) {
                    Some(t) => *t,
                    None => parameters[name].data_type(),
                };
                static_type(expr, &resolve)
            }
            other => panic!("reference: unsupported variable kind {other:?}"),
        };
        types.insert(var.name.clone(), t);
    }
    types
}

/// The type of an expression: what its value is when not null. Only the difference between
/// whole and decimal numbers matters to the evaluation.
fn static_type(expr: &Expr, resolve: &dyn Fn(&str) -> Type) -> Type {
    let ty = |e: &Expr| static_type(e, resolve);
    // Whole numbers meet decimal ones as decimals; null meets anything as that thing.
    let common = |types: Vec<Type>| {
        let known: Vec<Type> = types.into_iter().filter(|t| *t != Type::Null).collect();
        if known.contains(&Type::Float) {
            Type::Float
        } else {
            known.first().copied().unwrap_or(Type::Null)
        }
    };
    match expr {
        Expr::Literal(literal) => match literal {
            Literal::Null => Type::Null,
            Literal::Bool(_) => Type::Bool,
            Literal::Int(_) => Type::Int,
            Literal::Float(_) => Type::Float,
            Literal::Text(_) => Type::Text,
            Literal::Date(_) => Type::Date,
            Literal::Duration(_) => Type::Duration,
        },
        Expr::Duration { .. } => Type::Duration,
        Expr::Name(name) => resolve(name),
        Expr::Unary {
            op: UnaryOp::Not, ..
        }
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Between { .. } => Type::Bool,
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => ty(expr),
        Expr::Binary { op, left, right } => {
            let (l, r) = (ty(left), ty(right));
            match op {
                BinaryOp::Divide => Type::Float,
                BinaryOp::Plus | BinaryOp::Minus if l == Type::Duration || r == Type::Duration => {
                    Type::Date
                }
                BinaryOp::Minus if l == Type::Date && r == Type::Date => Type::Int,
                BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply => common(vec![l, r]),
                _ => Type::Bool,
            }
        }
        Expr::Call { func, args } => match func {
            Function::Coalesce => common(args.iter().map(ty).collect()),
            Function::Extreme { .. } => common(args.iter().map(ty).collect()),
            Function::Between(_) | Function::Part(_) | Function::Div => Type::Int,
            Function::FirstOf { .. } => Type::Date,
            Function::Abs => ty(&args[0]),
            Function::Cast(to) => *to,
        },
        Expr::Case {
            branches,
            otherwise,
        } => common(
            branches
                .iter()
                .map(|(_, then)| then)
                .chain(otherwise.as_deref())
                .map(ty)
                .collect(),
        ),
    }
}
