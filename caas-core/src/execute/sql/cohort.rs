//! The SQL lowering of a [`CohortPlan`]: one named step (CTE) per step of the plan, in the
//! plan's order, with the names of the definition's tables, so that a database engineer can
//! read it against the definition. It mirrors the DataFusion lowering (`execute/lower/`)
//! step for step:
//!
//! 1. `persons`: the person table's canonical columns, without the people whose opt-outs
//!    the purpose applies;
//! 2. per event table, `<table>_events` (one code per row), `<table>_matched` (joined to
//!    its code table, through the normalised prefixes for ICD-10 and OPCS-4) and
//!    `<table>_measures` (grouped by person, one filtered aggregate per measure); per period
//!    table `<table>_periods` and its measures; per membership the other cohort's steps,
//!    named after the variable, and its members;
//! 3. `joined`: the persons with every aggregate, then `variables_<n>`, one step per layer;
//!    before a layer whose event variables read the person's variables, their table's
//!    steps again (named `<table>_layer<n>_…`, the events joined to those variables of the
//!    step before) and `joined_<n>` with their aggregates;
//! 4. `cohort`: `person_id`, every variable and one pass column per rule.

use arrow::datatypes::DataType;
use indexmap::IndexMap;

use super::ast::{BinOp, Body, Expr as Sql, Join, OrderKey, Relation, Select, SqlType};
use super::expr::Scope;
use super::{CodeTable, Dialect, TableNames};
use crate::compile::plan::{
    Bound, CohortPlan, Conversion, EventScan, Matching, Measure, PeriodAggregate, PeriodScan,
    VariableValue, person_column,
};
use crate::error::{CaasError, Place, Result};
use crate::model::expr::Type;
use crate::model::{Aggregation, Ties};
use crate::source::{CodeLayout, Snapshot, Table};

/// Lowers cohort plans to SQL steps over the engine's tables.
pub(crate) struct SqlLowering<'a> {
    pub dialect: Dialect,
    /// The tables the plan was compiled over (their column types decide the casts).
    pub tables: &'a Snapshot,
    /// The engine's name of each table.
    pub names: &'a TableNames,
    /// The names no step may take (`table_names`).
    pub reserved: Vec<String>,
    /// The steps so far, in order.
    pub steps: Vec<(String, Body)>,
    /// The step of every person of the cohort, before the opt-outs are removed.
    pub people: Option<String>,
    /// The code tables the steps read.
    pub code_tables: Vec<CodeTable>,
    /// The step of the rows kept of each table with rows that an `exclude` policy of the
    /// data-quality checks removes, which the cohort reads in place of the table.
    pub kept: IndexMap<String, String>,
}

/// The lowercase last part of each name a step must not take: a step called like a table
/// that the query reads would hide it from the later steps.
pub(crate) fn table_names(tables: &Snapshot, names: &TableNames) -> Vec<String> {
    tables
        .names()
        .map(|t| names.get(t).map_or(t, String::as_str))
        .map(|n| n.rsplit('.').next().unwrap_or(n).to_lowercase())
        .collect()
}

impl<'a> SqlLowering<'a> {
    pub(super) fn table(&self, name: &str) -> Result<&'a Table> {
        let tables: &'a Snapshot = self.tables;
        tables
            .get(name)
            .map(AsRef::as_ref)
            .ok_or_else(|| CaasError::internal(format!("the plan reads an unknown table {name}")))
    }

    /// What the cohort reads of a table: its rows kept, else the table.
    fn relation(&self, table: &str) -> Relation {
        match self.kept.get(table) {
            Some(step) => Relation::Step(step.clone()),
            None => self.source(table),
        }
    }

    /// The engine's table.
    pub(super) fn source(&self, table: &str) -> Relation {
        Relation::Table(
            self.names
                .get(table)
                .cloned()
                .unwrap_or_else(|| table.to_string()),
        )
    }

    pub(super) fn add(&mut self, name: String, select: Select) -> String {
        self.push(name, Body::Select(Box::new(select)))
    }

    /// Adds a step called `name`, or `name_step` (and so on) where that is a table's name
    /// or a step's already; returns the name it took.
    pub(super) fn push(&mut self, name: String, body: Body) -> String {
        let name = self.step_name(name);
        self.steps.push((name.clone(), body));
        name
    }

    /// `name`, or with `_step` appended until it names no table and no step.
    pub fn step_name(&self, mut name: String) -> String {
        let taken = |n: &str| {
            let n = n.to_lowercase();
            self.reserved.contains(&n) || self.steps.iter().any(|(s, _)| s.to_lowercase() == n)
        };
        while taken(&name) {
            name.push_str("_step");
        }
        name
    }

    /// Lowers `plan` into steps whose names start with `prefix`; returns the name of the
    /// last, which has `person_id`, every variable and the rule columns.
    pub fn cohort(&mut self, plan: &CohortPlan, prefix: &str) -> Result<String> {
        let persons = self.persons(plan, prefix)?;
        let mut aggregates: Vec<(String, Vec<String>)> = Vec::new();
        for scan in plan.events.iter().filter(|s| s.after == 0) {
            aggregates.extend(self.event_scan(plan, scan, prefix, &persons)?);
        }
        for scan in &plan.periods {
            aggregates.push(self.period_scan(scan, prefix)?);
        }
        for membership in &plan.memberships {
            let inner = format!("{prefix}{}__", membership.variable);
            let last = self.cohort(&membership.plan, &inner)?;
            let passes = Sql::all(membership.plan.rules.iter().map(|r| Sql::col(&r.column)));
            // One row per member id, as in-process.
            let mut members = Select::from_step(&last)
                .expr(Sql::col("person_id"))
                .item(Sql::Bool(true), &membership.column)
                .filter(passes);
            members.distinct = true;
            let name = self.add(format!("{inner}members"), members);
            aggregates.push((name, vec![membership.column.clone()]));
        }

        let mut last = self.add(format!("{prefix}joined"), joined(&persons, &aggregates));

        let types = |n: &str| {
            plan.types
                .get(n)
                .copied()
                .or_else(|| plan.parameters.get(n).map(crate::model::Value::data_type))
        };
        let columns = |n: &str| plan.types.contains_key(n).then(|| n.to_string());
        for (i, layer) in plan.layers.iter().enumerate() {
            let mut later = Vec::new();
            for scan in plan.events.iter().filter(|s| s.after == i && i > 0) {
                later.extend(self.event_scan(plan, scan, prefix, &last)?);
            }
            if !later.is_empty() {
                last = self.add(format!("{prefix}joined_{i}"), joined(&last, &later));
            }
            let mut select = Select::from_step(&last).expr(Sql::Star(None));
            for step in layer {
                let place = Place::Variable(step.name.clone());
                let scope = Scope {
                    dialect: self.dialect,
                    parameters: &plan.parameters,
                    columns: &columns,
                    types: &types,
                    place: &place,
                };
                select = select.item(variable(&scope, &step.value)?, &step.name);
            }
            last = self.add(format!("{prefix}variables_{}", i + 1), select);
        }

        let mut cohort = Select::from_step(&last).expr(Sql::col("person_id"));
        for name in &plan.columns {
            cohort = cohort.expr(Sql::col(name));
        }
        let scope_at = |place| Scope {
            dialect: self.dialect,
            parameters: &plan.parameters,
            columns: &columns,
            types: &types,
            place,
        };
        for rule in &plan.rules {
            let value = (scope_at(&rule.place).lower(&rule.expr)?).coalesce(Sql::Bool(false));
            let pass = if rule.exclude { value.not() } else { value };
            cohort = cohort.item(pass, &rule.column);
        }
        // A cohort of `member_of` gives only its members: its findings are its own.
        if prefix.is_empty() {
            for check in &plan.arithmetic {
                let missing = scope_at(&check.place).lower(&check.expr)?;
                cohort = cohort.item(missing, &check.column);
            }
        }
        Ok(self.add(format!("{prefix}cohort"), cohort))
    }

    /// The text each person's pseudonym is made from, as in-process (`pseudonymise`): the
    /// person's NHS number without spaces (the smallest of its rows' when it is a column
    /// of its own), else the person id as text. Read beside the step `cohort`, with the
    /// join it needs.
    pub fn pseudonym_source(&mut self, cohort: &str) -> Result<(Sql, Option<Join>)> {
        let table = self.table(&self.tables.person().name)?;
        let text = |e: Sql| e.cast(SqlType::Text);
        let id_column = table.shape.column("person_id").unwrap_or("person_id");
        let id = Sql::qcol(cohort, "person_id");
        Ok(match table.shape.column("nhs_number") {
            Some(nhs) if nhs != id_column => {
                let key = self.person_id(table);
                let min = Sql::Aggregate {
                    name: "min",
                    args: vec![text(Sql::col(nhs))],
                    order_by: Vec::new(),
                    filter: None,
                };
                let mut numbers = Select {
                    from: Some((self.relation(&table.name), None)),
                    ..Select::default()
                }
                .item(key.clone(), "__g_id")
                .item(min, "__g_nhs")
                .filter(key.clone().not_null_test());
                numbers.group_by.push(key);
                let step = self.add("nhs_numbers".to_string(), numbers);
                let join = Join {
                    left: true,
                    relation: Relation::Step(step.clone()),
                    alias: None,
                    on: Sql::qcol(&step, "__g_id").eq(id),
                };
                (without_spaces(Sql::qcol(&step, "__g_nhs")), Some(join))
            }
            Some(_) => (without_spaces(text(id)), None),
            None => (text(id), None),
        })
    }

    /// A table's person id as a key of the person table's ids, as in-process
    /// (`Table::person_key`).
    pub(super) fn person_id(&self, table: &Table) -> Sql {
        let source = table.shape.column("person_id").unwrap_or("person_id");
        let key = self.tables.id_key();
        let target = if key.integer {
            SqlType::BigInt
        } else {
            SqlType::Text
        };
        match (table.shape.integer_person_id, key.integer) {
            // Only the exact decimal form of an integer is that integer, as in-process.
            (false, true) => {
                let text = if key.nhs_numbers {
                    without_spaces(Sql::col(source))
                } else {
                    Sql::col(source)
                };
                let number = self.dialect.try_cast(text.clone(), target);
                let exact = number.clone().cast(SqlType::Text).eq(text);
                Sql::Case {
                    branches: vec![(exact, number)],
                    otherwise: None,
                }
            }
            (_, false) if key.nhs_numbers => without_spaces(converted(table, source, target)),
            (true, false) => Sql::col(source).cast(target),
            _ => converted(table, source, target),
        }
    }

    fn persons(&mut self, plan: &CohortPlan, prefix: &str) -> Result<String> {
        let table = self.table(&plan.person.table)?;
        let mut select = Select {
            from: Some((self.relation(&table.name), None)),
            ..Select::default()
        }
        .item(self.person_id(table), "person_id");
        for c in &plan.person.columns {
            let value = if c.as_date {
                converted(table, &c.source, SqlType::Date)
            } else {
                Sql::col(&c.source)
            };
            select = select.item(value, &format!("__p_{}", c.canonical));
        }
        let persons = self.add(format!("{prefix}persons"), select);
        if prefix.is_empty() {
            self.people = Some(persons.clone());
        }
        let Some(flags) = &plan.person.opt_out else {
            return Ok(persons);
        };
        let mut out = Sql::Bool(false);
        for flag in flags {
            let source = plan
                .person
                .columns
                .iter()
                .find(|c| &c.canonical == flag)
                .map_or(flag.as_str(), |c| c.source.as_str());
            let column = Sql::col(&format!("__p_{flag}"));
            let set = match source_type(table, source) {
                Some(DataType::Boolean) => column,
                Some(t) if t.is_integer() => column.binary(super::ast::BinOp::NotEq, Sql::Int(0)),
                _ => column.cast(SqlType::Boolean),
            };
            out = out.or(set.coalesce(Sql::Bool(false)));
        }
        let opted_in = Select::from_step(&persons)
            .expr(Sql::Star(None))
            .filter(out.not());
        Ok(self.add(format!("{prefix}persons_opted_in"), opted_in))
    }

    /// The steps of an event scan; returns each aggregate step and its columns. The events
    /// of a scan after some layers carry the variables it reads from the step `persons`.
    fn event_scan(
        &mut self,
        plan: &CohortPlan,
        scan: &EventScan,
        prefix: &str,
        persons: &str,
    ) -> Result<Vec<(String, Vec<String>)>> {
        // The steps of a later scan of a table are named after the layer it precedes.
        let label = match scan.after {
            0 => format!("{prefix}{}", scan.table),
            n => format!("{prefix}{}_layer{n}", scan.table),
        };
        let mut events = self.long_events(scan, &label)?;
        let reads = scan.reads();
        if !reads.is_empty() {
            let mut with = Select::from_step(&events).expr(Sql::Star(Some(events.clone())));
            for n in reads {
                with = with.item(Sql::qcol(persons, n), &person_column(n));
            }
            with.joins.push(Join {
                left: false,
                relation: Relation::Step(persons.to_string()),
                alias: None,
                on: Sql::qcol(persons, "person_id").eq(Sql::qcol(&events, "person_id")),
            });
            events = self.add(format!("{label}_with_variables"), with);
        }
        let mut out = Vec::new();
        if !scan.coded.is_empty() {
            let codes = self.code_table(plan, scan, &label);
            let matched = match scan.matching {
                Matching::Exact => {
                    let mut s = Select::from_step(&events)
                        .expr(Sql::Star(Some(events.clone())))
                        .item(Sql::qcol(&codes, "variable"), "__variable");
                    s.joins.push(Join {
                        left: false,
                        relation: Relation::Table(codes.clone()),
                        alias: None,
                        on: Sql::qcol(&codes, "code").eq(Sql::qcol(&events, "code")),
                    });
                    s
                }
                Matching::Prefix => {
                    let prefixes = self.prefixes(scan, &events, &label);
                    let mut s = Select::from_step(&prefixes)
                        .expr(Sql::Star(Some(prefixes.clone())))
                        .item(Sql::qcol(&codes, "variable"), "__variable");
                    s.joins.push(Join {
                        left: false,
                        relation: Relation::Table(codes.clone()),
                        alias: None,
                        on: Sql::qcol(&codes, "code").eq(Sql::qcol(&prefixes, "__prefix")),
                    });
                    s
                }
            };
            let matched = self.add(format!("{label}_matched"), matched);
            let mut filters = Vec::new();
            for measure in &scan.coded {
                let index = measure
                    .code_index
                    .ok_or_else(|| CaasError::internal("a coded measure without a code index"))?;
                let filter = Sql::col("__variable")
                    .eq(Sql::Int(i64::from(index)))
                    .and(self.selection(plan, scan, measure)?);
                filters.push((measure, filter));
            }
            let name = format!("{label}_measures");
            out.push(self.measures(scan, matched, name, filters));
        }
        if !scan.uncoded.is_empty() {
            let mut filters = Vec::new();
            for measure in &scan.uncoded {
                filters.push((measure, self.selection(plan, scan, measure)?));
            }
            let name = format!("{label}_all_rows");
            out.push(self.measures(scan, events.clone(), name, filters));
        }
        Ok(out)
    }

    /// The step `name` that aggregates the rows of step `rows` by person, one column per
    /// measure over the rows its filter keeps; before it, where a measure counts episodes,
    /// a step with each row's previous date that the measure selected.
    fn measures(
        &mut self,
        scan: &EventScan,
        mut rows: String,
        name: String,
        filters: Vec<(&Measure, Sql)>,
    ) -> (String, Vec<String>) {
        let episodes: Vec<&(&Measure, Sql)> = filters
            .iter()
            .filter(|(m, _)| m.aggregation == Aggregation::CountEpisodes)
            .collect();
        if !episodes.is_empty() {
            let mut previous = Select::from_step(&rows).expr(Sql::Star(None));
            for (measure, filter) in episodes {
                let selected = Sql::Case {
                    branches: vec![(filter.clone(), Sql::col("date"))],
                    otherwise: None,
                };
                let before = Sql::BeforeRow {
                    name: "max",
                    arg: Box::new(selected),
                    partition_by: vec![Sql::col("person_id")],
                    order_by: vec![OrderKey {
                        expr: Sql::col("date"),
                        descending: false,
                        nulls_first: false,
                    }],
                };
                previous = previous.item(before, &measure.previous_column());
            }
            rows = self.add(format!("{name}_previous"), previous);
        }
        let mut select = Select::from_step(&rows).expr(Sql::col("person_id"));
        let mut columns = Vec::new();
        for (measure, filter) in filters {
            select = select.item(self.aggregate(scan, measure, filter), &measure.column);
            columns.push(measure.column.clone());
        }
        select.group_by.push(Sql::col("person_id"));
        (self.add(name, select), columns)
    }

    /// The code table of a scan: created by the statements of the generated SQL.
    fn code_table(&mut self, plan: &CohortPlan, scan: &EventScan, label: &str) -> String {
        let name = format!(
            "caas_codes_{}",
            identifier(&format!("{}_{label}", plan.cohort))
        );
        let rows = if scan.integer_codes {
            // Integer codes in the data can only equal codelist codes written as integers.
            scan.code_table
                .iter()
                .filter(|(c, _)| c.parse::<i64>().is_ok_and(|n| n.to_string() == *c))
                .cloned()
                .collect()
        } else {
            scan.code_table.clone()
        };
        self.code_tables.push(CodeTable {
            name: name.clone(),
            integer_codes: scan.integer_codes,
            rows,
        });
        name
    }

    /// The events with one code per row: `person_id`, the scan's columns and `code`; rows
    /// without a code or a date dropped.
    fn long_events(&mut self, scan: &EventScan, label: &str) -> Result<String> {
        let table = self.table(&scan.table)?;
        let mut select = Select {
            from: Some((self.relation(&table.name), None)),
            ..Select::default()
        }
        .item(self.person_id(table), "person_id");
        // Filters name the source expressions: not every engine sees a select's aliases.
        let mut date = Sql::Null;
        for c in &scan.columns {
            let value = match c.conversion {
                Conversion::Date => converted(table, &c.source, SqlType::Date),
                Conversion::Decimal if table.may_hold_non_finite(&c.source) => {
                    finite(converted(table, &c.source, SqlType::Double))
                }
                Conversion::Decimal => converted(table, &c.source, SqlType::Double),
                Conversion::AsIs => Sql::col(&c.source),
            };
            if c.name == "date" {
                date = value.clone();
            }
            select = select.item(value, &c.name);
        }
        // The rows outside every window, dropped before they are joined to the codes.
        let (first, last) = scan.date_span();
        if let Some(first) = first {
            select = select.filter(
                date.clone()
                    .binary(super::ast::BinOp::GtEq, Sql::Date(first)),
            );
        }
        if let Some(last) = last {
            select = select.filter(
                date.clone()
                    .binary(super::ast::BinOp::LtEq, Sql::Date(last)),
            );
        }
        let code_type = if scan.integer_codes {
            SqlType::BigInt
        } else {
            SqlType::Text
        };
        let d = self.dialect;
        let code = |c: &str| converted(table, c, code_type);
        let (code, unnested) = match (&scan.codes, scan.primary_only) {
            (CodeLayout::Single(c), _) => (code(c), false),
            (CodeLayout::Columns(cs), true) => {
                let first = cs
                    .first()
                    .ok_or_else(|| CaasError::internal("an event table without code columns"))?;
                (code(first), false)
            }
            (CodeLayout::Columns(cs), false) => {
                // One select per code column, appended: as unnesting their array in-process.
                let mut parts = Vec::new();
                for c in cs {
                    parts.push(select.clone().item(code(c), "code"));
                }
                let name = self.push(format!("{label}_codes"), Body::UnionAll(parts));
                let filtered = Select::from_step(&name)
                    .expr(Sql::Star(None))
                    .filter(Sql::col("code").not_null_test())
                    .filter(Sql::col("date").not_null_test());
                return Ok(self.add(format!("{label}_events"), filtered));
            }
            (CodeLayout::List(c), true) => (d.first_element(Sql::col(c)).cast(code_type), false),
            (CodeLayout::List(c), false) => (d.unnest(Sql::col(c)), true),
            (CodeLayout::Delimited(c, delim), true) => (
                Sql::Call(
                    "trim",
                    vec![Sql::Call(
                        "split_part",
                        vec![
                            Sql::col(c).cast(SqlType::Text),
                            Sql::Text(delim.clone()),
                            Sql::Int(1),
                        ],
                    )],
                ),
                false,
            ),
            (CodeLayout::Delimited(c, delim), false) => (
                d.unnest(d.split(Sql::col(c).cast(SqlType::Text), delim)),
                true,
            ),
        };
        if !unnested {
            let select = select
                .item(code.clone(), "code")
                .filter(code.not_null_test())
                .filter(date.not_null_test());
            return Ok(self.add(format!("{label}_events"), select));
        }
        // The set-returning call is in a step of its own, and the elements cast and
        // filtered after it: engines do not allow it inside other expressions.
        let name = format!("{label}_codes");
        let select = select.item(code, "__code");
        let unnest = self.add(name, select);
        let mut element = Sql::col("__code").cast(code_type);
        if matches!(scan.codes, CodeLayout::Delimited(..)) {
            element = Sql::Call("trim", vec![element]);
        }
        let mut out = Select::from_step(&unnest).expr(Sql::col("person_id"));
        for c in &scan.columns {
            out = out.expr(Sql::col(&c.name));
        }
        let out = out
            .item(element, "code")
            .filter(Sql::col("__code").not_null_test())
            .filter(Sql::col("date").not_null_test());
        Ok(self.add(format!("{label}_events"), out))
    }

    /// The events with `__prefix`, each normalised prefix of their code as long as a
    /// codelist code: each event meets each codelist code it starts with exactly once.
    fn prefixes(&mut self, scan: &EventScan, events: &str, label: &str) -> String {
        let mut lengths: Vec<usize> = scan.code_table.iter().map(|(c, _)| c.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let bare = bare_code(Sql::col("code"));
        let normalised_name = format!("{label}_normalised");
        let bare_step = self.add(
            format!("{label}_bare"),
            Select::from_step(events)
                .expr(Sql::Star(None))
                .item(bare, "__bare"),
        );
        let filler = without_filler(Sql::col("__bare"));
        let normalised = self.add(
            normalised_name,
            Select::from_step(&bare_step)
                .expr(Sql::Star(None))
                .item(filler, "__normalised"),
        );
        let parts = lengths
            .iter()
            .filter_map(|len| i64::try_from(*len).ok())
            .map(|len| {
                Select::from_step(&normalised)
                    .expr(Sql::Star(None))
                    .item(
                        Sql::Call(
                            "substr",
                            vec![Sql::col("__normalised"), Sql::Int(1), Sql::Int(len)],
                        ),
                        "__prefix",
                    )
                    .filter(
                        Sql::Call("length", vec![Sql::col("__normalised")])
                            .binary(super::ast::BinOp::GtEq, Sql::Int(len)),
                    )
            })
            .collect();
        self.push(format!("{label}_prefixes"), Body::UnionAll(parts))
    }

    /// The window, value range and condition of one measure, over events with the
    /// person's variables it reads, as in-process.
    fn selection(&self, plan: &CohortPlan, scan: &EventScan, measure: &Measure) -> Result<Sql> {
        let place = Place::Variable(measure.variable.clone());
        let types = |n: &str| measure.name_type(plan, scan, n);
        let columns = |n: &str| measure.name_column(scan, plan.person.id, n);
        let scope = Scope {
            dialect: self.dialect,
            parameters: &plan.parameters,
            columns: &columns,
            types: &types,
            place: &place,
        };
        let mut terms = Vec::new();
        for (bound, op) in [
            (&measure.from, super::ast::BinOp::GtEq),
            (&measure.to, super::ast::BinOp::LtEq),
        ] {
            match bound {
                Bound::Open => {}
                Bound::On(d) => terms.push(Sql::col("date").binary(op, Sql::Date(*d))),
                Bound::Unknown => terms.push(Sql::Bool(false)),
                Bound::Person(e) => terms.push(Sql::col("date").binary(op, scope.lower(e)?)),
            }
        }
        if let Some(min) = measure.min_value {
            terms.push(Sql::col("value").binary(super::ast::BinOp::GtEq, Sql::Float(min)));
        }
        if let Some(max) = measure.max_value {
            terms.push(Sql::col("value").binary(super::ast::BinOp::LtEq, Sql::Float(max)));
        }
        if let Some(condition) = &measure.condition {
            // Unknown does not select the event.
            terms.push(scope.lower(condition)?.coalesce(Sql::Bool(false)));
        }
        Ok(Sql::all(terms))
    }

    /// The aggregate of one measure over the rows that `filter` keeps. First and last
    /// follow the order of (date, code, value), a null value first, codes compared as text
    /// even when they are integers (as in-process).
    fn aggregate(&self, scan: &EventScan, measure: &Measure, filter: Sql) -> Sql {
        let simple = |name: &'static str, arg: Option<&str>| Sql::Aggregate {
            name,
            args: arg.map(Sql::col).into_iter().collect(),
            order_by: Vec::new(),
            filter: Some(Box::new(filter.clone())),
        };
        let code = if scan.integer_codes {
            Sql::col("code").cast(SqlType::Text)
        } else {
            Sql::col("code")
        };
        let last = measure.aggregation.is_last();
        // As in-process: the date, then the value where ties go by value — the winning
        // value greatest, a missing one losing (a flag first where the order would put it
        // ahead) — then the code.
        let value = Sql::col("value");
        let lose_if_missing = |missing: i64| {
            let flag = Sql::Case {
                branches: vec![(value.clone().null_test(), Sql::Int(missing))],
                otherwise: Some(Box::new(Sql::Int(1 - missing))),
            };
            (flag, false)
        };
        let mut keys = vec![(Sql::col("date"), false)];
        // The columns of an `order_by` (a missing value smallest, as `pick` orders every
        // key), text compared as bytes.
        let text = |c: &str| {
            c == "code"
                || (scan.columns.iter()).any(|x| x.name == c && x.column_type == Some(Type::Text))
        };
        for c in &measure.order_by {
            let key = if c == "code" {
                code.clone()
            } else {
                Sql::col(c)
            };
            keys.push((key, text(c)));
        }
        let ordered = |c: &str| measure.order_by.iter().any(|o| o == c);
        match (measure.ties, last) {
            (Ties::Code, _) => {
                if !ordered("code") {
                    keys.push((code, true));
                }
                if scan.has_value() && !ordered("value") {
                    keys.push((value, false));
                }
            }
            // The greatest is taken, and a missing value is the smallest already.
            (Ties::MaxValue, true) => keys.extend([(value, false), (code, true)]),
            (Ties::MaxValue, false) => keys.extend([
                lose_if_missing(1),
                (Sql::Neg(Box::new(value)), false),
                (code, true),
            ]),
            (Ties::MinValue, true) => keys.extend([
                lose_if_missing(0),
                (Sql::Neg(Box::new(value)), false),
                (code, true),
            ]),
            (Ties::MinValue, false) => {
                keys.extend([lose_if_missing(1), (value, false), (code, true)])
            }
        }
        // As in-process, a returned column of its own tells apart events equal in the rest.
        if let Some(c) = &measure.returned_column
            && !matches!(c.as_str(), "date" | "value")
            && !ordered(c)
        {
            keys.push((Sql::col(c), text(c)));
        }
        let d = self.dialect;
        let returned = Sql::col(measure.returned_column.as_deref().unwrap_or("value"));
        match measure.aggregation {
            Aggregation::Exists | Aggregation::Count => simple("count", None),
            Aggregation::FirstDate => simple("min", Some("date")),
            Aggregation::LastDate => simple("max", Some("date")),
            Aggregation::MinValue => simple("min", Some("value")),
            Aggregation::MaxValue => simple("max", Some("value")),
            Aggregation::FirstValue => d.pick(returned.clone(), keys, filter, false),
            Aggregation::LastValue => d.pick(returned, keys, filter, true),
            Aggregation::FirstCode => d.pick(Sql::col("code"), keys, filter, false),
            Aggregation::LastCode => d.pick(Sql::col("code"), keys, filter, true),
            Aggregation::Sum => simple("sum", Some("value")),
            Aggregation::Mean => simple("avg", Some("value")),
            // The selected rows that start an episode: with no selected date before them,
            // or the previous one at least the gap before.
            Aggregation::CountEpisodes => {
                let gap = i64::from(measure.gap_days.unwrap_or(1));
                let previous = Sql::col(&measure.previous_column());
                let starts = previous
                    .clone()
                    .null_test()
                    .or(previous.binary(BinOp::LtEq, d.add_days(Sql::col("date"), -gap)));
                Sql::Aggregate {
                    name: "count",
                    args: Vec::new(),
                    order_by: Vec::new(),
                    filter: Some(Box::new(filter.and(starts))),
                }
            }
            // The filter inside the argument, as in-process (nulls are not counted).
            Aggregation::CountDistinctCodes | Aggregation::CountDistinctDates => {
                let counted = match measure.aggregation {
                    Aggregation::CountDistinctCodes => "code",
                    _ => "date",
                };
                let argument = Sql::Case {
                    branches: vec![(filter, Sql::col(counted))],
                    otherwise: None,
                };
                Sql::Aggregate {
                    name: "count",
                    args: vec![Sql::Distinct(Box::new(argument))],
                    order_by: Vec::new(),
                    filter: None,
                }
            }
        }
    }

    /// The steps of a period scan; returns the aggregate step and its columns.
    fn period_scan(&mut self, scan: &PeriodScan, prefix: &str) -> Result<(String, Vec<String>)> {
        let table = self.table(&scan.table)?;
        let date = |c: &Option<String>| match c {
            Some(c) => converted(table, c, SqlType::Date),
            None => Sql::Null.cast(SqlType::Date),
        };
        let mut rows = Select {
            from: Some((self.relation(&table.name), None)),
            ..Select::default()
        }
        .item(self.person_id(table), "person_id")
        .item(date(&scan.start), "start_date")
        .item(date(&scan.end), "end_date");
        if let Some(p) = &scan.practice {
            rows = rows.item(converted(table, p, SqlType::Text), "practice");
        }
        // The periods that cover none of the measures' dates, dropped before the aggregate.
        if let Some((first, last)) = scan.date_span() {
            rows = rows.filter(covering(
                date(&scan.start),
                date(&scan.end),
                Sql::Date(first),
                Sql::Date(last),
            ));
        }
        let rows = self.add(format!("{prefix}{}_periods", scan.table), rows);
        let mut select = Select::from_step(&rows).expr(Sql::col("person_id"));
        let mut columns = Vec::new();
        for measure in &scan.measures {
            let covers = match measure.on {
                Some(on) => covering(
                    Sql::col("start_date"),
                    Sql::col("end_date"),
                    Sql::Date(on),
                    Sql::Date(on),
                ),
                None => Sql::Bool(false),
            };
            let value = match measure.aggregate {
                // The practice of the latest-starting covering period, ties to the
                // greatest practice (a null practice first).
                PeriodAggregate::LatestPractice => self.dialect.pick(
                    Sql::col("practice"),
                    vec![
                        (Sql::col("start_date"), false),
                        (Sql::col("practice"), true),
                    ],
                    covers,
                    true,
                ),
                PeriodAggregate::Count => Sql::Aggregate {
                    name: "count",
                    args: Vec::new(),
                    order_by: Vec::new(),
                    filter: Some(Box::new(covers)),
                },
            };
            select = select.item(value, &measure.column);
            columns.push(measure.column.clone());
        }
        select.group_by.push(Sql::col("person_id"));
        Ok((
            self.add(format!("{prefix}{}_measures", scan.table), select),
            columns,
        ))
    }
}

/// The step `from` with the columns of the aggregate steps, left-joined by person.
fn joined(from: &str, aggregates: &[(String, Vec<String>)]) -> Select {
    let mut joined = Select::from_step(from).expr(Sql::Star(Some(from.to_string())));
    for (step, columns) in aggregates {
        for c in columns {
            joined = joined.expr(Sql::qcol(step, c));
        }
        joined.joins.push(Join {
            left: true,
            relation: Relation::Step(step.clone()),
            alias: None,
            on: Sql::qcol(step, "person_id").eq(Sql::qcol(from, "person_id")),
        });
    }
    joined
}

/// The value of a variable.
fn variable(scope: &Scope<'_>, value: &VariableValue) -> Result<Sql> {
    let person = |c: &str| Sql::col(&format!("__p_{c}"));
    let zero = || Sql::Int(0);
    Ok(match value {
        VariableValue::Age { on, unit } => {
            scope.whole_between(*unit, person("date_of_birth"), scope.date(on)?)
        }
        VariableValue::Sex => person("sex").cast(SqlType::Text),
        VariableValue::Alive { deaths: false, .. } => Sql::Bool(true),
        VariableValue::Alive { on, .. } => {
            let on = scope.date(on)?;
            let dod = person("date_of_death");
            dod.clone()
                .null_test()
                .or(dod.binary(super::ast::BinOp::Gt, on))
        }
        VariableValue::PersonColumn { column } => person(column),
        VariableValue::Exists { column } => Sql::col(column)
            .coalesce(zero())
            .binary(super::ast::BinOp::Gt, zero()),
        VariableValue::Count { column } => Sql::col(column).coalesce(zero()).cast(SqlType::BigInt),
        VariableValue::Code { column } => Sql::col(column).cast(SqlType::Text),
        VariableValue::Aggregate { column } | VariableValue::Practice { column } => {
            Sql::col(column)
        }
        VariableValue::Member { column } => Sql::col(column).coalesce(Sql::Bool(false)),
        VariableValue::Derived { expr } => scope.lower(expr)?,
    })
}

/// The Arrow type of a column of a table, as registered.
fn source_type(table: &Table, column: &str) -> Option<DataType> {
    table
        .data
        .schema()
        .as_arrow()
        .field_with_name(column)
        .ok()
        .map(|f| f.data_type().clone())
}

/// A column converted to `to`, cast only when it is not of that type already.
pub(super) fn converted(table: &Table, column: &str, to: SqlType) -> Sql {
    let already = matches!(
        (source_type(table, column), to),
        (Some(DataType::Date32), SqlType::Date)
            | (Some(DataType::Float64), SqlType::Double)
            | (Some(DataType::Int64), SqlType::BigInt)
            | (
                Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
                SqlType::Text
            )
            | (Some(DataType::Boolean), SqlType::Boolean)
    );
    if already {
        Sql::col(column)
    } else {
        Sql::col(column).cast(to)
    }
}

/// Text without its spaces, as NHS numbers are compared.
fn without_spaces(text: Sql) -> Sql {
    Sql::Call(
        "replace",
        vec![text, Sql::Text(" ".to_string()), Sql::Text(String::new())],
    )
}

/// Whether a decimal is NaN or infinite. Every engine holds NaN equal to NaN (unlike IEEE
/// 754), so a list of the three values finds them all.
pub(crate) fn non_finite(value: Sql) -> Sql {
    let special = ["NaN", "Infinity", "-Infinity"].map(|v| {
        value
            .clone()
            .eq(Sql::Text(v.to_string()).cast(SqlType::Double))
    });
    Sql::any(special)
}

/// A decimal, null where it is NaN or infinite: as in-process, such a value satisfies no
/// comparison and is reported as a `non_finite_value` finding.
fn finite(value: Sql) -> Sql {
    Sql::Case {
        branches: vec![(non_finite(value.clone()), Sql::Null.cast(SqlType::Double))],
        otherwise: Some(Box::new(value)),
    }
}

/// A code trimmed, upper case and without dots: the first part of `CodeSystem::normalise`.
pub(crate) fn bare_code(code: Sql) -> Sql {
    Sql::Call(
        "upper",
        vec![Sql::Call(
            "replace",
            vec![
                Sql::Call("trim", vec![code.cast(SqlType::Text)]),
                Sql::Text(".".to_string()),
                Sql::Text(String::new()),
            ],
        )],
    )
}

/// A [`bare_code`] without trailing `X` filler after the third character: the rest of
/// `CodeSystem::normalise`.
pub(crate) fn without_filler(bare: Sql) -> Sql {
    Sql::Case {
        branches: vec![(
            Sql::Call("length", vec![bare.clone()]).binary(super::ast::BinOp::Gt, Sql::Int(3)),
            Sql::Call("substr", vec![bare.clone(), Sql::Int(1), Sql::Int(3)]).binary(
                super::ast::BinOp::Concat,
                Sql::TrimTrailing(
                    Box::new(Sql::Call("substr", vec![bare.clone(), Sql::Int(4)])),
                    "X".to_string(),
                ),
            ),
        )],
        otherwise: Some(Box::new(bare)),
    }
}

/// `text` with every character that is not a letter, a digit or `_` replaced by `_`.
pub(crate) fn identifier(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Whether a period from `start` to `end` covers a day from `first` to `last`: it starts
/// on or before `last` and has no end or ends on or after `first`.
fn covering(start: Sql, end: Sql, first: Sql, last: Sql) -> Sql {
    use super::ast::BinOp;
    start
        .binary(BinOp::LtEq, last)
        .and(end.clone().null_test().or(end.binary(BinOp::GtEq, first)))
}
