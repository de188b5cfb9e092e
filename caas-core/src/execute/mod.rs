//! Execution of a cohort's plan in the in-process engine (DataFusion): the inputs of one
//! run ([`Run`]), the pass that counts the attrition and keeps the members, and the
//! governance steps that act on the rows (counting opt-outs, pseudonyms); and the lowering
//! of the same plan to SQL for other engines ([`sql`]).

mod collect;
pub mod governance;
pub(crate) mod lower;
mod options;
mod run;
mod shared;
pub mod sql;

pub(crate) use collect::{Collected, attrition, collect, sort_by_person, variables};
pub(crate) use options::session;
pub use options::{EngineOptions, EvaluationOptions};
pub(crate) use run::Run;
pub(crate) use shared::collect_shared;
