//! The data-quality checks of DESIGN §5 in SQL: per table read, one query that counts its
//! rows, the rows an `exclude` policy removes and the rows of each finding; and, for each
//! table with rows to remove, a step of the rows kept, which the cohort's steps read in
//! place of the table. The checks are those of the in-process engine
//! ([`checks_of`]), each lowered to a predicate here, so both count the same rows.
//!
//! A row is compared with its person (unknown people, dates before birth, people on several
//! rows) through a step of the person table's ids, earliest dates of birth and row counts,
//! joined to the rows checked.

use chrono::NaiveDate;

use super::ast::{BinOp, Body, Expr as Sql, Join, Query, Relation, Renderer, Select, SqlType};
use super::cohort::{SqlLowering, bare_code, converted, non_finite, without_filler};
use super::{QualityCount, QualityQuery, count_rows as count};
use crate::codelist::CodeSystem;
use crate::error::{CaasError, Result};
use crate::quality::checks::{Test, checks_of};
use crate::quality::{Policy, QualityPolicies};
use crate::source::{CodeLayout, Table};

/// The alias of the rows checked.
const ROWS: &str = "__q_row";
/// The element of a list of codes in [`Sql::AnyElement`].
const ELEMENT: &str = "caas_code";

/// Verhoeff's tables as digit strings ([`crate::quality::verhoeff_valid`]): the
/// multiplication table row by row, and the eight permutations.
const VERHOEFF_D: &str = "0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210";
const VERHOEFF_P: [&str; 8] = [
    "0123456789",
    "1576283094",
    "5803796142",
    "8916043527",
    "9453126870",
    "4286573901",
    "2793806415",
    "7046913258",
];

/// The most digits a SNOMED CT identifier has.
const MAX_SCTID_DIGITS: usize = 18;

impl SqlLowering<'_> {
    /// Plans the checks of the tables `checked` (the person table first). Adds the step of
    /// the people and, for each table with rows that an `exclude` policy removes, the step
    /// of its rows kept, which [`SqlLowering::relation`] gives from then on. Returns one
    /// counting query per table.
    pub fn quality(
        &mut self,
        checked: &[String],
        policies: &QualityPolicies,
        reference_date: NaiveDate,
    ) -> Result<Vec<QualityQuery>> {
        let people = self.people_step()?;
        let mut queries = Vec::new();
        let mut kept = Vec::new();
        for name in checked {
            let table = self.table(name)?;
            let checks = checks_of(&table.shape, reference_date);
            let person = Join {
                left: true,
                relation: Relation::Step(people.clone()),
                alias: None,
                on: Sql::qcol(&people, "__q_id").eq(self.person_id(table)),
            };
            // Each check's predicate and the joins it reads.
            let mut tests: Vec<(Sql, Vec<Join>)> = Vec::with_capacity(checks.len());
            for check in &checks {
                let mut joins = Vec::new();
                if check.test.compares_with_person() {
                    joins.push(person.clone());
                }
                let predicate = self.test(table, &check.test, &mut joins);
                tests.push((predicate, joins));
            }
            let excluded = |effective_only: bool| {
                checks.iter().zip(&tests).filter(move |(c, _)| {
                    policies.get(c.kind) == Policy::Exclude && (c.effective || !effective_only)
                })
            };
            // The rows of the table with the joins that `chosen` read.
            let rows = |chosen: Vec<&(Sql, Vec<Join>)>| {
                let mut select = Select {
                    from: Some((self.source(name), Some(ROWS.to_string()))),
                    ..Select::default()
                };
                for join in chosen.iter().flat_map(|(_, joins)| joins) {
                    if !select.joins.contains(join) {
                        select.joins.push(join.clone());
                    }
                }
                select
            };
            let removed = Sql::any(excluded(false).map(|(_, (p, _))| p.clone()));
            let mut counts = rows(tests.iter().collect())
                .item(count(None), "rows")
                .item(count(Some(removed)), "excluded");
            for (i, (p, _)) in tests.iter().enumerate() {
                counts = counts.item(count(Some(p.clone())), &format!("finding_{i}"));
            }
            let query = Query::reading(&self.steps, Body::Select(Box::new(counts)));
            let mut r = Renderer::new(self.dialect);
            r.query(&query)
                .map_err(|_| CaasError::internal("rendering SQL failed"))?;
            queries.push(QualityQuery {
                table: name.clone(),
                role: table.shape.role,
                checks: checks
                    .iter()
                    .map(|c| QualityCount {
                        kind: c.kind,
                        column: c.column.clone(),
                        policy: policies.get(c.kind),
                    })
                    .collect(),
                query: r.finish(),
            });
            let removed: Vec<_> = excluded(true).map(|(_, t)| t).collect();
            if !removed.is_empty() {
                let remove = Sql::any(removed.iter().map(|(p, _)| p.clone()));
                let select = rows(removed)
                    .expr(Sql::Star(Some(ROWS.to_string())))
                    .filter(remove.coalesce(Sql::Bool(false)).not());
                kept.push((name.clone(), select));
            }
        }
        for (name, select) in kept {
            let step = self.add(format!("{name}_kept"), select);
            self.kept.insert(name, step);
        }
        Ok(queries)
    }

    /// Whether one of the code `columns` of table `name` has no format of `system`: each
    /// distinct code is checked once, in a step of the codes and whether each is bad,
    /// which `joins` gets joined once per column. The check is a column of that step, not
    /// a filter: the engines' optimisers push a filter below the `DISTINCT`, where it would
    /// run on every row of the table (Spark, DuckDB and PostgreSQL all do).
    fn bad_codes(
        &mut self,
        name: &str,
        columns: &[String],
        system: CodeSystem,
        joins: &mut Vec<Join>,
    ) -> Sql {
        let code = Sql::col("code");
        let values = columns
            .iter()
            .map(|c| {
                Select {
                    from: Some((self.source(name), None)),
                    ..Select::default()
                }
                .item(Sql::col(c), "code")
            })
            .collect();
        let values = self.push(format!("{name}_code_values"), Body::UnionAll(values));
        let mut codes = Select::from_step(&values)
            .expr(code.clone())
            .filter(code.clone().not_null_test());
        codes.distinct = true;
        let codes = self.add(format!("{name}_codes"), codes);
        let checks = Select::from_step(&codes)
            .expr(code.clone())
            .item(self.code_has_format(code, system).not(), "bad");
        let checks = self.add(format!("{name}_code_checks"), checks);
        let mut found = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let alias = format!("__q_code_{i}");
            joins.push(Join {
                left: true,
                relation: Relation::Step(checks.clone()),
                alias: Some(alias.clone()),
                on: Sql::qcol(&alias, "code").eq(Sql::qcol(ROWS, c)),
            });
            found.push(Sql::qcol(&alias, "bad").coalesce(Sql::Bool(false)));
        }
        Sql::any(found)
    }

    /// The step of the person table's ids (as `__q_id`), each with the earliest of its
    /// dates of birth (`__q_birth`) and its number of rows (`__q_rows`).
    fn people_step(&mut self) -> Result<String> {
        let table = self.table(&self.tables.person().name)?;
        let id = self.person_id(table);
        let birth = match table.shape.column("date_of_birth") {
            Some(c) => converted(table, c, SqlType::Date),
            None => Sql::Null.cast(SqlType::Date),
        };
        let mut select = Select {
            from: Some((self.source(&table.name), None)),
            ..Select::default()
        }
        .item(id.clone(), "__q_id")
        .item(aggregate("min", birth), "__q_birth")
        .item(count(None), "__q_rows")
        .filter(id.clone().not_null_test());
        select.group_by.push(id);
        Ok(self.add("known_people".to_string(), select))
    }

    /// True for the rows of `table` that fail `test`; adds to `joins` what it reads.
    fn test(&mut self, table: &Table, test: &Test, joins: &mut Vec<Join>) -> Sql {
        let date = |c: &str| converted(table, c, SqlType::Date);
        let known = || Sql::col("__q_id").not_null_test();
        match test {
            Test::Missing(c) => Sql::col(c).null_test(),
            Test::BadNhsNumber { column, or_missing } => {
                let bad = Sql::col(column)
                    .not_null_test()
                    .and(self.nhs_number_is_valid(Sql::col(column)).not());
                if *or_missing {
                    Sql::col(column).null_test().or(bad)
                } else {
                    bad
                }
            }
            Test::Duplicate => Sql::col("__q_rows")
                .binary(BinOp::Gt, Sql::Int(1))
                .coalesce(Sql::Bool(false)),
            // A given id that matches nobody, or that is not the exact form of any id.
            Test::Unknown { .. } => {
                let source = table.shape.column("person_id").unwrap_or("person_id");
                Sql::col(source)
                    .not_null_test()
                    .and(Sql::col("__q_id").null_test())
            }
            Test::BeforeBirth(c) => known().and(date(c).binary(BinOp::Lt, Sql::col("__q_birth"))),
            Test::After(columns, day) => Sql::any(
                columns
                    .iter()
                    .map(|c| date(c).binary(BinOp::Gt, Sql::Date(*day))),
            ),
            Test::Before(columns, day) => Sql::any(
                columns
                    .iter()
                    .map(|c| date(c).binary(BinOp::Lt, Sql::Date(*day))),
            ),
            Test::Earlier(first, second) => date(first).binary(BinOp::Lt, date(second)),
            Test::NonFinite(c) => non_finite(converted(table, c, SqlType::Double)),
            Test::AnyMissing(columns) => Sql::any(columns.iter().map(|c| Sql::col(c).null_test())),
            Test::BadCode(CodeLayout::Single(c), system) => {
                self.bad_codes(&table.name, std::slice::from_ref(c), *system, joins)
            }
            Test::BadCode(CodeLayout::Columns(cs), system) => {
                self.bad_codes(&table.name, cs, *system, joins)
            }
            Test::BadCode(CodeLayout::List(c), system) => {
                self.any_bad_element(Sql::col(c), *system, false)
            }
            Test::BadCode(CodeLayout::Delimited(c, d), system) => {
                let parts = self.dialect.split(Sql::col(c).cast(SqlType::Text), d);
                self.any_bad_element(parts, *system, true)
            }
        }
    }

    /// Whether an element of `list` is a code without a format of `system` (with `parts`,
    /// a part of a delimited text: trimmed, and not empty).
    fn any_bad_element(&self, list: Sql, system: CodeSystem, parts: bool) -> Sql {
        let mut code = Sql::col(ELEMENT);
        let mut bad = code.clone().not_null_test();
        if parts {
            code = Sql::Call("trim", vec![code]);
            bad = code.clone().binary(BinOp::NotEq, Sql::Text(String::new()));
        }
        Sql::AnyElement {
            list: Box::new(list),
            var: ELEMENT,
            predicate: Box::new(bad.and(self.code_has_format(code, system).not())),
        }
    }

    /// `nhs_number_text_is_valid`: ten digits, the first not 0, after removing spaces,
    /// whose sum weighted 10 down to 1 is a multiple of 11. That is the Modulus 11 check:
    /// the last digit is 11 less the remainder of the first nine's sum (11 counting as 0),
    /// so adding it once makes a multiple of 11, and where that would take 10 no digit
    /// does. Half the digits of the check-digit form, each of which cleans the text anew.
    fn nhs_number_is_valid(&self, value: Sql) -> Sql {
        let text = Sql::Call(
            "replace",
            vec![
                value.cast(SqlType::Text),
                Sql::Text(" ".to_string()),
                Sql::Text(String::new()),
            ],
        );
        let weighted = (1..=10)
            .map(|i| digit_at(text.clone(), Sql::Int(i)).binary(BinOp::Multiply, Sql::Int(11 - i)))
            .reduce(|a, b| a.binary(BinOp::Plus, b))
            .unwrap_or(Sql::Int(0));
        let multiple = Sql::Call("mod", vec![weighted, Sql::Int(11)]).eq(Sql::Int(0));
        let well_formed = self.dialect.matches(text, "[1-9][0-9]{9}");
        guarded(well_formed, multiple)
    }

    /// `code_has_format`: whether a code (text or integer) has a format of `system`.
    fn code_has_format(&self, code: Sql, system: CodeSystem) -> Sql {
        let d = self.dialect;
        let identifier = "[1-9][0-9]{5,17}";
        match system {
            // Matched exactly, so checked untrimmed, as in-process.
            CodeSystem::SnomedCt | CodeSystem::Dmd => {
                let text = code.cast(SqlType::Text);
                let well_formed = d.matches(text.clone(), identifier);
                if system == CodeSystem::Dmd {
                    well_formed
                } else {
                    guarded(well_formed, verhoeff_valid(text))
                }
            }
            CodeSystem::Icd10 => d.matches(
                without_filler(bare_code(code)),
                "[A-Z][0-9]{2}[A-Z0-9]{0,4}",
            ),
            CodeSystem::Opcs4 => d.matches(without_filler(bare_code(code)), "[A-Z][0-9]{2}[0-9]?"),
        }
    }
}

/// `then` where `condition` holds, else false: the engines evaluate a `CASE` branch only
/// for the rows that take it, so `then` may assume `condition`.
fn guarded(condition: Sql, then: Sql) -> Sql {
    Sql::Case {
        branches: vec![(condition, then)],
        otherwise: Some(Box::new(Sql::Bool(false))),
    }
}

/// The digit at 1-based `position` of `text`, as a number (by its character code, which
/// never fails to convert).
fn digit_at(text: Sql, position: Sql) -> Sql {
    Sql::Call(
        "ascii",
        vec![Sql::Call("substr", vec![text, position, Sql::Int(1)])],
    )
    .binary(BinOp::Minus, Sql::Int(48))
}

/// The digit of `table` (digit strings) at 0-based `index`.
fn lookup(table: &str, index: Sql) -> Sql {
    digit_at(
        Sql::Text(table.to_string()),
        index.binary(BinOp::Plus, Sql::Int(1)),
    )
}

/// Whether `text`, 6 to 18 digits, ends with its Verhoeff check digit: Verhoeff's product
/// of the digits' permutations, one step per place from the right, the places past the
/// first digit taking the identity (0).
fn verhoeff_valid(text: Sql) -> Sql {
    let length = Sql::Call("length", vec![text.clone()]);
    let mut check = Sql::Int(0);
    for place in 0..MAX_SCTID_DIGITS {
        let offset = i64::try_from(place).unwrap_or(i64::MAX);
        let digit = digit_at(
            text.clone(),
            length.clone().binary(BinOp::Minus, Sql::Int(offset)),
        );
        let permuted = Sql::Case {
            branches: vec![(
                length.clone().binary(BinOp::Gt, Sql::Int(offset)),
                lookup(VERHOEFF_P[place % 8], digit),
            )],
            otherwise: Some(Box::new(Sql::Int(0))),
        };
        check = lookup(
            VERHOEFF_D,
            check
                .binary(BinOp::Multiply, Sql::Int(10))
                .binary(BinOp::Plus, permuted),
        );
    }
    check.eq(Sql::Int(0))
}

fn aggregate(name: &'static str, arg: Sql) -> Sql {
    Sql::Aggregate {
        name,
        args: vec![arg],
        order_by: Vec::new(),
        filter: None,
    }
}
