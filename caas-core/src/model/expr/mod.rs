//! The expression language of rules, derived variables and window bounds.
//!
//! It reads like the clinical rules it encodes:
//!
//! ```text
//! latest_diabetes > coalesce(latest_diabetes_resolved, DATE '1900-01-01')
//! age >= 65 or (at_risk and not vaccinated)
//! index_date - 12 months
//! CASE WHEN age < 18 THEN 'child' WHEN age < 65 THEN 'adult' ELSE 'older' END
//! ```
//!
//! Logic is three-valued as in SQL: a comparison with an unknown (null) value is unknown,
//! `false and unknown` is false, `true or unknown` is true.

mod constant;
mod display;
mod parse;
mod types;

pub use constant::add_duration;
pub(crate) use constant::eval_constant;
pub use parse::parse;
pub use types::{Type, infer_type};

use chrono::NaiveDate;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// A variable, a parameter or (in event conditions) a column.
    Name(String),
    /// `-x` or `not x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `x IS [NOT] NULL` (never unknown).
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `x [NOT] IN (a, b, ...)`.
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `x [NOT] BETWEEN low AND high` (inclusive).
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Inclusive lower bound.
        low: Box<Expr>,
        /// Inclusive upper bound.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// A function call: `coalesce(a, b, ...)` or `years_between(from, to)`.
    Call {
        /// The function.
        func: Function,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `CASE WHEN c1 THEN v1 ... [ELSE e] END`; the first true condition wins.
    Case {
        /// Conditions and their values.
        branches: Vec<(Expr, Expr)>,
        /// The value when no condition is true (null if absent).
        otherwise: Option<Box<Expr>>,
    },
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// `'text'`.
    Text(String),
    /// `DATE 'YYYY-MM-DD'`.
    Date(NaiveDate),
    /// `12 months`, `30 days`, ...: only added to or subtracted from dates.
    Duration(Duration),
}

/// A calendar duration. Adding months or years to a date clamps to the end of the month
/// (31 January + 1 month = 28 or 29 February).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    /// How many units (may be negative).
    pub amount: i64,
    /// The unit.
    pub unit: DurationUnit,
}

/// The unit of a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    /// Days (`2 weeks` is read as 14 days).
    Days,
    /// Calendar months.
    Months,
    /// Calendar years (12 months).
    Years,
}

impl Duration {
    /// The duration as (months, days).
    pub fn months_days(self) -> (i64, i64) {
        match self.unit {
            DurationUnit::Days => (0, self.amount),
            DurationUnit::Months => (self.amount, 0),
            DurationUnit::Years => (self.amount.saturating_mul(12), 0),
        }
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// Logical not.
    Not,
    /// Arithmetic negation.
    Neg,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `and`
    And,
    /// `or`
    Or,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `/` (decimal division)
    Divide,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
        }
    }

    /// Whether this is a comparison.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The first argument that is not null.
    Coalesce,
    /// Whole years from the first date to the second, counted like an age.
    YearsBetween,
}

impl Function {
    /// The function's name as written.
    pub fn name(self) -> &'static str {
        match self {
            Function::Coalesce => "coalesce",
            Function::YearsBetween => "years_between",
        }
    }
}

impl Expr {
    /// Every name the expression refers to, in order of appearance.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_names(&mut |name| out.push(name));
        out
    }

    fn visit_names<'a>(&'a self, f: &mut dyn FnMut(&'a str)) {
        match self {
            Expr::Literal(_) => {}
            Expr::Name(name) => f(name),
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => expr.visit_names(f),
            Expr::Binary { left, right, .. } => {
                left.visit_names(f);
                right.visit_names(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.visit_names(f);
                list.iter().for_each(|e| e.visit_names(f));
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                expr.visit_names(f);
                low.visit_names(f);
                high.visit_names(f);
            }
            Expr::Call { args, .. } => args.iter().for_each(|e| e.visit_names(f)),
            Expr::Case {
                branches,
                otherwise,
            } => {
                for (when, then) in branches {
                    when.visit_names(f);
                    then.visit_names(f);
                }
                if let Some(e) = otherwise {
                    e.visit_names(f);
                }
            }
        }
    }
}
