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

mod arithmetic;
mod constant;
mod display;
mod parse;
mod types;

pub use arithmetic::{is_date_step, is_whole_number_step, missing_by_arithmetic};
pub use constant::{add_duration, whole_between};

/// `items` joined pairwise by `join` into a tree log2(n) deep, rather than a chain n deep:
/// a long `IN` list or many rules lowered to `OR`s or `AND`s would otherwise nest as deep
/// as they are long, and every engine walks expressions recursively, on threads whose
/// stacks are small. `None` for no items.
pub(crate) fn balanced<T>(mut items: Vec<T>, join: impl Fn(T, T) -> T) -> Option<T> {
    while items.len() > 1 {
        let mut pairs = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            pairs.push(match it.next() {
                Some(b) => join(a, b),
                None => a,
            });
        }
        items = pairs;
    }
    items.pop()
}
pub(crate) use constant::eval_constant;
pub(crate) use parse::KEYWORDS;
pub use parse::{parse, parse_with_depth};
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
    /// `n months`, `(a + 1) days`: a whole-number amount of a unit, only added to or
    /// subtracted from dates (a constant amount is a [`Literal::Duration`]).
    Duration {
        /// How many units.
        amount: Box<Expr>,
        /// The unit (weeks are read as seven times as many days).
        unit: DurationUnit,
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

/// A calendar duration. Moving a date by months or years keeps the day of the month; where
/// the month is too short for it, forward gives the next month's 1st (31 January + 1 month
/// = 1 March) and back the month's last day (31 March - 1 month = 28 or 29 February); see
/// [`add_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    /// How many units (may be negative).
    pub amount: i64,
    /// The unit.
    pub unit: DurationUnit,
}

/// The unit of a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// Days (`2 weeks` is read as 14 days).
    Days,
    /// Calendar months.
    Months,
    /// Calendar years (12 months).
    Years,
}

impl DurationUnit {
    /// The unit's word as written after an amount: `days`, `months`, `years`.
    pub fn plural(self) -> &'static str {
        match self {
            DurationUnit::Days => "days",
            DurationUnit::Months => "months",
            DurationUnit::Years => "years",
        }
    }
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
    /// Whole units from the first date to the second (`years_between`, `months_between`,
    /// `days_between`; negative when the second is earlier): the greatest `n` for which
    /// the first moved `n` units (`add_duration`) is on or before the second. So
    /// `years_between` counts like an age (a 29 February birthday is 1 March in a common
    /// year), `months_between(31 January, 29 February)` is 0, and `months_between(d, d + n
    /// months)` is always `n` ([`whole_between`]).
    Between(DurationUnit),
    /// The smallest (`least`) or, with `true`, the greatest (`greatest`) of dates or of
    /// numbers; missing arguments are ignored, and only all missing give missing (as in
    /// PostgreSQL, DuckDB and Spark): "the earlier of 28 February 2026 and the index
    /// date".
    Extreme {
        /// `greatest` rather than `least`.
        greatest: bool,
    },
    /// The year, month (1–12) or day of the month (1–31) of a date: `year`, `month`, `day`.
    Part(DurationUnit),
    /// The first day of a date's month (`first_of_month`) or, with `year`, of its year
    /// (`first_of_year`).
    FirstOf {
        /// The year rather than the month.
        year: bool,
    },
    /// The absolute value of a number (`abs`); missing for the one whole number that has
    /// none in 64 bits.
    Abs,
    /// Whole-number division, rounded toward zero as in SQL (`div(-7, 2)` is -3); missing
    /// for a zero divisor, as `/` is.
    Div,
    /// A number or boolean as another of those types: `integer` (a decimal rounded toward
    /// zero, missing outside the 64-bit range; true is 1, false 0), `decimal`, `boolean`
    /// (a number is true unless it is zero). Spelled out, because engines' own casts
    /// disagree: PostgreSQL and DuckDB round 2.5 to 3, Spark truncates it to 2.
    Cast(Type),
}

impl Function {
    /// Every function, in the order the documentation lists them.
    pub const ALL: [Function; 16] = [
        Function::Coalesce,
        Function::Between(DurationUnit::Years),
        Function::Between(DurationUnit::Months),
        Function::Between(DurationUnit::Days),
        Function::Extreme { greatest: false },
        Function::Extreme { greatest: true },
        Function::Part(DurationUnit::Years),
        Function::Part(DurationUnit::Months),
        Function::Part(DurationUnit::Days),
        Function::FirstOf { year: false },
        Function::FirstOf { year: true },
        Function::Abs,
        Function::Div,
        Function::Cast(Type::Int),
        Function::Cast(Type::Float),
        Function::Cast(Type::Bool),
    ];

    /// The function's name as written.
    pub fn name(self) -> &'static str {
        match self {
            Function::Coalesce => "coalesce",
            Function::Between(DurationUnit::Years) => "years_between",
            Function::Between(DurationUnit::Months) => "months_between",
            Function::Between(DurationUnit::Days) => "days_between",
            Function::Extreme { greatest: false } => "least",
            Function::Extreme { greatest: true } => "greatest",
            Function::Part(DurationUnit::Years) => "year",
            Function::Part(DurationUnit::Months) => "month",
            Function::Part(DurationUnit::Days) => "day",
            Function::FirstOf { year: false } => "first_of_month",
            Function::FirstOf { year: true } => "first_of_year",
            Function::Abs => "abs",
            Function::Div => "div",
            Function::Cast(Type::Int) => "integer",
            Function::Cast(Type::Float) => "decimal",
            Function::Cast(_) => "boolean",
        }
    }

    /// The function called `name` (case-insensitive), if there is one.
    pub fn from_name(name: &str) -> Option<Function> {
        (Function::ALL.into_iter()).find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Whether the function takes `n` arguments: `coalesce`, `least` and `greatest` one or
    /// more, the `*_between` and `div` two, the others one.
    pub fn takes(self, n: usize) -> bool {
        match self {
            Function::Coalesce | Function::Extreme { .. } => n >= 1,
            Function::Between(_) | Function::Div => n == 2,
            Function::Part(_) | Function::FirstOf { .. } | Function::Abs | Function::Cast(_) => {
                n == 1
            }
        }
    }
}

/// How far a date step moves: by a constant duration, or by an amount computed per person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shift<'a> {
    /// A duration literal (`12 months`), or one negated.
    Constant(Duration),
    /// `amount unit`, negated (subtracted) if `negated`.
    Amount {
        /// The whole-number amount.
        amount: &'a Expr,
        /// The unit.
        unit: DurationUnit,
        /// Whether the amount is to be negated.
        negated: bool,
    },
}

impl Shift<'_> {
    /// The shift negated: what subtracting it adds.
    pub fn negated(self) -> Self {
        match self {
            Shift::Constant(d) => Shift::Constant(Duration {
                amount: d.amount.saturating_neg(),
                unit: d.unit,
            }),
            Shift::Amount {
                amount,
                unit,
                negated,
            } => Shift::Amount {
                amount,
                unit,
                negated: !negated,
            },
        }
    }

    /// The unit moved by.
    pub fn unit(self) -> DurationUnit {
        match self {
            Shift::Constant(d) => d.unit,
            Shift::Amount { unit, .. } => unit,
        }
    }
}

impl Expr {
    /// The duration this expression is — a duration literal, or one negated — if it is one.
    pub fn as_duration(&self) -> Option<Duration> {
        match self.as_shift()? {
            Shift::Constant(d) => Some(d),
            Shift::Amount { .. } => None,
        }
    }

    /// The shift this expression is — a duration, constant or not, or one negated — if it
    /// is one: the grammar has no other durations, so every date step moves by one of these.
    pub fn as_shift(&self) -> Option<Shift<'_>> {
        match self {
            Expr::Literal(Literal::Duration(d)) => Some(Shift::Constant(*d)),
            Expr::Duration { amount, unit } => Some(Shift::Amount {
                amount,
                unit: *unit,
                negated: false,
            }),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => expr.as_shift().map(Shift::negated),
            _ => None,
        }
    }

    /// Every name the expression refers to, in order of appearance.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_names(&mut |name| out.push(name));
        out
    }

    /// How many levels the expression's tree nests: a name or a constant is 1.
    #[recursive::recursive]
    pub fn depth(&self) -> usize {
        1 + self
            .children()
            .into_iter()
            .map(Expr::depth)
            .max()
            .unwrap_or(0)
    }

    /// How many nodes the expression may become once lowered for an engine, which repeats
    /// some operands: `x IN (a, b)` is `x = a OR x = b`, `x BETWEEN a AND b` becomes
    /// `x >= a AND x <= b`, and `years_between(a, b)` reads the year, month and day of each
    /// date in SQL. Nested, the repeats multiply, so this is what bounds the work of
    /// planning, not the length of the text.
    ///
    /// ```
    /// use caas_core::model::expr::parse;
    /// use caas_core::Place;
    /// let size = |text| parse(text, &Place::Definition).map(|e| e.expanded_size());
    /// assert_eq!(size("a + 1")?, 3);
    /// assert_eq!(size("a IN (1, 2, 3)")?, 7);
    /// assert_eq!(size("(a + 1) BETWEEN 1 AND 2")?, 9);
    /// # Ok::<(), caas_core::CaasError>(())
    /// ```
    #[recursive::recursive]
    pub fn expanded_size(&self) -> u64 {
        let size = |e: &Expr| e.expanded_size();
        let sum =
            |es: &mut dyn Iterator<Item = &Expr>| es.map(size).fold(0u64, u64::saturating_add);
        let inner = match self {
            Expr::InList { expr, list, .. } => size(expr)
                .saturating_mul(list.len().max(1) as u64)
                .saturating_add(sum(&mut list.iter())),
            Expr::Between {
                expr, low, high, ..
            } => size(expr)
                .saturating_mul(2)
                .saturating_add(size(low))
                .saturating_add(size(high)),
            // SQL writes each date of whole years or months between up to nine times.
            Expr::Call {
                func: Function::Between(DurationUnit::Years | DurationUnit::Months),
                args,
            } => sum(&mut args.iter()).saturating_mul(9),
            // SQL guards each against the value that has no result: `CASE WHEN x < 0 THEN
            // 0 - x ELSE x END`, the divisor -1, a decimal outside the integer range.
            Expr::Call {
                func: Function::Abs | Function::Div | Function::Cast(Type::Int),
                args,
            } => sum(&mut args.iter()).saturating_mul(3),
            Expr::Binary { left, right, .. } if shift_repeats(left, right) > 1 => size(left)
                .saturating_add(size(right))
                .saturating_mul(shift_repeats(left, right)),
            other => sum(&mut other.children().into_iter()),
        };
        inner.saturating_add(1)
    }

    #[recursive::recursive]
    fn visit_names<'a>(&'a self, f: &mut dyn FnMut(&'a str)) {
        match self {
            Expr::Name(name) => f(name),
            other => other.children().into_iter().for_each(|e| e.visit_names(f)),
        }
    }

    /// The operands, in the order they are written.
    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_) | Expr::Name(_) => vec![],
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => vec![expr],
            Expr::Duration { amount, .. } => vec![amount],
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            Expr::Call { args, .. } => args.iter().collect(),
            Expr::Case {
                branches,
                otherwise,
            } => branches
                .iter()
                .flat_map(|(when, then)| [when, then])
                .chain(otherwise.as_deref())
                .collect(),
        }
    }
}

/// How many times SQL writes the operands of `left ± right` if it is a date step: a move by
/// months (rolling on where the month is too short) writes the date three times, and one by
/// an amount that is not constant writes the amount up to six times (its range, then as the
/// sign and both moves of the roll); otherwise once.
fn shift_repeats(left: &Expr, right: &Expr) -> u64 {
    [left, right]
        .iter()
        .filter_map(|e| e.as_shift())
        .map(|shift| match shift {
            Shift::Amount { .. } => 6,
            Shift::Constant(d) if d.unit != DurationUnit::Days => 3,
            Shift::Constant(_) => 1,
        })
        .max()
        .unwrap_or(1)
}
