//! Options: how the engine runs ([`EngineOptions`]) and how one evaluation treats data
//! quality and identifiers ([`EvaluationOptions`]).

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::common::tree_node::Transformed;
use datafusion::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{AnalyzerRule, OptimizerConfig, OptimizerRule};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::governance::PseudonymKey;
use crate::error::Result;
use crate::limits::Limits;
use crate::source::quality::{FindingKind, Policy, QualityPolicies};

/// How the engine runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineOptions {
    /// Partitions (and threads) per plan; default: the machine's cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_partitions: Option<usize>,
    /// Memory for evaluation in bytes; over it, sorts and aggregates spill to disk.
    /// Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<usize>,
    /// Rows per batch; default DataFusion's (8192).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// How deep an expression may nest; default [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_expression_depth: Option<usize>,
    /// How many nodes an expression may become once lowered; default
    /// [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_expression_nodes: Option<u64>,
    /// How many bytes a definition's text may hold; default [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_definition_bytes: Option<usize>,
    /// How many variables a definition may have; default [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_variables: Option<usize>,
    /// How long a chain of variables may be; default [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_variable_depth: Option<usize>,
    /// How many codes a codelist may hold; default [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_codelist_codes: Option<usize>,
    /// How many bytes a file that a definition names may hold; default
    /// [`Limits::default`]'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_bytes: Option<u64>,
}

impl EngineOptions {
    /// The limits that definitions are checked against: these options over the defaults.
    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        Limits {
            max_expression_depth: self
                .max_expression_depth
                .unwrap_or(default.max_expression_depth),
            max_expression_nodes: self
                .max_expression_nodes
                .unwrap_or(default.max_expression_nodes),
            max_definition_bytes: self
                .max_definition_bytes
                .unwrap_or(default.max_definition_bytes),
            max_variables: self.max_variables.unwrap_or(default.max_variables),
            max_variable_depth: self
                .max_variable_depth
                .unwrap_or(default.max_variable_depth),
            max_codelist_codes: self
                .max_codelist_codes
                .unwrap_or(default.max_codelist_codes),
            max_file_bytes: self.max_file_bytes.unwrap_or(default.max_file_bytes),
        }
    }

    /// A DataFusion session that runs with these options.
    pub(crate) fn session(&self) -> Result<SessionContext> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = self.memory_limit {
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        Ok(session(self.config(), runtime.build_arc()?))
    }

    pub(crate) fn config(&self) -> SessionConfig {
        let mut config = SessionConfig::new();
        // Event tables are joined to a few thousand codes out of millions of rows: decoding
        // the code column first and the others only for matching rows (late
        // materialisation, with the join's dynamic filter) saves most of the scan.
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.pushdown_filters = true;
        parquet.reorder_filters = true;
        // DataFusion's common-subexpression step can declare a shared term of an event
        // `where` not nullable while its physical plan (rightly) makes it nullable; the
        // check that the two schemas of an aggregate's input agree then fails a valid
        // definition (conformance 171). The physical plan is the one that runs.
        config
            .options_mut()
            .execution
            .skip_physical_aggregate_schema_check = true;
        if let Some(n) = self.target_partitions {
            config = config.with_target_partitions(n.max(1));
        }
        if let Some(n) = self.batch_size {
            config = config.with_batch_size(n.max(1));
        }
        config
    }
}

/// A session of `config` over `runtime` whose optimizers check between every two rules
/// whether the evaluation was cancelled: a large plan spends seconds in them without an
/// await, where a cancelled task would otherwise go on.
pub(crate) fn session(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let check = Arc::new(CheckCancelled);
    let analyzer = interleave(&state.analyzer().rules, check.clone());
    let logical = interleave(state.optimizers(), check.clone());
    let physical = interleave(state.physical_optimizers(), check);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_analyzer_rules(analyzer)
        .with_optimizer_rules(logical)
        .with_physical_optimizer_rules(physical)
        .build();
    SessionContext::new_with_state(state)
}

/// `rules` with `check` before each of them.
fn interleave<R: ?Sized>(rules: &[Arc<R>], check: Arc<R>) -> Vec<Arc<R>> {
    (rules.iter())
        .flat_map(|rule| [check.clone(), rule.clone()])
        .collect()
}

/// The optimizer rule that fails with [`CaasError::Cancelled`](crate::CaasError::Cancelled)
/// when the evaluation was cancelled, and otherwise changes nothing.
#[derive(Debug)]
struct CheckCancelled;

fn check_cancelled() -> datafusion::error::Result<()> {
    crate::runtime::check_cancelled().map_err(|e| DataFusionError::External(Box::new(e)))
}

impl OptimizerRule for CheckCancelled {
    fn name(&self) -> &str {
        "caas_check_cancelled"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> datafusion::error::Result<Transformed<LogicalPlan>> {
        check_cancelled()?;
        Ok(Transformed::no(plan))
    }
}

impl AnalyzerRule for CheckCancelled {
    fn name(&self) -> &str {
        "caas_check_cancelled"
    }

    fn analyze(
        &self,
        plan: LogicalPlan,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<LogicalPlan> {
        check_cancelled()?;
        Ok(plan)
    }
}

impl PhysicalOptimizerRule for CheckCancelled {
    fn name(&self) -> &str {
        "caas_check_cancelled"
    }

    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        check_cancelled()?;
        Ok(plan)
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Options of one evaluation: the policy of each kind of data-quality finding, the
/// reference date of "future" dates, and the key of pseudonyms.
///
/// Built in code, or read from JSON (as the Python and C front ends pass it); when
/// serialised, the pseudonym key is left out.
///
/// ```
/// use caas_core::EvaluationOptions;
/// use caas_core::governance::PseudonymKey;
/// use caas_core::quality::{FindingKind, Policy};
///
/// let built = EvaluationOptions::new()
///     .with_policy(FindingKind::InvalidCode, Policy::Exclude)
///     .with_reference_date(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
///     .with_pseudonym_key(PseudonymKey::from_hex(&"2f".repeat(32)).unwrap());
/// let read: EvaluationOptions = serde_json::from_str(&format!(
///     r#"{{"quality": {{"invalid_code": "exclude"}}, "reference_date": "2026-01-31",
///         "pseudonym_key": "{}"}}"#,
///     "2f".repeat(32),
/// )).unwrap();
/// assert_eq!(built, read);
/// // The key never leaves: not in JSON, not in Debug output.
/// let json = serde_json::to_string(&built).unwrap();
/// assert!(!json.contains("2f2f") && !json.contains("pseudonym_key"));
/// assert!(format!("{built:?}").contains("<redacted>"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationOptions {
    /// What to do with the rows of each kind of data-quality finding (see
    /// [`QualityPolicies`] for the defaults).
    #[serde(default)]
    pub quality: QualityPolicies,
    /// The day after which a date is in the future (`YYYY-MM-DD`), normally the day the data
    /// was extracted. Default: the day of the evaluation (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso_date")]
    #[schemars(with = "Option<NaiveDate>")]
    pub reference_date: Option<NaiveDate>,
    /// With a key, members are identified by pseudonyms (HMAC-SHA256 of the NHS number)
    /// instead of person ids; see [`crate::governance`]. Written in hexadecimal in JSON;
    /// never serialised.
    #[serde(default, skip_serializing)]
    pub pseudonym_key: Option<PseudonymKey>,
}

impl EvaluationOptions {
    /// The default options: default policies, today as the reference date, no pseudonyms.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the policy of one kind of finding.
    pub fn with_policy(mut self, kind: FindingKind, policy: Policy) -> Self {
        self.quality.set(kind, policy);
        self
    }

    /// Sets the policy of every kind of finding.
    pub fn with_policies(mut self, policies: QualityPolicies) -> Self {
        self.quality = policies;
        self
    }

    /// The reference date, else the day of the evaluation (UTC).
    pub fn reference_date_or_today(&self) -> NaiveDate {
        self.reference_date
            .unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    /// Sets the reference date of "future" dates.
    pub fn with_reference_date(mut self, date: NaiveDate) -> Self {
        self.reference_date = Some(date);
        self
    }

    /// Identifies members by pseudonyms made with `key`.
    pub fn with_pseudonym_key(mut self, key: PseudonymKey) -> Self {
        self.pseudonym_key = Some(key);
        self
    }
}

/// An optional date as `YYYY-MM-DD` text.
mod iso_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Option<NaiveDate>, out: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => out.serialize_str(&d.format("%Y-%m-%d").to_string()),
            None => out.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<NaiveDate>, D::Error> {
        Option::<String>::deserialize(input)?
            .map(|text| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    serde::de::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)"))
                })
            })
            .transpose()
    }
}
