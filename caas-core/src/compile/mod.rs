//! Compilation of a checked [`Cohort`] to its backend-neutral [`CohortPlan`] over the
//! registered tables.
//!
//! The compiler decides everything that is about the definition against the tables: which
//! table each variable reads and in which role, the canonical columns of each table, the
//! code table of (code, variable) pairs built from the codelists, windows resolved to
//! dates, the variables in dependency layers and the rules. Every check of the definition
//! against the tables (types, missing columns, code-system mismatches, window bounds,
//! unknown tables, roles and names, membership cycles) fails here, before any backend sees
//! the plan. The plan ([`plan`]) is plain data; the backends lower it: DataFusion in
//! `execute::lower`.

mod check;
pub(crate) mod opt_out;
pub mod plan;
mod scans;
pub(crate) mod shared;

use std::sync::Arc;

use arrow::datatypes::DataType;
use indexmap::IndexMap;

use self::check::check_lowerable;
use self::plan::{
    ArithmeticCheck, CohortPlan, IdType, Membership, PersonColumn, PersonStep, RuleStep,
    VariableStep, VariableValue,
};
use crate::error::{CaasError, Place, Result};
use crate::model::expr::{Type, infer_type, missing_by_arithmetic};
use crate::model::{Aggregation, Cohort, Value, VariableKind};
use crate::source::{Snapshot, Table};

/// The name of the rule column of the rule at 0-based `index`.
pub(crate) fn rule_column(index: usize) -> String {
    format!("__rule_{}", index + 1)
}

/// The caas type of an Arrow type, if caas can use it in expressions.
pub(crate) fn type_of(data_type: &DataType) -> Option<Type> {
    Some(match data_type {
        DataType::Boolean => Type::Bool,
        t if t.is_integer() => Type::Int,
        t if t.is_floating() || matches!(t, DataType::Decimal128(_, _)) => Type::Float,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => Type::Date,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::Text,
        DataType::Dictionary(_, v) => return type_of(v),
        DataType::Null => Type::Null,
        _ => return None,
    })
}

/// Builds the plans of cohorts over a set of registered tables.
pub(crate) struct Compiler<'a> {
    tables: &'a Snapshot,
    cohorts: &'a IndexMap<String, Arc<Cohort>>,
    /// Cohorts being compiled, outermost first, to find membership cycles.
    stack: Vec<String>,
    /// Source of unique internal column names.
    counter: usize,
    /// The most nodes an expression the compiler builds may have
    /// ([`Limits::max_expression_nodes`](crate::Limits::max_expression_nodes)).
    max_nodes: u64,
}

impl<'a> Compiler<'a> {
    /// A compiler over `tables`, resolving memberships in `cohorts`, building expressions
    /// of at most `max_nodes` nodes.
    pub fn new(
        tables: &'a Snapshot,
        cohorts: &'a IndexMap<String, Arc<Cohort>>,
        max_nodes: u64,
    ) -> Self {
        Compiler {
            tables,
            cohorts,
            stack: Vec::new(),
            counter: 0,
            max_nodes,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("__{prefix}{}", self.counter)
    }

    /// The plan of `cohort` with bound `parameters`.
    pub fn compile(
        &mut self,
        cohort: &Cohort,
        parameters: &IndexMap<String, Value>,
    ) -> Result<CohortPlan> {
        if let Some(start) = self.stack.iter().position(|id| id == cohort.id()) {
            let mut path = self.stack[start..].to_vec();
            path.push(cohort.id().to_string());
            return Err(CaasError::Cycle {
                what: "cohorts",
                path,
            });
        }
        self.stack.push(cohort.id().to_string());
        let result = self.compile_inner(cohort, parameters);
        self.stack.pop();
        result
    }

    fn compile_inner(
        &mut self,
        cohort: &Cohort,
        parameters: &IndexMap<String, Value>,
    ) -> Result<CohortPlan> {
        let person = self.person_step(self.tables.person(), cohort)?;
        let person_type = |c: &str| {
            person
                .columns
                .iter()
                .find(|p| p.canonical == c)
                .map(|p| p.column_type)
        };
        let event_column = |table: &str, column: &str| {
            let table = self.tables.get(table)?;
            scans::event_columns(table)
                .ok()?
                .into_iter()
                .find(|c| c.name == column)?
                .column_type
        };
        let types = cohort.variable_types(&person_type, &event_column)?;
        let resolve = |n: &str| {
            types
                .get(n)
                .copied()
                .or_else(|| parameters.get(n).map(Value::data_type))
        };
        for rule in cohort.rules() {
            let t = infer_type(&rule.expr, &resolve, &rule.place)?;
            if !matches!(t, Type::Bool | Type::Null | Type::Any) {
                return Err(CaasError::type_mismatch(
                    &rule.place,
                    format!("a rule must be a boolean, found {t}"),
                ));
            }
        }

        let (events, periods) = scans::scans(self, cohort, parameters, &types)?;
        // Variable name -> the aggregate column its value is computed from.
        let mut sources: IndexMap<String, String> = IndexMap::new();
        for scan in &events {
            for m in scan.coded.iter().chain(&scan.uncoded) {
                sources.insert(m.variable.clone(), m.column.clone());
            }
        }
        for scan in &periods {
            for m in &scan.measures {
                sources.insert(m.variable.clone(), m.column.clone());
            }
        }
        let mut memberships = Vec::new();
        for var in cohort.variables() {
            if let VariableKind::MemberOf { cohort: other } = &var.kind {
                let place = Place::Variable(var.name.clone());
                let membership = self.membership(&var.name, other, &place, parameters)?;
                sources.insert(var.name.clone(), membership.column.clone());
                memberships.push(membership);
            }
        }

        let values = self.variable_values(cohort, parameters, &types, &sources, &person)?;
        let layers = layers(cohort, values);

        let is_column = |n: &str| types.contains_key(n);
        let mut rules = Vec::new();
        for (i, rule) in cohort.rules().iter().enumerate() {
            check_lowerable(&rule.expr, &is_column, &resolve, parameters, &rule.place)?;
            rules.push(RuleStep {
                name: rule.name.clone(),
                exclude: rule.exclude,
                expr: rule.expr.clone(),
                column: rule_column(i),
                place: rule.place.clone(),
            });
        }

        let mut arithmetic = Vec::new();
        let derived = cohort.variables().filter_map(|v| match &v.kind {
            VariableKind::Derived { expr } => {
                Some((expr, Some(v.name.as_str()), Place::Variable(v.name.clone())))
            }
            _ => None,
        });
        let rule_exprs = cohort
            .rules()
            .iter()
            .map(|r| (&r.expr, None, r.place.clone()));
        for (expr, value, place) in derived.chain(rule_exprs) {
            let check =
                missing_by_arithmetic(expr, value, &resolve, parameters, &place, self.max_nodes)?;
            if let Some(expr) = check {
                let column = format!("__arithmetic_{}", arithmetic.len() + 1);
                arithmetic.push(ArithmeticCheck {
                    place,
                    column,
                    expr,
                });
            }
        }
        Ok(CohortPlan {
            cohort: cohort.id().to_string(),
            parameters: parameters.clone(),
            person,
            events,
            periods,
            memberships,
            columns: cohort.definition().variables.keys().cloned().collect(),
            types,
            layers,
            rules,
            arithmetic,
        })
    }

    /// The person table's columns by canonical name (every column but the id), and the
    /// opt-out step when the cohort's purpose applies it.
    fn person_step(&self, person: &Table, cohort: &Cohort) -> Result<PersonStep> {
        let schema = person.data.schema().as_arrow().clone();
        let mut columns = Vec::new();
        let mapped_parts: Vec<&str> = person.shape.parts.iter().map(|(p, _)| *p).collect();
        for field in schema.fields() {
            let name = field.name();
            let part = person
                .shape
                .parts
                .iter()
                .find(|(_, c)| c == name)
                .map(|(p, _)| *p);
            let canonical = match part {
                Some("person_id") => continue,
                Some(p) => p,
                // A column named like a part that another column plays is hidden by it.
                None if mapped_parts.contains(&name.as_str()) => continue,
                None => name.as_str(),
            };
            let as_date = matches!(canonical, "date_of_birth" | "date_of_death");
            let column_type = if as_date {
                Some(Type::Date)
            } else {
                type_of(field.data_type())
            };
            if let Some(column_type) = column_type {
                columns.push(PersonColumn {
                    canonical: canonical.to_string(),
                    source: name.clone(),
                    column_type,
                    as_date,
                });
            }
        }
        Ok(PersonStep {
            table: person.name.clone(),
            id: if self.tables.integer_ids() {
                IdType::Integer
            } else {
                IdType::Text
            },
            columns,
            opt_out: opt_out::flags(person, cohort)?,
        })
    }

    /// The membership of the cohort `other`, for the variable `variable`.
    fn membership(
        &mut self,
        variable: &str,
        other: &str,
        place: &Place,
        outer: &IndexMap<String, Value>,
    ) -> Result<Membership> {
        let cohort = self.cohorts.get(other).ok_or_else(|| {
            let what = "cohort (register it with the engine first)";
            let known = self.cohorts.keys().map(String::as_str);
            CaasError::unknown(place.clone(), what, other, known)
        })?;
        let mut parameters = cohort.parameter_defaults().clone();
        for (name, value) in parameters.iter_mut() {
            if let Some(v) = outer
                .get(name)
                .filter(|v| v.data_type() == value.data_type())
            {
                *value = v.clone();
            }
        }
        let plan = self.compile(cohort, &parameters)?;
        Ok(Membership {
            variable: variable.to_string(),
            column: self.fresh("member"),
            plan: Box::new(plan),
        })
    }

    /// The value of every variable, in the cohort's (dependency) order.
    fn variable_values(
        &self,
        cohort: &Cohort,
        parameters: &IndexMap<String, Value>,
        types: &IndexMap<String, Type>,
        sources: &IndexMap<String, String>,
        person: &PersonStep,
    ) -> Result<IndexMap<String, VariableValue>> {
        let person_table = self.tables.person();
        let person_col = |c: &str, needed_as: &str| -> Result<String> {
            if person.columns.iter().any(|p| p.canonical == c) {
                Ok(c.to_string())
            } else {
                Err(CaasError::MissingColumn {
                    table: person_table.name.clone(),
                    column: person_table.shape.column(c).unwrap_or(c).to_string(),
                    needed_as: needed_as.to_string(),
                })
            }
        };
        let resolve = |n: &str| {
            types
                .get(n)
                .copied()
                .or_else(|| parameters.get(n).map(Value::data_type))
        };
        let is_column = |n: &str| types.contains_key(n);
        let mut out = IndexMap::new();
        for var in cohort.variables() {
            let place = Place::Variable(var.name.clone());
            let needed_as = format!("{place}");
            let check = |e| check_lowerable(e, &is_column, &resolve, parameters, &place);
            let aggregate = || match sources.get(&var.name) {
                Some(c) => Ok(c.clone()),
                None => Err(CaasError::internal(format!("no plan computes {place}"))),
            };
            let value = match &var.kind {
                VariableKind::Age { on, unit } => {
                    person_col("date_of_birth", &needed_as)?;
                    check(on)?;
                    VariableValue::Age {
                        on: on.clone(),
                        unit: unit.duration_unit(),
                    }
                }
                VariableKind::Sex => {
                    person_col("sex", &needed_as)?;
                    VariableValue::Sex
                }
                // A person table without dates of death records no deaths.
                VariableKind::Alive { on } => {
                    check(on)?;
                    VariableValue::Alive {
                        on: on.clone(),
                        deaths: person
                            .columns
                            .iter()
                            .any(|p| p.canonical == "date_of_death"),
                    }
                }
                VariableKind::PersonColumn { column } => VariableValue::PersonColumn {
                    column: person_col(column, &needed_as)?,
                },
                VariableKind::Registered { .. } => VariableValue::Exists {
                    column: aggregate()?,
                },
                VariableKind::MemberOf { .. } => VariableValue::Member {
                    column: aggregate()?,
                },
                VariableKind::Practice { .. } => VariableValue::Practice {
                    column: aggregate()?,
                },
                VariableKind::Events(ev) => {
                    let column = aggregate()?;
                    match ev.returns {
                        Aggregation::Exists => VariableValue::Exists { column },
                        // No events is none counted, not a missing count.
                        Aggregation::Count
                        | Aggregation::CountDistinctCodes
                        | Aggregation::CountDistinctDates
                        | Aggregation::CountEpisodes => VariableValue::Count { column },
                        Aggregation::FirstCode | Aggregation::LastCode => {
                            VariableValue::Code { column }
                        }
                        _ => VariableValue::Aggregate { column },
                    }
                }
                VariableKind::Derived { expr } => {
                    check(expr)?;
                    VariableValue::Derived { expr: expr.clone() }
                }
            };
            out.insert(var.name.clone(), value);
        }
        Ok(out)
    }
}

/// The variables in layers: a variable goes in the first layer after every variable it
/// uses.
fn layers(cohort: &Cohort, mut values: IndexMap<String, VariableValue>) -> Vec<Vec<VariableStep>> {
    let level = cohort.variable_levels();
    let depth = level.values().max().map_or(0, |m| m + 1);
    let mut layers = Vec::new();
    for l in 0..depth {
        let mut layer = Vec::new();
        for (name, _) in level.iter().filter(|(_, v)| **v == l) {
            if let Some(value) = values.shift_remove(*name) {
                layer.push(VariableStep {
                    name: name.to_string(),
                    value,
                });
            }
        }
        layers.push(layer);
    }
    layers
}
