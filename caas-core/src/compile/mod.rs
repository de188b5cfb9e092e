//! Compilation of a checked [`Cohort`] to one DataFusion plan over the registered tables.
//!
//! The plan has one row per person of the person table and the columns `person_id`, every
//! variable (by name) and one boolean column per rule telling whether the person passes it.
//! It is built as:
//!
//! 1. the person table, its columns renamed to `__p_<canonical name>`;
//! 2. per event table, **one** scan of the events for all the variables that read it:
//!    the events are joined once to a table of (code, variable) pairs built from the
//!    codelists, then grouped by person with one filtered aggregate per variable
//!    ([`events`]); per period table, one grouped aggregate likewise;
//! 3. those aggregates left-joined to the persons, then the variables computed in layers so
//!    that each layer uses only the ones before;
//! 4. the rule columns.

mod events;
pub(crate) mod explain;
mod expr;
pub(crate) mod opt_out;
pub(crate) mod udf;

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::{Expr as DfExpr, JoinType, cast, lit};
use datafusion::prelude::SessionContext;
use indexmap::IndexMap;

pub(crate) use expr::{column, type_of};

use self::expr::Scope;
use crate::error::{CaasError, Place, Result};
use crate::model::expr::{Type, infer_type};
use crate::model::{Aggregation, Cohort, Value, VariableKind};
use crate::source::{Role, Snapshot, Table};

/// The name of the rule column of the rule at 0-based `index`.
pub(crate) fn rule_column(index: usize) -> String {
    format!("__rule_{}", index + 1)
}

/// Builds the per-person plans of cohorts over a set of registered tables.
pub(crate) struct Compiler<'a> {
    pub ctx: &'a SessionContext,
    pub tables: &'a Snapshot,
    pub cohorts: &'a IndexMap<String, Arc<Cohort>>,
    /// Cohorts being compiled, outermost first, to find membership cycles.
    stack: Vec<String>,
    /// Source of unique internal column names.
    counter: usize,
}

impl<'a> Compiler<'a> {
    pub fn new(
        ctx: &'a SessionContext,
        tables: &'a Snapshot,
        cohorts: &'a IndexMap<String, Arc<Cohort>>,
    ) -> Self {
        Compiler {
            ctx,
            tables,
            cohorts,
            stack: Vec::new(),
            counter: 0,
        }
    }

    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("__{prefix}{}", self.counter)
    }

    pub(crate) fn table(&self, name: &str, place: &Place, role: Role) -> Result<&'a Arc<Table>> {
        self.tables.table(name, place, role)
    }

    /// The person id of a table, in the person table's type. Ids of the other kind (text
    /// where the person table has integers) that cannot be converted are null: they match
    /// nobody, and no value is ever printed in an error.
    pub(crate) fn person_id(&self, table: &Table) -> DfExpr {
        self.tables.person_id(table)
    }

    /// The per-person plan of `cohort` with bound `parameters`.
    pub fn compile(
        &mut self,
        cohort: &Cohort,
        parameters: &IndexMap<String, Value>,
    ) -> Result<DataFrame> {
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
    ) -> Result<DataFrame> {
        let person = self.tables.person();
        let (mut df, person_columns) = self.person_base(person)?;
        df = opt_out::without_opt_outs(df, person, cohort)?;

        let person_type = |c: &str| person_columns.get(c).copied();
        let types = cohort.variable_types(&person_type)?;
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

        // Variable name -> the aggregate column its value is computed from.
        let mut sources: IndexMap<String, String> = IndexMap::new();
        let mut aggregates: Vec<DataFrame> = Vec::new();
        for plan in events::plans(self, cohort, parameters)? {
            for (var, col) in plan.columns {
                sources.insert(var, col);
            }
            aggregates.push(plan.data);
        }
        for var in cohort.variables() {
            if let VariableKind::MemberOf { cohort: other } = &var.kind {
                let (plan, col) =
                    self.membership(other, &Place::Variable(var.name.clone()), parameters)?;
                sources.insert(var.name.clone(), col);
                aggregates.push(plan);
            }
        }
        // Narrow aggregates first: the person side of each join grows with every join, and
        // the widest aggregate then joins a person side that is still narrow.
        aggregates.sort_by_key(|a| a.schema().fields().len());
        for aggregate in aggregates {
            let pid = self.fresh("pid");
            let mut exprs = vec![column("person_id").alias(&pid)];
            for field in aggregate.schema().fields() {
                if field.name() != "person_id" {
                    exprs.push(column(field.name()));
                }
            }
            // The aggregate is the build side and the growing person table streams through
            // as the probe side, so no join copies the accumulated columns into a hash table.
            df = aggregate.select(exprs)?.join_on(
                df,
                JoinType::Right,
                [column(&pid).eq(column("person_id"))],
            )?;
        }

        let computed =
            self.variable_exprs(cohort, parameters, &types, &sources, &person_columns)?;
        df = add_in_layers(df, cohort, computed)?;

        let scope_columns = |n: &str| types.contains_key(n).then(|| n.to_string());
        let mut outputs = vec![column("person_id")];
        for name in cohort.definition().variables.keys() {
            outputs.push(column(name));
        }
        for (i, rule) in cohort.rules().iter().enumerate() {
            let scope = Scope {
                parameters,
                columns: &scope_columns,
                types: &resolve,
                place: &rule.place,
            };
            let value = coalesce(vec![scope.lower(&rule.expr)?, lit(false)]);
            let pass = if rule.exclude {
                DfExpr::Not(Box::new(value))
            } else {
                value
            };
            outputs.push(pass.alias(rule_column(i)));
        }
        Ok(df.select(outputs)?)
    }

    /// The person table with `person_id` and every other column as `__p_<name>`; also the
    /// caas types of those columns by name.
    fn person_base(&self, person: &Table) -> Result<(DataFrame, IndexMap<String, Type>)> {
        let schema = person.data.schema().as_arrow().clone();
        let mut exprs = vec![self.person_id(person).alias("person_id")];
        let mut types = IndexMap::new();
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
            let is_date = matches!(canonical, "date_of_birth" | "date_of_death");
            let expr = if is_date {
                cast(column(name), DataType::Date32)
            } else {
                column(name)
            };
            let t = if is_date {
                Some(Type::Date)
            } else {
                type_of(field.data_type())
            };
            if let Some(t) = t {
                types.insert(canonical.to_string(), t);
                exprs.push(expr.alias(format!("__p_{canonical}")));
            }
        }
        Ok((person.data.clone().select(exprs)?, types))
    }

    /// The plan of a cohort's members, as (person id, `true`), and the membership column.
    fn membership(
        &mut self,
        other: &str,
        place: &Place,
        outer: &IndexMap<String, Value>,
    ) -> Result<(DataFrame, String)> {
        let cohort = self
            .cohorts
            .get(other)
            .ok_or_else(|| CaasError::UnknownReference {
                place: place.clone(),
                what: "cohort (register it with the engine first)",
                name: other.to_string(),
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
        let passes = (0..cohort.rules().len())
            .map(|i| column(&rule_column(i)))
            .reduce(DfExpr::and)
            .unwrap_or(lit(true));
        let col = self.fresh("member");
        let plan = plan
            .filter(passes)?
            .select(vec![column("person_id"), lit(true).alias(&col)])?;
        Ok((plan, col))
    }

    /// The final expression of every variable, in the cohort's (dependency) order.
    fn variable_exprs(
        &self,
        cohort: &Cohort,
        parameters: &IndexMap<String, Value>,
        types: &IndexMap<String, Type>,
        sources: &IndexMap<String, String>,
        person_columns: &IndexMap<String, Type>,
    ) -> Result<IndexMap<String, DfExpr>> {
        let person_table = self.tables.person();
        let person_col = |c: &str, needed_as: &str| -> Result<DfExpr> {
            if person_columns.contains_key(c) {
                Ok(column(&format!("__p_{c}")))
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
        let columns = |n: &str| types.contains_key(n).then(|| n.to_string());
        let mut out = IndexMap::new();
        for var in cohort.variables() {
            let place = Place::Variable(var.name.clone());
            let needed_as = format!("{place}");
            let scope = Scope {
                parameters,
                columns: &columns,
                types: &resolve,
                place: &place,
            };
            let aggregate = || match sources.get(&var.name) {
                Some(c) => Ok(column(c)),
                None => Err(CaasError::internal(format!("no plan computes {place}"))),
            };
            let expr = match &var.kind {
                VariableKind::Age { on } => crate::compile::udf::years_between_expr(
                    person_col("date_of_birth", &needed_as)?,
                    cast(scope.lower(on)?, DataType::Date32),
                ),
                VariableKind::Sex => cast(person_col("sex", &needed_as)?, DataType::Utf8),
                VariableKind::Alive { on } => {
                    let on = cast(scope.lower(on)?, DataType::Date32);
                    let dob = person_col("date_of_birth", &needed_as)?;
                    let dod = person_col("date_of_death", &needed_as)?;
                    dob.lt_eq(on.clone())
                        .and(dod.clone().is_null().or(dod.gt(on)))
                }
                VariableKind::PersonColumn { column: c } => person_col(c, &needed_as)?,
                VariableKind::Registered { .. } => {
                    coalesce(vec![aggregate()?, lit(0i64)]).gt(lit(0i64))
                }
                VariableKind::MemberOf { .. } => coalesce(vec![aggregate()?, lit(false)]),
                VariableKind::Practice { .. } => events::practice_of_key(aggregate()?),
                VariableKind::Events(ev) => match ev.returns {
                    Aggregation::Exists => coalesce(vec![aggregate()?, lit(0i64)]).gt(lit(0i64)),
                    Aggregation::Count => coalesce(vec![aggregate()?, lit(0i64)]),
                    Aggregation::FirstCode | Aggregation::LastCode => {
                        cast(aggregate()?, DataType::Utf8)
                    }
                    _ => aggregate()?,
                },
                VariableKind::Derived { expr } => scope.lower(expr)?,
            };
            out.insert(var.name.clone(), expr);
        }
        Ok(out)
    }
}

/// Adds the variables to `df` in layers: a variable goes in the first projection after
/// every variable it uses.
fn add_in_layers(
    mut df: DataFrame,
    cohort: &Cohort,
    mut exprs: IndexMap<String, DfExpr>,
) -> Result<DataFrame> {
    let mut level: IndexMap<&str, usize> = IndexMap::new();
    for var in cohort.variables() {
        let l = var
            .depends_on
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .max()
            .map_or(0, |l| l + 1);
        level.insert(&var.name, l);
    }
    let depth = level.values().max().map_or(0, |m| m + 1);
    for l in 0..depth {
        let mut projection: Vec<DfExpr> = df
            .schema()
            .fields()
            .iter()
            .map(|f| column(f.name()))
            .collect();
        for (name, _) in level.iter().filter(|(_, v)| **v == l) {
            if let Some(e) = exprs.shift_remove(*name) {
                projection.push(e.alias(*name));
            }
        }
        df = df.select(projection)?;
    }
    Ok(df)
}
