//! Scalar (and one aggregate) functions that DataFusion lacks, with the exact semantics the definition promises.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Date32Array, Int64Array, ListArray, ListBuilder, StringBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::is_not_null;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::{DataType, Date32Type, Field, FieldRef, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::binary::try_type_union_resolution;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};

use crate::codelist::CodeSystem;
use crate::model::expr::{Duration, DurationUnit, add_duration, whole_between};

/// Whole years, months or days from one date to another ([`whole_between`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Between {
    signature: Signature,
    unit: DurationUnit,
}

impl ScalarUDFImpl for Between {
    fn name(&self) -> &str {
        match self.unit {
            DurationUnit::Years => "caas_years_between",
            DurationUnit::Months => "caas_months_between",
            DurationUnit::Days => "caas_days_between",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [from, to] = args.args.as_slice() else {
            return exec_err!("{} takes two dates", self.name());
        };
        let (from, to) = (from.to_array(n)?, to.to_array(n)?);
        let from = from.as_primitive::<Date32Type>();
        let to = to.as_primitive::<Date32Type>();
        let out: Int64Array = from
            .iter()
            .zip(to.iter())
            .map(|(f, t)| {
                let (f, t) = (
                    Date32Type::to_naive_date_opt(f?)?,
                    Date32Type::to_naive_date_opt(t?)?,
                );
                Some(whole_between(self.unit, f, t))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Whole `unit`s from `from` to `to`, over Date32 columns.
pub fn between_expr(unit: DurationUnit, from: Expr, to: Expr) -> Expr {
    let udf = ScalarUDF::new_from_impl(Between {
        signature: Signature::exact(
            vec![DataType::Date32, DataType::Date32],
            Volatility::Immutable,
        ),
        unit,
    });
    udf.call(vec![
        cast(from, DataType::Date32),
        cast(to, DataType::Date32),
    ])
}

/// Integer arithmetic whose result outside the 64-bit range is missing, where DataFusion
/// wraps round (and SQL engines fail the whole query): the same missing value in every
/// engine. A negation is `0 - x`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedArithmetic {
    signature: Signature,
    op: IntegerOp,
}

/// The integer operations that can overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegerOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Subtract,
    /// `a * b`.
    Multiply,
    /// `div(a, b)`: rounded toward zero; no result for a zero divisor either.
    Divide,
}

impl ScalarUDFImpl for CheckedArithmetic {
    fn name(&self) -> &str {
        match self.op {
            IntegerOp::Add => "caas_add",
            IntegerOp::Subtract => "caas_subtract",
            IntegerOp::Multiply => "caas_multiply",
            IntegerOp::Divide => "caas_divide",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [left, right] = args.args.as_slice() else {
            return exec_err!("{} takes two integers", self.name());
        };
        let (left, right) = (left.to_array(n)?, right.to_array(n)?);
        let left = left.as_primitive::<Int64Type>();
        let right = right.as_primitive::<Int64Type>();
        let op = match self.op {
            IntegerOp::Add => i64::checked_add,
            IntegerOp::Subtract => i64::checked_sub,
            IntegerOp::Multiply => i64::checked_mul,
            IntegerOp::Divide => i64::checked_div,
        };
        let out: Int64Array = left
            .iter()
            .zip(right.iter())
            .map(|(l, r)| op(l?, r?))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `left op right` over 64-bit integers, missing where the result does not fit. (Nested,
/// these calls plan several times slower than DataFusion's own operators: a chain of 200
/// `+`, the deepest allowed, takes a few seconds in a debug build.)
pub fn checked_expr(op: IntegerOp, left: Expr, right: Expr) -> Expr {
    let udf = ScalarUDF::new_from_impl(CheckedArithmetic {
        signature: Signature::exact(
            vec![DataType::Int64, DataType::Int64],
            Volatility::Immutable,
        ),
        op,
    });
    udf.call(vec![left, right])
}

/// A date moved by a duration by caas's one rule (`add_duration`: 31 January + 1 month is
/// 1 March, where DataFusion's interval arithmetic clamps to 28 February), missing outside
/// the years 1 to 9999: DataFusion's dates reach millions of years, which no front end can
/// hold (Python's dates end at 9999) and SQL engines hold differently.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AddDuration {
    signature: Signature,
    unit: DurationUnit,
    amount: Amount,
}

/// How many units [`AddDuration`] moves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Amount {
    /// A constant (`12 months`).
    Constant(i64),
    /// The second argument (`n months`), negated first if `negated`; missing where it is
    /// or where it has no negation.
    Argument { negated: bool },
}

impl ScalarUDFImpl for AddDuration {
    fn name(&self) -> &str {
        "caas_add_duration"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let (date, amounts) = match (args.args.as_slice(), self.amount) {
            ([date], Amount::Constant(a)) => (date.to_array(n)?, Int64Array::from(vec![a; n])),
            ([date, amount], Amount::Argument { negated }) => {
                let amount = amount.to_array(n)?;
                let amounts = amount.as_primitive::<Int64Type>();
                let amounts = if negated {
                    amounts.iter().map(|a| a?.checked_neg()).collect()
                } else {
                    amounts.clone()
                };
                (date.to_array(n)?, amounts)
            }
            _ => return exec_err!("caas_add_duration takes a date, and an amount if not constant"),
        };
        let unit = self.unit;
        let (first, last) = crate::model::calendar();
        let out: Date32Array = (date.as_primitive::<Date32Type>().iter())
            .zip(amounts.iter())
            .map(|(d, amount)| {
                let duration = Duration {
                    amount: amount?,
                    unit,
                };
                let moved = add_duration(Date32Type::to_naive_date_opt(d?)?, duration)?;
                Some(Date32Type::from_naive_date(moved)).filter(|d| (first..=last).contains(d))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `date` moved by `duration`, missing outside the years 1 to 9999.
pub fn add_duration_expr(date: Expr, duration: Duration) -> Expr {
    let udf = ScalarUDF::new_from_impl(AddDuration {
        signature: Signature::exact(vec![DataType::Date32], Volatility::Immutable),
        unit: duration.unit,
        amount: Amount::Constant(duration.amount),
    });
    udf.call(vec![cast(date, DataType::Date32)])
}

/// `date` moved by `amount` (Int64) units, negated first if `negated`; missing outside the
/// years 1 to 9999.
pub fn add_amount_expr(date: Expr, amount: Expr, unit: DurationUnit, negated: bool) -> Expr {
    let udf = ScalarUDF::new_from_impl(AddDuration {
        signature: Signature::exact(
            vec![DataType::Date32, DataType::Int64],
            Volatility::Immutable,
        ),
        unit,
        amount: Amount::Argument { negated },
    });
    udf.call(vec![cast(date, DataType::Date32), amount])
}

/// `coalesce` without DataFusion's rewrite of it to `CASE WHEN a IS NOT NULL THEN a ...`,
/// which repeats every argument but the last: nested, the repeats multiply, and planning a
/// definition's `coalesce(coalesce(...), ...)` took time exponential in its depth. All
/// arguments are evaluated; none of caas's expressions can fail on a row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Coalesce {
    signature: Signature,
}

impl ScalarUDFImpl for Coalesce {
    fn name(&self) -> &str {
        "caas_coalesce"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        try_type_union_resolution(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let typed = arg_types.iter().find(|t| !t.is_null());
        match typed.or(arg_types.first()) {
            Some(t) => Ok(t.clone()),
            None => exec_err!("caas_coalesce takes at least one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let mut arrays = args.args.iter().rev().map(|a| a.to_array(n));
        let Some(last) = arrays.next() else {
            return exec_err!("caas_coalesce takes at least one argument");
        };
        let mut out = last?;
        for arg in arrays {
            let arg = arg?;
            // A null constant has no type of its own to zip, and adds nothing.
            if arg.data_type().is_null() {
                continue;
            }
            let present = is_not_null(&arg)?;
            out = zip(&present, &arg, &out)?;
        }
        Ok(ColumnarValue::Array(out))
    }
}

/// `caas_coalesce(args...)`: the first argument that is not null, on each row.
pub fn coalesce_expr(args: Vec<Expr>) -> Expr {
    let udf = ScalarUDF::new_from_impl(Coalesce {
        signature: Signature::user_defined(Volatility::Immutable),
    });
    udf.call(args)
}

/// The normalised prefixes of a code that a codelist of prefix codes could match: one per
/// length in `lengths` that the normalised code reaches, so an event joins each matching
/// codelist code exactly once.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CodePrefixes {
    signature: Signature,
    system: CodeSystem,
    lengths: Vec<usize>,
}

impl ScalarUDFImpl for CodePrefixes {
    fn name(&self) -> &str {
        "caas_code_prefixes"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [codes] = args.args.as_slice() else {
            return exec_err!("caas_code_prefixes takes one argument");
        };
        let codes = codes.to_array(n)?;
        let codes = arrow::compute::cast(&codes, &DataType::Utf8)?;
        let codes = codes.as_string::<i32>();
        let mut builder = ListBuilder::new(StringBuilder::new());
        for code in codes.iter() {
            if let Some(code) = code {
                let normalised = self.system.normalise(code);
                for &len in &self.lengths {
                    if let Some(prefix) = normalised.get(..len) {
                        builder.values().append_value(prefix);
                    }
                }
                builder.append(true);
            } else {
                builder.append(false);
            }
        }
        let out: ArrayRef = Arc::new(builder.finish());
        Ok(ColumnarValue::Array(out))
    }
}

/// `caas_code_prefixes(code)`: the prefixes of the normalised code of the given lengths.
pub fn code_prefixes_expr(code: Expr, system: CodeSystem, mut lengths: Vec<usize>) -> Expr {
    lengths.sort_unstable();
    lengths.dedup();
    let udf = ScalarUDF::new_from_impl(CodePrefixes {
        signature: Signature::any(1, Volatility::Immutable),
        system,
        lengths,
    });
    udf.call(vec![code])
}

/// `caas_count_episodes(date)`: how many episodes a person's dates make, a date starting a
/// new one when it is at least `gap` days after the date before it (the first always does;
/// equal dates are one). Missing dates are skipped, so a measure's filter is given as
/// `CASE WHEN filter THEN date END`. An aggregate rather than a window over the rows before
/// each row: DataFusion cannot plan two window expressions that simplify to the same one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CountEpisodes {
    signature: Signature,
    gap: i64,
}

impl AggregateUDFImpl for CountEpisodes {
    fn name(&self) -> &str {
        "caas_count_episodes"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(EpisodeDates {
            dates: Vec::new(),
            gap: self.gap,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "dates"),
            DataType::new_list(DataType::Date32, true),
            true,
        ))])
    }
}

/// The dates of one person, counted into episodes at the end.
#[derive(Debug)]
struct EpisodeDates {
    dates: Vec<i32>,
    gap: i64,
}

impl Accumulator for EpisodeDates {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if let Some(dates) = values.first() {
            let dates = dates.as_primitive_opt::<Date32Type>();
            self.dates.extend(dates.into_iter().flatten().flatten());
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        if let Some(lists) = states.first().and_then(|s| s.as_list_opt::<i32>()) {
            for dates in lists.iter().flatten() {
                let dates = dates.as_primitive_opt::<Date32Type>();
                self.dates.extend(dates.into_iter().flatten().flatten());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        let dates = Date32Array::from(self.dates.clone());
        let field = Arc::new(Field::new_list_field(DataType::Date32, true));
        let offsets = OffsetBuffer::from_lengths([dates.len()]);
        let list = ListArray::try_new(field, offsets, Arc::new(dates), None)?;
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.dates.sort_unstable();
        self.dates.dedup();
        let starts = (self.dates.iter().enumerate())
            .filter(
                |(i, d)| match i.checked_sub(1).and_then(|p| self.dates.get(p)) {
                    Some(before) => i64::from(**d) - i64::from(*before) >= self.gap,
                    None => true,
                },
            )
            .count();
        Ok(ScalarValue::Int64(Some(
            i64::try_from(starts).unwrap_or(i64::MAX),
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.dates.capacity() * std::mem::size_of::<i32>()
    }
}

/// `caas_count_episodes(dates)` with a gap of `gap` days.
pub fn count_episodes_expr(dates: Expr, gap: u32) -> Expr {
    let udaf = AggregateUDF::new_from_impl(CountEpisodes {
        signature: Signature::exact(vec![DataType::Date32], Volatility::Immutable),
        gap: i64::from(gap),
    });
    udaf.call(vec![dates])
}
