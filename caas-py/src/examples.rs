//! The flagship example, embedded at build time from `examples/flu` (see `build.rs`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// The flu example's files: (path relative to its folder, content), `flu.yaml` first.
#[pyfunction]
pub fn example_files(py: Python<'_>) -> Vec<(&'static str, Bound<'_, PyBytes>)> {
    FLU.iter()
        .map(|(path, content)| (*path, PyBytes::new(py, content)))
        .collect()
}
