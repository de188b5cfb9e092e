//! Assurance after a run, from its [`Evaluation`](crate::Evaluation): why one person is in
//! or out ([`explain`]), who the members are ([`characterise`]: "Table 1"), and the report
//! that goes with a cohort — the definition in plain English, codelists, attrition, the
//! members' characteristics, data quality and provenance ([`report`]) — and the printed
//! summaries of a run, under the report's disclosure control.

pub mod characterise;
pub mod explain;
pub mod report;
mod summary;
