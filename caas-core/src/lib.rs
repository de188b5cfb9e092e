//! # caas-core: cohorts over Arrow data with DataFusion
//!
//! caas finds **cohorts** — the people in health data who share characteristics (age on a
//! date, where they live, their practice, clinical codes within time windows, measured
//! values) — and shows how each cohort was built. This crate is the one engine; the Python
//! package and the C library are thin layers over it.
//!
//! ## Architecture
//!
//! The modules follow the path of a definition through the engine:
//!
//! 1. [`model`] — the cohort definition: the document read from YAML or JSON
//!    ([`Definition`], with a published JSON Schema), its expression language
//!    ([`model::expr`]), and the checked form ([`Cohort`]) in which every name is resolved,
//!    every expression typed and the variables ordered by dependency.
//! 2. [`codelist`] — codelists and code systems: exact matching for SNOMED CT and dm+d,
//!    prefix matching after normalisation for ICD-10 and OPCS-4.
//! 3. [`source`] — tables: their role (person, events, periods), the mapping of their
//!    columns, the checks of their types, and reading Parquet, CSV and Arrow IPC.
//! 4. `compile` — the lowering of a cohort to one DataFusion logical plan: each event table
//!    is scanned once for all its variables, joined to a (code, variable) table, and
//!    aggregated per person; then variables and rules are projected over the persons.
//! 5. [`Engine`] — registration of tables and cohorts, and evaluation (async, with blocking
//!    conveniences), with [`EvaluationOptions`].
//! 6. [`results`] — members and attrition as Arrow record batches, and the difference
//!    between two runs' members.
//!
//! Around that path, every evaluation runs [`quality`] checks over the tables it reads
//! (counted in DataFusion, with a keep/exclude/fail policy per kind of finding) and applies
//! [`governance`]: opt-outs by purpose as the first attrition step, and pseudonyms.
//!
//! After an evaluation, for clinical assurance: [`explain`] — why one person is in or out,
//! and the audit table of every person's rule outcomes; [`provenance`] — the JSON manifest
//! of what went in; [`report`] — the definition in plain English, codelists, attrition and
//! provenance as Markdown and HTML, with disclosure control of counts.
//!
//! Beside that path: [`synth`] generates a synthetic NHS-like population (Parquet) for
//! demonstrations, tests and benchmarks, and [`nhs`] checks NHS numbers.
//!
//! Every fallible function returns [`CaasError`], whose variants name the place at fault.
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

pub mod codelist;
mod compile;
mod engine;
pub mod error;
pub mod explain;
pub mod governance;
pub mod model;
pub mod nhs;
pub mod provenance;
pub mod quality;
pub mod report;
pub mod results;
pub mod source;
pub mod synth;

pub use codelist::{CodeSystem, Codelist};
pub use engine::{Engine, EngineOptions, EvaluationOptions, runtime};
pub use error::{CaasError, Category, EngineFailure, Format, Place, Result};
pub use explain::{Explanation, PersonId};
pub use model::{Cohort, Definition, Parameters, Value};
pub use provenance::Provenance;
pub use report::{Report, ReportOptions};
pub use results::{Difference, Evaluation};
pub use source::{ColumnMapping, Role, TableSpec};
