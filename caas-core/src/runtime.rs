//! The process-wide async runtime on which the blocking methods run, and the cancellation
//! of work run on it.

use std::future::Future;
use std::sync::OnceLock;

use futures::future::{Either, select};
use tokio_util::sync::CancellationToken;

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

tokio::task_local! {
    /// The cancellation of the work that the current task runs under [`Cancellation::run`].
    static CANCELLATION: Cancellation;
}

/// Stops work run under it ([`Cancellation::run`]) when [`Cancellation::cancel`] is called,
/// from any thread: the work ends at its next await (dropping the plan's streams, which
/// stops their tasks) or at its next planning step — lowering checks between layers of
/// variables and DataFusion between optimizer rules, where no await comes for seconds
/// in a large plan — with [`CaasError::Cancelled`]. So a cancelled evaluation leaves no
/// core busy. Clones share one flag.
///
/// ```
/// use caas_core::{CaasError, Cancellation};
/// let cancellation = Cancellation::new();
/// cancellation.cancel();
/// let runtime = caas_core::runtime()?;
/// let result = runtime.block_on(cancellation.run(async { Ok(1) }));
/// assert!(matches!(result, Err(CaasError::Cancelled)));
/// # Ok::<(), CaasError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cancellation(CancellationToken);

impl Cancellation {
    /// A cancellation not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the work run under this cancellation (and any run under it later).
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether [`Cancellation::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Runs `work` until it ends or this is cancelled, whichever comes first.
    pub async fn run<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let work = std::pin::pin!(CANCELLATION.scope(self.clone(), work));
        let cancelled = std::pin::pin!(self.0.cancelled());
        match select(cancelled, work).await {
            Either::Left(_) => Err(CaasError::Cancelled),
            Either::Right((result, _)) => result,
        }
    }
}

/// [`CaasError::Cancelled`] when the current task runs under a [`Cancellation`] that was
/// cancelled: for long steps with no await between them.
pub(crate) fn check_cancelled() -> Result<()> {
    let cancelled = CANCELLATION
        .try_with(Cancellation::is_cancelled)
        .unwrap_or(false);
    if cancelled {
        Err(CaasError::Cancelled)
    } else {
        Ok(())
    }
}
