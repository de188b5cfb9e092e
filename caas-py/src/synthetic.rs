//! The synthetic NHS-like population of `caas_synth`.

use std::path::PathBuf;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use caas_core::CaasError;
use caas_synth::{self as synth, SynthConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{check, to_py};

/// Generates `persons` synthetic people into `out` (one folder of Parquet files per table),
/// drawing clinical codes from the codelist files in `codelists`. Returns the rows written
/// per table, the number of files per table and the seconds taken. `progress`, when given,
/// is called with the seconds elapsed while it runs. Ctrl-C stops waiting (the files being
/// written are incomplete).
#[pyfunction]
#[pyo3(signature = (persons, out, codelists, seed=None, progress=None))]
pub fn generate<'py>(
    py: Python<'py>,
    persons: u64,
    out: PathBuf,
    codelists: PathBuf,
    seed: Option<u64>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let defaults = SynthConfig::default();
    let config = SynthConfig {
        persons,
        seed: seed.unwrap_or(defaults.seed),
        ..defaults
    };
    let (sender, receiver) = sync_channel(1);
    // Generation is synchronous and uses its own threads; waiting for it on another
    // thread keeps this one free to notice Ctrl-C.
    std::thread::spawn(move || {
        let _ = sender.send(synth::generate(&config, &codelists, &out));
    });
    let started = Instant::now();
    let mut receiver = receiver;
    let summary = loop {
        let (back, received) = py.detach(move || {
            let received = receiver.recv_timeout(Duration::from_millis(100));
            (receiver, received)
        });
        receiver = back;
        match received {
            Ok(result) => break check(py, result)?,
            Err(RecvTimeoutError::Timeout) => {
                py.check_signals()?;
                if let Some(callback) = progress {
                    callback.call1((started.elapsed().as_secs_f64(),))?;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(to_py(
                    py,
                    CaasError::Internal("the generator stopped without a result".to_string()),
                ));
            }
        }
    };
    let rows = PyDict::new(py);
    for (table, n) in &summary.rows {
        rows.set_item(*table, *n)?;
    }
    let result = PyDict::new(py);
    result.set_item("rows", rows)?;
    result.set_item("files", summary.files)?;
    result.set_item("seconds", summary.seconds)?;
    Ok(result)
}

/// The tables of a generated population: (table name, folder, spec as a dict).
#[pyfunction]
pub fn table_specs(py: Python<'_>) -> PyResult<Vec<(String, String, Bound<'_, PyAny>)>> {
    synth::table_specs()
        .into_iter()
        .map(|(name, folder, spec)| {
            let spec = pythonize::pythonize(py, &spec)
                .map_err(|e| to_py(py, CaasError::Internal(e.to_string())))?;
            Ok((name.to_string(), folder.to_string(), spec))
        })
        .collect()
}
