//! Running the shared scans of several cohorts once ([`SharedScans`]), and each cohort's
//! own steps over their rows.
//!
//! The shared plan runs as one stream of per-person rows. Each cohort's steps read those
//! rows from a table of their own ([`Fed`]) that the stream feeds, batch by batch, through
//! a short channel: no cohort waits for the scans to finish, and no more than a few
//! batches are held at once, whatever the population. Everything runs on the awaiting
//! task, so a [`Cancellation`](crate::Cancellation) or a progress count applies to all of
//! it.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::collect::{Collected, collect};
use super::lower::{Lowering, column};
use super::run::Run;
use crate::compile::plan::CohortPlan;
use crate::compile::shared::SharedScans;
use crate::error::{CaasError, Result};

/// Batches a cohort's steps may lag behind the shared scans.
const LAG: usize = 2;

type Fed = mpsc::Receiver<std::result::Result<RecordBatch, DataFusionError>>;

/// The rows of the shared scans as a cohort's steps read them: one partition, read once.
#[derive(Debug)]
struct FedRows {
    schema: SchemaRef,
    rows: Mutex<Option<Fed>>,
}

impl PartitionStream for FedRows {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rows = self.rows.lock().ok().and_then(|mut rows| rows.take());
        let stream = match rows {
            Some(rows) => futures::stream::unfold(rows, |mut rows| async move {
                rows.recv().await.map(|batch| (batch, rows))
            })
            .boxed(),
            // The plans over these rows read their source once; a second read would
            // otherwise see no rows.
            None => futures::stream::once(async {
                Err(DataFusionError::Internal(
                    "the shared rows were read twice".to_string(),
                ))
            })
            .boxed(),
        };
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Runs the scans that the plans of `runs` share once, and each run's own steps over their
/// rows, collecting each run as [`collect`] does.
pub(crate) async fn collect_shared(runs: &[(&Run, &CohortPlan)]) -> Result<Vec<Collected>> {
    let plans: Vec<&CohortPlan> = runs.iter().map(|(_, plan)| *plan).collect();
    let (Some(shared), Some((first, _))) = (SharedScans::new(&plans), runs.first()) else {
        return Ok(Vec::new());
    };
    // Each run's tables are after the rows that its data-quality policies remove from the
    // tables it reads; the policies agree, so any run that reads a table has its rows.
    let tables = first.tables.map(|table| {
        let read = runs.iter().find_map(|(run, _)| {
            let used = run.used_tables();
            used.into_iter().find(|t| t.name == table.name).cloned()
        });
        Ok(read.unwrap_or_else(|| table.clone()))
    })?;
    let lowering = Lowering {
        ctx: &first.ctx,
        tables: &tables,
    };
    let scanned = lowering.scanned(&shared.plan, &mut 0)?;
    let schema: SchemaRef = Arc::new(scanned.schema().as_arrow().clone());
    let mut person_columns = vec![column("person_id")];
    for c in &shared.plan.person.columns {
        person_columns.push(column(&format!("__p_{}", c.canonical)));
    }

    let mut feeds = Vec::with_capacity(runs.len());
    let mut collects = Vec::with_capacity(runs.len());
    for ((run, plan), columns) in runs.iter().zip(&shared.columns) {
        let (feed, rows) = mpsc::channel(LAG);
        let source = FedRows {
            schema: schema.clone(),
            rows: Mutex::new(Some(rows)),
        };
        let table = StreamingTable::try_new(schema.clone(), vec![Arc::new(source)])?;
        let mut select = person_columns.clone();
        for (own, shared) in columns {
            select.push(column(shared).alias(own));
        }
        let rows = lowering.ctx.read_table(Arc::new(table))?.select(select)?;
        let frame = lowering.over(&SharedScans::rest(plan), rows, &mut 0)?;
        feeds.push(feed);
        collects.push(collect(&run.cohort, plan, frame));
    }

    let run_scans = async move {
        let mut stream = scanned.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            match batch {
                Ok(batch) => {
                    for feed in &feeds {
                        // A cohort whose steps failed stops reading; its error is its own.
                        let _ = feed.send(Ok(batch.clone())).await;
                    }
                    if feeds.iter().all(mpsc::Sender::is_closed) {
                        break;
                    }
                }
                Err(err) => {
                    // Each cohort must fail, not end early with the rows so far.
                    for feed in &feeds {
                        let failed = DataFusionError::Execution("the shared scans failed".into());
                        let _ = feed.send(Err(failed)).await;
                    }
                    return Err(CaasError::from(err));
                }
            }
        }
        Ok(())
    };
    let (scans, collected) = futures::join!(run_scans, futures::future::join_all(collects));
    // The scans' own error before the cohorts', which only say that the scans failed.
    scans?;
    collected.into_iter().collect()
}
