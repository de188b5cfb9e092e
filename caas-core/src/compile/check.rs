//! The checks that an expression can be lowered by every backend: each name a column or a
//! parameter, each duration within range, each function call complete. They run while the
//! plan is built so that a definition fails before any backend sees it, in the order the
//! expression is read.

use indexmap::IndexMap;

use crate::error::{CaasError, Place, Result};
use crate::model::Value;
use crate::model::expr::{BinaryOp, Expr, Literal, Type, infer_type};

/// Checks `expr`, whose names are columns where `is_column` says so, else parameters;
/// `types` gives the type of every name.
pub(crate) fn check_lowerable(
    expr: &Expr,
    is_column: &dyn Fn(&str) -> bool,
    types: &dyn Fn(&str) -> Option<Type>,
    parameters: &IndexMap<String, Value>,
    place: &Place,
) -> Result<()> {
    let check = |e: &Expr| check_lowerable(e, is_column, types, parameters, place);
    match expr {
        Expr::Literal(Literal::Duration(d)) => {
            let (months, days) = d.months_days();
            if i32::try_from(months).is_err() || i32::try_from(days).is_err() {
                return Err(CaasError::invalid(place.clone(), "duration too large"));
            }
        }
        Expr::Literal(_) => {}
        Expr::Name(name) => {
            if !is_column(name) && !parameters.contains_key(name) {
                return Err(CaasError::UnknownReference {
                    place: place.clone(),
                    what: "variable, parameter or column",
                    name: name.clone(),
                    suggestion: None,
                });
            }
        }
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => check(expr)?,
        Expr::Duration { amount, .. } => check(amount)?,
        Expr::Binary { op, left, right } => {
            // A difference of dates is typed first, as the lowering types it.
            if *op == BinaryOp::Minus && infer_type(left, types, place)? == Type::Date {
                infer_type(right, types, place)?;
            }
            check(left)?;
            check(right)?;
        }
        Expr::InList { expr, list, .. } => {
            check(expr)?;
            for item in list {
                check(item)?;
            }
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            check(expr)?;
            check(low)?;
            check(high)?;
        }
        Expr::Call { func, args } => {
            for a in args {
                check(a)?;
            }
            if !func.takes(args.len()) {
                return Err(CaasError::invalid(
                    place.clone(),
                    format!("wrong number of arguments for {}", func.name()),
                ));
            }
        }
        Expr::Case {
            branches,
            otherwise,
        } => {
            infer_type(expr, types, place)?;
            for (w, t) in branches {
                check(w)?;
                check(t)?;
            }
            if branches.is_empty() {
                return Err(CaasError::invalid(place.clone(), "CASE without WHEN"));
            }
            if let Some(e) = otherwise {
                check(e)?;
            }
        }
    }
    Ok(())
}
