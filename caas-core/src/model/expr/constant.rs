//! Evaluation of constant expressions (parameters and literals only), used for window
//! bounds and other dates that must be known before any data is read.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use indexmap::IndexMap;

use super::{BinaryOp, Duration, DurationUnit, Expr, Function, Literal};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;

/// Moves a date by a calendar duration — the one rule for months and years that every
/// engine follows. The day of the month is kept; where the month reached is too short for
/// it (31 January + 1 month, 29 February ± 1 year), the date rolls forward to the 1st of
/// the next month. That is the day an anniversary falls on for [`years_between`] and ages
/// (a 29 February birthday is 1 March in a common year, as in English law), so
/// `years_between(d, d + n years)` is `n` for every date, and a window `to: dob + 1 year`
/// agrees with `years_between(dob, date) < 1`. ehrQL rolls forward the same way; SQL
/// engines' own month arithmetic clamps to the month's end (28 February) instead. `None`
/// beyond the dates chrono holds.
///
/// ```
/// use caas_core::model::expr::{add_duration, Duration, DurationUnit};
/// use chrono::NaiveDate;
/// let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
/// let months = |amount| Duration { amount, unit: DurationUnit::Months };
/// assert_eq!(add_duration(date(2024, 2, 29), months(12)), Some(date(2025, 3, 1)));
/// assert_eq!(add_duration(date(2024, 2, 29), months(-12)), Some(date(2023, 3, 1)));
/// assert_eq!(add_duration(date(2025, 1, 31), months(1)), Some(date(2025, 3, 1)));
/// assert_eq!(add_duration(date(2025, 1, 28), months(1)), Some(date(2025, 2, 28)));
/// ```
///
/// [`years_between`]: crate::model::expr::Function::Between
pub fn add_duration(date: NaiveDate, duration: Duration) -> Option<NaiveDate> {
    let (months, days) = duration.months_days();
    let month = (i64::from(date.year()) * 12 + i64::from(date.month0())).checked_add(months)?;
    let year = i32::try_from(month.div_euclid(12)).ok()?;
    let month = u32::try_from(month.rem_euclid(12)).ok()? + 1;
    let moved = match NaiveDate::from_ymd_opt(year, month, date.day()) {
        Some(moved) => moved,
        None => NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(Months::new(1))?,
    };
    moved.checked_add_signed(TimeDelta::try_days(days)?)
}

/// Whole units of `unit` from `from` to `to`, negative when `to` is earlier: the `n` for
/// which `to` lies on or after `from` moved `n` units by [`add_duration`] and before it
/// moved `n + 1`. For years and months that is the count of the calendar (years apart,
/// less one if `to` comes before the anniversary in its year); for days, the difference.
///
/// ```
/// use caas_core::model::expr::{whole_between, DurationUnit};
/// use chrono::NaiveDate;
/// let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
/// let months = |a, b| whole_between(DurationUnit::Months, a, b);
/// assert_eq!(months(date(2024, 1, 31), date(2024, 2, 29)), 0);
/// assert_eq!(months(date(2024, 2, 29), date(2025, 2, 28)), 11);
/// assert_eq!(months(date(2025, 1, 31), date(2025, 3, 1)), 1);
/// assert_eq!(whole_between(DurationUnit::Years, date(2024, 2, 29), date(2025, 2, 28)), 0);
/// ```
pub fn whole_between(unit: DurationUnit, from: NaiveDate, to: NaiveDate) -> i64 {
    match unit {
        DurationUnit::Days => (to - from).num_days(),
        DurationUnit::Months => {
            let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
            months(to) - months(from) - i64::from(to.day() < from.day())
        }
        DurationUnit::Years => {
            let anniversary_ahead = (to.month(), to.day()) < (from.month(), from.day());
            i64::from(to.year()) - i64::from(from.year()) - i64::from(anniversary_ahead)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn leap_day_birthdays_count_on_first_of_march() {
        let years = |from, to| whole_between(DurationUnit::Years, from, to);
        let born = d(2008, 2, 29);
        assert_eq!(years(born, d(2025, 2, 28)), 16);
        assert_eq!(years(born, d(2025, 3, 1)), 17);
        assert_eq!(years(born, d(2024, 2, 29)), 16);
        assert_eq!(years(born, d(2024, 2, 28)), 15);
        assert_eq!(years(d(2000, 6, 1), d(2000, 5, 31)), -1);
    }

    /// The one rule holds for every day of three years (a leap year among them) and every
    /// move of up to 30 months or 4 years either way: a date moved `n` units is `n` whole
    /// units on, and the day before it is not.
    #[test]
    fn moving_a_date_and_counting_whole_units_agree() {
        let mut date = d(2023, 1, 1);
        while date <= d(2025, 12, 31) {
            for (unit, range) in [(DurationUnit::Months, 30), (DurationUnit::Years, 4)] {
                for amount in -range..=range {
                    let moved = add_duration(date, Duration { amount, unit }).unwrap();
                    assert_eq!(whole_between(unit, date, moved), amount, "{date} {amount}");
                    let day_before = moved.pred_opt().unwrap();
                    assert_eq!(
                        whole_between(unit, date, day_before),
                        amount - 1,
                        "{date} {amount}"
                    );
                }
            }
            date = date.succ_opt().unwrap();
        }
    }
}
