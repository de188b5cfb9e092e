//! The plans that count each table's findings, and the tables with excluded rows removed.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNode;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::logical_expr::{Expr as DfExpr, lit};
use futures::StreamExt;
use indexmap::IndexMap;

use super::checks::{Test, checks_of};
use super::formats::{bad_nhs_number, has_bad_code, non_finite};
use super::memo::CountKey;
use super::people::{People, Verdict, person_check};
use super::{DataQuality, FindingKind, Policy, QualityPolicies, TableQuality};
use crate::error::{CaasError, Result};
use crate::model::date32;
use crate::model::expr::balanced;
use crate::model::{Cohort, VariableKind};
use crate::source::CodeLayout;
use crate::source::{IdKey, Snapshot, Table, column};

/// One check of one table.
struct Check {
    /// Whether the predicate calls a function of caas, which statistics cannot decide, so
    /// that every row must be read.
    reads_every_row: bool,
    kind: FindingKind,
    /// The columns checked, for the report and for errors.
    column: String,
    policy: Policy,
    /// True for the rows that have the finding.
    predicate: DfExpr,
    /// Whether removing the rows can change a result (rows of nobody cannot).
    effective: bool,
}

/// The counting plan of one table.
struct TablePlan {
    name: String,
    /// The registered table, whose memo keeps its counts.
    table: Arc<Table>,
    checks: Vec<Check>,
    counts: Counts,
}

/// The plans that count a table's rows and findings.
///
/// The checks of plain columns (missing values, dates out of range) only count the rows
/// that pass a filter of them all, so that the Parquet reader skips the row groups and
/// pages whose statistics rule every finding out: on clean data they read next to nothing.
struct Counts {
    /// The rows (from the file metadata where it has them).
    rows: DataFrame,
    /// One flag per plain check, in check order, of the rows with any of them.
    plain: Option<DataFrame>,
    /// One flag per check that reads every row, in check order, of every row.
    every_row: Option<DataFrame>,
    /// The rows with any finding whose policy is `exclude`.
    excluded: Option<DataFrame>,
}

fn counting_plans(table: &Table, checks: &[Check]) -> Result<Counts> {
    let data = || table.data.clone();
    let counts = |every_row: bool| -> Result<Option<DataFrame>> {
        let chosen: Vec<&Check> = checks
            .iter()
            .filter(|c| c.reads_every_row == every_row)
            .collect();
        let Some(any_finding) = any(chosen.iter().map(|c| c.predicate.clone())) else {
            return Ok(None);
        };
        let rows = if every_row {
            data()
        } else {
            data().filter(any_finding)?
        };
        // Each check's flag in one projection, where the functions that checks share (the
        // look-up of a row's person) are computed once per row.
        let flags: Vec<DfExpr> = chosen
            .iter()
            .enumerate()
            .map(|(i, c)| c.predicate.clone().alias(format!("__q_f{i}")))
            .collect();
        Ok(Some(rows.select(flags)?))
    };
    let excluded = match any(checks
        .iter()
        .filter(|c| c.policy == Policy::Exclude)
        .map(|c| c.predicate.clone()))
    {
        Some(p) => Some(data().filter(p)?.aggregate(vec![], vec![count_all()])?),
        None => None,
    };
    Ok(Counts {
        rows: data().aggregate(vec![], vec![count_all()])?,
        plain: counts(false)?,
        every_row: counts(true)?,
        excluded,
    })
}

/// The rows of a table (from the file metadata where it has them).
async fn count_rows(table: &Table) -> Result<u64> {
    let plan = table.data.clone().aggregate(vec![], vec![count_all()])?;
    Ok(run_counts(&Some(plan)).await?.first().copied().unwrap_or(0))
}

fn count_all() -> DfExpr {
    count_udaf().call(vec![lit(1i64)]).alias("__q_rows")
}

/// The counts of a plan's one row.
async fn run_counts(plan: &Option<DataFrame>) -> Result<Vec<u64>> {
    let Some(plan) = plan else {
        return Ok(Vec::new());
    };
    let batches = plan.clone().collect().await?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| CaasError::internal("a data-quality count returned no row"))?;
    (0..batch.num_columns())
        .map(|i| {
            let array = arrow::compute::cast(batch.column(i), &DataType::Int64)?;
            let array = array.as_primitive::<Int64Type>();
            Ok(if array.is_null(0) {
                0
            } else {
                u64::try_from(array.value(0)).unwrap_or(0)
            })
        })
        .collect()
}

/// How many rows of a plan of boolean flags have each flag true: counted as the batches
/// stream past, which costs less than an aggregate with a filter per flag.
async fn count_flags(plan: &Option<DataFrame>) -> Result<Vec<u64>> {
    let Some(plan) = plan else {
        return Ok(Vec::new());
    };
    let mut counts = vec![0u64; plan.schema().fields().len()];
    let mut stream = plan.clone().execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        for (count, flags) in counts.iter_mut().zip(batch.columns()) {
            let flags = flags
                .as_boolean_opt()
                .ok_or_else(|| CaasError::internal("a data-quality flag is not boolean"))?;
            *count += flags.true_count() as u64;
        }
    }
    Ok(counts)
}

/// The findings to count, ready to run.
pub(crate) struct Inspection {
    reference_date: NaiveDate,
    /// The person table's registration and rows, on which the counts of the checks that
    /// look up people depend.
    person: (u64, u64),
    plans: Vec<TablePlan>,
}

/// The tables whose data quality an evaluation of `cohort` checks: the person table, then
/// those its variables read, through the cohorts it is a member of too.
pub(crate) fn checked_tables(
    tables: &Snapshot,
    cohorts: &IndexMap<String, Arc<Cohort>>,
    cohort: &Cohort,
) -> Vec<String> {
    let mut names = vec![tables.person().name.clone()];
    tables_read(cohort, cohorts, &mut Vec::new(), &mut names);
    names.retain(|n| tables.get(n).is_some());
    names
}

/// The names of the tables a cohort reads, through the cohorts it is a member of too.
fn tables_read(
    cohort: &Cohort,
    cohorts: &IndexMap<String, Arc<Cohort>>,
    seen: &mut Vec<String>,
    out: &mut Vec<String>,
) {
    if seen.iter().any(|id| id == cohort.id()) {
        return;
    }
    seen.push(cohort.id().to_string());
    for var in cohort.variables() {
        match &var.kind {
            VariableKind::Events(ev) => push_unique(out, &ev.table),
            VariableKind::Registered { table, .. } | VariableKind::Practice { table, .. } => {
                push_unique(out, table)
            }
            VariableKind::MemberOf { cohort: other } => {
                if let Some(other) = cohorts.get(other) {
                    tables_read(other, cohorts, seen, out);
                }
            }
            _ => {}
        }
    }
}

fn push_unique(out: &mut Vec<String>, name: &str) {
    if !out.iter().any(|n| n == name) {
        out.push(name.to_string());
    }
}

fn date_literal(date: NaiveDate) -> DfExpr {
    lit(ScalarValue::Date32(Some(date32(date))))
}

fn any(predicates: impl IntoIterator<Item = DfExpr>) -> Option<DfExpr> {
    balanced(predicates.into_iter().collect(), DfExpr::or)
}

impl Inspection {
    /// Plans the checks of the tables `cohort` reads, and returns the tables (all of
    /// `tables`) with the rows of `exclude` policies removed. Reads the person table's ids
    /// and dates of birth.
    pub async fn new(
        tables: &Snapshot,
        cohorts: &IndexMap<String, Arc<Cohort>>,
        cohort: &Cohort,
        policies: &QualityPolicies,
        reference_date: NaiveDate,
    ) -> Result<(Self, Snapshot)> {
        let mut inspection = Inspection {
            reference_date,
            person: (0, 0),
            plans: Vec::new(),
        };
        let person = tables.person();
        let names = checked_tables(tables, cohorts, cohort);

        let person_rows = count_rows(person).await?;
        let people = match person.quality.people(person_rows) {
            Some(people) => people,
            None => {
                let people = Arc::new(People::read(person).await?);
                person.quality.keep_people(person_rows, people.clone());
                people
            }
        };
        let checker = Checker {
            policies,
            reference_date,
            people,
            key: IdKey::of(&person.shape),
        };
        inspection.person = (person.quality.registration(), person_rows);
        let mut keeps: IndexMap<String, DfExpr> = IndexMap::new();
        for name in names {
            let Some(table) = tables.get(&name) else {
                continue;
            };
            let checks = checker.checks(table);
            let counts = counting_plans(table, &checks)?;
            let remove = any(checks
                .iter()
                .filter(|c| c.policy == Policy::Exclude && c.effective)
                .map(|c| c.predicate.clone()));
            if let Some(remove) = remove {
                let keep = DfExpr::Not(Box::new(coalesce(vec![remove, lit(false)])));
                keeps.insert(name.clone(), keep);
            }
            inspection.plans.push(TablePlan {
                name,
                table: table.clone(),
                checks,
                counts,
            });
        }
        let out = tables.map(|table| match keeps.get(&table.name) {
            Some(keep) => Ok(Arc::new(
                table.with_data(table.data.clone().filter(keep.clone())?),
            )),
            None => Ok(table.clone()),
        })?;
        Ok((inspection, out))
    }

    /// Runs the counts, one plan at a time (each uses every partition); fails on the first
    /// finding (in report order) whose policy is `fail`.
    pub async fn run(self) -> Result<DataQuality> {
        let mut tables = Vec::with_capacity(self.plans.len());
        for plan in self.plans {
            let counts = &plan.counts;
            let rows = run_counts(&Some(counts.rows.clone())).await?;
            let memo = &plan.table.quality;
            let counted = |every_row: bool| {
                let key = CountKey {
                    rows: rows.first().copied().unwrap_or(0),
                    reference_date: self.reference_date,
                    person: self.person,
                    every_row,
                    kinds: plan
                        .checks
                        .iter()
                        .filter(|c| c.reads_every_row == every_row)
                        .map(|c| c.kind)
                        .collect(),
                };
                let plan = if every_row {
                    &counts.every_row
                } else {
                    &counts.plain
                };
                async move {
                    if let Some(counts) = memo.counts(&key) {
                        return Ok::<_, CaasError>(counts);
                    }
                    let counts = count_flags(plan).await?;
                    memo.keep(key, counts.clone());
                    Ok(counts)
                }
            };
            let mut plain = counted(false).await?.into_iter();
            let mut every_row = counted(true).await?.into_iter();
            let excluded = run_counts(&counts.excluded).await?;
            let counted: Vec<_> = plan
                .checks
                .iter()
                .map(|check| {
                    let source = if check.reads_every_row {
                        &mut every_row
                    } else {
                        &mut plain
                    };
                    let count = source.next().unwrap_or(0);
                    (check.kind, check.column.clone(), check.policy, count)
                })
                .collect();
            tables.push(TableQuality::from_counts(
                plan.name,
                plan.table.shape.role,
                rows.first().copied().unwrap_or(0),
                excluded.first().copied().unwrap_or(0),
                counted,
            )?);
        }
        Ok(DataQuality {
            arithmetic: Vec::new(),
            reference_date: self.reference_date.format("%Y-%m-%d").to_string(),
            tables,
        })
    }
}

/// Builds the checks of a table.
struct Checker<'a> {
    policies: &'a QualityPolicies,
    reference_date: NaiveDate,
    people: Arc<People>,
    key: IdKey,
}

impl Checker<'_> {
    fn check(&self, kind: FindingKind, column: String, predicate: DfExpr) -> Check {
        let calls_caas = predicate
            .exists(|e| Ok(matches!(e, DfExpr::ScalarFunction(f) if f.name().starts_with("caas_"))))
            .unwrap_or(true);
        Check {
            kind,
            column,
            policy: self.policies.get(kind),
            predicate,
            reads_every_row: calls_caas,
            effective: true,
        }
    }

    /// Whether each row of `table` has the verdict, its `date` compared with the birth.
    fn person_is(&self, table: &Table, date: Option<&str>, verdict: Verdict) -> DfExpr {
        let date = date.map_or(lit(ScalarValue::Date32(None)), |c| table.date(c));
        person_check(&self.people, table, self.key, date).eq(lit(verdict as i8))
    }

    /// The checks of a table, in report order.
    fn checks(&self, table: &Table) -> Vec<Check> {
        checks_of(&table.shape, self.reference_date)
            .into_iter()
            .map(|spec| {
                let mut check =
                    self.check(spec.kind, spec.column, self.predicate(table, spec.test));
                check.effective = spec.effective;
                check
            })
            .collect()
    }

    /// True for the rows that fail `test`.
    fn predicate(&self, table: &Table, test: Test) -> DfExpr {
        let any_date = |columns: Vec<String>, compare: fn(DfExpr, DfExpr) -> DfExpr, day| {
            any(columns
                .iter()
                .map(|c| compare(table.date(c), date_literal(day))))
            .unwrap_or(lit(false))
        };
        match test {
            Test::Missing(c) => column(&c).is_null(),
            Test::BadNhsNumber {
                column: c,
                or_missing,
            } => {
                let bad = bad_nhs_number(column(&c));
                if or_missing {
                    column(&c).is_null().or(bad)
                } else {
                    bad
                }
            }
            Test::Duplicate => self.person_is(table, None, Verdict::Duplicate),
            Test::Unknown { date } => self
                .person_is(table, date.as_deref(), Verdict::Unknown)
                .or(table.unmatched_id(self.key)),
            Test::BeforeBirth(c) => self.person_is(table, Some(&c), Verdict::BeforeBirth),
            Test::After(columns, day) => any_date(columns, DfExpr::gt, day),
            Test::Before(columns, day) => any_date(columns, DfExpr::lt, day),
            Test::Earlier(first, second) => table.date(&first).lt(table.date(&second)),
            Test::NonFinite(c) => non_finite(column(&c)),
            Test::AnyMissing(columns) => {
                any(columns.iter().map(|c| column(c).is_null())).unwrap_or(lit(false))
            }
            Test::BadCode(layout, system) => match layout {
                CodeLayout::Single(c) | CodeLayout::List(c) => {
                    has_bad_code(column(&c), system, None)
                }
                CodeLayout::Delimited(c, d) => has_bad_code(column(&c), system, Some(d)),
                CodeLayout::Columns(cs) => {
                    any(cs.iter().map(|c| has_bad_code(column(c), system, None)))
                        .unwrap_or(lit(false))
                }
            },
        }
    }
}
