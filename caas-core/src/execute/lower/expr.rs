//! Lowering of definition expressions to DataFusion expressions.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::functions::core::expr_fn as core_fn;
use datafusion::functions::datetime::expr_fn as date_fn;
use datafusion::functions::expr_fn::nullif;
use datafusion::functions::math::expr_fn as math_fn;
use datafusion::logical_expr::{Expr as DfExpr, TryCast, cast, lit, when};
use indexmap::IndexMap;

use super::udf::{
    IntegerOp, add_amount_expr, add_duration_expr, between_expr, checked_expr, coalesce_expr,
};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;
use crate::model::date32;
use crate::model::expr::{
    BinaryOp, DurationUnit, Expr, Function, Literal, Shift, Type, UnaryOp, balanced, infer_type,
    is_whole_number_step,
};
pub(crate) use crate::source::column;

/// A constant.
pub(crate) fn value_literal(value: &Value) -> DfExpr {
    match value {
        Value::Bool(b) => lit(*b),
        Value::Int(n) => lit(*n),
        Value::Float(x) => lit(*x),
        Value::Date(d) => date_literal(*d),
        Value::Text(s) => lit(s.clone()),
    }
}

/// A date constant.
pub(crate) fn date_literal(date: chrono::NaiveDate) -> DfExpr {
    lit(ScalarValue::Date32(Some(date32(date))))
}

/// Resolves the names of an expression: to a column, or to a parameter's value.
pub(crate) struct Scope<'a> {
    /// Parameters bound for the run.
    pub parameters: &'a IndexMap<String, Value>,
    /// Names that are columns of the plan, mapped to their column names.
    pub columns: &'a dyn Fn(&str) -> Option<String>,
    /// The type of every name the expression may use.
    pub types: &'a dyn Fn(&str) -> Option<Type>,
    /// Where the expression is, for errors.
    pub place: &'a Place,
}

impl Scope<'_> {
    /// Lowers `expr`.
    #[recursive::recursive]
    pub fn lower(&self, expr: &Expr) -> Result<DfExpr> {
        Ok(match expr {
            Expr::Literal(l) => match l {
                Literal::Null => lit(ScalarValue::Null),
                Literal::Bool(b) => lit(*b),
                Literal::Int(n) => lit(*n),
                Literal::Float(x) => lit(*x),
                Literal::Text(s) => lit(s.clone()),
                Literal::Date(d) => lit(ScalarValue::Date32(Some(date32(*d)))),
                Literal::Duration(_) => return Err(self.durations_only_move_dates()),
            },
            Expr::Name(name) => {
                if let Some(col) = (self.columns)(name) {
                    column(&col)
                } else if let Some(v) = self.parameters.get(name) {
                    value_literal(v)
                } else {
                    return Err(CaasError::UnknownReference {
                        place: self.place.clone(),
                        what: "variable, parameter or column",
                        name: name.clone(),
                        suggestion: None,
                    });
                }
            }
            Expr::Duration { .. } => return Err(self.durations_only_move_dates()),
            Expr::Unary { op, expr } => {
                let integer = infer_type(expr, self.types, self.place)? == Type::Int;
                let e = self.lower(expr)?;
                match op {
                    UnaryOp::Not => DfExpr::Not(Box::new(e)),
                    UnaryOp::Neg if integer => checked_expr(IntegerOp::Subtract, lit(0i64), e),
                    UnaryOp::Neg => DfExpr::Negative(Box::new(e)),
                }
            }
            Expr::Binary { op, left, right } => self.binary(*op, left, right)?,
            Expr::IsNull { expr, negated } => {
                let e = self.lower(expr)?;
                if *negated {
                    e.is_not_null()
                } else {
                    e.is_null()
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                // `x IN (a, b)` is `x = a OR x = b` in three-valued logic. Lowered so rather
                // than to DataFusion's IN list, which compares decimals bitwise (0.0 is not
                // -0.0 there) and may evaluate non-constant items only once.
                let e = self.lower(expr)?;
                let tests = list.iter().map(|item| Ok(e.clone().eq(self.lower(item)?)));
                let any = balanced(tests.collect::<Result<_>>()?, DfExpr::or).unwrap_or(lit(false));
                if *negated {
                    DfExpr::Not(Box::new(any))
                } else {
                    any
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let e = self.lower(expr)?;
                let (lo, hi) = (self.lower(low)?, self.lower(high)?);
                if *negated {
                    e.not_between(lo, hi)
                } else {
                    e.between(lo, hi)
                }
            }
            Expr::Call { func, args } => {
                let lowered = args
                    .iter()
                    .map(|a| self.lower(a))
                    .collect::<Result<Vec<_>>>()?;
                let date = |i: usize| -> Result<DfExpr> {
                    match lowered.get(i) {
                        Some(arg) => Ok(cast(arg.clone(), DataType::Date32)),
                        None => Err(CaasError::invalid(
                            self.place.clone(),
                            format!("wrong number of arguments for {}", func.name()),
                        )),
                    }
                };
                match func {
                    Function::Coalesce => coalesce_expr(lowered),
                    Function::Between(unit) => between_expr(*unit, date(0)?, date(1)?),
                    Function::Extreme { greatest } => {
                        // The arguments in the type of the result: whole numbers among
                        // decimals are decimals.
                        let t = arrow_type(infer_type(expr, self.types, self.place)?);
                        let args = (lowered.into_iter())
                            .map(|a| match &t {
                                Some(t) => cast(a, t.clone()),
                                None => a,
                            })
                            .collect();
                        if *greatest {
                            core_fn::greatest(args)
                        } else {
                            core_fn::least(args)
                        }
                    }
                    Function::Part(unit) => {
                        let part = match unit {
                            DurationUnit::Years => "year",
                            DurationUnit::Months => "month",
                            DurationUnit::Days => "day",
                        };
                        cast(date_fn::date_part(lit(part), date(0)?), DataType::Int64)
                    }
                    // From the date's parts: `date_trunc` goes through nanosecond
                    // timestamps, which end in 2262 (and fail the query past it).
                    Function::FirstOf { year } => {
                        let d = date(0)?;
                        let part =
                            |p: &str| cast(date_fn::date_part(lit(p), d.clone()), DataType::Int32);
                        let month = if *year { lit(1i32) } else { part("month") };
                        date_fn::make_date(part("year"), month, lit(1i32))
                    }
                    Function::Abs | Function::Div | Function::Cast(_) => {
                        let types = (args.iter())
                            .map(|a| infer_type(a, self.types, self.place))
                            .collect::<Result<Vec<_>>>()?;
                        self.numeric(*func, lowered, &types)?
                    }
                }
            }
            Expr::Case {
                branches,
                otherwise,
            } => {
                // Branches of whole and decimal numbers meet as decimals.
                let decimal = infer_type(expr, self.types, self.place)? == Type::Float;
                let value = |e: &Expr| -> Result<DfExpr> {
                    let v = self.lower(e)?;
                    Ok(if decimal {
                        cast(v, DataType::Float64)
                    } else {
                        v
                    })
                };
                let mut builder: Option<
                    datafusion::logical_expr::conditional_expressions::CaseBuilder,
                > = None;
                for (w, t) in branches {
                    let (w, t) = (self.lower(w)?, value(t)?);
                    builder = Some(match builder {
                        None => when(w, t),
                        Some(mut b) => {
                            b.when(w, t);
                            b
                        }
                    });
                }
                let Some(mut builder) = builder else {
                    return Err(CaasError::invalid(self.place.clone(), "CASE without WHEN"));
                };
                match otherwise {
                    Some(e) => builder.otherwise(value(e)?)?,
                    None => builder.end()?,
                }
            }
        })
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<DfExpr> {
        // A date moved by a duration, added or subtracted on the right, or added on the
        // left.
        if matches!(op, BinaryOp::Plus | BinaryOp::Minus) {
            let (date, shift) = match (left.as_shift(), right.as_shift(), op) {
                (None, Some(s), BinaryOp::Minus) => (left, Some(s.negated())),
                (None, Some(s), _) => (left, Some(s)),
                (Some(s), None, BinaryOp::Plus) => (right, Some(s)),
                (Some(_), _, _) => return Err(self.durations_only_move_dates()),
                (None, None, _) => (left, None),
            };
            match shift {
                Some(Shift::Constant(d)) => return Ok(add_duration_expr(self.lower(date)?, d)),
                Some(Shift::Amount {
                    amount,
                    unit,
                    negated,
                }) => {
                    let amount = cast(self.lower(amount)?, DataType::Int64);
                    return Ok(add_amount_expr(self.lower(date)?, amount, unit, negated));
                }
                None => {}
            }
        }
        let is_date_diff = op == BinaryOp::Minus
            && infer_type(left, self.types, self.place)? == Type::Date
            && infer_type(right, self.types, self.place)? == Type::Date;
        let (lt, rt) = (
            infer_type(left, self.types, self.place)?,
            infer_type(right, self.types, self.place)?,
        );
        let integer = is_whole_number_step(op, lt, rt);
        let (l, r) = (self.lower(left)?, self.lower(right)?);
        Ok(match op {
            BinaryOp::Plus if integer => checked_expr(IntegerOp::Add, l, r),
            BinaryOp::Minus if integer => checked_expr(IntegerOp::Subtract, l, r),
            BinaryOp::Multiply if integer => checked_expr(IntegerOp::Multiply, l, r),
            BinaryOp::And => l.and(r),
            BinaryOp::Or => l.or(r),
            BinaryOp::Eq => l.eq(r),
            BinaryOp::NotEq => l.not_eq(r),
            BinaryOp::Lt => l.lt(r),
            BinaryOp::LtEq => l.lt_eq(r),
            BinaryOp::Gt => l.gt(r),
            BinaryOp::GtEq => l.gt_eq(r),
            BinaryOp::Plus => l + r,
            BinaryOp::Minus if is_date_diff => {
                // Days between two dates: Date32 holds days since the epoch.
                cast(cast(l, DataType::Int32), DataType::Int64)
                    - cast(cast(r, DataType::Int32), DataType::Int64)
            }
            BinaryOp::Minus => l - r,
            BinaryOp::Multiply => l * r,
            // A zero divisor gives a missing value, not an infinity or NaN that a comparison
            // would then treat as a number: the same in every SQL engine.
            BinaryOp::Divide => {
                cast(l, DataType::Float64) / nullif(cast(r, DataType::Float64), lit(0.0))
            }
        })
    }

    /// `abs`, `div` and the casts of `args`, of the given types.
    fn numeric(&self, func: Function, args: Vec<DfExpr>, types: &[Type]) -> Result<DfExpr> {
        let wrong = || {
            CaasError::invalid(
                self.place.clone(),
                format!("wrong arguments for {}", func.name()),
            )
        };
        Ok(match (func, args.as_slice(), types) {
            (Function::Abs, [x], [Type::Int]) => when(
                x.clone().lt(lit(0i64)),
                checked_expr(IntegerOp::Subtract, lit(0i64), x.clone()),
            )
            .otherwise(x.clone())?,
            (Function::Abs, [x], _) => math_fn::abs(cast(x.clone(), DataType::Float64)),
            (Function::Div, [a, b], _) => checked_expr(
                IntegerOp::Divide,
                cast(a.clone(), DataType::Int64),
                cast(b.clone(), DataType::Int64),
            ),
            // Arrow's cast rounds a decimal toward zero, and the checked one gives null
            // outside the range (and for NaN).
            (Function::Cast(Type::Int), [x], [Type::Float]) => {
                DfExpr::TryCast(TryCast::new(Box::new(x.clone()), DataType::Int64))
            }
            (Function::Cast(Type::Bool), [x], [Type::Bool]) => x.clone(),
            (Function::Cast(Type::Bool), [x], [t]) => {
                let zero = match t {
                    Type::Float => lit(0.0),
                    _ => lit(0i64),
                };
                x.clone().not_eq(zero)
            }
            (Function::Cast(to), [x], _) => match arrow_type(to) {
                Some(t) => cast(x.clone(), t),
                None => return Err(wrong()),
            },
            _ => return Err(wrong()),
        })
    }

    fn durations_only_move_dates(&self) -> CaasError {
        CaasError::invalid(self.place.clone(), "a duration can only move a date")
    }
}

/// The Arrow type of values of `t`, where one type fits it.
fn arrow_type(t: Type) -> Option<DataType> {
    match t {
        Type::Int => Some(DataType::Int64),
        Type::Float => Some(DataType::Float64),
        Type::Date => Some(DataType::Date32),
        _ => None,
    }
}
