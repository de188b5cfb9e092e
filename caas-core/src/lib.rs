//! # caas-core: cohorts over Arrow data with DataFusion
//!
//! caas finds **cohorts** — the people in health data who share characteristics (age on a
//! date, where they live, their practice, clinical codes within time windows, measured
//! values) — and shows how each cohort was built. This crate is the one engine; the Python
//! package and the C library are thin layers over it.
//!
//! ## Architecture
//!
//! The folders read in the order a definition flows through the engine; each module
//! imports only the ones above it in this list (`scripts/check_layers.py` checks it):
//!
//! ```text
//! vocabulary, error   code systems and kinds of finding; the one error type [`CaasError`]
//! runtime             the process-wide async runtime of the blocking calls; cancellation
//! codelist/           code systems, normalisation, codelist files
//! model/              the definition: document, expressions, checked Cohort (no engine types)
//! source/             table roles, mappings, reading files; catalog of registered tables
//!                     (a snapshot with exactly one person table); data-quality checks
//! compile/            Cohort + snapshot -> the backend-neutral cohort plan (plain data: the
//!                     person step with opt-outs; per event table one scan with its
//!                     (code, variable) table and measures; memberships; variables in
//!                     layers; rules), every check of the definition against the tables;
//!                     the scans that several cohorts' plans share (evaluate_many)
//! execute/            lowering the plan to DataFusion (lower/) and running it: one pass for
//!                     members and attrition; or to SQL for Spark, PostgreSQL and DuckDB
//!                     (sql/); governance that acts on rows (opt-out counts, pseudonyms);
//!                     options
//! results/            Evaluation: members, attrition, data quality, provenance; differences
//! assure/             after a run: explanations and audits, the report in plain English
//! engine              the facade: register, evaluate, evaluate_many
//! ```
//!
//! 1. [`model`] — the cohort definition: the document read from YAML or JSON
//!    ([`Definition`], with a published JSON Schema), its expression language
//!    ([`model::expr`]), and the checked form ([`Cohort`]) in which every name is resolved,
//!    every expression typed and the variables ordered by dependency. It rests on
//!    [`codelist`]: exact matching for SNOMED CT and dm+d, prefix matching after
//!    normalisation for ICD-10 and OPCS-4.
//! 2. [`source`] — tables: their role (person, events, periods), the mapping of their
//!    columns, the checks of their types, reading Parquet, CSV and Arrow IPC, and the
//!    [`quality`] checks of the rows an evaluation reads (counted in DataFusion, with a
//!    keep/exclude/fail policy per kind of finding).
//! 3. `compile` — the compilation of a cohort to one backend-neutral cohort plan, plain
//!    data that every backend lowers so that the semantics live once: each event table is
//!    scanned once for all its variables, joined to a (code, variable) table, and
//!    aggregated per person; then variables (in dependency layers) and rules over the
//!    persons. For purposes other than direct care, people with opt-outs are removed
//!    first. Every check of the definition against the tables happens here;
//!    [`Engine::cohort_plan`] shows the plan as text.
//! 4. `execute` — the lowering of the plan to one DataFusion logical plan (and of the rows
//!    explanations read), run once, counting the attrition and keeping the members; the
//!    [`governance`] steps that act on rows (the opt-out attrition step, pseudonyms); the
//!    [`EngineOptions`] and [`EvaluationOptions`]. The same plan lowers to SQL for another
//!    engine ([`sql`]), step for step, so the semantics are decided once.
//! 5. [`results`] — the [`Evaluation`]: members and attrition as Arrow record batches, the
//!    data-quality findings and the [`provenance`] manifest of what went in; the
//!    [`Difference`] between two runs' members; and the attrition had the rules been
//!    others ([`WhatIf`](results::WhatIf)), from the rule outcomes held for every person.
//! 6. `assure` — for clinical assurance after a run: [`explain`] — why one person is in or
//!    out, and the audit table of every person's rule outcomes; [`characterise`] — who the
//!    members are ("Table 1": ages, sex, region, practices, each output variable's
//!    distribution); [`report`] — the definition in plain English, codelists, attrition,
//!    the members' characteristics and provenance as Markdown and HTML, with disclosure
//!    control of counts.
//! 7. [`Engine`] — the facade: registration of tables and cohorts, and evaluation (async,
//!    with blocking conveniences on the process-wide [`runtime`]; any of it stopped by a
//!    [`Cancellation`], and its rows read of rows expected reported by [`with_progress`]).
//!
//! Beside that path, [`nhs`] checks NHS numbers. The synthetic NHS-like population of the
//! demonstrations, tests and benchmarks is the crate `caas-synth`.
//!
//! Every fallible function returns [`CaasError`], whose variants name the place at fault,
//! and whose [`category`](CaasError::category) the front ends map to a C status or a Python
//! exception class.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use caas_core::{CodeSystem, Cohort, Engine, Parameters, TableSpec};
//!
//! let engine = Engine::new();
//!
//! let persons = Arc::new(Schema::new(vec![
//!     Field::new("person_id", DataType::Int64, false),
//!     Field::new("date_of_birth", DataType::Date32, true),
//! ]));
//! let batch = RecordBatch::try_new(persons.clone(), vec![
//!     Arc::new(Int64Array::from(vec![1, 2, 3])),
//!     // 1950-06-01, 1990-06-01, 1985-06-01 as days since 1970-01-01
//!     Arc::new(Date32Array::from(vec![-7154, 7456, 5630])),
//! ]).unwrap();
//! engine.register_batches("persons", TableSpec::person(), persons, vec![batch]).unwrap();
//!
//! let events = Arc::new(Schema::new(vec![
//!     Field::new("person_id", DataType::Int64, false),
//!     Field::new("date", DataType::Date32, true),
//!     Field::new("code", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(events.clone(), vec![
//!     Arc::new(Int64Array::from(vec![2, 3])),
//!     Arc::new(Date32Array::from(vec![20000, 20000])), // 2024-10-04
//!     Arc::new(StringArray::from(vec!["195967001", "22298006"])),
//! ]).unwrap();
//! engine.register_batches("gp", TableSpec::events(CodeSystem::SnomedCt), events, vec![batch]).unwrap();
//!
//! let cohort = Cohort::from_yaml_str(r#"
//! id: flu_mini
//! title: Aged 65+, or asthma
//! purpose: direct_care
//! parameters: { index_date: 2025-03-31 }
//! codelists:
//!   asthma: { system: snomed_ct, codes: ["195967001"] }
//! variables:
//!   age: { kind: age, on: index_date }
//!   asthma: { kind: events, table: gp, codelists: [asthma], to: index_date, returns: exists }
//! rules:
//!   - { name: eligible, include: age >= 65 or asthma }
//! output: { columns: [age, asthma] }
//! "#).unwrap();
//!
//! let result = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap();
//! let ids = result.members.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
//! assert_eq!(ids.values(), &[1, 2]);
//! ```

#![forbid(unsafe_code)]

// The layers; their order is in the overview above, and `scripts/check_layers.py` checks
// that each imports only the ones before it.
mod assure;
pub mod codelist;
mod compile;
mod engine;
pub mod error;
mod execute;
mod limits;
pub mod model;
pub mod nhs;
pub mod results;
mod runtime;
pub mod source;
mod vocabulary;

// The public API: the types of the facade, and the modules a user names.
pub use assure::{characterise, explain, report};
pub use characterise::{Characterisation, CharacteriseOptions};
pub use codelist::{CodeSystem, Codelist};
pub use engine::Engine;
pub use error::{CaasError, Category, EngineFailure, Format, Place, Result};
pub use execute::{EngineOptions, EvaluationOptions, governance};
pub use explain::{Explanation, PersonId};
pub use limits::Limits;
pub use model::{Cohort, Definition, Parameters, Value};
pub use report::{Report, ReportOptions};
pub use results::provenance::{self, Provenance};
pub use results::{Difference, Evaluation};
pub use runtime::{Cancellation, runtime};
pub use source::quality;
pub use source::{
    ColumnMapping, DateFormat, Reads, Role, TableReads, TableSpec, with_progress,
    with_progress_blocking,
};

/// A cohort as SQL for Apache Spark, PostgreSQL or DuckDB, lowered from the same plan as
/// the in-process evaluation: [`Engine::to_sql`] over registered tables, or [`sql::to_sql`]
/// over the tables of another engine described by their schemas.
pub mod sql {
    pub use crate::engine::{TableBinding, to_sql};
    pub use crate::execute::sql::{
        ArithmeticSql, CodeTable, CohortSql, Dialect, PseudonymSql, QualityCount, QualityQuery,
        SqlDocument, TableNames, data_quality,
    };
}
