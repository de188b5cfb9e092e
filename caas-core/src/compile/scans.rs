//! The scans of a cohort's plan: one per event table and one per period table, for all the
//! variables that read it, with every check of those variables against the table.
//!
//! An event variable whose window or `where` reads the person's own variables cannot be
//! measured before those are computed: it goes to a later scan of its table, one per
//! layer of variables ([`EventScan::after`]), shared by every variable of that table
//! whose inputs are ready at the same layer.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::Compiler;
use super::check::check_lowerable;
use super::plan::{
    Bound, Conversion, EventColumn, EventScan, IdType, Matching, Measure, PeriodAggregate,
    PeriodMeasure, PeriodScan,
};
use super::type_of;
use crate::codelist::Codelist;
use crate::error::{CaasError, Place, Result};
use crate::model::expr::{Type, eval_constant, infer_type};
use crate::model::{Cohort, EventSelection, Value, VariableKind};
use crate::source::{CodeLayout, Role, Table};

/// The variables of a cohort that read event tables and period tables, grouped by table
/// in the order the variables come.
struct TableGroups<'c> {
    /// (Event table, layers before the scan) -> its event variables.
    events: IndexMap<(&'c str, usize), Vec<(&'c str, &'c EventSelection)>>,
    /// Period table -> its `registered` and `practice` variables.
    periods: IndexMap<&'c str, Vec<(&'c str, &'c VariableKind)>>,
}

fn table_groups(cohort: &Cohort) -> TableGroups<'_> {
    let mut groups = TableGroups {
        events: IndexMap::new(),
        periods: IndexMap::new(),
    };
    let levels = cohort.variable_levels();
    for var in cohort.variables() {
        match &var.kind {
            // A variable that uses others is in the layer after them (its level), and
            // its scan joins the persons just before that layer; one that uses none is
            // measured before every layer.
            VariableKind::Events(ev) => groups
                .events
                .entry((
                    &ev.table,
                    levels.get(var.name.as_str()).copied().unwrap_or(0),
                ))
                .or_default()
                .push((&var.name, ev)),
            VariableKind::Registered { table, .. } | VariableKind::Practice { table, .. } => groups
                .periods
                .entry(table)
                .or_default()
                .push((&var.name, &var.kind)),
            _ => {}
        }
    }
    groups
}

/// The event and period scans of every table the cohort's own variables read.
pub(super) fn scans(
    compiler: &mut Compiler<'_>,
    cohort: &Cohort,
    parameters: &IndexMap<String, Value>,
    types: &IndexMap<String, Type>,
) -> Result<(Vec<EventScan>, Vec<PeriodScan>)> {
    let groups = table_groups(cohort);
    let mut events = Vec::new();
    for ((table, after), vars) in groups.events {
        let place = Place::Variable(vars[0].0.to_string());
        let table = compiler.tables.table(table, &place, Role::Events)?;
        let names = Names { parameters, types };
        events.push(event_scan(compiler, table, after, &vars, cohort, &names)?);
    }
    let mut periods = Vec::new();
    for (table, vars) in groups.periods {
        let place = Place::Variable(vars[0].0.to_string());
        let table = compiler.tables.table(table, &place, Role::Periods)?;
        periods.push(period_scan(compiler, table, &vars, parameters)?);
    }
    Ok((events, periods))
}

/// The columns of the events besides `person_id` and the codes, in canonical names.
pub(super) fn event_columns(table: &Table) -> Result<Vec<EventColumn>> {
    let shape = &table.shape;
    let code_sources: Vec<&str> = match &shape.codes {
        Some(CodeLayout::Single(c) | CodeLayout::List(c) | CodeLayout::Delimited(c, _)) => {
            vec![c.as_str()]
        }
        Some(CodeLayout::Columns(cs)) => cs.iter().map(String::as_str).collect(),
        None => {
            return Err(CaasError::Registration {
                table: table.name.clone(),
                message: "an event table needs a code column".to_string(),
            });
        }
    };
    let schema = table.data.schema().as_arrow().clone();
    let mapped_parts: Vec<&str> = shape.parts.iter().map(|(p, _)| *p).collect();
    let mut columns = Vec::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        if code_sources.contains(&name) {
            continue;
        }
        let part = shape.parts.iter().find(|(_, c)| c == name).map(|(p, _)| *p);
        let (canonical, conversion) = match part {
            Some("person_id") => continue,
            Some(p @ ("date" | "end_date")) => (p, Conversion::Date),
            Some(p @ "value") => (p, Conversion::Decimal),
            Some(p) => (p, Conversion::AsIs),
            None if mapped_parts.contains(&name) || name == "code" => continue,
            None => (name, Conversion::AsIs),
        };
        let column_type = match conversion {
            Conversion::Date => Some(Type::Date),
            Conversion::Decimal => Some(Type::Float),
            Conversion::AsIs => type_of(field.data_type()),
        };
        columns.push(EventColumn {
            name: canonical.to_string(),
            source: name.to_string(),
            conversion,
            column_type,
        });
    }
    Ok(columns)
}

impl EventScan {
    /// The caas type of a column of the events (`person_id`, `code` and
    /// [`columns`](EventScan::columns)), if expressions can use it.
    pub fn type_of(&self, name: &str, id: IdType) -> Option<Type> {
        match name {
            "person_id" => Some(match id {
                IdType::Integer => Type::Int,
                IdType::Text => Type::Text,
            }),
            "code" => Some(if self.integer_codes {
                Type::Int
            } else {
                Type::Text
            }),
            _ => self
                .columns
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.column_type),
        }
    }
}

/// The names an event variable's window and `where` may use besides the event's columns.
struct Names<'a> {
    /// The bound parameters.
    parameters: &'a IndexMap<String, Value>,
    /// The type of every variable (person columns as the table has them).
    types: &'a IndexMap<String, Type>,
}

impl Names<'_> {
    /// The type of a variable, else of a parameter.
    fn type_of(&self, name: &str) -> Option<Type> {
        self.types
            .get(name)
            .copied()
            .or_else(|| self.parameters.get(name).map(Value::data_type))
    }
}

/// The scan of the event variables `vars` of `table`, after `after` layers of variables.
fn event_scan(
    compiler: &mut Compiler<'_>,
    table: &Table,
    after: usize,
    vars: &[(&str, &EventSelection)],
    cohort: &Cohort,
    names: &Names<'_>,
) -> Result<EventScan> {
    let Some(system) = table.shape.code_system else {
        return Err(CaasError::Registration {
            table: table.name.clone(),
            message: "an event table needs a `code_system`".to_string(),
        });
    };
    for (name, ev) in vars {
        for list in &ev.codelists {
            let Some(codelist) = cohort.codelists().get(list) else {
                continue;
            };
            if codelist.system != system {
                return Err(CaasError::CodeSystemMismatch {
                    place: Place::Variable(name.to_string()),
                    codelist: list.clone(),
                    codelist_system: codelist.system,
                    table: table.name.clone(),
                    table_system: system,
                });
            }
        }
    }
    let columns = event_columns(table)?;
    let mut scan = EventScan {
        table: table.name.clone(),
        after,
        codes: table
            .shape
            .codes
            .clone()
            .ok_or_else(|| CaasError::internal("an event table without codes"))?,
        primary_only: table.shape.primary_code_only,
        integer_codes: table.shape.integer_codes,
        system,
        matching: if system.matches_by_prefix() {
            Matching::Prefix
        } else {
            Matching::Exact
        },
        columns,
        code_table: Vec::new(),
        coded: Vec::new(),
        uncoded: Vec::new(),
    };
    let id = if compiler.tables.integer_ids() {
        IdType::Integer
    } else {
        IdType::Text
    };
    let (with_lists, without): (Vec<_>, Vec<_>) =
        vars.iter().partition(|(_, ev)| !ev.codelists.is_empty());
    let mut pairs: BTreeSet<(String, i32)> = BTreeSet::new();
    for (index, (name, ev)) in with_lists.iter().enumerate() {
        let code_index = i32::try_from(index).map_err(|_| CaasError::InvalidDefinition {
            place: Place::Definition,
            message: "too many variables for one event table".into(),
        })?;
        // The union of the variable's codelists, pruned again as one list so that an
        // event matches the variable once even when two of its lists hold the code.
        let codes = ev
            .codelists
            .iter()
            .filter_map(|list| cohort.codelists().get(list))
            .flat_map(|codelist| codelist.codes().iter());
        let union = Codelist::new(*name, system, codes);
        pairs.extend(union.codes().iter().map(|c| (c.clone(), code_index)));
        let measure = measure(compiler, name, ev, &scan, id, Some(code_index), names)?;
        scan.coded.push(measure);
    }
    scan.code_table = pairs.into_iter().collect();
    for (name, ev) in &without {
        let measure = measure(compiler, name, ev, &scan, id, None, names)?;
        scan.uncoded.push(measure);
    }
    Ok(scan)
}

/// The measure of one event variable, its window resolved and its condition checked.
fn measure(
    compiler: &mut Compiler<'_>,
    name: &str,
    ev: &EventSelection,
    scan: &EventScan,
    id: IdType,
    code_index: Option<i32>,
    names: &Names<'_>,
) -> Result<Measure> {
    let place = Place::Variable(name.to_string());
    let parameters = names.parameters;
    let is_variable = |n: &str| names.types.contains_key(n);
    let mut reads: Vec<String> = Vec::new();
    let mut read = |n: &str| {
        if !reads.iter().any(|r| r == n) {
            reads.push(n.to_string());
        }
    };
    let mut bounds = [Bound::Open, Bound::Open];
    for (bound, slot) in [&ev.from, &ev.to].into_iter().zip(bounds.iter_mut()) {
        let Some(bound) = bound else { continue };
        let variables: Vec<&str> = bound
            .names()
            .into_iter()
            .filter(|n| is_variable(n))
            .collect();
        if !variables.is_empty() {
            let resolve = |n: &str| names.type_of(n);
            let t = infer_type(bound, &resolve, &place)?;
            if !matches!(t, Type::Date | Type::Null) {
                return Err(CaasError::type_mismatch(
                    &place,
                    format!("a window bound must be a date, found {t}"),
                ));
            }
            check_lowerable(bound, &is_variable, &resolve, parameters, &place)?;
            variables.into_iter().for_each(&mut read);
            *slot = Bound::Person(bound.clone());
            continue;
        }
        *slot = match eval_constant(bound, parameters, &place)? {
            Some(Value::Date(d)) => Bound::On(d),
            // An unknown bound selects nothing, as a comparison with null would.
            None => Bound::Unknown,
            Some(other) => {
                return Err(CaasError::type_mismatch(
                    &place,
                    format!("a window bound must be a date, found {}", other.data_type()),
                ));
            }
        };
    }
    let by_value = ev.min_value.is_some() || ev.max_value.is_some() || !ev.ties.is_code();
    if (by_value || (ev.returns.needs_value() && ev.column.is_none())) && !scan.has_value() {
        return Err(CaasError::MissingColumn {
            table: scan.table.clone(),
            column: "value".to_string(),
            needed_as: format!("the value of {place}"),
        });
    }
    if let Some(condition) = &ev.condition {
        let resolve = |n: &str| scan.type_of(n, id).or_else(|| names.type_of(n));
        for n in condition.names() {
            if resolve(n).is_none() {
                let columns = ["person_id", "code"]
                    .into_iter()
                    .chain(scan.columns.iter().map(|c| c.name.as_str()));
                let known = columns
                    .chain(names.types.keys().map(String::as_str))
                    .chain(parameters.keys().map(String::as_str));
                let what = "column, variable or parameter in `where`";
                return Err(CaasError::unknown(place, what, n, known));
            }
            if scan.type_of(n, id).is_some() && is_variable(n) {
                return Err(CaasError::invalid(
                    place,
                    format!(
                        "`{n}` in `where` is both a column of table `{}` and a variable: \
                         rename the variable",
                        scan.table
                    ),
                ));
            }
            if is_variable(n) {
                read(n);
            }
        }
        let t = infer_type(condition, &resolve, &place)?;
        if !matches!(t, Type::Bool | Type::Null | Type::Any) {
            return Err(CaasError::type_mismatch(
                &place,
                format!("`where` must be a boolean, found {t}"),
            ));
        }
        let is_column = |n: &str| scan.type_of(n, id).is_some() || is_variable(n);
        check_lowerable(condition, &is_column, &resolve, parameters, &place)?;
    }
    let needed_as = |what: &str| format!("{what} of {place}");
    let missing = |column: &str, what: &str| CaasError::MissingColumn {
        table: scan.table.clone(),
        column: column.to_string(),
        needed_as: needed_as(what),
    };
    for column in &ev.order_by {
        if scan.type_of(column, id).is_none() {
            return Err(missing(column, "the order"));
        }
    }
    if let Some(column) = &ev.column {
        if matches!(column.as_str(), "code" | "person_id") {
            return Err(CaasError::invalid(
                place,
                format!(
                    "`column: {column}`: the chosen event's code is `first_code` or \
                     `last_code`, and its person is the person's own"
                ),
            ));
        }
        if scan.type_of(column, id).is_none() {
            return Err(missing(column, "the column"));
        }
    }
    let [from, to] = bounds;
    Ok(Measure {
        variable: name.to_string(),
        column: compiler.fresh("e"),
        aggregation: ev.returns,
        ties: ev.ties,
        gap_days: ev.gap_days,
        code_index,
        from,
        to,
        min_value: ev.min_value,
        max_value: ev.max_value,
        condition: ev.condition.clone(),
        reads,
        order_by: ev.order_by.clone(),
        returned_column: ev.column.clone(),
    })
}

/// The scan of the `registered` and `practice` variables `vars` of a period table.
fn period_scan(
    compiler: &mut Compiler<'_>,
    table: &Table,
    vars: &[(&str, &VariableKind)],
    parameters: &IndexMap<String, Value>,
) -> Result<PeriodScan> {
    let shape = &table.shape;
    let practice = shape.column("practice").map(str::to_string);
    let mut measures = Vec::new();
    for (name, kind) in vars {
        let place = Place::Variable(name.to_string());
        let (aggregate, on) = match kind {
            VariableKind::Registered { on, .. } => (PeriodAggregate::Count, on),
            VariableKind::Practice { on, .. } => (PeriodAggregate::LatestPractice, on),
            _ => continue,
        };
        if aggregate == PeriodAggregate::LatestPractice && practice.is_none() {
            return Err(CaasError::MissingColumn {
                table: table.name.clone(),
                column: "practice".to_string(),
                needed_as: format!("{place}"),
            });
        }
        let on = match eval_constant(on, parameters, &place)? {
            Some(Value::Date(d)) => Some(d),
            _ => None,
        };
        measures.push(PeriodMeasure {
            variable: name.to_string(),
            column: compiler.fresh("r"),
            aggregate,
            on,
        });
    }
    Ok(PeriodScan {
        table: table.name.clone(),
        start: shape.column("start_date").map(str::to_string),
        end: shape.column("end_date").map(str::to_string),
        practice,
        measures,
    })
}
