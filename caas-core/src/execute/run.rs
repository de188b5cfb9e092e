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

use crate::compile::Compiler;
use crate::compile::plan::CohortPlan;
use crate::error::Result;
use crate::execute::lower::Lowering;
use crate::limits::Limits;
use crate::model::{Cohort, Parameters, Value, VariableKind};
use crate::source::{Catalog, Snapshot, Table};

/// The inputs of one evaluation.
#[derive(Clone)]
pub(crate) struct Run {
    /// The engine's session.
    pub ctx: SessionContext,
    /// The registered tables when the evaluation started.
    pub tables: Snapshot,
    /// The registered cohorts when the evaluation started.
    pub cohorts: IndexMap<String, Arc<Cohort>>,
    /// The cohort evaluated.
    pub cohort: Cohort,
    /// Its parameters, bound: the defaults overridden by the run's values.
    pub parameters: IndexMap<String, Value>,
    /// When the evaluation started.
    pub started: DateTime<Utc>,
    /// The engine's limits.
    pub limits: Limits,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("cohort", &self.cohort.id())
            .field("tables", &self.tables)
            .field("started", &self.started)
            .finish()
    }
}

impl Run {
    /// The inputs of an evaluation of `cohort` with `parameters` over the tables of
    /// `catalog` as registered now.
    pub fn new(
        ctx: SessionContext,
        catalog: &Catalog,
        cohorts: IndexMap<String, Arc<Cohort>>,
        cohort: &Cohort,
        parameters: &Parameters,
        limits: Limits,
    ) -> Result<Run> {
        let started = Utc::now();
        let parameters = cohort.bind(parameters)?;
        Ok(Run {
            ctx,
            tables: catalog.snapshot()?,
            cohorts,
            cohort: cohort.clone(),
            parameters,
            started,
            limits,
        })
    }

    /// The cohort's backend-neutral plan over the snapshot's tables.
    pub fn cohort_plan(&self) -> Result<CohortPlan> {
        Compiler::new(
            &self.tables,
            &self.cohorts,
            self.limits.max_expression_nodes,
        )
        .compile(&self.cohort, &self.parameters)
    }

    /// The lowering of plans to DataFusion over the snapshot's tables.
    pub fn lowering(&self) -> Lowering<'_> {
        Lowering {
            ctx: &self.ctx,
            tables: &self.tables,
        }
    }

    /// The cohort's per-person DataFrame over the snapshot's tables.
    pub fn plan(&self) -> Result<DataFrame> {
        self.lowering().cohort(&self.cohort_plan()?)
    }

    /// The person table.
    pub fn person_table(&self) -> &Arc<Table> {
        self.tables.person()
    }

    /// The tables the evaluation reads: the person table, then the event and period tables
    /// of the cohort's variables and of the cohorts it is composed of, in order of first use.
    pub fn used_tables(&self) -> Vec<&Arc<Table>> {
        let mut names: Vec<&str> = vec![&self.person_table().name];
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
        let tables = self.tables.map(|table| {
            let data = table
                .data
                .clone()
                .filter(self.tables.person_id(table).eq(lit(id.clone())))?;
            Ok(Arc::new(table.with_data(data)))
        })?;
        Ok(Run {
            tables,
            ..self.clone()
        })
    }
}
