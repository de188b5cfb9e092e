//! Assurance after a run, from its [`Evaluation`](crate::Evaluation): why one person is in
//! or out ([`explain`]), and the report that goes with a cohort — the definition in plain
//! English, codelists, attrition, data quality and provenance ([`report`]).

pub mod explain;
pub mod report;
