//! Running async work of the engine from Python: on the process-wide runtime, with the GIL
//! released so that other Python threads run (and evaluate) meanwhile, waking every few
//! milliseconds to let Python handle signals. Ctrl-C cancels the work (its planning stops
//! at the next step, its DataFusion streams are dropped, so no core stays busy) and raises
//! `KeyboardInterrupt`.

use std::future::Future;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use caas_core::{CaasError, Cancellation};
use pyo3::prelude::*;

use crate::errors::{check, to_py};

/// How often the waiting thread wakes to check for signals and report progress.
const SLICE: Duration = Duration::from_millis(50);

/// Runs `future` to completion on the caas runtime; `progress`, when given, is called with
/// the seconds elapsed about every `SLICE` while it runs.
pub fn run<T, F>(py: Python<'_>, future: F, progress: Option<&Bound<'_, PyAny>>) -> PyResult<T>
where
    F: Future<Output = caas_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = check(py, caas_core::runtime())?;
    let (sender, receiver) = sync_channel(1);
    let cancellation = Cancellation::new();
    let work = cancellation.clone();
    runtime.spawn(async move {
        // The receiver is gone only when the caller was interrupted.
        let _ = sender.send(work.run(future).await);
    });
    let started = Instant::now();
    let mut receiver: Receiver<caas_core::Result<T>> = receiver;
    loop {
        let (back, received) = py.detach(move || {
            let received = receiver.recv_timeout(SLICE);
            (receiver, received)
        });
        receiver = back;
        match received {
            Ok(result) => return check(py, result),
            Err(RecvTimeoutError::Timeout) => {
                let step = py.check_signals().and_then(|()| match progress {
                    Some(callback) => callback
                        .call1((started.elapsed().as_secs_f64(),))
                        .map(|_| ()),
                    None => Ok(()),
                });
                if let Err(interrupt) = step {
                    cancellation.cancel();
                    return Err(interrupt);
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
