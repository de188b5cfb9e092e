//! The integration tests of caas-core, in one test binary: each module is what was once a
//! binary of its own. One binary links DataFusion once instead of once per file, which
//! is most of the time `cargo test` spends building them.
//!
//! Run one module's tests with a filter, e.g.
//! `cargo test -p caas-core --test integration conformance`.

// Tests may unwrap, expect and panic, helpers too: a failed assertion is how they report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod characterise;
mod cohort_plan;
mod common;
mod conformance;
mod diff;
mod explain;
mod flu;
mod governance;
mod hardening;
mod many;
mod no_identifiers;
mod plan_shape;
mod progress;
mod provenance;
mod quality;
mod robustness;
mod schema;
mod sources;
mod synth;
mod what_if;
