//! The SQL that caas generates, as a syntax tree, and its rendering per dialect.
//!
//! The tree holds exactly the constructs the lowering emits — a `WITH` chain of selects,
//! joins, grouped aggregates with `FILTER`, `CASE`, casts — so that every identifier and
//! every string is quoted in one place ([`Dialect::ident`], [`string`]) and every operator
//! is parenthesised by precedence rather than by hand. Choices that differ between engines
//! in *meaning* (date arithmetic, ordered aggregates, splitting text) are made by the
//! lowering through [`Dialect`]'s methods; the renderer only spells types and keywords.
//!
//! (The `sqlparser` crate's tree renders the same text for every dialect, so the dialect
//! choices would still be ours, and its structures change shape with each release; this
//! tree is the part of it caas needs.)

use std::fmt::{self, Write};

use chrono::NaiveDate;

use super::Dialect;
use crate::model::expr::balanced;

/// A SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    /// 64-bit integers.
    BigInt,
    /// 32-bit integers.
    Int,
    /// 64-bit floating point.
    Double,
    /// Text.
    Text,
    /// Calendar dates.
    Date,
    /// Booleans.
    Boolean,
    /// Exact whole numbers wider than 64 bits.
    Numeric,
}

/// A binary operator, by precedence (loosest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Plus,
    Minus,
    Multiply,
    Divide,
    /// Whole-number division, rounded toward zero: spelled by the dialect.
    IntegerDivide,
    Concat,
}

impl BinOp {
    fn symbol(self, dialect: Dialect) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::Plus => "+",
            BinOp::Minus => "-",
            BinOp::Multiply => "*",
            BinOp::Divide => "/",
            BinOp::IntegerDivide => match dialect {
                Dialect::Postgres => "/",
                Dialect::DuckDb => "//",
                Dialect::Spark => "div",
            },
            BinOp::Concat => "||",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => 4,
            BinOp::Concat => 5,
            BinOp::Plus | BinOp::Minus => 6,
            BinOp::Multiply | BinOp::Divide | BinOp::IntegerDivide => 7,
        }
    }
}

/// The order of one key in an ordered aggregate or `ORDER BY`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A SQL expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A column, optionally qualified by a relation.
    Column(Option<String>, String),
    /// Every column of a relation (`rel.*`), or of the `FROM` clause.
    Star(Option<String>),
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Date(NaiveDate),
    /// `INTERVAL 'n months'`.
    Months(i64),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
    IsNull(Box<Expr>, bool),
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Case {
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast(Box<Expr>, SqlType),
    /// A cast that gives null where the value does not convert (PostgreSQL has none; the
    /// lowering guards its casts there instead).
    TryCast(Box<Expr>, SqlType),
    /// `EXTRACT(part FROM expr)`.
    Extract(&'static str, Box<Expr>),
    /// `TRIM(TRAILING chars FROM expr)`.
    TrimTrailing(Box<Expr>, String),
    /// `expr COLLATE "C"`: text compared byte by byte (PostgreSQL).
    CollateC(Box<Expr>),
    /// `DISTINCT expr`, the argument of an aggregate over distinct values.
    Distinct(Box<Expr>),
    /// `(expr)[index]`.
    Index(Box<Expr>, i64),
    /// A scalar function call.
    Call(&'static str, Vec<Expr>),
    /// A named parameter of the query, whose value the caller binds when running it.
    Parameter(&'static str),
    /// Whether `predicate` holds for some element of `list`, in which the element is the
    /// column `var` (a plain lower-case name); false for an empty or null list.
    AnyElement {
        list: Box<Expr>,
        var: &'static str,
        predicate: Box<Expr>,
    },
    /// An aggregate: `name(args ORDER BY ...) FILTER (WHERE ...)`; no args is `name(*)`.
    Aggregate {
        name: &'static str,
        args: Vec<Expr>,
        order_by: Vec<OrderKey>,
        filter: Option<Box<Expr>>,
    },
    /// `name(arg) OVER (PARTITION BY ... ORDER BY ... ROWS BETWEEN UNBOUNDED PRECEDING AND
    /// 1 PRECEDING)`: an aggregate of the rows before each row.
    BeforeRow {
        name: &'static str,
        arg: Box<Expr>,
        partition_by: Vec<Expr>,
        order_by: Vec<OrderKey>,
    },
}

/// Shorthands for building expressions.
impl Expr {
    pub fn col(name: &str) -> Expr {
        Expr::Column(None, name.to_string())
    }

    pub fn qcol(relation: &str, name: &str) -> Expr {
        Expr::Column(Some(relation.to_string()), name.to_string())
    }

    pub fn binary(self, op: BinOp, right: Expr) -> Expr {
        Expr::Binary(Box::new(self), op, Box::new(right))
    }

    pub fn and(self, right: Expr) -> Expr {
        self.binary(BinOp::And, right)
    }

    pub fn or(self, right: Expr) -> Expr {
        self.binary(BinOp::Or, right)
    }

    pub fn eq(self, right: Expr) -> Expr {
        self.binary(BinOp::Eq, right)
    }

    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    pub fn null_test(self) -> Expr {
        Expr::IsNull(Box::new(self), false)
    }

    pub fn not_null_test(self) -> Expr {
        Expr::IsNull(Box::new(self), true)
    }

    pub fn cast(self, to: SqlType) -> Expr {
        Expr::Cast(Box::new(self), to)
    }

    pub fn coalesce(self, default: Expr) -> Expr {
        Expr::Call("coalesce", vec![self, default])
    }

    /// `a OR b OR ...` (as a balanced tree), `FALSE` for none.
    pub fn any(terms: impl IntoIterator<Item = Expr>) -> Expr {
        balanced(terms.into_iter().collect(), Expr::or).unwrap_or(Expr::Bool(false))
    }

    /// `a AND b AND ...` (as a balanced tree), `TRUE` for none.
    pub fn all(terms: impl IntoIterator<Item = Expr>) -> Expr {
        balanced(terms.into_iter().collect(), Expr::and).unwrap_or(Expr::Bool(true))
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary(_, op, _) => op.precedence(),
            Expr::Not(_) => 3,
            Expr::IsNull(..) | Expr::Between { .. } => 4,
            Expr::Neg(_) => 8,
            _ => 9,
        }
    }
}

/// A relation in a `FROM` or `JOIN`: a step of the query (by name) or a table of the engine
/// (a possibly qualified name, each part quoted).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Relation {
    Step(String),
    Table(String),
}

/// `LEFT JOIN relation AS alias ON condition` (or an inner join).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Join {
    pub left: bool,
    pub relation: Relation,
    pub alias: Option<String>,
    pub on: Expr,
}

/// One `SELECT`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Select {
    pub distinct: bool,
    pub items: Vec<(Expr, Option<String>)>,
    pub from: Option<(Relation, Option<String>)>,
    pub joins: Vec<Join>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub order_by: Vec<OrderKey>,
}

impl Select {
    /// `SELECT ... FROM step`.
    pub fn from_step(step: &str) -> Select {
        Select {
            from: Some((Relation::Step(step.to_string()), None)),
            ..Select::default()
        }
    }

    pub fn item(mut self, expr: Expr, alias: &str) -> Select {
        self.items.push((expr, Some(alias.to_string())));
        self
    }

    pub fn expr(mut self, expr: Expr) -> Select {
        self.items.push((expr, None));
        self
    }

    pub fn filter(mut self, condition: Expr) -> Select {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(condition),
            None => condition,
        });
        self
    }
}

/// The body of a step or query: one select, or several appended (`UNION ALL`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Select(Box<Select>),
    UnionAll(Vec<Select>),
}

/// A query: named steps (`WITH`), then a body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub steps: Vec<(String, Body)>,
    pub body: Body,
}

impl Body {
    fn selects(&self) -> &[Select] {
        match self {
            Body::Select(s) => std::slice::from_ref(s.as_ref()),
            Body::UnionAll(selects) => selects,
        }
    }
}

impl Query {
    /// `body` after those of `steps` that it reads, directly or through another step: a
    /// query that needs part of a chain carries only that part.
    pub fn reading(steps: &[(String, Body)], body: Body) -> Query {
        let mut needed: Vec<&str> = Vec::new();
        let mut todo = vec![&body];
        while let Some(b) = todo.pop() {
            for s in b.selects() {
                let from = s.from.iter().map(|(r, _)| r);
                for relation in from.chain(s.joins.iter().map(|j| &j.relation)) {
                    if let Relation::Step(name) = relation
                        && !needed.contains(&name.as_str())
                    {
                        needed.push(name);
                        todo.extend(steps.iter().filter(|(n, _)| n == name).map(|(_, b)| b));
                    }
                }
            }
        }
        Query {
            steps: steps
                .iter()
                .filter(|(n, _)| needed.contains(&n.as_str()))
                .cloned()
                .collect(),
            body,
        }
    }
}

/// A string literal.
pub(crate) fn string(s: &str, dialect: Dialect) -> String {
    let escaped = s.replace('\'', "''");
    match dialect {
        // Spark reads backslashes in string literals as escapes.
        Dialect::Spark => format!("'{}'", escaped.replace('\\', "\\\\")),
        Dialect::Postgres | Dialect::DuckDb => format!("'{escaped}'"),
    }
}

impl Dialect {
    /// An identifier, always quoted: names from a definition may be keywords or mixed case.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::Postgres | Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    pub(crate) fn type_name(self, t: SqlType) -> &'static str {
        match (self, t) {
            (_, SqlType::BigInt) => "BIGINT",
            (_, SqlType::Int) => "INTEGER",
            (Dialect::Postgres, SqlType::Double) => "DOUBLE PRECISION",
            (_, SqlType::Double) => "DOUBLE",
            (Dialect::Spark, SqlType::Text) => "STRING",
            (_, SqlType::Text) => "VARCHAR",
            (_, SqlType::Date) => "DATE",
            (_, SqlType::Boolean) => "BOOLEAN",
            (Dialect::Postgres, SqlType::Numeric) => "NUMERIC",
            (Dialect::DuckDb, SqlType::Numeric) => "HUGEINT",
            (Dialect::Spark, SqlType::Numeric) => "DECIMAL(38, 0)",
        }
    }
}

/// Renders SQL text for one dialect.
pub(crate) struct Renderer {
    pub dialect: Dialect,
    out: String,
}

impl Renderer {
    pub fn new(dialect: Dialect) -> Renderer {
        Renderer {
            dialect,
            out: String::new(),
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    pub fn query(&mut self, query: &Query) -> fmt::Result {
        if !query.steps.is_empty() {
            self.out.push_str("WITH\n");
            for (i, (name, body)) in query.steps.iter().enumerate() {
                let name = self.dialect.ident(name);
                writeln!(self.out, "{name} AS (")?;
                self.body(body, 1)?;
                self.out.push_str(if i + 1 < query.steps.len() {
                    "\n),\n"
                } else {
                    "\n)\n"
                });
            }
        }
        self.body(&query.body, 0)
    }

    fn body(&mut self, body: &Body, depth: usize) -> fmt::Result {
        match body {
            Body::Select(s) => self.select(s, depth),
            Body::UnionAll(selects) => {
                let pad = "  ".repeat(depth);
                for (i, s) in selects.iter().enumerate() {
                    if i > 0 {
                        write!(self.out, "\n{pad}UNION ALL\n")?;
                    }
                    self.select(s, depth)?;
                }
                Ok(())
            }
        }
    }

    fn select(&mut self, s: &Select, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        let distinct = if s.distinct { " DISTINCT" } else { "" };
        write!(self.out, "{pad}SELECT{distinct}")?;
        for (i, (expr, alias)) in s.items.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(self.out, "{sep}\n{pad}  ")?;
            self.expr(expr)?;
            if let Some(a) = alias {
                write!(self.out, " AS {}", self.dialect.ident(a))?;
            }
        }
        if let Some((relation, alias)) = &s.from {
            write!(self.out, "\n{pad}FROM ")?;
            self.relation(relation, alias.as_deref())?;
        }
        for join in &s.joins {
            let kind = if join.left { "LEFT JOIN" } else { "JOIN" };
            write!(self.out, "\n{pad}{kind} ")?;
            self.relation(&join.relation, join.alias.as_deref())?;
            self.out.push_str(" ON ");
            self.expr(&join.on)?;
        }
        if let Some(f) = &s.filter {
            write!(self.out, "\n{pad}WHERE ")?;
            self.expr(f)?;
        }
        if !s.group_by.is_empty() {
            write!(self.out, "\n{pad}GROUP BY ")?;
            self.list(&s.group_by)?;
        }
        if !s.order_by.is_empty() {
            write!(self.out, "\n{pad}ORDER BY ")?;
            self.order(&s.order_by)?;
        }
        Ok(())
    }

    fn relation(&mut self, relation: &Relation, alias: Option<&str>) -> fmt::Result {
        let name = match relation {
            Relation::Step(s) => self.dialect.ident(s),
            Relation::Table(t) => self.dialect.quote_table(t),
        };
        self.out.push_str(&name);
        if let Some(a) = alias {
            write!(self.out, " AS {}", self.dialect.ident(a))?;
        }
        Ok(())
    }

    fn list(&mut self, exprs: &[Expr]) -> fmt::Result {
        for (i, e) in exprs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(e)?;
        }
        Ok(())
    }

    fn order(&mut self, keys: &[OrderKey]) -> fmt::Result {
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(&k.expr)?;
            let dir = if k.descending { "DESC" } else { "ASC" };
            let nulls = if k.nulls_first { "FIRST" } else { "LAST" };
            write!(self.out, " {dir} NULLS {nulls}")?;
        }
        Ok(())
    }

    /// `expr`, in parentheses when it binds looser than its place needs.
    fn operand(&mut self, expr: &Expr, min_precedence: u8) -> fmt::Result {
        if expr.precedence() < min_precedence {
            self.out.push('(');
            self.expr(expr)?;
            self.out.push(')');
            Ok(())
        } else {
            self.expr(expr)
        }
    }

    #[recursive::recursive]
    pub fn expr(&mut self, expr: &Expr) -> fmt::Result {
        let d = self.dialect;
        match expr {
            Expr::Column(relation, name) => {
                if let Some(r) = relation {
                    write!(self.out, "{}.", d.ident(r))?;
                }
                self.out.push_str(&d.ident(name));
            }
            Expr::Star(relation) => {
                if let Some(r) = relation {
                    write!(self.out, "{}.", d.ident(r))?;
                }
                self.out.push('*');
            }
            Expr::Null => self.out.push_str("NULL"),
            Expr::Bool(b) => self.out.push_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Int(n) => write!(self.out, "{n}")?,
            Expr::Float(x) => {
                // A typed literal: a bare `1.5` is an exact decimal in PostgreSQL and DuckDB.
                let text = match *x {
                    x if x.is_nan() => string("NaN", d),
                    x if x.is_infinite() && x > 0.0 => string("Infinity", d),
                    x if x.is_infinite() => string("-Infinity", d),
                    x => format!("{x:?}"),
                };
                write!(self.out, "CAST({text} AS {})", d.type_name(SqlType::Double))?;
            }
            Expr::Text(s) => self.out.push_str(&string(s, d)),
            Expr::Date(date) => write!(self.out, "DATE '{}'", date.format("%Y-%m-%d"))?,
            Expr::Months(n) => match d {
                Dialect::Spark => write!(self.out, "INTERVAL '{n}' MONTH")?,
                Dialect::Postgres | Dialect::DuckDb => write!(self.out, "INTERVAL '{n} months'")?,
            },
            Expr::Not(e) => {
                self.out.push_str("NOT ");
                self.operand(e, 3)?;
            }
            Expr::Neg(e) => {
                // Always parenthesised: `--` would start a comment.
                self.out.push_str("-(");
                self.expr(e)?;
                self.out.push(')');
            }
            Expr::Binary(l, op, r) => {
                let p = op.precedence();
                // Comparisons do not chain: both sides tighter. Others are left-associative.
                let left_min = if p == 4 { 5 } else { p };
                self.operand(l, left_min)?;
                write!(self.out, " {} ", op.symbol(self.dialect))?;
                self.operand(r, p + 1)?;
            }
            Expr::IsNull(e, negated) => {
                self.operand(e, 5)?;
                self.out
                    .push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                self.operand(expr, 5)?;
                self.out.push_str(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                self.operand(low, 5)?;
                self.out.push_str(" AND ");
                self.operand(high, 5)?;
            }
            Expr::Case {
                branches,
                otherwise,
            } => {
                self.out.push_str("CASE");
                for (w, t) in branches {
                    self.out.push_str(" WHEN ");
                    self.expr(w)?;
                    self.out.push_str(" THEN ");
                    self.expr(t)?;
                }
                if let Some(e) = otherwise {
                    self.out.push_str(" ELSE ");
                    self.expr(e)?;
                }
                self.out.push_str(" END");
            }
            Expr::Cast(e, t) | Expr::TryCast(e, t) => {
                let f = if matches!(expr, Expr::TryCast(..)) {
                    "TRY_CAST"
                } else {
                    "CAST"
                };
                write!(self.out, "{f}(")?;
                self.expr(e)?;
                write!(self.out, " AS {})", d.type_name(*t))?;
            }
            Expr::Extract(part, e) => {
                write!(self.out, "EXTRACT({part} FROM ")?;
                self.expr(e)?;
                self.out.push(')');
            }
            Expr::TrimTrailing(e, chars) => {
                write!(self.out, "TRIM(TRAILING {} FROM ", string(chars, d))?;
                self.expr(e)?;
                self.out.push(')');
            }
            Expr::CollateC(e) => {
                self.operand(e, 9)?;
                self.out.push_str(" COLLATE \"C\"");
            }
            Expr::Distinct(e) => {
                self.out.push_str("DISTINCT ");
                self.operand(e, 0)?;
            }
            Expr::Index(e, i) => {
                self.out.push('(');
                self.expr(e)?;
                write!(self.out, ")[{i}]")?;
            }
            Expr::Call(name, args) => {
                write!(self.out, "{name}(")?;
                self.list(args)?;
                self.out.push(')');
            }
            Expr::Parameter(name) => match d {
                Dialect::Spark => write!(self.out, ":{name}")?,
                Dialect::DuckDb => write!(self.out, "${name}")?,
                // psycopg's named placeholders.
                Dialect::Postgres => write!(self.out, "%({name})s")?,
            },
            Expr::AnyElement {
                list,
                var,
                predicate,
            } => match d {
                Dialect::Spark => {
                    self.out.push_str("coalesce(exists(");
                    self.expr(list)?;
                    write!(self.out, ", {var} -> ")?;
                    self.expr(predicate)?;
                    self.out.push_str("), FALSE)");
                }
                Dialect::DuckDb => {
                    self.out.push_str("coalesce(list_bool_or(list_transform(");
                    self.expr(list)?;
                    write!(self.out, ", lambda {var}: ")?;
                    self.expr(predicate)?;
                    self.out.push_str(")), FALSE)");
                }
                Dialect::Postgres => {
                    self.out.push_str("EXISTS (SELECT 1 FROM unnest(");
                    self.expr(list)?;
                    write!(self.out, ") AS \"caas_elements\"({}) WHERE ", d.ident(var))?;
                    self.expr(predicate)?;
                    self.out.push(')');
                }
            },
            Expr::BeforeRow {
                name,
                arg,
                partition_by,
                order_by,
            } => {
                write!(self.out, "{name}(")?;
                self.expr(arg)?;
                self.out.push_str(") OVER (PARTITION BY ");
                self.list(partition_by)?;
                self.out.push_str(" ORDER BY ");
                self.order(order_by)?;
                self.out
                    .push_str(" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)");
            }
            Expr::Aggregate {
                name,
                args,
                order_by,
                filter,
            } => {
                write!(self.out, "{name}(")?;
                let as_case = filter
                    .as_deref()
                    .filter(|_| order_by.is_empty() && self.dialect.filter_as_case(name));
                if let Some(f) = as_case {
                    // Only the rows that `f` keeps have a last argument; the others are
                    // skipped as nulls.
                    let mut args = args.clone();
                    let last = args.pop().unwrap_or(Expr::Int(1));
                    args.push(Expr::Case {
                        branches: vec![(f.clone(), last)],
                        otherwise: None,
                    });
                    self.list(&args)?;
                    self.out.push(')');
                } else {
                    if args.is_empty() {
                        self.out.push('*');
                    } else {
                        self.list(args)?;
                    }
                    if !order_by.is_empty() {
                        self.out.push_str(" ORDER BY ");
                        self.order(order_by)?;
                    }
                    self.out.push(')');
                    if let Some(f) = filter {
                        self.out.push_str(" FILTER (WHERE ");
                        self.expr(f)?;
                        self.out.push(')');
                    }
                }
            }
        }
        Ok(())
    }
}
