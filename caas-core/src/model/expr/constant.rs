//! Evaluation of constant expressions (parameters and literals only), used for window
//! bounds and other dates that must be known before any data is read.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use indexmap::IndexMap;

use super::{BinaryOp, Duration, DurationUnit, Expr, Function, Literal, Shift};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;

/// Moves a date by a calendar duration — the one rule for months and years that every
/// engine follows. Forward, `d + n months` is the day the `n`-th monthly anniversary of `d`
/// falls on: the same day of the month, or the 1st of the next month where the month is
/// too short (31 January + 1 month = 1 March; 29 February + 1 year = 1 March, the day a
/// leap-day birthday's age goes up, as in English law, `years_between` and ehrQL). Back,
/// `x - n months` is the latest day whose `n`-th anniversary has come by `x`: the same day
/// of the month, or the month's last day where it is too short (31 March - 1 month = 28
/// or 29 February), as SQL engines count back. So the three ways a specification says "at
/// least 6 months old on the index date" always agree: `index_date >= dob + 6 months`,
/// `dob <= index_date - 6 months` and `months_between(dob, index_date) >= 6`
/// ([`whole_between`]). Days are added after the months. `None` beyond the dates chrono
/// holds.
///
/// ```
/// use caas_core::model::expr::{add_duration, Duration, DurationUnit};
/// use chrono::NaiveDate;
/// let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("no such date");
/// let months = |amount| Duration { amount, unit: DurationUnit::Months };
/// assert_eq!(add_duration(date(2024, 2, 29)?, months(12)), Some(date(2025, 3, 1)?));
/// assert_eq!(add_duration(date(2025, 1, 31)?, months(1)), Some(date(2025, 3, 1)?));
/// assert_eq!(add_duration(date(2025, 1, 28)?, months(1)), Some(date(2025, 2, 28)?));
/// assert_eq!(add_duration(date(2024, 2, 29)?, months(-12)), Some(date(2023, 2, 28)?));
/// assert_eq!(add_duration(date(2026, 3, 31)?, months(-6)), Some(date(2025, 9, 30)?));
/// # Ok::<(), &str>(())
/// ```
pub fn add_duration(date: NaiveDate, duration: Duration) -> Option<NaiveDate> {
    let (months, days) = duration.months_days();
    let month = (i64::from(date.year()) * 12 + i64::from(date.month0())).checked_add(months)?;
    let year = i32::try_from(month.div_euclid(12)).ok()?;
    let month = u32::try_from(month.rem_euclid(12)).ok()? + 1;
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let moved = match NaiveDate::from_ymd_opt(year, month, date.day()) {
        Some(moved) => moved,
        // The day is past the month's end: forward, the next month's 1st; back, the end.
        None if months > 0 => first.checked_add_months(Months::new(1))?,
        None => first.checked_add_months(Months::new(1))?.pred_opt()?,
    };
    moved.checked_add_signed(TimeDelta::try_days(days)?)
}

/// Whole units of `unit` from `from` to `to`: the greatest `n` for which `from` moved `n`
/// units by [`add_duration`] is on or before `to` — negative when `to` is earlier, so
/// `whole_between(d, d + n units)` is `n` for every date and every `n`. For days, the
/// difference. Forward, the years (months) apart less one if `to` comes before the
/// anniversary in its year (month); back, the years (months) apart, and one more if `to`
/// comes before `from`'s day of the year (month), where a day past the month's end in
/// `to`'s year (month) counts as that month's last.
///
/// ```
/// use caas_core::model::expr::{whole_between, DurationUnit};
/// use chrono::NaiveDate;
/// let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("no such date");
/// let months = |a, b| whole_between(DurationUnit::Months, a, b);
/// assert_eq!(months(date(2024, 1, 31)?, date(2024, 2, 29)?), 0);
/// assert_eq!(months(date(2024, 2, 29)?, date(2025, 2, 28)?), 11);
/// assert_eq!(months(date(2025, 1, 31)?, date(2025, 3, 1)?), 1);
/// assert_eq!(months(date(2025, 3, 31)?, date(2025, 2, 28)?), -1);
/// let years = |a, b| whole_between(DurationUnit::Years, a, b);
/// assert_eq!(years(date(2024, 2, 29)?, date(2025, 2, 28)?), 0);
/// assert_eq!(years(date(2024, 2, 29)?, date(2023, 2, 28)?), -1);
/// assert_eq!(years(date(2000, 6, 1)?, date(2000, 5, 31)?), -1);
/// # Ok::<(), &str>(())
/// ```
pub fn whole_between(unit: DurationUnit, from: NaiveDate, to: NaiveDate) -> i64 {
    let last_of_month = |d: NaiveDate| d.succ_opt().is_none_or(|next| next.day() == 1);
    match unit {
        DurationUnit::Days => (to - from).num_days(),
        DurationUnit::Months => {
            let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
            if to >= from {
                months(to) - months(from) - i64::from(to.day() < from.day())
            } else {
                let short = from.day() > to.day() && !last_of_month(to);
                months(to) - months(from) - i64::from(short)
            }
        }
        DurationUnit::Years => {
            let years = i64::from(to.year()) - i64::from(from.year());
            let day_of_year = |d: NaiveDate| (d.month(), d.day());
            if to >= from {
                years - i64::from(day_of_year(to) < day_of_year(from))
            } else {
                let same_month = from.month() == to.month();
                let short =
                    day_of_year(from) > day_of_year(to) && !(same_month && last_of_month(to));
                years - i64::from(short)
            }
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
            let shift = match right.as_shift() {
                Some(shift) if *op == BinaryOp::Minus => Some(shift.negated()),
                shift => shift,
            };
            let duration = match shift {
                Some(Shift::Constant(d)) => Some(d),
                // `index_date - lookback months`, with a whole-number parameter.
                Some(Shift::Amount {
                    amount,
                    unit,
                    negated,
                }) => match eval(amount)? {
                    None => return Ok(None),
                    Some(Value::Int(n)) => Some(Duration {
                        amount: if negated { n.saturating_neg() } else { n },
                        unit,
                    }),
                    Some(other) => {
                        return Err(CaasError::type_mismatch(
                            place,
                            format!("the amount of a duration is {}", other.data_type()),
                        ));
                    }
                },
                None => None,
            };
            match (op, duration) {
                (BinaryOp::Plus | BinaryOp::Minus, Some(d)) => match eval(left)? {
                    None => Ok(None),
                    Some(Value::Date(date)) => add_duration(date, d)
                        .map(|x| Some(Value::Date(x)))
                        .ok_or_else(|| CaasError::invalid(place.clone(), "date out of range")),
                    Some(other) => Err(CaasError::type_mismatch(
                        place,
                        format!("cannot add a duration to {}", other.data_type()),
                    )),
                },
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

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn leap_day_birthdays_count_on_first_of_march() -> Result<(), &'static str> {
        let years = |from, to| whole_between(DurationUnit::Years, from, to);
        let date = |y, m, day| d(y, m, day).ok_or("no such date");
        let born = date(2008, 2, 29)?;
        assert_eq!(years(born, date(2025, 2, 28)?), 16);
        assert_eq!(years(born, date(2025, 3, 1)?), 17);
        assert_eq!(years(born, date(2024, 2, 29)?), 16);
        assert_eq!(years(born, date(2024, 2, 28)?), 15);
        assert_eq!(years(date(2000, 6, 1)?, date(2000, 5, 31)?), -1);
        Ok(())
    }

    /// The one rule holds for every day of three years (a leap year among them) and every
    /// move of up to 30 months or 4 years either way: a date moved `n` units is `n` whole
    /// units on, and the day before it is not; and "at least `n` units from `d` to `x`"
    /// reads the same forward from `d` and back from `x`.
    #[test]
    fn moving_a_date_and_counting_whole_units_agree() -> Result<(), &'static str> {
        let shift = |date, amount, unit| {
            add_duration(date, Duration { amount, unit }).ok_or("a date out of range")
        };
        let mut date = d(2023, 1, 1).ok_or("no such date")?;
        while date <= d(2025, 12, 31).ok_or("no such date")? {
            for (unit, range) in [(DurationUnit::Months, 30), (DurationUnit::Years, 4)] {
                for amount in -range..=range {
                    let moved = shift(date, amount, unit)?;
                    assert_eq!(whole_between(unit, date, moved), amount, "{date} {amount}");
                    let day_before = moved.pred_opt().ok_or("no day before")?;
                    let before = whole_between(unit, date, day_before);
                    assert_eq!(before, amount - 1, "{date} {amount}");
                    if amount < 0 {
                        continue;
                    }
                    // `date` as a birth and `x` as an index date around its anniversary:
                    // forward from the birth, back from the index date and the count agree.
                    let day_after = moved.succ_opt().ok_or("no day after")?;
                    for x in [day_before, moved, day_after] {
                        let back = shift(x, -amount, unit)?;
                        let at_least = whole_between(unit, date, x) >= amount;
                        assert_eq!(at_least, x >= moved, "{date} {x} {amount}");
                        assert_eq!(at_least, date <= back, "{date} {x} {amount}");
                    }
                }
            }
            date = date.succ_opt().ok_or("no next day")?;
        }
        Ok(())
    }
}
