//! Evaluation of constant expressions (parameters and literals only), used for window
//! bounds and other dates that must be known before any data is read.

use chrono::{Days, Months, NaiveDate};
use indexmap::IndexMap;

use super::{BinaryOp, Duration, Expr, Function, Literal};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;

/// Adds a calendar duration to a date, clamping to the end of the month; `None` when the
/// result is outside the calendar.
///
/// ```
/// use caas_core::model::expr::{add_duration, Duration, DurationUnit};
/// use chrono::NaiveDate;
/// let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
/// let back = add_duration(d, Duration { amount: -12, unit: DurationUnit::Months });
/// assert_eq!(back, NaiveDate::from_ymd_opt(2023, 2, 28));
/// ```
pub fn add_duration(date: NaiveDate, duration: Duration) -> Option<NaiveDate> {
    let (months, days) = duration.months_days();
    let months = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let date = if duration.amount >= 0 {
        date.checked_add_months(months)?
    } else {
        date.checked_sub_months(months)?
    };
    let days = Days::new(days.unsigned_abs());
    if duration.amount >= 0 {
        date.checked_add_days(days)
    } else {
        date.checked_sub_days(days)
    }
}

/// Evaluates an expression that may use only literals and parameters; `Ok(None)` is null.
#[recursive::recursive]
pub fn eval_constant(
    expr: &Expr,
    parameters: &IndexMap<String, Value>,
    place: &Place,
) -> Result<Option<Value>> {
    let not_constant = |what: String| {
        CaasError::invalid(
            place.clone(),
            format!("{what}: only parameters, literals, `+`, `-` and `coalesce` may be used here"),
        )
    };
    let eval = |e: &Expr| eval_constant(e, parameters, place);
    match expr {
        Expr::Literal(lit) => Ok(match lit {
            Literal::Null => None,
            Literal::Bool(b) => Some(Value::Bool(*b)),
            Literal::Int(n) => Some(Value::Int(*n)),
            Literal::Float(x) => Some(Value::Float(*x)),
            Literal::Text(s) => Some(Value::Text(s.clone())),
            Literal::Date(d) => Some(Value::Date(*d)),
            Literal::Duration(_) => return Err(not_constant("a duration alone".into())),
        }),
        Expr::Name(name) => match parameters.get(name) {
            Some(v) => Ok(Some(v.clone())),
            None => Err(not_constant(format!("`{name}` is not a parameter"))),
        },
        Expr::Binary { op, left, right } => {
            let duration = match right.as_ref() {
                Expr::Literal(Literal::Duration(d)) => Some(*d),
                _ => None,
            };
            match (op, duration) {
                (BinaryOp::Plus | BinaryOp::Minus, Some(d)) => {
                    let d = if *op == BinaryOp::Minus {
                        Duration {
                            amount: -d.amount,
                            unit: d.unit,
                        }
                    } else {
                        d
                    };
                    match eval(left)? {
                        None => Ok(None),
                        Some(Value::Date(date)) => add_duration(date, d)
                            .map(|x| Some(Value::Date(x)))
                            .ok_or_else(|| CaasError::invalid(place.clone(), "date out of range")),
                        Some(other) => Err(CaasError::type_mismatch(
                            place,
                            format!("cannot add a duration to {}", other.data_type()),
                        )),
                    }
                }
                _ => Err(not_constant(format!("operator `{}`", op.symbol()))),
            }
        }
        Expr::Call {
            func: Function::Coalesce,
            args,
        } => {
            for arg in args {
                if let Some(v) = eval(arg)? {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        }
        _ => Err(not_constant("this expression".into())),
    }
}
