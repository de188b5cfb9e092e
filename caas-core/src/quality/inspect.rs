//! The plans that count each table's findings, and the tables with excluded rows removed.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::logical_expr::{Expr as DfExpr, ExprFunctionExt, JoinType, cast, lit};
use indexmap::IndexMap;

use super::formats::{bad_nhs_number, has_bad_code};
use super::{DataQuality, Finding, FindingKind, Policy, QualityPolicies, TableQuality};
use crate::compile::column;
use crate::compile::person_key;
use crate::compile::udf::date32;
use crate::engine::Table;
use crate::error::{CaasError, Result};
use crate::model::{Cohort, VariableKind};
use crate::source::{CodeLayout, Role};

/// Column names of the person side of the checks that join to the person table.
const PERSON_KEY: &str = "__q_pkey";
const PERSON_DOB: &str = "__q_dob";
const DUPLICATE_KEY: &str = "__q_dup";
const ROW_KEY: &str = "__q_key";

/// One check of one table.
struct Check {
    kind: FindingKind,
    /// The columns checked, for the report and for errors.
    column: String,
    policy: Policy,
    /// True for the rows that have the finding; uses the joined columns when `joined`.
    predicate: DfExpr,
    /// Whether the predicate needs the table joined to the person side.
    joined: bool,
    /// Whether removing the rows can change a result (rows of nobody cannot).
    effective: bool,
}

/// The counting plan of one table.
struct TablePlan {
    name: String,
    role: Role,
    checks: Vec<Check>,
    /// One row: the rows, then one count per check, then the excluded rows.
    counts: DataFrame,
}

/// The findings to count, ready to run.
pub(crate) struct Inspection {
    reference_date: NaiveDate,
    plans: Vec<TablePlan>,
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
    predicates.into_iter().reduce(DfExpr::or)
}

fn count_where(predicate: DfExpr) -> Result<DfExpr> {
    Ok(count_udaf()
        .call(vec![lit(1i64)])
        .filter(predicate)
        .build()?)
}

/// The columns of `data`, by name, to project a joined frame back onto them.
fn own_columns(data: &DataFrame) -> Vec<DfExpr> {
    data.schema()
        .fields()
        .iter()
        .map(|f| column(f.name()))
        .collect()
}

impl Inspection {
    /// Plans the checks of the tables `cohort` reads, and returns the tables (all of
    /// `tables`) with the rows of `exclude` policies removed.
    pub fn new(
        tables: &IndexMap<String, Arc<Table>>,
        cohorts: &IndexMap<String, Arc<Cohort>>,
        cohort: &Cohort,
        policies: &QualityPolicies,
        reference_date: NaiveDate,
    ) -> Result<(Self, IndexMap<String, Arc<Table>>)> {
        let mut inspection = Inspection {
            reference_date,
            plans: Vec::new(),
        };
        let Some(person) = tables.values().find(|t| t.shape.role == Role::Person) else {
            // Without a person table the evaluation fails when it is compiled.
            return Ok((inspection, tables.clone()));
        };
        let mut names = vec![person.name.clone()];
        tables_read(cohort, cohorts, &mut Vec::new(), &mut names);

        let integer = person.shape.integer_person_id;
        let checker = Checker {
            policies,
            reference_date,
            person,
            integer,
        };
        let mut out = tables.clone();
        for name in names {
            let Some(table) = tables.get(&name) else {
                continue;
            };
            let checks = checker.checks(table);
            let side = checker.person_side(table)?;
            let keyed = || -> Result<DataFrame> {
                let mut exprs = own_columns(&table.data);
                exprs.push(person_key(table, integer).alias(ROW_KEY));
                let (side, key) = side.clone().ok_or_else(|| {
                    CaasError::Engine("a joined check without a person side".into())
                })?;
                Ok(side.join_on(
                    table.data.clone().select(exprs)?,
                    JoinType::Right,
                    [column(&key).eq(column(ROW_KEY))],
                )?)
            };
            let needs_join = checks.iter().any(|c| c.joined);
            let frame = if needs_join {
                keyed()?
            } else {
                table.data.clone()
            };

            let mut aggregates = vec![count_udaf().call(vec![lit(1i64)]).alias("__q_rows")];
            for (i, check) in checks.iter().enumerate() {
                aggregates.push(count_where(check.predicate.clone())?.alias(format!("__q_c{i}")));
            }
            let excluded = any(checks
                .iter()
                .filter(|c| c.policy == Policy::Exclude)
                .map(|c| c.predicate.clone()));
            aggregates.push(
                match &excluded {
                    Some(p) => count_where(p.clone())?,
                    None => lit(0i64),
                }
                .alias("__q_excluded"),
            );
            let counts = frame.aggregate(vec![], aggregates)?;

            let effective: Vec<&Check> = checks
                .iter()
                .filter(|c| c.policy == Policy::Exclude && c.effective)
                .collect();
            if let Some(remove) = any(effective.iter().map(|c| c.predicate.clone())) {
                let keep = DfExpr::Not(Box::new(coalesce(vec![remove, lit(false)])));
                let data = if effective.iter().any(|c| c.joined) {
                    keyed()?.filter(keep)?.select(own_columns(&table.data))?
                } else {
                    table.data.clone().filter(keep)?
                };
                out.insert(
                    name.clone(),
                    Arc::new(Table {
                        name: name.clone(),
                        shape: table.shape.clone(),
                        data,
                    }),
                );
            }
            inspection.plans.push(TablePlan {
                name,
                role: table.shape.role,
                checks,
                counts,
            });
        }
        Ok((inspection, out))
    }

    /// Runs the counts; fails on the first finding (in report order) whose policy is
    /// `fail`.
    pub async fn run(self) -> Result<DataQuality> {
        // One table at a time: each plan uses every partition, and the hash tables of the
        // joins to the person table are not held all at once.
        let mut counted = Vec::with_capacity(self.plans.len());
        for plan in &self.plans {
            counted.push(plan.counts.clone().collect().await?);
        }
        let mut tables = Vec::with_capacity(self.plans.len());
        for (plan, batches) in self.plans.into_iter().zip(counted) {
            let batch = batches
                .iter()
                .find(|b| b.num_rows() > 0)
                .ok_or_else(|| CaasError::Engine("a data-quality count returned no row".into()))?;
            let value = |i: usize| -> Result<u64> {
                let array = arrow::compute::cast(batch.column(i), &DataType::Int64)?;
                let array = array.as_primitive::<Int64Type>();
                Ok(if array.is_null(0) {
                    0
                } else {
                    u64::try_from(array.value(0)).unwrap_or(0)
                })
            };
            let mut findings = Vec::with_capacity(plan.checks.len());
            for (i, check) in plan.checks.iter().enumerate() {
                let count = value(i + 1)?;
                if check.policy == Policy::Fail && count > 0 {
                    return Err(CaasError::DataQuality {
                        table: plan.name.clone(),
                        column: check.column.clone(),
                        kind: check.kind,
                        count,
                    });
                }
                findings.push(Finding {
                    kind: check.kind,
                    column: check.column.clone(),
                    count,
                    policy: check.policy,
                    excluded: if check.policy == Policy::Exclude {
                        count
                    } else {
                        0
                    },
                });
            }
            tables.push(TableQuality {
                table: plan.name,
                role: plan.role,
                rows: value(0)?,
                rows_excluded: value(plan.checks.len() + 1)?,
                findings,
            });
        }
        Ok(DataQuality {
            reference_date: self.reference_date.format("%Y-%m-%d").to_string(),
            tables,
        })
    }
}

/// Builds the checks of a table.
struct Checker<'a> {
    policies: &'a QualityPolicies,
    reference_date: NaiveDate,
    person: &'a Table,
    integer: bool,
}

impl Checker<'_> {
    fn check(&self, kind: FindingKind, column: String, predicate: DfExpr) -> Check {
        Check {
            kind,
            column,
            policy: self.policies.get(kind),
            predicate,
            joined: false,
            effective: true,
        }
    }

    /// The person side that a table's joined checks need, with the name of its key
    /// column: the ids that are on several rows (person table), or every person with
    /// their date of birth (other tables).
    fn person_side(&self, table: &Table) -> Result<Option<(DataFrame, String)>> {
        let key = person_key(self.person, self.integer);
        let ones = count_udaf().call(vec![lit(1i64)]);
        if table.shape.role == Role::Person {
            let side = self
                .person
                .data
                .clone()
                .select(vec![key.alias(DUPLICATE_KEY)])?
                .filter(column(DUPLICATE_KEY).is_not_null())?
                .aggregate(vec![column(DUPLICATE_KEY)], vec![ones.alias("__q_n")])?
                .filter(column("__q_n").gt(lit(1i64)))?
                .select(vec![column(DUPLICATE_KEY)])?;
            return Ok(Some((side, DUPLICATE_KEY.to_string())));
        }
        let dob = match self.person.shape.column("date_of_birth") {
            Some(c) => cast(column(c), DataType::Date32),
            None => lit(ScalarValue::Date32(None)),
        };
        let side = self
            .person
            .data
            .clone()
            .select(vec![key.alias(PERSON_KEY), dob.alias(PERSON_DOB)])?
            .filter(column(PERSON_KEY).is_not_null())?
            .aggregate(
                vec![column(PERSON_KEY)],
                vec![min_udaf().call(vec![column(PERSON_DOB)]).alias(PERSON_DOB)],
            )?;
        Ok(Some((side, PERSON_KEY.to_string())))
    }

    /// The checks of a table, in report order.
    fn checks(&self, table: &Table) -> Vec<Check> {
        let shape = &table.shape;
        let role = shape.role;
        let id_column = shape.column("person_id").unwrap_or("person_id").to_string();
        let id = column(&id_column);
        let date = |part: &str| {
            shape
                .column(part)
                .map(|c| (c.to_string(), cast(column(c), DataType::Date32)))
        };
        let dates: Vec<(String, DfExpr)> = match role {
            Role::Person => ["date_of_birth", "date_of_death"]
                .iter()
                .filter_map(|p| date(p))
                .collect(),
            Role::Events => date("date").into_iter().collect(),
            Role::Periods => date("start_date").into_iter().collect(),
        };
        let main_date = match role {
            Role::Person => date("date_of_birth"),
            Role::Events => date("date"),
            Role::Periods => date("start_date"),
        };
        let names = |dates: &[(String, DfExpr)]| {
            dates
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };

        let mut checks = Vec::new();
        if role == Role::Person
            && let Some(nhs) = shape.column("nhs_number")
        {
            let bad = bad_nhs_number(column(nhs));
            let predicate = if nhs == id_column {
                bad
            } else {
                column(nhs).is_null().or(bad)
            };
            checks.push(self.check(FindingKind::InvalidNhsNumber, nhs.to_string(), predicate));
        }
        let mut missing = self.check(
            FindingKind::MissingPersonId,
            id_column.clone(),
            id.clone().is_null(),
        );
        missing.effective = role == Role::Person;
        checks.push(missing);
        if role == Role::Person {
            let mut duplicate = self.check(
                FindingKind::DuplicatePerson,
                id_column.clone(),
                column(DUPLICATE_KEY).is_not_null(),
            );
            duplicate.joined = true;
            checks.push(duplicate);
        } else {
            let mut unknown = self.check(
                FindingKind::UnknownPerson,
                id_column.clone(),
                id.is_not_null().and(column(PERSON_KEY).is_null()),
            );
            unknown.joined = true;
            unknown.effective = false;
            checks.push(unknown);
        }
        if let Some((c, d)) = &main_date {
            checks.push(self.check(FindingKind::MissingDate, c.clone(), d.clone().is_null()));
        }
        if !dates.is_empty() {
            let reference = date_literal(self.reference_date);
            let future = any(dates.iter().map(|(_, d)| d.clone().gt(reference.clone())));
            let early = any(dates.iter().map(|(_, d)| {
                d.clone().lt(date_literal(
                    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default(),
                ))
            }));
            if let (Some(future), Some(early)) = (future, early) {
                checks.push(self.check(FindingKind::FutureDate, names(&dates), future));
                checks.push(self.check(FindingKind::DateBefore1900, names(&dates), early));
            }
        }
        match role {
            Role::Person => {
                if let (Some((_, dob)), Some((c, dod))) =
                    (date("date_of_birth"), date("date_of_death"))
                {
                    checks.push(self.check(FindingKind::DateBeforeBirth, c, dod.lt(dob)));
                }
            }
            Role::Events | Role::Periods => {
                if let Some((c, d)) = &main_date {
                    let mut before = self.check(
                        FindingKind::DateBeforeBirth,
                        c.clone(),
                        d.clone().lt(column(PERSON_DOB)),
                    );
                    before.joined = true;
                    checks.push(before);
                }
            }
        }
        if let (Some(system), Some(layout)) = (shape.code_system, &shape.codes) {
            let (columns, predicate) = match layout {
                CodeLayout::Single(c) | CodeLayout::List(c) => {
                    (c.clone(), has_bad_code(column(c), system, None))
                }
                CodeLayout::Delimited(c, d) => {
                    (c.clone(), has_bad_code(column(c), system, Some(d.clone())))
                }
                CodeLayout::Columns(cs) => (
                    cs.join(", "),
                    any(cs.iter().map(|c| has_bad_code(column(c), system, None)))
                        .unwrap_or(lit(false)),
                ),
            };
            checks.push(self.check(FindingKind::InvalidCode, columns, predicate));
        }
        checks
    }
}
