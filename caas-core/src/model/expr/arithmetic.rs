//! Arithmetic that has no result: a division by zero (`/` or `div`), whole-number `+`,
//! `-`, `*`, `div`, negation or `abs` outside the 64-bit range, a decimal made an
//! `integer` outside it, or a date moved by a duration outside the years 1 to 9999 (which every engine and front end can hold, and no clinical date leaves).
//! Every engine gives a missing value for such a step; [`missing_by_arithmetic`] is the
//! expression that tells, per person, whether one left a value missing, so that those
//! people are counted as a data-quality finding rather than lost silently. It is an
//! expression of the language itself, so that every backend lowers it as it lowers the
//! definition.

use chrono::Datelike;
use indexmap::IndexMap;

use super::{
    BinaryOp, Expr, Function, Literal, Type, UnaryOp, balanced, eval_constant, infer_type,
};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;

/// Whether `left op right` is whole-number arithmetic, whose result may not fit in 64
/// bits: `+`, `-` and `*` of two whole numbers (a date minus a date is a count of days,
/// which always fits).
pub fn is_whole_number_step(op: BinaryOp, left: Type, right: Type) -> bool {
    matches!(op, BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply)
        && left == Type::Int
        && right == Type::Int
}

/// Whether `left op right` moves a date by a duration (`d + 12 months`, `d - 30 days`),
/// whose result may fall outside the years 1 to 9999.
pub fn is_date_step(op: BinaryOp, left: Type, right: Type) -> bool {
    matches!(op, BinaryOp::Plus | BinaryOp::Minus)
        && (left == Type::Duration || right == Type::Duration)
}

/// A boolean expression, true for a person whose value of `expr` is missing because an
/// arithmetic step of it had no result; `None` when `expr` has no division and no
/// whole-number arithmetic and moves no date (or moves only a constant date, such as
/// `index_date - 6 months`, to a date of the calendar). `value` names the column that
/// holds the value (a variable's); without one, `expr` is repeated (a rule's). A step
/// counts only where it is evaluated: a `CASE` branch where it is chosen, a `coalesce`
/// argument where those before it are missing — so `CASE WHEN d = 0 THEN 0 ELSE n / d
/// END` never counts, and `coalesce(n / d, 0)` is never missing.
///
/// The expression repeats each run of arithmetic once (a variable's whole run not at
/// all), and the conditions of `CASE` and the arguments of `coalesce` before a failing
/// step, so it is built within `max_nodes` nodes ([`Expr::expanded_size`]), and past them
/// is [`CaasError::LimitExceeded`] for `max_expression_nodes`.
///
/// ```
/// use caas_core::model::expr::{Type, missing_by_arithmetic, parse};
/// use indexmap::IndexMap;
/// use caas_core::Place;
/// let place = Place::Variable("ratio".into());
/// let types = |_: &str| Some(Type::Int);
/// let missing = |text| -> caas_core::Result<Option<String>> {
///     let expr = parse(text, &place)?;
///     let parameters = IndexMap::new();
///     let check = missing_by_arithmetic(&expr, Some("ratio"), &types, &parameters, &place, 1_000)?;
///     Ok(check.map(|e| e.to_string()))
/// };
/// assert_eq!(
///     missing("n / d")?.as_deref(),
///     Some("(ratio IS NULL) and (((ratio IS NULL) and (n IS NOT NULL)) and (d IS NOT NULL))")
/// );
/// assert_eq!(missing("n > 1")?, None);
/// # Ok::<(), caas_core::CaasError>(())
/// ```
pub fn missing_by_arithmetic(
    expr: &Expr,
    value: Option<&str>,
    resolve: &dyn Fn(&str) -> Option<Type>,
    parameters: &IndexMap<String, Value>,
    place: &Place,
    max_nodes: u64,
) -> Result<Option<Expr>> {
    let mut builder = Builder {
        resolve,
        parameters,
        place,
        left: max_nodes,
        max_nodes,
        column: value.map(|name| (expr, name)),
    };
    let Some(failed) = builder.failed(expr)? else {
        return Ok(None);
    };
    let value = match value {
        Some(name) => Expr::Name(name.to_string()),
        None => builder.copy(expr)?,
    };
    Ok(Some(value.null_test().and(failed)))
}

struct Builder<'a> {
    resolve: &'a dyn Fn(&str) -> Option<Type>,
    parameters: &'a IndexMap<String, Value>,
    place: &'a Place,
    /// Nodes that may still be copied into the expression.
    left: u64,
    max_nodes: u64,
    /// The expression whose value a column holds, and the column: a test of it reads the
    /// column rather than computing the expression again.
    column: Option<(&'a Expr, &'a str)>,
}

impl Builder<'_> {
    /// `expr`, copied into the expression being built, within the budget.
    fn copy(&mut self, expr: &Expr) -> Result<Expr> {
        match self.left.checked_sub(expr.expanded_size()) {
            Some(left) => {
                self.left = left;
                Ok(expr.clone())
            }
            None => Err(CaasError::LimitExceeded {
                place: self.place.clone(),
                limit: "max_expression_nodes",
                max: self.max_nodes,
            }),
        }
    }

    fn type_of(&self, expr: &Expr) -> Result<Type> {
        infer_type(expr, self.resolve, self.place)
    }

    /// The failures of a region of arithmetic: `expr` and the arithmetic below it, down
    /// to its leaves (the operands that are not arithmetic). Every step of a region gives
    /// a missing value exactly where an operand is missing or the step has no result, so
    /// the region failed where it is missing while every leaf is present: one test for the
    /// whole region, its size linear in the region's (a test per step would repeat each
    /// step's operands, and a chain of `+` would grow with its square).
    fn region(&mut self, expr: &Expr) -> Result<Option<Expr>> {
        let mut leaves = Vec::new();
        let can_fail = self.leaves(expr, &mut leaves)?;
        // The leaves are evaluated wherever the region is.
        let mut failed = None;
        for leaf in &leaves {
            failed = or(failed, self.failed(leaf)?);
        }
        if !can_fail || self.constant_in_range(expr, &leaves) {
            return Ok(failed);
        }
        let value = match self.column {
            Some((whole, name)) if std::ptr::eq(whole, expr) => Expr::Name(name.to_string()),
            _ => self.copy(expr)?,
        };
        let mut tests = vec![value.null_test()];
        for (i, leaf) in leaves.iter().enumerate() {
            // A constant other than null is always present; a leaf tested once is enough.
            let constant = matches!(leaf, Expr::Literal(l) if *l != Literal::Null);
            if !constant && !leaves[..i].contains(leaf) {
                tests.push(self.copy(leaf)?.not_null_test());
            }
        }
        Ok(or(failed, balanced(tests, Expr::and)))
    }

    /// Whether the region `expr` of `leaves` is of constants alone and gives a date of the
    /// calendar, as `index_date - 6 months` mostly does: then it cannot fail for anyone.
    fn constant_in_range(&self, expr: &Expr, leaves: &[&Expr]) -> bool {
        let constant = leaves.iter().all(|leaf| match leaf {
            Expr::Literal(_) => true,
            Expr::Name(name) => self.parameters.contains_key(name),
            _ => false,
        });
        constant
            && matches!(
                eval_constant(expr, self.parameters, self.place),
                Ok(Some(Value::Date(d))) if (1..=9999).contains(&d.year())
            )
    }

    /// Pushes the leaves of the region of arithmetic `expr` onto `leaves`; whether a step
    /// of it can have no result.
    #[recursive::recursive]
    fn leaves<'e>(&self, expr: &'e Expr, leaves: &mut Vec<&'e Expr>) -> Result<bool> {
        let (can_fail, operands): (bool, Vec<&Expr>) = match expr {
            Expr::Unary {
                op: UnaryOp::Neg,
                expr: operand,
            } => {
                // Only the smallest whole number has no negation.
                (self.type_of(operand)? == Type::Int, vec![operand])
            }
            Expr::Binary { op, left, right } => {
                let (l, r) = (self.type_of(left)?, self.type_of(right)?);
                let fails = *op == BinaryOp::Divide
                    || is_whole_number_step(*op, l, r)
                    || is_date_step(*op, l, r);
                (fails, vec![left, right])
            }
            // The amount itself cannot fail; the date step it moves can.
            Expr::Duration { amount, .. } => (false, vec![amount]),
            Expr::Call { func, args } => {
                let fails = match (func, args.as_slice()) {
                    (Function::Div, _) => true,
                    // Only the smallest whole number has no absolute value, and only a
                    // decimal can be out of the integer range.
                    (Function::Abs, [x]) => self.type_of(x)? == Type::Int,
                    (Function::Cast(Type::Int), [x]) => self.type_of(x)? == Type::Float,
                    _ => false,
                };
                (fails, args.iter().collect())
            }
            _ => (false, vec![]),
        };
        let mut any = can_fail;
        for operand in operands {
            if is_arithmetic(operand) {
                any |= self.leaves(operand, leaves)?;
            } else {
                leaves.push(operand);
            }
        }
        Ok(any)
    }

    #[recursive::recursive]
    fn failed(&mut self, expr: &Expr) -> Result<Option<Expr>> {
        Ok(match expr {
            Expr::Literal(_) | Expr::Name(_) => None,
            _ if is_arithmetic(expr) => self.region(expr)?,
            Expr::Unary { expr, .. } | Expr::Duration { amount: expr, .. } => self.failed(expr)?,
            Expr::Binary { left, right, .. } => or(self.failed(left)?, self.failed(right)?),
            Expr::IsNull { expr, .. } => self.failed(expr)?,
            Expr::InList { expr, list, .. } => {
                let mut any = self.failed(expr)?;
                for item in list {
                    any = or(any, self.failed(item)?);
                }
                any
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let any = or(self.failed(expr)?, self.failed(low)?);
                or(any, self.failed(high)?)
            }
            Expr::Call {
                func: Function::Coalesce,
                args,
            } => {
                // From the last argument back: an argument is evaluated where every one
                // before it is missing.
                let mut later: Option<Expr> = None;
                for arg in args.iter().rev() {
                    let reached = match later {
                        Some(later) => Some(self.copy(arg)?.null_test().and(later)),
                        None => None,
                    };
                    later = or(self.failed(arg)?, reached);
                }
                later
            }
            // Every argument of the other functions is evaluated.
            Expr::Call { args, .. } => {
                let mut any = None;
                for arg in args {
                    any = or(any, self.failed(arg)?);
                }
                any
            }
            Expr::Case {
                branches,
                otherwise,
            } => {
                // From the last branch back: a branch's value is evaluated where its
                // condition is the first true one.
                let mut later = match otherwise {
                    Some(e) => self.failed(e)?,
                    None => None,
                };
                for (when, then) in branches.iter().rev() {
                    let chosen = self.failed(then)?;
                    let branch = match (chosen, later) {
                        (None, None) => None,
                        (chosen, later) => Some(Expr::Case {
                            branches: vec![(self.copy(when)?, chosen.unwrap_or(FALSE))],
                            otherwise: Some(Box::new(later.unwrap_or(FALSE))),
                        }),
                    };
                    later = or(self.failed(when)?, branch);
                }
                later
            }
        })
    }
}

const FALSE: Expr = Expr::Literal(Literal::Bool(false));

/// Whether `expr` is a step of arithmetic: `+`, `-`, `*`, `/`, a negation, `abs`, `div` or
/// a cast to a number, of numbers or of a date and a duration; or a duration's amount. Each gives a missing value
/// where an operand is missing.
fn is_arithmetic(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Unary {
            op: UnaryOp::Neg,
            ..
        } | Expr::Binary {
            op: BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide,
            ..
        } | Expr::Call {
            func: Function::Abs | Function::Div | Function::Cast(Type::Int | Type::Float),
            ..
        } | Expr::Duration { .. }
    )
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

fn or(a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(binary(BinaryOp::Or, a, b)),
        (a, b) => a.or(b),
    }
}

impl Expr {
    fn and(self, other: Expr) -> Expr {
        binary(BinaryOp::And, self, other)
    }

    fn null_test(self) -> Expr {
        Expr::IsNull {
            expr: Box::new(self),
            negated: false,
        }
    }

    fn not_null_test(self) -> Expr {
        Expr::IsNull {
            expr: Box::new(self),
            negated: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::expr::parse;

    fn missing(text: &str, value: Option<&str>, max_nodes: u64) -> Result<Option<String>> {
        let place = Place::Definition;
        let types = |n: &str| {
            Some(match n {
                "x" => Type::Float,
                "d1" | "d2" => Type::Date,
                "b" => Type::Bool,
                _ => Type::Int,
            })
        };
        let expr = parse(text, &place)?;
        let parameters = IndexMap::new();
        let check = missing_by_arithmetic(&expr, value, &types, &parameters, &place, max_nodes)?;
        Ok(check.map(|e| e.to_string()))
    }

    #[test]
    fn only_steps_that_can_fail_are_checked() -> Result<()> {
        assert_eq!(
            missing(
                "x + x * 2.5 - years_between(d1, d2) + (d1 - d2)",
                Some("v"),
                100
            )?,
            None
        );
        assert!(missing("n + 1 > 3 and not b", Some("v"), 100)?.is_some());
        assert_eq!(
            missing("-n", None, 100)?.as_deref(),
            Some("((- n) IS NULL) and (((- n) IS NULL) and (n IS NOT NULL))")
        );
        Ok(())
    }

    #[test]
    fn steps_count_only_where_they_are_evaluated() -> Result<()> {
        // A guarded division: evaluated only where `d = 0` is not true.
        assert_eq!(
            missing("CASE WHEN d = 0 THEN 0 ELSE n / d END", Some("v"), 100)?.as_deref(),
            Some(
                "(v IS NULL) and (CASE WHEN d = 0 THEN false ELSE (((n / d) IS NULL) and (n IS NOT NULL)) and (d IS NOT NULL) END)"
            )
        );
        // The second argument is evaluated only where the first is missing.
        assert_eq!(
            missing("coalesce(a, n / d)", Some("v"), 100)?.as_deref(),
            Some(
                "(v IS NULL) and ((a IS NULL) and ((((n / d) IS NULL) and (n IS NOT NULL)) and (d IS NOT NULL)))"
            )
        );
        Ok(())
    }

    #[test]
    fn constant_dates_of_the_calendar_need_no_check() -> Result<()> {
        let place = Place::Definition;
        let types = |_: &str| Some(Type::Date);
        let day = |y| chrono::NaiveDate::from_ymd_opt(y, 3, 31).map(Value::Date);
        let check = |text: &str, year| -> Result<bool> {
            let parameters = IndexMap::from_iter(day(year).map(|d| ("index_date".to_string(), d)));
            let expr = parse(text, &place)?;
            Ok(
                missing_by_arithmetic(&expr, Some("v"), &types, &parameters, &place, 100)?
                    .is_some(),
            )
        };
        assert!(!check("index_date - 6 months", 2025)?);
        assert!(check("index_date + 9000 years", 2025)?);
        assert!(check("dob - 6 months", 2025)?);
        Ok(())
    }

    #[test]
    fn the_check_grows_linearly_and_within_the_node_limit() -> Result<()> {
        // One test for a whole run of arithmetic: a test per step would repeat each step's
        // operands, and this chain's check would grow with its square.
        let chain = (0..199).fold("n".to_string(), |e, i| format!("({e} + {i})"));
        let expr = parse(&chain, &Place::Definition)?;
        let types = |_: &str| Some(Type::Int);
        let parameters = IndexMap::new();
        let check = missing_by_arithmetic(
            &expr,
            Some("v"),
            &types,
            &parameters,
            &Place::Definition,
            10_000,
        )?;
        let size = check.map_or(0, |c| c.expanded_size());
        assert!(size < 2 * expr.expanded_size() + 10, "{size} nodes");
        // A rule's check computes its value again, which a variable's reads from its column.
        let err = missing(&chain, None, 100).err().map(|e| e.code());
        assert_eq!(err, Some("limit_exceeded"));
        Ok(())
    }
}
