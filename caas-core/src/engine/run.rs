//! A snapshot of what one evaluation read: the session, the registered tables and cohorts,
//! the cohort and its bound parameters. An [`Evaluation`](crate::Evaluation) keeps it so
//! that people can be explained, and the run audited, reported and compared, later —
//! against the same tables even if the engine's registry has changed since.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::lit;
use datafusion::prelude::SessionContext;
use indexmap::IndexMap;

use super::{Engine, Table, poisoned};
use crate::compile::Compiler;
use crate::error::{CaasError, Place, Result};
use crate::model::{Cohort, Parameters, Value, VariableKind};
use crate::source::Role;

/// The inputs of one evaluation.
#[derive(Clone)]
pub(crate) struct Run {
    /// The engine's session.
    pub ctx: SessionContext,
    /// The registered tables when the evaluation started.
    pub tables: IndexMap<String, Arc<Table>>,
    /// The registered cohorts when the evaluation started.
    pub cohorts: IndexMap<String, Arc<Cohort>>,
    /// The cohort evaluated.
    pub cohort: Cohort,
    /// Its parameters, bound: the defaults overridden by the run's values.
    pub parameters: IndexMap<String, Value>,
    /// When the evaluation started.
    pub started: DateTime<Utc>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("cohort", &self.cohort.id())
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .field("started", &self.started)
            .finish()
    }
}

impl Engine {
    /// The inputs of an evaluation of `cohort` with `parameters`, as registered now.
    pub(crate) fn snapshot(&self, cohort: &Cohort, parameters: &Parameters) -> Result<Run> {
        let started = Utc::now();
        let parameters = cohort.bind(parameters)?;
        Ok(Run {
            ctx: self.ctx.clone(),
            tables: self.tables.read().map_err(|_| poisoned())?.clone(),
            cohorts: self.cohorts.read().map_err(|_| poisoned())?.clone(),
            cohort: cohort.clone(),
            parameters,
            started,
        })
    }
}

impl Run {
    /// The cohort's per-person plan over the snapshot's tables.
    pub fn plan(&self) -> Result<DataFrame> {
        self.compiler().compile(&self.cohort, &self.parameters)
    }

    /// A compiler over the snapshot's tables.
    pub fn compiler(&self) -> Compiler<'_> {
        Compiler::new(&self.ctx, &self.tables, &self.cohorts)
    }

    /// The person table.
    pub fn person_table(&self) -> Result<&Arc<Table>> {
        self.tables
            .values()
            .find(|t| t.shape.role == Role::Person)
            .ok_or_else(|| CaasError::Table {
                place: Place::Definition,
                table: "(person table)".to_string(),
                problem: "is not registered: register one table with role `person`".to_string(),
            })
    }

    /// The tables the evaluation reads: the person table, then the event and period tables
    /// of the cohort's variables and of the cohorts it is composed of, in order of first use.
    pub fn used_tables(&self) -> Vec<&Arc<Table>> {
        let mut names: Vec<&str> = Vec::new();
        if let Ok(person) = self.person_table() {
            names.push(&person.name);
        }
        let mut pending: Vec<&Cohort> = vec![&self.cohort];
        let mut seen: Vec<&str> = vec![self.cohort.id()];
        while let Some(cohort) = pending.pop() {
            for var in cohort.variables() {
                match &var.kind {
                    VariableKind::Events(ev) => names.push(&ev.table),
                    VariableKind::Registered { table, .. }
                    | VariableKind::Practice { table, .. } => names.push(table),
                    VariableKind::MemberOf { cohort: other } => {
                        if let Some(other) = self.cohorts.get(other)
                            && !seen.contains(&other.id())
                        {
                            seen.push(other.id());
                            pending.push(other);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut used: Vec<&Arc<Table>> = Vec::new();
        for name in names {
            if let Some(table) = self.tables.get(name)
                && !used.iter().any(|t| t.name == table.name)
            {
                used.push(table);
            }
        }
        used
    }

    /// The same inputs with every table restricted to the rows of one person, `id` being
    /// in the person table's id type (Int64 or Utf8). The restriction is a filter on the
    /// person id directly over each table's scan, below every join and aggregate, so that
    /// a plan compiled over it reads only that person's rows.
    pub fn for_person(&self, id: ScalarValue) -> Result<Run> {
        let compiler = self.compiler();
        let mut tables = IndexMap::new();
        for (name, table) in &self.tables {
            let data = table
                .data
                .clone()
                .filter(compiler.person_id(table).eq(lit(id.clone())))?;
            tables.insert(
                name.clone(),
                Arc::new(Table {
                    name: table.name.clone(),
                    shape: table.shape.clone(),
                    data,
                    // One person's rows are never inspected; the full table's counts
                    // must not be taken for theirs.
                    quality: Default::default(),
                }),
            );
        }
        Ok(Run {
            tables,
            ..self.clone()
        })
    }
}
