//! Static types of expressions, so that a date compared with a number is an error before
//! any data is read.

use std::fmt;

use super::{BinaryOp, Expr, Function, Literal, UnaryOp};
use crate::error::{CaasError, Place, Result};

/// The type of a variable, parameter, column or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// true / false / unknown.
    Bool,
    /// Whole number.
    Int,
    /// Decimal number.
    Float,
    /// Calendar date.
    Date,
    /// Text (codes, categories, ...).
    Text,
    /// A calendar duration (`12 months`); only added to or subtracted from dates.
    Duration,
    /// The type of the `null` literal: fits anything.
    Null,
    /// Not known until the data is seen (a person column before tables are registered).
    Any,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Bool => "boolean",
            Type::Int => "integer",
            Type::Float => "number",
            Type::Date => "date",
            Type::Text => "text",
            Type::Duration => "duration",
            Type::Null => "null",
            Type::Any => "any",
        })
    }
}

impl Type {
    fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Null | Type::Any)
    }

    fn fits(self, wanted: Type) -> bool {
        self == wanted || matches!(self, Type::Null | Type::Any)
    }

    /// The common type of two values that meet (in a comparison, a `coalesce`, the
    /// branches of a `case`), or `None` if they cannot meet.
    pub fn unify(self, other: Type) -> Option<Type> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Type::Null, x) | (x, Type::Null) => Some(x),
            (Type::Any, x) | (x, Type::Any) => Some(if x == Type::Null { Type::Any } else { x }),
            (Type::Int, Type::Float) | (Type::Float, Type::Int) => Some(Type::Float),
            _ => None,
        }
    }
}

/// Infers the type of `expr`, resolving names with `resolve`; errors name `place`.
///
/// ```
/// use caas_core::model::expr::{infer_type, parse, Type};
/// use caas_core::Place;
/// let place = Place::Variable("recent".into());
/// let expr = parse("last_asthma >= index_date - 12 months", &place).unwrap();
/// let resolve = |_: &str| Some(Type::Date);
/// assert_eq!(infer_type(&expr, &resolve, &place).unwrap(), Type::Bool);
///
/// let bad = parse("last_asthma > 65", &place).unwrap();
/// assert!(infer_type(&bad, &resolve, &place).is_err());
/// ```
#[recursive::recursive]
pub fn infer_type(
    expr: &Expr,
    resolve: &dyn Fn(&str) -> Option<Type>,
    place: &Place,
) -> Result<Type> {
    let ty = |e: &Expr| infer_type(e, resolve, place);
    let mismatch = |message: String| CaasError::type_mismatch(place, message);
    match expr {
        Expr::Literal(lit) => Ok(match lit {
            Literal::Null => Type::Null,
            Literal::Bool(_) => Type::Bool,
            Literal::Int(_) => Type::Int,
            Literal::Float(_) => Type::Float,
            Literal::Text(_) => Type::Text,
            Literal::Date(_) => Type::Date,
            Literal::Duration(_) => Type::Duration,
        }),
        Expr::Name(name) => resolve(name).ok_or_else(|| CaasError::UnknownReference {
            place: place.clone(),
            what: "variable or parameter",
            name: name.clone(),
            suggestion: None,
        }),
        Expr::Duration { amount, unit } => {
            let t = ty(amount)?;
            if t.fits(Type::Int) {
                Ok(Type::Duration)
            } else {
                let unit = unit.plural();
                Err(mismatch(format!(
                    "the amount of {unit} is a whole number, found {t} (e.g. `integer(x) {unit}`)"
                )))
            }
        }
        Expr::Unary { op, expr } => {
            let t = ty(expr)?;
            match op {
                UnaryOp::Not if t.fits(Type::Bool) => Ok(Type::Bool),
                UnaryOp::Not => Err(mismatch(format!("`not` needs a boolean, found {t}"))),
                UnaryOp::Neg if t.is_numeric() => Ok(t),
                UnaryOp::Neg => Err(mismatch(format!("`-` needs a number, found {t}"))),
            }
        }
        Expr::Binary { op, left, right } => {
            let (l, r) = (ty(left)?, ty(right)?);
            binary_type(*op, l, r)
                .ok_or_else(|| mismatch(format!("cannot apply `{}` to {l} and {r}", op.symbol())))
        }
        Expr::IsNull { expr, .. } => {
            ty(expr)?;
            Ok(Type::Bool)
        }
        Expr::InList { expr, list, .. } => {
            let mut t = ty(expr)?;
            for item in list {
                let it = ty(item)?;
                t = comparable(t, it)
                    .ok_or_else(|| mismatch(format!("`in` compares {t} with {it}")))?;
            }
            Ok(Type::Bool)
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            let t = ty(expr)?;
            for bound in [low, high] {
                let bt = ty(bound)?;
                comparable(t, bt)
                    .ok_or_else(|| mismatch(format!("`between` compares {t} with {bt}")))?;
            }
            Ok(Type::Bool)
        }
        Expr::Call { func, args } => match func {
            Function::Coalesce => {
                let mut t = Type::Null;
                for arg in args {
                    let at = ty(arg)?;
                    t = value_unify(t, at)
                        .ok_or_else(|| mismatch(format!("`coalesce` mixes {t} and {at}")))?;
                }
                Ok(t)
            }
            Function::Between(_) | Function::Part(_) | Function::FirstOf { .. } => {
                for arg in args {
                    let at = ty(arg)?;
                    if !at.fits(Type::Date) {
                        let name = func.name();
                        return Err(mismatch(format!("`{name}` needs dates, found {at}")));
                    }
                }
                Ok(match func {
                    Function::FirstOf { .. } => Type::Date,
                    _ => Type::Int,
                })
            }
            Function::Extreme { .. } => {
                let mut t = Type::Null;
                for arg in args {
                    let at = ty(arg)?;
                    let name = func.name();
                    if !(at.fits(Type::Date) || at.is_numeric() || at == Type::Any) {
                        return Err(mismatch(format!(
                            "`{name}` takes dates or numbers, found {at}"
                        )));
                    }
                    t = value_unify(t, at)
                        .ok_or_else(|| mismatch(format!("`{name}` mixes {t} and {at}")))?;
                }
                Ok(t)
            }
            Function::Abs => {
                let [arg] = args.as_slice() else {
                    return Err(mismatch("`abs` takes one number".into()));
                };
                match ty(arg)? {
                    at if at.is_numeric() => Ok(at),
                    at => Err(mismatch(format!("`abs` needs a number, found {at}"))),
                }
            }
            Function::Div => {
                for arg in args {
                    let at = ty(arg)?;
                    if !at.fits(Type::Int) {
                        return Err(mismatch(format!("`div` needs whole numbers, found {at}")));
                    }
                }
                Ok(Type::Int)
            }
            Function::Cast(to) => {
                for arg in args {
                    let at = ty(arg)?;
                    if !(at.is_numeric() || at.fits(Type::Bool)) {
                        let name = func.name();
                        return Err(mismatch(format!(
                            "`{name}` takes a number or a boolean, found {at}"
                        )));
                    }
                }
                Ok(*to)
            }
        },
        Expr::Case {
            branches,
            otherwise,
        } => {
            let mut t = Type::Null;
            for (when, then) in branches {
                let wt = ty(when)?;
                if !wt.fits(Type::Bool) {
                    return Err(mismatch(format!("`when` needs a boolean, found {wt}")));
                }
                let vt = ty(then)?;
                t = value_unify(t, vt)
                    .ok_or_else(|| mismatch(format!("`case` mixes {t} and {vt}")))?;
            }
            if let Some(e) = otherwise {
                let vt = ty(e)?;
                t = value_unify(t, vt)
                    .ok_or_else(|| mismatch(format!("`case` mixes {t} and {vt}")))?;
            }
            Ok(t)
        }
    }
}

fn comparable(a: Type, b: Type) -> Option<Type> {
    a.unify(b).filter(|t| *t != Type::Duration)
}

fn value_unify(a: Type, b: Type) -> Option<Type> {
    comparable(a, b)
}

fn binary_type(op: BinaryOp, l: Type, r: Type) -> Option<Type> {
    use Type::*;
    match op {
        BinaryOp::And | BinaryOp::Or => (l.fits(Bool) && r.fits(Bool)).then_some(Bool),
        op if op.is_comparison() => comparable(l, r).map(|_| Bool),
        BinaryOp::Plus => match (l, r) {
            (Date, Duration) | (Duration, Date) => Some(Date),
            (Any | Null, Duration) | (Duration, Any | Null) => Some(Date),
            _ if l.is_numeric() && r.is_numeric() => l.unify(r),
            _ => None,
        },
        BinaryOp::Minus => match (l, r) {
            (Date | Any | Null, Duration) => Some(Date),
            (Date, Date) | (Date, Any | Null) | (Any | Null, Date) => Some(Int),
            _ if l.is_numeric() && r.is_numeric() => l.unify(r),
            _ => None,
        },
        BinaryOp::Multiply => (l.is_numeric() && r.is_numeric())
            .then(|| l.unify(r))
            .flatten(),
        BinaryOp::Divide => (l.is_numeric() && r.is_numeric()).then_some(Float),
        _ => None,
    }
}
