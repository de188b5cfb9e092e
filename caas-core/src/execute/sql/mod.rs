//! The SQL lowering of a cohort plan, for running a cohort in another engine — Apache Spark,
//! PostgreSQL or DuckDB — with the members and attrition of the in-process engine.
//!
//! The SQL comes from the same [`CohortPlan`] as the DataFusion plan, step for step
//! ([`cohort`]), so the semantics are decided once, in the compiler. What the engines spell
//! or mean differently (date arithmetic, ordered aggregates, splitting text, quoting) is
//! decided per [`Dialect`] (`dialect.rs`), and the text is rendered from a syntax tree
//! (`ast.rs`). Codelists travel as tables of (code, variable index) that the generated
//! statements create ([`CohortSql::setup`]), never as literals in the query.
//!
//! Where a dialect cannot express something with caas's meaning, lowering fails with
//! [`CaasError::Unsupported`] before any SQL runs.

mod ast;
mod cohort;
mod dialect;
mod expr;
mod quality;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::ast::{Body, Expr as Sql, OrderKey, Query, Renderer, Select, SqlType, string};
use self::cohort::SqlLowering;
use crate::compile::opt_out::OPT_OUT_STEP;
use crate::compile::plan::{CohortPlan, IdType};
use crate::error::{CaasError, Place, Result};
use crate::execute::EvaluationOptions;
use crate::execute::governance::without_nhs_numbers;
use crate::quality::{ArithmeticFinding, DataQuality, FindingKind, Policy, TableQuality};
use crate::source::{Role, Snapshot};
pub use dialect::Dialect;

/// The engine's name of each table a definition names (definition name → engine name, a
/// table or view, possibly qualified as `schema.table`). A table not listed keeps its own
/// name.
pub type TableNames = IndexMap<String, String>;

/// A table of (code, variable index) pairs that the generated queries join the events to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeTable {
    /// The table's name (a temporary table or view).
    pub name: String,
    /// Whether the codes are integers (else text).
    pub integer_codes: bool,
    /// The (code, variable index) rows.
    pub rows: Vec<(String, i32)>,
}

/// The data-quality counts of one table: a query giving one row of `rows` (rows read),
/// `excluded` (rows that `exclude` policies remove) and `finding_<i>`, the rows of each of
/// `checks` in turn. [`CohortSql::data_quality`] makes the findings from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityQuery {
    /// The table (the definition's name).
    pub table: String,
    /// Its role.
    pub role: Role,
    /// The checks counted, in report order.
    pub checks: Vec<QualityCount>,
    /// The query.
    pub query: String,
}

/// One check that a [`QualityQuery`] counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityCount {
    /// The kind of finding.
    pub kind: FindingKind,
    /// The columns checked, comma-separated.
    pub column: String,
    /// The policy applied.
    pub policy: Policy,
}

/// The data-quality findings from the results of a cohort's [`QualityQuery`]s, one row of
/// counts per query in their order, as the in-process engine reports them; fails on the
/// first finding whose policy is `fail`, as in-process.
pub fn data_quality(
    reference_date: &str,
    queries: &[QualityQuery],
    rows: &[Vec<u64>],
) -> Result<DataQuality> {
    if rows.len() != queries.len() {
        return Err(CaasError::internal(format!(
            "{} data-quality results for {} queries",
            rows.len(),
            queries.len()
        )));
    }
    let mut tables = Vec::with_capacity(rows.len());
    for (query, row) in queries.iter().zip(rows) {
        let [read, excluded, findings @ ..] = row.as_slice() else {
            return Err(CaasError::internal(
                "a data-quality result without its counts",
            ));
        };
        if findings.len() != query.checks.len() {
            return Err(CaasError::internal(
                "a data-quality result without a count per check",
            ));
        }
        tables.push(TableQuality::from_counts(
            query.table.clone(),
            query.role,
            *read,
            *excluded,
            query
                .checks
                .iter()
                .zip(findings)
                .map(|(c, n)| (c.kind, c.column.clone(), c.policy, *n)),
        )?);
    }
    Ok(DataQuality {
        arithmetic: Vec::new(),
        reference_date: reference_date.to_string(),
        tables,
    })
}

/// What pseudonymised members need besides their query: the members query binds the
/// parameters `caas_ipad` and `caas_opad` (`PseudonymKey::hmac_pads`), and `missing`
/// must count 0 first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymSql {
    /// The person table.
    pub table: String,
    /// Its NHS number column.
    pub column: String,
    /// A query of one row: the `count` of members without an NHS number.
    pub missing: String,
}

impl PseudonymSql {
    /// The error of `count` members without an NHS number, as in-process.
    pub fn failure(&self, count: u64) -> CaasError {
        without_nhs_numbers(&self.table, &self.column, count)
    }
}

/// A cohort as SQL for one dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortSql {
    /// The dialect.
    pub dialect: &'static str,
    /// The cohort's id.
    pub cohort: String,
    /// The day after which a date is in the future (`YYYY-MM-DD`).
    pub reference_date: String,
    /// The data-quality counts, per table read (the person table first), to run first:
    /// [`CohortSql::data_quality`] fails where a `fail` policy finds rows.
    pub quality: Vec<QualityQuery>,
    /// The statements to run first, in order and in one session: they create the code
    /// tables, then compute every person's outputs and rule results into the temporary
    /// table `cohort_table`, which the queries read.
    pub setup: Vec<String>,
    /// The code tables they create.
    pub code_tables: Vec<CodeTable>,
    /// The temporary table (for Spark, a cached view) of every person's outputs and rule
    /// results.
    pub cohort_table: String,
    /// With a pseudonym key, what the members query needs.
    pub pseudonyms: Option<PseudonymSql>,
    /// The members: `person_id` and the output columns, one row per member, by person id;
    /// with a pseudonym key, `pseudonym` in place of `person_id`, by pseudonym.
    pub members: String,
    /// The attrition: `step`, `rule`, `action`, `before`, `after`, `removed`, by step.
    pub attrition: String,
    /// The number of people the rules start from (`population`).
    pub population: String,
    /// With derived variables or rules that divide, do whole-number arithmetic or move
    /// dates, the
    /// count of the people whose values it left missing, to run after the setup.
    pub arithmetic: Option<ArithmeticSql>,
}

/// The query that counts the people whose values arithmetic left missing, per derived
/// variable and rule that has arithmetic ([`CohortSql::arithmetic`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArithmeticSql {
    /// One row, with one count per place, in order.
    pub query: String,
    /// The variables and rules.
    pub places: Vec<Place>,
    /// The policy of `arithmetic_error`.
    pub policy: Policy,
}

impl ArithmeticSql {
    /// The findings from the row that [`query`](ArithmeticSql::query) gave, as in-process;
    /// fails where the policy is `fail` and people have one.
    pub fn findings(&self, counts: &[u64]) -> Result<Vec<ArithmeticFinding>> {
        ArithmeticFinding::from_counts(&self.places, counts, self.policy)
    }
}

impl CohortSql {
    /// The data-quality findings from the results of the [`quality`](CohortSql::quality)
    /// queries ([`data_quality`]).
    pub fn data_quality(&self, rows: &[Vec<u64>]) -> Result<DataQuality> {
        data_quality(&self.reference_date, &self.quality, rows)
    }

    /// Every statement, as one script to read or to run: the setup (the code tables and the
    /// cohort table), the members query and the attrition query, each ended by `;`.
    pub fn script(&self) -> String {
        let mut out = format!(
            "-- The cohort `{}` in {} SQL, generated by caas {}.\n",
            self.cohort,
            self.dialect,
            env!("CARGO_PKG_VERSION")
        );
        out.push_str(
            "\n-- The codelists as (code, variable index) tables, then every person's outputs \
             and rule results.\n",
        );
        for statement in &self.setup {
            out.push_str(statement);
            out.push_str(";\n");
        }
        out.push_str("\n-- The members.\n");
        out.push_str(&self.members);
        out.push_str(";\n\n-- The attrition.\n");
        out.push_str(&self.attrition);
        out.push_str(";\n");
        if let Some(arithmetic) = &self.arithmetic {
            out.push_str("\n-- The people whose values arithmetic left missing.\n");
            out.push_str(&arithmetic.query);
            out.push_str(";\n");
        }
        out
    }

    /// The SHA-256 of [`script`](CohortSql::script), in hexadecimal: what provenance records.
    pub fn sha256(&self) -> String {
        hex_sha256(&self.script())
    }

    /// [`document`](CohortSql::document) as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(&self.document())
            .map_err(|e| CaasError::internal(format!("cannot write the SQL: {e}")))
    }

    /// Everything a caller needs to run the cohort, as every front end gives it: the fields
    /// of [`CohortSql`] with the whole `script` and its `sha256`.
    pub fn document(&self) -> SqlDocument<'_> {
        SqlDocument {
            sql: self,
            script: self.script(),
            sha256: self.sha256(),
        }
    }
}

/// A [`CohortSql`] with its script and the script's hash, for serialising
/// ([`CohortSql::document`]).
#[derive(Debug, Serialize)]
pub struct SqlDocument<'a> {
    #[serde(flatten)]
    sql: &'a CohortSql,
    script: String,
    sha256: String,
}

/// Lowers a plan to SQL: `outputs` are the members' columns after `person_id`; `checked`
/// the tables whose data quality is checked, the person table first.
pub(crate) fn lower(
    plan: &CohortPlan,
    outputs: &[String],
    tables: &Snapshot,
    checked: &[String],
    dialect: Dialect,
    names: &TableNames,
    options: &EvaluationOptions,
) -> Result<CohortSql> {
    // Text dates are cast, which every engine reads in ISO 8601 only: another format of
    // the tables the cohort reads would need each engine's own parsing.
    for table in checked.iter().filter_map(|t| tables.get(t)) {
        if let Some((column, format)) =
            (table.shape.text_dates.iter()).find(|(_, format)| format != crate::source::ISO_DATE)
        {
            return Err(CaasError::Unsupported {
                place: crate::error::Place::Definition,
                feature: format!(
                    "the dates of `{}` written as `{format}` (column `{column}`; register \
                     them as dates, or as ISO 8601 text)",
                    table.name
                ),
                dialect: dialect.name(),
            });
        }
    }
    let reference_date = options.reference_date_or_today();
    let mut lowering = SqlLowering {
        dialect,
        tables,
        names,
        reserved: cohort::table_names(tables, names),
        steps: Vec::new(),
        people: None,
        code_tables: Vec::new(),
        kept: IndexMap::new(),
    };
    let quality = lowering.quality(checked, &options.quality, reference_date)?;
    let cohort = lowering.cohort(plan, "")?;
    let pseudonym_source = match options.pseudonym_key {
        Some(_) => Some(lowering.pseudonym_source(&cohort)?),
        None => None,
    };
    let counts_step = lowering.step_name("counts".to_string());
    let attrition_step = lowering.step_name("attrition".to_string());
    let people_step = lowering.step_name("people".to_string());
    let steps = lowering.steps;
    let people = lowering
        .people
        .ok_or_else(|| CaasError::internal("a cohort without a person step"))?;

    let render = |query: Query| -> Result<String> {
        let mut r = Renderer::new(dialect);
        r.query(&query)
            .map_err(|_| CaasError::internal("rendering SQL failed"))?;
        Ok(r.finish())
    };

    // Every person's outputs and rule results, computed once into a temporary table that
    // the members and the attrition read: the engines would otherwise run the whole chain
    // once per query. Its name carries the hash of its query, so that results of other
    // parameters in the same session keep theirs.
    let mut kept = Select::from_step(&cohort).expr(Sql::col("person_id"));
    for c in outputs {
        kept = kept.expr(Sql::col(c));
    }
    for column in plan.rules.iter().map(|r| &r.column) {
        kept = kept.expr(Sql::col(column));
    }
    for column in plan.arithmetic.iter().map(|c| &c.column) {
        kept = kept.expr(Sql::col(column));
    }
    if let Some((source, join)) = pseudonym_source {
        kept = kept.item(source, PSEUDONYM_SOURCE);
        kept.joins.extend(join);
    }
    let computed = render(Query::reading(&steps, Body::Select(Box::new(kept))))?;
    let cohort_table = format!(
        "caas_cohort_{}_{}",
        cohort::identifier(&plan.cohort),
        &hex_sha256(&computed)[..12]
    );
    let from_table = || Select {
        from: Some((ast::Relation::Table(cohort_table.clone()), None)),
        ..Select::default()
    };

    let passes = |n: usize| Sql::all(plan.rules[..n].iter().map(|r| Sql::col(&r.column)));
    let members_of = |first: Sql, name: &str| {
        let mut members = from_table().item(first, name);
        for c in outputs {
            members = members.expr(Sql::col(c));
        }
        members.filter(passes(plan.rules.len()))
    };
    let (members, pseudonyms) = match options.pseudonym_key {
        // By pseudonym, as in-process: an order by person id would tell about the ids.
        // Lower-case hexadecimal of one length sorts alike in every collation.
        Some(_) => {
            let source = Sql::col(PSEUDONYM_SOURCE);
            let mut members = members_of(dialect.hmac_sha256(source.clone()), "pseudonym");
            members.order_by.push(OrderKey {
                expr: Sql::col("pseudonym"),
                descending: false,
                nulls_first: true,
            });
            let person = tables.person();
            let missing = from_table()
                .item(count_rows(None), "count")
                .filter(passes(plan.rules.len()))
                .filter(source.null_test());
            let pseudonyms = PseudonymSql {
                table: person.name.clone(),
                column: person
                    .shape
                    .column("nhs_number")
                    .unwrap_or("nhs_number")
                    .to_string(),
                missing: render(Query::reading(&[], Body::Select(Box::new(missing))))?,
            };
            (members, Some(pseudonyms))
        }
        None => {
            let id = Sql::col("person_id");
            let mut members = members_of(id.clone(), "person_id");
            // As in-process: a person without an id (kept by the `missing_person_id`
            // policy `keep`) comes first.
            members.order_by.push(OrderKey {
                expr: match plan.person.id {
                    IdType::Text => dialect.binary_order(id),
                    IdType::Integer => id,
                },
                descending: false,
                nulls_first: true,
            });
            (members, None)
        }
    };

    let count = count_rows;
    // `passed_<i>`: the people who pass the first `i` rules (all of them for 0), after
    // the opt-outs; `people`: before them. The opt-outs are the first step when the
    // purpose applies them, as in-process.
    let mut counts = from_table().item(count(None), "passed_0");
    for i in 1..=plan.rules.len() {
        counts = counts.item(count(Some(passes(i))), &format!("passed_{i}"));
    }
    let mut attrition_steps = steps.clone();
    let mut stages: Vec<(String, bool, String, String)> = Vec::new();
    let mut counted = Select::from_step(&counts_step);
    if plan.person.opt_out.is_some() {
        attrition_steps.push((
            people_step.clone(),
            Body::Select(Box::new(
                Select::from_step(&people).item(count(None), "people"),
            )),
        ));
        counted.joins.push(ast::Join {
            left: false,
            relation: ast::Relation::Step(people_step),
            alias: None,
            on: Sql::Bool(true),
        });
        stages.push((
            OPT_OUT_STEP.to_string(),
            true,
            "people".into(),
            "passed_0".into(),
        ));
    }
    for (i, rule) in plan.rules.iter().enumerate() {
        stages.push((
            rule.name.clone(),
            rule.exclude,
            format!("passed_{i}"),
            format!("passed_{}", i + 1),
        ));
    }
    let mut rows = Vec::new();
    for (i, (rule, exclude, before, after)) in stages.into_iter().enumerate() {
        let (before, after) = (Sql::col(&before), Sql::col(&after));
        rows.push(
            counted
                .clone()
                .item(Sql::Int(i as i64 + 1).cast(SqlType::BigInt), "step")
                .item(Sql::Text(rule), "rule")
                .item(
                    Sql::Text(if exclude { "exclude" } else { "include" }.to_string()),
                    "action",
                )
                .item(before.clone().cast(SqlType::BigInt), "before")
                .item(after.clone().cast(SqlType::BigInt), "after")
                .item(
                    before
                        .binary(ast::BinOp::Minus, after)
                        .cast(SqlType::BigInt),
                    "removed",
                ),
        );
    }
    if rows.is_empty() {
        let null = |t| Sql::Null.cast(t);
        rows.push(
            counted
                .item(null(SqlType::BigInt), "step")
                .item(null(SqlType::Text), "rule")
                .item(null(SqlType::Text), "action")
                .item(null(SqlType::BigInt), "before")
                .item(null(SqlType::BigInt), "after")
                .item(null(SqlType::BigInt), "removed")
                .filter(Sql::Bool(false)),
        );
    }
    attrition_steps.push((counts_step, Body::Select(Box::new(counts))));
    attrition_steps.push((attrition_step.clone(), Body::UnionAll(rows)));
    let mut ordered = Select::from_step(&attrition_step).expr(Sql::Star(None));
    ordered.order_by.push(OrderKey {
        expr: Sql::col("step"),
        descending: false,
        nulls_first: false,
    });

    let population = Select::from_step(&people).item(count(None), "population");

    let arithmetic = match plan.arithmetic.as_slice() {
        [] => None,
        checks => {
            let mut counted = from_table();
            for (i, check) in checks.iter().enumerate() {
                counted = counted.item(
                    count(Some(Sql::col(&check.column))),
                    &format!("arithmetic_{}", i + 1),
                );
            }
            Some(ArithmeticSql {
                query: render(Query::reading(&[], Body::Select(Box::new(counted))))?,
                places: checks.iter().map(|c| c.place.clone()).collect(),
                policy: options.quality.get(FindingKind::ArithmeticError),
            })
        }
    };

    let mut setup: Vec<String> = lowering
        .code_tables
        .iter()
        .flat_map(|t| code_table_statements(t, dialect))
        .collect();
    setup.extend(cohort_table_statements(&cohort_table, computed, dialect));
    Ok(CohortSql {
        dialect: dialect.name(),
        cohort: plan.cohort.clone(),
        reference_date: reference_date.format("%Y-%m-%d").to_string(),
        quality,
        setup,
        code_tables: lowering.code_tables,
        cohort_table,
        pseudonyms,
        members: render(Query::reading(&steps, Body::Select(Box::new(members))))?,
        attrition: render(Query::reading(
            &attrition_steps,
            Body::Select(Box::new(ordered)),
        ))?,
        population: render(Query::reading(&steps, Body::Select(Box::new(population))))?,
        arithmetic,
    })
}

/// The column of the cohort table that pseudonyms are made from.
const PSEUDONYM_SOURCE: &str = "__pseudonym_source";

/// `count(*)`, of the rows where `filter` holds when given.
fn count_rows(filter: Option<Sql>) -> Sql {
    Sql::Aggregate {
        name: "count",
        args: Vec::new(),
        order_by: Vec::new(),
        filter: filter.map(Box::new),
    }
}

/// The SHA-256 of `text`, in hexadecimal.
fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The statements that compute `query` into the temporary table `name`, replacing one of
/// that name. Spark keeps it as a cached view, computed when the statement runs.
fn cohort_table_statements(name: &str, query: String, dialect: Dialect) -> Vec<String> {
    let quoted = dialect.ident(name);
    match dialect {
        Dialect::Spark => vec![
            format!("DROP VIEW IF EXISTS {quoted}"),
            format!("CACHE TABLE {quoted} AS\n{query}"),
        ],
        Dialect::Postgres => vec![
            format!("DROP TABLE IF EXISTS pg_temp.{quoted}"),
            format!("CREATE TEMPORARY TABLE {quoted} AS\n{query}"),
        ],
        Dialect::DuckDb => vec![
            format!("DROP TABLE IF EXISTS temp.{quoted}"),
            format!("CREATE TEMPORARY TABLE {quoted} AS\n{query}"),
        ],
    }
}

/// Rows per `INSERT` or `VALUES`: small enough for every engine's parser.
const BATCH: usize = 500;

/// The statements that create a code table.
fn code_table_statements(table: &CodeTable, dialect: Dialect) -> Vec<String> {
    let name = dialect.ident(&table.name);
    let code_type = dialect.type_name(if table.integer_codes {
        SqlType::BigInt
    } else {
        SqlType::Text
    });
    let int_type = dialect.type_name(SqlType::Int);
    let code = |c: &str| {
        if table.integer_codes {
            c.to_string()
        } else {
            string(c, dialect)
        }
    };
    let values = |rows: &[(String, i32)]| {
        rows.iter()
            .map(|(c, v)| format!("({}, {v})", code(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match dialect {
        Dialect::Spark => {
            let mut parts: Vec<String> = table
                .rows
                .chunks(BATCH)
                .map(|rows| {
                    format!(
                        "SELECT CAST(code AS {code_type}) AS code, CAST(variable AS {int_type}) AS variable FROM VALUES {} AS t(code, variable)",
                        values(rows)
                    )
                })
                .collect();
            if parts.is_empty() {
                parts.push(format!(
                    "SELECT CAST(NULL AS {code_type}) AS code, CAST(NULL AS {int_type}) AS variable WHERE FALSE"
                ));
            }
            vec![format!(
                "CREATE OR REPLACE TEMPORARY VIEW {name} AS\n{}",
                parts.join("\nUNION ALL\n")
            )]
        }
        Dialect::Postgres | Dialect::DuckDb => {
            let mut out = vec![
                // `pg_temp` is this session's own schema: never a table of the database.
                match dialect {
                    Dialect::Postgres => format!("DROP TABLE IF EXISTS pg_temp.{name}"),
                    _ => format!("DROP TABLE IF EXISTS temp.{name}"),
                },
                format!("CREATE TEMPORARY TABLE {name} (code {code_type}, variable {int_type})"),
            ];
            for rows in table.rows.chunks(BATCH) {
                out.push(format!("INSERT INTO {name} VALUES {}", values(rows)));
            }
            out
        }
    }
}
