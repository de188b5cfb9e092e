//! Progress: the rows of each table that the work run under a [`Reads`] has read, of the
//! rows it expects to read, for progress bars and for cancelling long evaluations from the
//! front ends.
//!
//! Every registered table is read through a [`CountedTable`]. Outside [`Reads::count`] it
//! plans exactly what the table it wraps plans; inside, it puts a [`CountedScan`] over each
//! scan, which adds up the rows the scan goes past — the rows it emits, the rows its
//! Parquet row filter drops, and at its end the row groups its statistics ruled out — and
//! which is transparent to DataFusion's optimizer (filters, dynamic ones included, pass
//! through it into the scan). Counting costs, per batch, an atomic addition and a look
//! at the scan's metrics.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Constraints, Statistics};
use datafusion::config::ConfigOptions;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::error::Result as DfResult;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::CardinalityEffect;
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterDescription, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties, StatisticsArgs, StatisticsContext,
};
use futures::Stream;
use futures::future::{Either, select};
use indexmap::IndexMap;

use crate::error::{CaasError, Result};
use crate::runtime::{Cancellation, block_on};

/// How often [`with_progress`] reports.
const TICK: Duration = Duration::from_millis(100);

tokio::task_local! {
    /// The counts of the work that the current task runs under [`Reads::count`].
    static READS: Reads;
}

/// The rows that the work run under it ([`Reads::count`]) reads from each table, of the
/// rows it expects to read; shared between threads and read while the work runs. Clones
/// share the counts.
///
/// A table read twice (by the data-quality checks and by the cohort, say) is expected
/// twice; a scan adds its rows to the expected ones when it starts, so `rows_expected`
/// grows as the evaluation reaches later steps. A source that cannot say how many rows it
/// holds (CSV) expects `None`.
#[derive(Debug, Clone, Default)]
pub struct Reads(Arc<Mutex<IndexMap<String, Vec<Arc<ScanCount>>>>>);

/// What [`Reads`] counted of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReads {
    /// The table, as registered.
    pub table: String,
    /// Rows read so far.
    pub rows_read: u64,
    /// Rows the scans started so far will read, when every source can say.
    pub rows_expected: Option<u64>,
}

impl Reads {
    /// Counts of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` so that the rows its evaluations read are counted here.
    pub async fn count<T>(&self, work: impl Future<Output = T>) -> T {
        READS.scope(self.clone(), work).await
    }

    /// The counts so far, one per table in the order the tables were first read.
    pub fn tables(&self) -> Vec<TableReads> {
        let Ok(tables) = self.0.lock() else {
            return Vec::new();
        };
        tables
            .iter()
            .map(|(table, scans)| TableReads {
                table: table.clone(),
                rows_read: scans.iter().map(|s| s.read()).sum(),
                rows_expected: scans.iter().map(|s| s.expected).sum(),
            })
            .collect()
    }

    fn start(&self, table: &str, expected: Option<u64>) -> Arc<ScanCount> {
        let scan = Arc::new(ScanCount {
            expected,
            ..ScanCount::default()
        });
        // A poisoned lock only loses counts, never rows.
        if let Ok(mut tables) = self.0.lock() {
            tables
                .entry(table.to_string())
                .or_default()
                .push(scan.clone());
        }
        scan
    }
}

/// Runs `work` and calls `progress(table, rows_read, rows_expected)` for each table whose
/// count moved, about every 100 ms while it runs, then once for every table it read when it
/// has ended. When `progress` returns `false` the work is cancelled: it stops as
/// [`Cancellation`] stops it, and this returns [`CaasError::Cancelled`].
///
/// `progress` is called on the task that awaits this: with the blocking methods, the
/// calling thread.
///
/// ```
/// use caas_core::{Cohort, Engine, Parameters, TableSpec, with_progress_blocking};
///
/// # let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
/// #     arrow::datatypes::Field::new("person_id", arrow::datatypes::DataType::Int64, false)]));
/// # let batch = arrow::array::RecordBatch::try_new(schema.clone(),
/// #     vec![std::sync::Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3]))])?;
/// let engine = Engine::new();
/// engine.register_batches("persons", TableSpec::person(), schema, vec![batch])?;
/// let cohort = Cohort::from_yaml_str(
///     "{id: all, title: Everyone, purpose: direct_care, output: {columns: []}}",
/// )?;
/// let (parameters, mut seen) = (Parameters::new(), Vec::new());
/// let work = engine.evaluate(&cohort, &parameters);
/// let result = with_progress_blocking(work, |table, read, expected| {
///     seen.push((table.to_string(), read, expected));
///     true
/// })?;
/// assert_eq!(result.member_count(), 3);
/// // The 3 people were read three times, by the data-quality checks and by the cohort.
/// assert_eq!(seen.last(), Some(&("persons".to_string(), 9, Some(9))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn with_progress<T>(
    work: impl Future<Output = Result<T>>,
    mut progress: impl FnMut(&str, u64, Option<u64>) -> bool,
) -> Result<T> {
    let reads = Reads::new();
    let cancellation = Cancellation::new();
    let mut work = std::pin::pin!(cancellation.run(reads.count(work)));
    let mut shown: IndexMap<String, (u64, Option<u64>)> = IndexMap::new();
    let mut report = |last: bool| {
        for t in reads.tables() {
            let now = (t.rows_read, t.rows_expected);
            if (last || shown.get(&t.table) != Some(&now))
                && !progress(&t.table, t.rows_read, t.rows_expected)
            {
                return false;
            }
            shown.insert(t.table, now);
        }
        true
    };
    loop {
        let tick = std::pin::pin!(tokio::time::sleep(TICK));
        match select(work.as_mut(), tick).await {
            Either::Left((result, _)) => {
                // Once cancelled, `progress` is not called again.
                if cancellation.is_cancelled() || !report(true) {
                    return result.and(Err(CaasError::Cancelled));
                }
                return result;
            }
            Either::Right(_) => {
                if !cancellation.is_cancelled() && !report(false) {
                    cancellation.cancel();
                }
            }
        }
    }
}

/// [`with_progress`], blocking the calling thread, on which `progress` is called.
pub fn with_progress_blocking<T>(
    work: impl Future<Output = Result<T>>,
    progress: impl FnMut(&str, u64, Option<u64>) -> bool,
) -> Result<T> {
    block_on(with_progress(work, progress))?
}

/// One scan's count: rows emitted, rows its Parquet row filter dropped, and whether every
/// partition has ended.
#[derive(Debug, Default)]
struct ScanCount {
    expected: Option<u64>,
    emitted: AtomicU64,
    filtered: AtomicU64,
    partitions_left: AtomicUsize,
    done: AtomicBool,
}

impl ScanCount {
    fn read(&self) -> u64 {
        let past = self.emitted.load(Ordering::Relaxed) + self.filtered.load(Ordering::Relaxed);
        match self.expected {
            // At its end a scan has gone past its rows, including those of the row groups
            // and pages its statistics skipped.
            Some(expected) if self.done.load(Ordering::Relaxed) => expected,
            Some(expected) => past.min(expected),
            None => past,
        }
    }
}

/// Registers `data` as read from `table`: each scan under it counted into the [`Reads`] of
/// the work that plans it.
pub(crate) fn counted(table: &str, data: DataFrame) -> Result<DataFrame> {
    let (state, plan) = data.into_parts();
    let plan = plan
        .transform_up(|node| match node {
            LogicalPlan::TableScan(mut scan) => {
                let inner = source_as_provider(&scan.source)?;
                scan.source = provider_as_source(Arc::new(CountedTable {
                    table: table.to_string(),
                    inner,
                }));
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data;
    Ok(DataFrame::new(state, plan))
}

/// A table provider that plans what `inner` plans, under a [`CountedScan`] when the
/// planning task counts reads.
#[derive(Debug)]
struct CountedTable {
    table: String,
    inner: Arc<dyn TableProvider>,
}

impl CountedTable {
    fn wrap(&self, plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        match READS.try_with(Reads::clone) {
            Ok(reads) => Arc::new(CountedScan::new(self.table.clone(), reads, plan)),
            Err(_) => plan,
        }
    }
}

#[async_trait]
impl TableProvider for CountedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.inner.get_column_default(column)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        Ok(self.wrap(plan))
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> DfResult<ScanResult> {
        let plan = self.inner.scan_with_args(state, args).await?.into_inner();
        Ok(ScanResult::new(self.wrap(plan)))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

/// Passes its input's batches through, counting the rows its input goes past into the
/// [`Reads`] of the work that planned it. Transparent to the optimizer: the same
/// properties and statistics as its input, and filters pushed through it.
#[derive(Debug)]
struct CountedScan {
    table: String,
    reads: Reads,
    input: Arc<dyn ExecutionPlan>,
    /// The count of this instance's run, started by its first partition.
    count: OnceLock<Arc<ScanCount>>,
}

impl CountedScan {
    fn new(table: String, reads: Reads, input: Arc<dyn ExecutionPlan>) -> Self {
        CountedScan {
            table,
            reads,
            input,
            count: OnceLock::new(),
        }
    }

    fn started(&self) -> Arc<ScanCount> {
        self.count
            .get_or_init(|| {
                let expected = StatisticsContext::new()
                    .compute(self.input.as_ref(), &StatisticsArgs::new())
                    .ok()
                    .and_then(|s| s.num_rows.get_value().map(|&n| n as u64));
                let count = self.reads.start(&self.table, expected);
                count.partitions_left.store(
                    self.input.output_partitioning().partition_count(),
                    Ordering::Relaxed,
                );
                count
            })
            .clone()
    }
}

impl DisplayAs for CountedScan {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "CountedScan: table={}", self.table)
    }
}

impl ExecutionPlan for CountedScan {
    fn name(&self) -> &str {
        "CountedScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(CountedScan::new(
                self.table.clone(),
                self.reads.clone(),
                input,
            ))),
            _ => Err(one_child()),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(CountedStream {
            input,
            scan: self.input.clone(),
            count: self.started(),
            ended: false,
        }))
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        match input_stats {
            [input] => Ok(input.clone()),
            _ => Err(one_child()),
        }
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        CardinalityEffect::Equal
    }

    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> DfResult<FilterDescription> {
        FilterDescription::from_children(parent_filters, &self.children())
    }

    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DfResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        Ok(FilterPushdownPropagation::if_all(child_pushdown_result))
    }
}

fn one_child() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Internal("CountedScan has one child".to_string())
}

/// One partition of a [`CountedScan`].
struct CountedStream {
    input: SendableRecordBatchStream,
    /// The scan, whose metrics say how many rows its row filter dropped.
    scan: Arc<dyn ExecutionPlan>,
    count: Arc<ScanCount>,
    /// Whether this partition has ended (and was counted as ended, once).
    ended: bool,
}

impl Stream for CountedStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.input.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(batch))) => {
                self.count
                    .emitted
                    .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                if let Some(filtered) = self
                    .scan
                    .metrics()
                    .and_then(|m| m.sum_by_name("pushdown_rows_pruned"))
                {
                    self.count
                        .filtered
                        .store(filtered.as_usize() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(None) if !self.ended => {
                self.ended = true;
                if self.count.partitions_left.fetch_sub(1, Ordering::Relaxed) == 1 {
                    self.count.done.store(true, Ordering::Relaxed);
                }
            }
            _ => {}
        }
        polled
    }
}

impl RecordBatchStream for CountedStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
