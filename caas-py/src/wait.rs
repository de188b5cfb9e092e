//! Running async work of the engine from Python: on the process-wide runtime, with the GIL
//! released so that other Python threads run (and evaluate) meanwhile, waking every few
//! milliseconds to let Python handle signals and to report progress. Ctrl-C cancels the
//! work (its planning stops at the next step, its DataFusion streams are dropped, so no
//! core stays busy) and raises `KeyboardInterrupt`; so does a progress callback that
//! returns `False` (raising `caas.EngineError` with the code `cancelled`) or raises.

use std::collections::HashMap;
use std::future::Future;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use caas_core::{CaasError, Cancellation, Reads};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{check, to_py};

/// How often the waiting thread wakes to check for signals and report progress.
const SLICE: Duration = Duration::from_millis(50);

/// Runs `future` to completion on the caas runtime. `progress`, when given, is called as
/// `progress(table, rows_read, rows_expected)` (`rows_expected` None when the source
/// cannot say) for each table whose count moved, about every `SLICE` while the work runs,
/// and once more for every table it read when it has ended; returning `False` cancels it.
pub fn run<T, F>(py: Python<'_>, future: F, progress: Option<&Bound<'_, PyAny>>) -> PyResult<T>
where
    F: Future<Output = caas_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = check(py, caas_core::runtime())?;
    let (sender, receiver) = sync_channel(1);
    let cancellation = Cancellation::new();
    // Rows are counted only for a callback: otherwise the plans are the plain ones.
    let reads = progress.map(|_| Reads::new());
    let (work, counted) = (cancellation.clone(), reads.clone());
    runtime.spawn(async move {
        let future = async move {
            match counted {
                Some(reads) => reads.count(future).await,
                None => future.await,
            }
        };
        // The receiver is gone only when the caller was interrupted.
        let _ = sender.send(work.run(future).await);
    });
    let mut shown = Shown::default();
    let mut receiver: Receiver<caas_core::Result<T>> = receiver;
    loop {
        let (back, received) = py.detach(move || {
            let received = receiver.recv_timeout(SLICE);
            (receiver, received)
        });
        receiver = back;
        match received {
            Ok(result) => {
                if result.is_ok()
                    && let (Some(callback), Some(reads)) = (progress, &reads)
                {
                    // Cancelling now would throw away a finished result: the last report
                    // only reports.
                    shown.report(callback, reads, true)?;
                }
                return check(py, result);
            }
            Err(RecvTimeoutError::Timeout) => {
                let step = py.check_signals().and_then(|()| match (progress, &reads) {
                    (Some(callback), Some(reads)) => shown.report(callback, reads, false),
                    _ => Ok(true),
                });
                match step {
                    Ok(true) => {}
                    // The work ends with `CaasError::Cancelled`, raised when it arrives.
                    Ok(false) => cancellation.cancel(),
                    Err(interrupt) => {
                        cancellation.cancel();
                        return Err(interrupt);
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(to_py(
                    py,
                    CaasError::Internal("the evaluation stopped without a result".to_string()),
                ));
            }
        }
    }
}

/// The counts last given to the progress callback, per table.
#[derive(Default)]
struct Shown(HashMap<String, (u64, Option<u64>)>);

impl Shown {
    /// Calls `callback` for each table whose count moved (every table when `last`);
    /// `Ok(false)` when it returned `False`.
    fn report(&mut self, callback: &Bound<'_, PyAny>, reads: &Reads, last: bool) -> PyResult<bool> {
        for t in reads.tables() {
            let now = (t.rows_read, t.rows_expected);
            if !last && self.0.get(&t.table) == Some(&now) {
                continue;
            }
            let answer = callback.call1((t.table.as_str(), t.rows_read, t.rows_expected))?;
            self.0.insert(t.table, now);
            if answer.is_instance_of::<PyBool>() && !answer.is_truthy()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
