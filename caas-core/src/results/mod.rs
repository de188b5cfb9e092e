//! What an evaluation returns: the members and the attrition, as Arrow data; and from
//! them, the difference with an earlier run's members ([`Difference`]) and the attrition
//! had the rules been others ([`WhatIf`]).

mod diff;
pub mod provenance;
mod what_if;

pub use diff::Difference;
pub use what_if::{RuleChanges, WhatIf};

use std::sync::Arc;

use arrow::array::RecordBatch;

use self::provenance::{InputTable, Provenance};
use crate::error::Result;
use crate::execute::{Collected, Run};
use crate::source::quality::DataQuality;

/// The result of evaluating a cohort.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// One row per member, sorted by `person_id`: `person_id` and the output columns.
    pub members: RecordBatch,
    /// One row per rule, in order: `step` (1-based), `rule`, `action` (`include` or
    /// `exclude`), `before`, `after` and `removed` (people).
    pub attrition: RecordBatch,
    /// People in the person table (less the rows excluded for data quality), before any
    /// opt-out or rule.
    pub population: u64,
    /// What went in and how: hashes of the definition and codelists, the input tables,
    /// parameters, versions, times and counts.
    pub provenance: Provenance,
    /// What was malformed in the tables read, and what was done about it.
    pub data_quality: DataQuality,
    /// The inputs, kept to explain people, audit, report and compare the run.
    pub(crate) run: Arc<Run>,
    /// Whether the members carry pseudonyms instead of person ids.
    pub(crate) pseudonymised: bool,
    /// Every person's id, rule outcomes and what-if variables (none from another engine).
    pub(crate) outcomes: Option<RecordBatch>,
    /// People in the person table and those of them opted out, when the purpose applies
    /// opt-outs.
    pub(crate) opt_outs: Option<(u64, u64)>,
}

impl Evaluation {
    /// The evaluation of `run`, finished now.
    pub(crate) fn new(
        collected: Collected,
        run: Arc<Run>,
        inputs: Vec<InputTable>,
        data_quality: DataQuality,
    ) -> Result<Self> {
        let provenance = Provenance::new(
            &run,
            inputs,
            collected.population,
            collected.members.num_rows(),
            &collected.attrition,
        )?;
        Ok(Evaluation {
            members: collected.members,
            attrition: collected.attrition,
            population: collected.population,
            provenance,
            data_quality,
            run,
            pseudonymised: false,
            outcomes: collected.outcomes,
            opt_outs: collected.opt_outs,
        })
    }

    /// How many people are in the cohort.
    pub fn member_count(&self) -> usize {
        self.members.num_rows()
    }
}
