//! The process-wide async runtime on which the blocking methods run.

use std::sync::OnceLock;

use crate::error::{CaasError, EngineFailure, Result};

/// The process-wide async runtime on which the blocking methods run, started on first use.
///
/// Front ends that must stay responsive while an evaluation runs (the Python package checks
/// for Ctrl-C; the C library keeps one runtime for the process) spawn the async methods on
/// it instead of starting runtimes of their own.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("caas")
            .build()
            .map_err(|e| e.to_string())
    });
    runtime.as_ref().map_err(|e| {
        CaasError::engine(
            EngineFailure::Runtime,
            format!("cannot start the async runtime: {e}"),
        )
    })
}

/// Runs a future to completion on the process-wide runtime.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(CaasError::engine(
            EngineFailure::Runtime,
            "a blocking call was made inside an async runtime; await the async method instead",
        ));
    }
    Ok(runtime()?.block_on(future))
}
