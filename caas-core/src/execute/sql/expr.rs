//! Lowering of definition expressions to SQL, with the meaning the DataFusion lowering
//! gives them (`execute/lower/expr.rs`): three-valued logic, `IN` as a chain of `OR`s,
//! decimal division with a missing value for a zero divisor, whole days between dates,
//! calendar durations that clamp to the end of the month, `years_between` counted like an
//! age.

use indexmap::IndexMap;

use super::Dialect;
use super::ast::{BinOp, Expr as Sql, SqlType};
use crate::error::{CaasError, Place, Result};
use crate::model::Value;
use crate::model::expr::{
    BinaryOp, DurationUnit, Expr, Function, Literal, Shift, Type, UnaryOp, infer_type,
    is_whole_number_step,
};

/// A constant.
pub(crate) fn value_literal(value: &Value) -> Sql {
    match value {
        Value::Bool(b) => Sql::Bool(*b),
        Value::Int(n) => Sql::Int(*n),
        Value::Float(x) => Sql::Float(*x),
        Value::Date(d) => Sql::Date(*d),
        Value::Text(s) => Sql::Text(s.clone()),
    }
}

/// Resolves the names of an expression to columns or to parameters' values.
pub(crate) struct Scope<'a> {
    /// The dialect.
    pub dialect: Dialect,
    /// Parameters bound for the run.
    pub parameters: &'a IndexMap<String, Value>,
    /// Names that are columns, mapped to their column names.
    pub columns: &'a dyn Fn(&str) -> Option<String>,
    /// The type of every name the expression may use.
    pub types: &'a dyn Fn(&str) -> Option<Type>,
    /// Where the expression is, for errors.
    pub place: &'a Place,
}

impl Scope<'_> {
    fn type_of(&self, expr: &Expr) -> Result<Type> {
        infer_type(expr, self.types, self.place)
    }

    /// `expr` as a date: cast unless it is one already.
    pub fn date(&self, expr: &Expr) -> Result<Sql> {
        let sql = self.lower(expr)?;
        Ok(if self.type_of(expr)? == Type::Date {
            sql
        } else {
            sql.cast(SqlType::Date)
        })
    }

    /// Lowers `expr`.
    #[recursive::recursive]
    pub fn lower(&self, expr: &Expr) -> Result<Sql> {
        Ok(match expr {
            Expr::Literal(l) => match l {
                Literal::Null => Sql::Null,
                Literal::Bool(b) => Sql::Bool(*b),
                Literal::Int(n) => Sql::Int(*n),
                Literal::Float(x) => Sql::Float(*x),
                Literal::Text(s) => Sql::Text(s.clone()),
                Literal::Date(d) => Sql::Date(*d),
                Literal::Duration(_) => return Err(self.unsupported("a duration on its own")),
            },
            Expr::Duration { .. } => return Err(self.unsupported("a duration on its own")),
            Expr::Name(name) => {
                if let Some(col) = (self.columns)(name) {
                    Sql::col(&col)
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
            Expr::Unary { op, expr } => {
                let integer = self.type_of(expr)? == Type::Int;
                let e = self.lower(expr)?;
                match op {
                    UnaryOp::Not => e.not(),
                    UnaryOp::Neg if integer => self.dialect.checked(BinOp::Minus, Sql::Int(0), e),
                    UnaryOp::Neg => Sql::Neg(Box::new(e)),
                }
            }
            Expr::Binary { op, left, right } => self.binary(*op, left, right)?,
            Expr::IsNull { expr, negated } => Sql::IsNull(Box::new(self.lower(expr)?), *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                // `x IN (a, b)` is `x = a OR x = b`, as in-process.
                let e = self.lower(expr)?;
                let tests = list.iter().map(|item| Ok(e.clone().eq(self.lower(item)?)));
                let any = Sql::any(tests.collect::<Result<Vec<_>>>()?);
                if *negated { any.not() } else { any }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Sql::Between {
                expr: Box::new(self.lower(expr)?),
                low: Box::new(self.lower(low)?),
                high: Box::new(self.lower(high)?),
                negated: *negated,
            },
            Expr::Call { func, args } => match (func, args.as_slice()) {
                (Function::Coalesce, _) => Sql::Call(
                    "coalesce",
                    args.iter().map(|a| self.lower(a)).collect::<Result<_>>()?,
                ),
                (Function::Between(unit), [from, to]) => {
                    self.whole_between(*unit, self.date(from)?, self.date(to)?)
                }
                (Function::Extreme { greatest }, _) => {
                    // The arguments in the type of the result: whole numbers among
                    // decimals are decimals (PostgreSQL wants one type).
                    let t = sql_type(self.type_of(expr)?);
                    let args = (args.iter())
                        .map(|a| {
                            let sql = self.lower(a)?;
                            Ok(match t {
                                Some(t) => sql.cast(t),
                                None => sql,
                            })
                        })
                        .collect::<Result<_>>()?;
                    Sql::Call(if *greatest { "greatest" } else { "least" }, args)
                }
                (Function::Part(unit), [date]) => {
                    let part = match unit {
                        DurationUnit::Years => "YEAR",
                        DurationUnit::Months => "MONTH",
                        DurationUnit::Days => "DAY",
                    };
                    part_of(part, &self.date(date)?).cast(SqlType::BigInt)
                }
                (Function::FirstOf { year }, [date]) => Sql::Call(
                    "date_trunc",
                    vec![
                        Sql::Text(if *year { "year" } else { "month" }.to_string()),
                        self.date(date)?,
                    ],
                )
                .cast(SqlType::Date),
                (Function::Abs | Function::Div | Function::Cast(_), _) => {
                    let types = (args.iter())
                        .map(|a| self.type_of(a))
                        .collect::<Result<Vec<_>>>()?;
                    let lowered = (args.iter())
                        .map(|a| self.lower(a))
                        .collect::<Result<Vec<_>>>()?;
                    self.numeric(*func, lowered, &types)?
                }
                (Function::Between(_) | Function::Part(_) | Function::FirstOf { .. }, _) => {
                    return Err(CaasError::invalid(
                        self.place.clone(),
                        format!("wrong number of arguments for {}", func.name()),
                    ));
                }
            },
            Expr::Case {
                branches,
                otherwise,
            } => {
                // Branches of whole and decimal numbers meet as decimals.
                let decimal = self.type_of(expr)? == Type::Float;
                let value = |e: &Expr| -> Result<Sql> {
                    let v = self.lower(e)?;
                    Ok(if decimal { v.cast(SqlType::Double) } else { v })
                };
                let mut out = Vec::new();
                for (w, t) in branches {
                    out.push((self.lower(w)?, value(t)?));
                }
                if out.is_empty() {
                    return Err(CaasError::invalid(self.place.clone(), "CASE without WHEN"));
                }
                Sql::Case {
                    branches: out,
                    otherwise: otherwise
                        .as_ref()
                        .map(|e| value(e))
                        .transpose()?
                        .map(Box::new),
                }
            }
        })
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Sql> {
        // Dates and durations, added or subtracted on the right, or added on the left.
        if matches!(op, BinaryOp::Plus | BinaryOp::Minus) {
            let (date, shift) = match (left.as_shift(), right.as_shift(), op) {
                (None, Some(s), BinaryOp::Minus) => (left, Some(s.negated())),
                (None, Some(s), _) => (left, Some(s)),
                (Some(s), None, BinaryOp::Plus) => (right, Some(s)),
                (Some(_), _, _) => return Err(self.unsupported("arithmetic on durations")),
                (None, None, _) => (left, None),
            };
            let moved = match shift {
                Some(Shift::Constant(d)) => {
                    Some(self.dialect.add_duration(self.lower(date)?, d, 1))
                }
                Some(Shift::Amount {
                    amount,
                    unit,
                    negated,
                }) => Some(self.dialect.add_amount(
                    self.lower(date)?,
                    self.lower(amount)?,
                    unit,
                    negated,
                )),
                None => None,
            };
            if let Some(moved) = moved {
                let (first, last) = crate::model::calendar();
                return Ok(self.dialect.date_in_range(moved, first, last));
            }
        }
        let dates = self.type_of(left)? == Type::Date && self.type_of(right)? == Type::Date;
        let integer = is_whole_number_step(op, self.type_of(left)?, self.type_of(right)?);
        let (l, r) = (self.lower(left)?, self.lower(right)?);
        let checked = |op| self.dialect.checked(op, l.clone(), r.clone());
        Ok(match op {
            BinaryOp::Plus if integer => checked(BinOp::Plus),
            BinaryOp::Minus if integer => checked(BinOp::Minus),
            BinaryOp::Multiply if integer => checked(BinOp::Multiply),
            BinaryOp::And => l.and(r),
            BinaryOp::Or => l.or(r),
            BinaryOp::Eq => l.eq(r),
            BinaryOp::NotEq => l.binary(BinOp::NotEq, r),
            BinaryOp::Lt => l.binary(BinOp::Lt, r),
            BinaryOp::LtEq => l.binary(BinOp::LtEq, r),
            BinaryOp::Gt => l.binary(BinOp::Gt, r),
            BinaryOp::GtEq => l.binary(BinOp::GtEq, r),
            BinaryOp::Minus if dates => self.dialect.days_between(l, r),
            BinaryOp::Plus => l.binary(BinOp::Plus, r),
            BinaryOp::Minus => l.binary(BinOp::Minus, r),
            BinaryOp::Multiply => l.binary(BinOp::Multiply, r),
            // A zero divisor gives a missing value, in every engine and in-process.
            BinaryOp::Divide => l.cast(SqlType::Double).binary(
                BinOp::Divide,
                Sql::Call("nullif", vec![r.cast(SqlType::Double), Sql::Float(0.0)]),
            ),
        })
    }

    /// `abs`, `div` and the casts of `args`, of the given types, as in-process.
    fn numeric(&self, func: Function, args: Vec<Sql>, types: &[Type]) -> Result<Sql> {
        let wrong = || {
            CaasError::invalid(
                self.place.clone(),
                format!("wrong arguments for {}", func.name()),
            )
        };
        Ok(match (func, args.as_slice(), types) {
            (Function::Abs, [x], [Type::Int]) => Sql::Case {
                branches: vec![(
                    x.clone().binary(BinOp::Lt, Sql::Int(0)),
                    self.dialect.checked(BinOp::Minus, Sql::Int(0), x.clone()),
                )],
                otherwise: Some(Box::new(x.clone().cast(SqlType::BigInt))),
            },
            (Function::Abs, [x], _) => Sql::Call("abs", vec![x.clone().cast(SqlType::Double)]),
            (Function::Div, [a, b], _) => self.dialect.integer_divide(a.clone(), b.clone()),
            (Function::Cast(Type::Int), [x], [Type::Float]) => {
                self.dialect.decimal_to_integer(x.clone())
            }
            (Function::Cast(Type::Bool), [x], [Type::Bool]) => x.clone(),
            (Function::Cast(Type::Bool), [x], [t]) => {
                let zero = match t {
                    Type::Float => Sql::Float(0.0),
                    _ => Sql::Int(0),
                };
                x.clone().binary(BinOp::NotEq, zero)
            }
            // PostgreSQL casts a boolean only to a 32-bit integer.
            (Function::Cast(to), [x], [Type::Bool]) => match sql_type(to) {
                Some(t) => x.clone().cast(SqlType::Int).cast(t),
                None => return Err(wrong()),
            },
            (Function::Cast(to), [x], _) => match sql_type(to) {
                Some(t) => x.clone().cast(t),
                None => return Err(wrong()),
            },
            _ => return Err(wrong()),
        })
    }

    /// Whole `unit`s from `from` to `to` by caas's one rule (`whole_between`), as
    /// `caas_*_between` in-process: the units apart, less one where `to` falls short of
    /// `from`'s day — forward, before it; back, before it unless `to` is the last day of
    /// the month that `from`'s day is past the end of.
    pub(crate) fn whole_between(&self, unit: DurationUnit, from: Sql, to: Sql) -> Sql {
        let (apart, key): (Sql, fn(&Sql) -> Sql) = match unit {
            DurationUnit::Days => return self.dialect.days_between(to, from),
            DurationUnit::Months => {
                let months = |e: &Sql| {
                    part_of("YEAR", e)
                        .binary(BinOp::Multiply, Sql::Int(12))
                        .binary(BinOp::Plus, part_of("MONTH", e))
                };
                (months(&to).binary(BinOp::Minus, months(&from)), |e| {
                    part_of("DAY", e)
                })
            }
            DurationUnit::Years => (
                part_of("YEAR", &to).binary(BinOp::Minus, part_of("YEAR", &from)),
                |e| {
                    part_of("MONTH", e)
                        .binary(BinOp::Multiply, Sql::Int(100))
                        .binary(BinOp::Plus, part_of("DAY", e))
                },
            ),
        };
        let last_of_month = part_of("DAY", &self.dialect.add_days(to.clone(), 1)).eq(Sql::Int(1));
        let past_the_end = match unit {
            DurationUnit::Years => part_of("MONTH", &from)
                .eq(part_of("MONTH", &to))
                .and(last_of_month),
            _ => last_of_month,
        };
        let forward = to.clone().binary(BinOp::GtEq, from.clone());
        let short = Sql::Case {
            branches: vec![
                (
                    forward.clone().and(key(&to).binary(BinOp::Lt, key(&from))),
                    Sql::Int(1),
                ),
                (
                    forward
                        .not()
                        .and(key(&from).binary(BinOp::Gt, key(&to)))
                        .and(past_the_end.not()),
                    Sql::Int(1),
                ),
            ],
            otherwise: Some(Box::new(Sql::Int(0))),
        };
        apart.binary(BinOp::Minus, short).cast(SqlType::BigInt)
    }

    fn unsupported(&self, feature: &str) -> CaasError {
        CaasError::Unsupported {
            place: self.place.clone(),
            feature: feature.to_string(),
            dialect: self.dialect.name(),
        }
    }
}

fn part_of(p: &'static str, e: &Sql) -> Sql {
    Sql::Extract(p, Box::new(e.clone()))
}

/// The SQL type of values of `t`, where one type fits it.
fn sql_type(t: Type) -> Option<SqlType> {
    match t {
        Type::Int => Some(SqlType::BigInt),
        Type::Float => Some(SqlType::Double),
        Type::Date => Some(SqlType::Date),
        _ => None,
    }
}
