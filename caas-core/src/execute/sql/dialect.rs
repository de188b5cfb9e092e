//! What differs between the SQL engines in meaning, not only in spelling: each method
//! builds the construct that gives caas's semantics in one dialect.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::ast::{BinOp, Expr, OrderKey, SqlType, string};
use crate::error::CaasError;
use crate::model::expr::{Duration, DurationUnit};

/// A SQL dialect that caas generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Apache Spark SQL (Spark 4, ANSI mode on or off).
    Spark,
    /// PostgreSQL 15 and later.
    Postgres,
    /// DuckDB.
    DuckDb,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Spark, Dialect::Postgres, Dialect::DuckDb];

    /// The dialect's name as options spell it: `spark`, `postgres`, `duckdb`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Postgres => "postgres",
            Dialect::DuckDb => "duckdb",
        }
    }

    /// A table's name as the generated SQL writes it: each part of a dotted name
    /// (`schema.table`) quoted as an identifier.
    ///
    /// ```
    /// use caas_core::sql::Dialect;
    /// assert_eq!(Dialect::Postgres.quote_table("cdm.person"), r#""cdm"."person""#);
    /// assert_eq!(Dialect::Spark.quote_table("gp events"), "`gp events`");
    /// ```
    pub fn quote_table(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.ident(part))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A statement that makes the Parquet files at `path` (a file, or a folder read with
    /// every Parquet file below it) a view called `table`: for running the generated SQL
    /// over files, e.g. in `spark-sql`. PostgreSQL reads no Parquet files.
    ///
    /// ```
    /// use caas_core::sql::Dialect;
    /// assert_eq!(
    ///     Dialect::Spark.parquet_view("gp_events", "/data/gp", true)?,
    ///     "CREATE OR REPLACE TEMPORARY VIEW `gp_events` USING parquet OPTIONS (path '/data/gp')",
    /// );
    /// # Ok::<(), caas_core::CaasError>(())
    /// ```
    pub fn parquet_view(self, table: &str, path: &str, folder: bool) -> Result<String, CaasError> {
        let name = self.quote_table(table);
        match self {
            Dialect::Spark => Ok(format!(
                "CREATE OR REPLACE TEMPORARY VIEW {name} USING parquet OPTIONS (path {})",
                string(path, self)
            )),
            Dialect::DuckDb => {
                let files = if folder {
                    format!("{}/**/*.parquet", path.trim_end_matches('/'))
                } else {
                    path.to_string()
                };
                Ok(format!(
                    "CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({})",
                    string(&files, self)
                ))
            }
            Dialect::Postgres => Err(CaasError::Unsupported {
                place: crate::error::Place::Definition,
                feature: format!("a view over the Parquet files of `{table}`"),
                dialect: self.name(),
            }),
        }
    }

    /// `date` plus `sign` times a calendar duration, by caas's rule (`add_duration`): the
    /// day of the month kept, or the 1st of the next month where the month reached is too
    /// short for it (31 January + 1 month = 1 March), as in-process.
    pub(crate) fn add_duration(self, date: Expr, duration: Duration, sign: i64) -> Expr {
        let amount = duration.amount.saturating_mul(sign);
        match duration.unit {
            DurationUnit::Days => self.add_days(date, amount),
            DurationUnit::Months => self.add_months(date, amount),
            DurationUnit::Years => self.add_months(date, amount.saturating_mul(12)),
        }
    }

    /// `date` plus `months` by caas's rule (`add_duration`): back, the engines' own month
    /// arithmetic, which clamps to the month's end; forward, rolling past the end to the
    /// next month's 1st instead — moving the day before `date` and then adding the day back
    /// turns the clamp into the roll (from 30 January: 29 January + 1 month is 28 February
    /// in 2025, and the day after it 1 March) and keeps every day that exists, except that
    /// the 1st has no day before it in its month, and never needs the roll.
    fn add_months(self, date: Expr, months: i64) -> Expr {
        if months <= 0 {
            return self.clamped_add_months(date, months);
        }
        let first_of_month =
            Expr::Extract("DAY", Box::new(date.clone())).binary(BinOp::Eq, Expr::Int(1));
        let rolled = self.add_days(
            self.clamped_add_months(self.add_days(date.clone(), -1), months),
            1,
        );
        Expr::Case {
            branches: vec![(first_of_month, self.clamped_add_months(date, months))],
            otherwise: Some(Box::new(rolled)),
        }
    }

    /// `date` plus `amount` (a whole-number expression) units of `unit`, negated first if
    /// `negated`, by the same rule as [`add_duration`](Self::add_duration); null where the
    /// amount is null or so large that no date of the years 1 to 9999 moves to one — which
    /// also keeps it within the engines' 32-bit day and month counts, past which they would
    /// fail the whole query.
    pub(crate) fn add_amount(
        self,
        date: Expr,
        amount: Expr,
        unit: DurationUnit,
        negated: bool,
    ) -> Expr {
        let amount = amount.cast(SqlType::BigInt);
        let amount = if negated {
            self.checked(BinOp::Minus, Expr::Int(0), amount)
        } else {
            amount
        };
        let (limit, months_per_unit) = match unit {
            DurationUnit::Days => (3_700_000, None),
            DurationUnit::Months => (120_000, Some(1)),
            DurationUnit::Years => (10_000, Some(12)),
        };
        let within = Expr::Between {
            expr: Box::new(amount.clone()),
            low: Box::new(Expr::Int(-limit)),
            high: Box::new(Expr::Int(limit)),
            negated: false,
        };
        let bounded = |count: Expr| Expr::Case {
            branches: vec![(within, count.cast(SqlType::Int))],
            otherwise: None,
        };
        let Some(factor) = months_per_unit else {
            return self.add_days_by(date, bounded(amount));
        };
        let months = bounded(match factor {
            1 => amount,
            n => amount.binary(BinOp::Multiply, Expr::Int(n)),
        });
        // As `add_months`, with the sign known only per row.
        let rolls = months
            .clone()
            .binary(BinOp::Gt, Expr::Int(0))
            .and(Expr::Extract("DAY", Box::new(date.clone())).binary(BinOp::NotEq, Expr::Int(1)));
        let rolled = self.add_days(
            self.clamped_add_months_by(self.add_days(date.clone(), -1), months.clone()),
            1,
        );
        Expr::Case {
            branches: vec![(rolls, rolled)],
            otherwise: Some(Box::new(self.clamped_add_months_by(date, months))),
        }
    }

    /// `date` plus `months` (an INTEGER expression) as the engine adds them: clamped to the
    /// end of the month.
    fn clamped_add_months_by(self, date: Expr, months: Expr) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("add_months", vec![date, months]),
            Dialect::Postgres => date
                .binary(
                    BinOp::Plus,
                    Expr::Call("make_interval", vec![Expr::Int(0), months]),
                )
                .cast(SqlType::Date),
            Dialect::DuckDb => date
                .binary(BinOp::Plus, Expr::Call("to_months", vec![months]))
                .cast(SqlType::Date),
        }
    }

    /// `date` plus `months` as the engine adds them: clamped to the end of the month.
    fn clamped_add_months(self, date: Expr, months: i64) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("add_months", vec![date, Expr::Int(months)]),
            // Date plus interval is a timestamp here.
            Dialect::Postgres | Dialect::DuckDb => date
                .binary(super::ast::BinOp::Plus, Expr::Months(months))
                .cast(SqlType::Date),
        }
    }

    pub(crate) fn add_days(self, date: Expr, days: i64) -> Expr {
        self.add_days_by(date, Expr::Int(days))
    }

    /// `date` plus `days`, an INTEGER expression.
    fn add_days_by(self, date: Expr, days: Expr) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("date_add", vec![date, days]),
            Dialect::Postgres | Dialect::DuckDb => date.binary(BinOp::Plus, days),
        }
    }

    /// `left op right` over 64-bit integers (`op` is `+`, `-` or `*`), null where the
    /// result does not fit — where a plain operator fails the whole query (PostgreSQL,
    /// DuckDB, Spark in ANSI mode) or wraps round (Spark otherwise) — as in-process. Each
    /// operand is written once, so nested arithmetic stays linear in size.
    pub(crate) fn checked(self, op: BinOp, left: Expr, right: Expr) -> Expr {
        // Small literals are 32-bit integers in DuckDB: `100000 * 100000` would overflow.
        let (left, right) = (left.cast(SqlType::BigInt), right.cast(SqlType::BigInt));
        match self {
            Dialect::DuckDb => Expr::Call("TRY", vec![left.binary(op, right)]),
            // The exact result, clamped to one past each end of the range, and those two
            // ends made null. (Not Spark's `try_multiply`: Spark 4.1 gives null for
            // `try_multiply(try_multiply(n, 9223372036854775807), 2)` where `n` is 0
            // and comes from a join.)
            Dialect::Postgres | Dialect::Spark => {
                let bound = |n: &str| Expr::Text(n.to_string()).cast(SqlType::Numeric);
                let (below, above) = (bound("-9223372036854775809"), bound("9223372036854775808"));
                let exact = left
                    .cast(SqlType::Numeric)
                    .binary(op, right.cast(SqlType::Numeric));
                let clamped = Expr::Call(
                    "least",
                    vec![
                        Expr::Call("greatest", vec![exact, below.clone()]),
                        above.clone(),
                    ],
                );
                Expr::Call(
                    "nullif",
                    vec![Expr::Call("nullif", vec![clamped, above]), below],
                )
                .cast(SqlType::BigInt)
            }
        }
    }

    /// `div(left, right)` over 64-bit integers, rounded toward zero; null for a zero
    /// divisor and for the one quotient that does not fit (the smallest integer divided by
    /// -1), where a plain operator fails the whole query, as in-process.
    pub(crate) fn integer_divide(self, left: Expr, right: Expr) -> Expr {
        let (left, right) = (left.cast(SqlType::BigInt), right.cast(SqlType::BigInt));
        let quotient = |left: Expr, right: Expr| {
            left.binary(
                BinOp::IntegerDivide,
                Expr::Call("nullif", vec![right, Expr::Int(0)]),
            )
        };
        match self {
            Dialect::DuckDb => Expr::Call("TRY", vec![quotient(left, right)]),
            Dialect::Postgres | Dialect::Spark => Expr::Case {
                branches: vec![(
                    right.clone().binary(BinOp::Eq, Expr::Int(-1)),
                    self.checked(BinOp::Minus, Expr::Int(0), left.clone()),
                )],
                otherwise: Some(Box::new(quotient(left, right))),
            },
        }
    }

    /// A decimal rounded toward zero to a 64-bit integer, null outside the range and for
    /// NaN (which every engine orders above all numbers), where a cast fails the query or,
    /// in Spark without ANSI, saturates. Spark's cast itself rounds toward zero;
    /// PostgreSQL's and DuckDB's round to nearest.
    pub(crate) fn decimal_to_integer(self, x: Expr) -> Expr {
        // 2^63, the first decimal past the range.
        let end = 9_223_372_036_854_775_808.0;
        let truncated = match self {
            Dialect::Spark => x.clone(),
            Dialect::Postgres | Dialect::DuckDb => Expr::Call("trunc", vec![x.clone()]),
        };
        let within = (x.clone().binary(BinOp::GtEq, Expr::Float(-end)))
            .and(x.binary(BinOp::Lt, Expr::Float(end)));
        Expr::Case {
            branches: vec![(within, truncated.cast(SqlType::BigInt))],
            otherwise: None,
        }
    }

    /// `date`, or null outside the years 1 to 9999, as in-process: its day number clamped
    /// to one past each end of the range, those two ends made null, and made a date again,
    /// so that `date` is written once.
    pub(crate) fn date_in_range(self, date: Expr, first: i32, last: i32) -> Expr {
        let epoch = || Expr::Date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
        let days = match self {
            Dialect::Spark => Expr::Call("unix_date", vec![date]),
            Dialect::Postgres | Dialect::DuckDb => date.binary(BinOp::Minus, epoch()),
        };
        let (below, above) = (
            Expr::Int(i64::from(first) - 1),
            Expr::Int(i64::from(last) + 1),
        );
        let clamped = Expr::Call(
            "least",
            vec![
                Expr::Call("greatest", vec![days, below.clone()]),
                above.clone(),
            ],
        );
        let days = Expr::Call(
            "nullif",
            vec![Expr::Call("nullif", vec![clamped, above]), below],
        )
        .cast(SqlType::Int);
        match self {
            Dialect::Spark => Expr::Call("date_from_unix_date", vec![days]),
            Dialect::Postgres | Dialect::DuckDb => epoch().binary(BinOp::Plus, days),
        }
    }

    /// Whole days from `right` to `left` (`left - right`), as a 64-bit integer.
    pub(crate) fn days_between(self, left: Expr, right: Expr) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("datediff", vec![left, right]),
            Dialect::Postgres | Dialect::DuckDb => left.binary(super::ast::BinOp::Minus, right),
        }
        .cast(SqlType::BigInt)
    }

    /// Whether the `FILTER` of aggregate `name` is rendered as a `CASE` on its last
    /// argument instead: the same result for an aggregate that skips nulls (for
    /// `arg_min_null` and `arg_max_null`, a null key), and DuckDB runs it much faster when
    /// a step has many (the flu cohort's 29 aggregates of the GP events at 1 M people:
    /// 2.3–2.9 s against 6.1–6.8 s). `count(*)` becomes `count(CASE ... THEN 1 END)`.
    pub(crate) fn filter_as_case(self, name: &str) -> bool {
        self == Dialect::DuckDb
            && matches!(
                name,
                "count" | "min" | "max" | "arg_min_null" | "arg_max_null"
            )
    }

    /// Text that sorts byte by byte, as in-process (PostgreSQL otherwise sorts by the
    /// database's locale).
    pub(crate) fn binary_order(self, text: Expr) -> Expr {
        match self {
            Dialect::Postgres => Expr::CollateC(Box::new(text)),
            Dialect::Spark | Dialect::DuckDb => text,
        }
    }

    /// The value of `arg` on the row that comes first (or, with `last`, last) in the
    /// order of `keys` — each ascending with nulls first, text (`true`) byte by byte —
    /// among the rows that `filter` keeps; null when it keeps none.
    pub(crate) fn pick(self, arg: Expr, keys: Vec<(Expr, bool)>, filter: Expr, last: bool) -> Expr {
        let filter = Some(Box::new(filter));
        match self {
            // Structs compare field by field, nulls first: the order of the keys.
            Dialect::Spark => Expr::Aggregate {
                name: if last { "max_by" } else { "min_by" },
                args: vec![
                    arg,
                    Expr::Call("struct", keys.into_iter().map(|(k, _)| k).collect()),
                ],
                order_by: Vec::new(),
                filter,
            },
            // `arg_max_null` keeps the value of the row it picks even when that is null;
            // rows compare by a struct of the keys, each after whether it is known, since
            // DuckDB puts a null field after every value. Unlike an ordered `first`, it
            // needs no sort of each group's rows.
            Dialect::DuckDb => {
                let mut fields = Vec::with_capacity(keys.len() * 2);
                for (key, _) in keys {
                    fields.push(key.clone().not_null_test());
                    fields.push(key);
                }
                Expr::Aggregate {
                    name: if last { "arg_max_null" } else { "arg_min_null" },
                    args: vec![arg, Expr::Call("row", fields)],
                    order_by: Vec::new(),
                    filter,
                }
            }
            Dialect::Postgres => {
                let order_by = keys
                    .into_iter()
                    .map(|(expr, text)| OrderKey {
                        expr: if text { self.binary_order(expr) } else { expr },
                        descending: last,
                        nulls_first: !last,
                    })
                    .collect();
                let all = Expr::Aggregate {
                    name: "array_agg",
                    args: vec![arg],
                    order_by,
                    filter,
                };
                Expr::Index(Box::new(all), 1)
            }
        }
    }

    /// One row per element of a list (a set-returning call in the select list).
    pub(crate) fn unnest(self, list: Expr) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("explode", vec![list]),
            Dialect::Postgres | Dialect::DuckDb => Expr::Call("unnest", vec![list]),
        }
    }

    /// The first element of a list, null for an empty or null list.
    pub(crate) fn first_element(self, list: Expr) -> Expr {
        match self {
            Dialect::Spark => Expr::Call("try_element_at", vec![list, Expr::Int(1)]),
            Dialect::Postgres | Dialect::DuckDb => Expr::Index(Box::new(list), 1),
        }
    }

    /// Text split at each occurrence of `delimiter` (no pattern), keeping empty parts.
    pub(crate) fn split(self, text: Expr, delimiter: &str) -> Expr {
        match self {
            // `split` takes a Java pattern: quote the delimiter; -1 keeps trailing parts.
            Dialect::Spark => Expr::Call(
                "split",
                vec![
                    text,
                    Expr::Text(format!("\\Q{delimiter}\\E")),
                    Expr::Int(-1),
                ],
            ),
            Dialect::Postgres => Expr::Call(
                "string_to_array",
                vec![text, Expr::Text(delimiter.to_string())],
            ),
            Dialect::DuckDb => Expr::Call(
                "string_split",
                vec![text, Expr::Text(delimiter.to_string())],
            ),
        }
    }

    /// Whether the whole of `text` matches the regular expression `pattern` (written for
    /// every engine's syntax: classes, counts and anchors only).
    pub(crate) fn matches(self, text: Expr, pattern: &str) -> Expr {
        let name = match self {
            Dialect::Spark | Dialect::Postgres => "regexp_like",
            Dialect::DuckDb => "regexp_matches",
        };
        Expr::Call(name, vec![text, Expr::Text(format!("^{pattern}$"))])
    }

    /// HMAC-SHA256 of `text` (as UTF-8) in lower-case hexadecimal, from the inner and outer
    /// keys bound as the parameters `caas_ipad` and `caas_opad` (hexadecimal;
    /// `PseudonymKey::hmac_pads`): the hash of the outer key and the hash of the inner key
    /// and the text.
    pub(crate) fn hmac_sha256(self, text: Expr) -> Expr {
        let key = |name| match self {
            Dialect::Postgres => Expr::Call(
                "decode",
                vec![Expr::Parameter(name), Expr::Text("hex".to_string())],
            ),
            Dialect::Spark | Dialect::DuckDb => Expr::Call("unhex", vec![Expr::Parameter(name)]),
        };
        let bytes = match self {
            Dialect::Spark => Expr::Call("encode", vec![text, Expr::Text("UTF-8".to_string())]),
            Dialect::Postgres => {
                Expr::Call("convert_to", vec![text, Expr::Text("UTF8".to_string())])
            }
            Dialect::DuckDb => Expr::Call("encode", vec![text]),
        };
        let then = |a: Expr, b: Expr| match self {
            Dialect::Spark => Expr::Call("concat", vec![a, b]),
            Dialect::Postgres | Dialect::DuckDb => a.binary(BinOp::Concat, b),
        };
        // The digest as bytes (`sha`), and as hexadecimal text (`hex`).
        let sha = |bytes: Expr| match self {
            Dialect::Spark => Expr::Call(
                "unhex",
                vec![Expr::Call("sha2", vec![bytes, Expr::Int(256)])],
            ),
            Dialect::Postgres => Expr::Call("sha256", vec![bytes]),
            Dialect::DuckDb => Expr::Call("unhex", vec![Expr::Call("sha256", vec![bytes])]),
        };
        let hex = |bytes: Expr| match self {
            Dialect::Spark => Expr::Call("sha2", vec![bytes, Expr::Int(256)]),
            Dialect::Postgres => Expr::Call(
                "encode",
                vec![
                    Expr::Call("sha256", vec![bytes]),
                    Expr::Text("hex".to_string()),
                ],
            ),
            Dialect::DuckDb => Expr::Call("sha256", vec![bytes]),
        };
        let inner = sha(then(key("caas_ipad"), bytes));
        hex(then(key("caas_opad"), inner))
    }

    /// A cast that gives null rather than failing where the value does not convert, for
    /// ids of another type than the person table's.
    pub(crate) fn try_cast(self, expr: Expr, to: SqlType) -> Expr {
        match (self, to) {
            (Dialect::Postgres, SqlType::BigInt) => Expr::Case {
                branches: vec![(
                    Expr::Call(
                        "textregexeq",
                        vec![
                            expr.clone().cast(SqlType::Text),
                            Expr::Text("^[+-]?[0-9]{1,18}$".to_string()),
                        ],
                    ),
                    expr.cast(SqlType::BigInt),
                )],
                otherwise: None,
            },
            (Dialect::Postgres, _) => expr.cast(to),
            (Dialect::Spark | Dialect::DuckDb, _) => Expr::TryCast(Box::new(expr), to),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = CaasError;

    /// `spark`, `postgres` (or `postgresql`) or `duckdb`.
    fn from_str(s: &str) -> Result<Dialect, CaasError> {
        match s.to_ascii_lowercase().as_str() {
            "spark" => Ok(Dialect::Spark),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "duckdb" => Ok(Dialect::DuckDb),
            _ => Err(CaasError::InvalidOption {
                option: "dialect",
                message: format!("`{s}` is not a dialect: spark, postgres or duckdb"),
            }),
        }
    }
}
