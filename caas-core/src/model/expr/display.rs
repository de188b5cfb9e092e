//! The canonical text of an expression: every operation but the outermost in parentheses,
//! keywords in one case, literals in one spelling. It parses back to the same expression,
//! and two expressions that differ only in spacing, keyword case, redundant parentheses or
//! the spelling of a duration (`2 weeks`, `14 days`) have the same text — which is what the
//! definition hash of the provenance needs.

use std::fmt;

use super::{Duration, DurationUnit, Expr, Literal, UnaryOp};

impl fmt::Display for Expr {
    /// ```
    /// use caas_core::model::expr::parse;
    /// use caas_core::Place;
    /// let a = parse("AGE>=65 AND NOT   (vaccinated)", &Place::Definition).unwrap();
    /// let b = parse("(age >= 65) and not vaccinated", &Place::Definition).unwrap();
    /// assert_ne!(a, b); // names are case-sensitive
    /// let c = parse("age >= 65 and (not vaccinated)", &Place::Definition).unwrap();
    /// assert_eq!(b.to_string(), "(age >= 65) and (not vaccinated)");
    /// assert_eq!(b.to_string(), c.to_string());
    /// assert_eq!(parse(&b.to_string(), &Place::Definition).unwrap(), b);
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(self, f, true)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => {
                // Rust prints floats without an exponent; a whole number needs its `.0` to
                // stay a decimal when read back.
                let text = x.to_string();
                if text.contains('.') || !x.is_finite() {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
            Literal::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Date(d) => write!(f, "DATE '{}'", d.format("%Y-%m-%d")),
            Literal::Duration(d) => write!(f, "{d}"),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            DurationUnit::Days => "days",
            DurationUnit::Months => "months",
            DurationUnit::Years => "years",
        };
        write!(f, "{} {unit}", self.amount)
    }
}

fn write_expr(expr: &Expr, f: &mut fmt::Formatter<'_>, top: bool) -> fmt::Result {
    let compound = !matches!(expr, Expr::Literal(_) | Expr::Name(_) | Expr::Call { .. });
    if compound && !top {
        f.write_str("(")?;
    }
    match expr {
        Expr::Literal(l) => write!(f, "{l}")?,
        Expr::Name(n) => f.write_str(n)?,
        Expr::Unary { op, expr } => {
            f.write_str(match op {
                UnaryOp::Not => "not ",
                UnaryOp::Neg => "- ",
            })?;
            write_expr(expr, f, false)?;
        }
        Expr::Binary { op, left, right } => {
            write_expr(left, f, false)?;
            write!(f, " {} ", op.symbol())?;
            write_expr(right, f, false)?;
        }
        Expr::IsNull { expr, negated } => {
            write_expr(expr, f, false)?;
            f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })?;
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            write_expr(expr, f, false)?;
            f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_expr(item, f, true)?;
            }
            f.write_str(")")?;
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            write_expr(expr, f, false)?;
            f.write_str(if *negated {
                " NOT BETWEEN "
            } else {
                " BETWEEN "
            })?;
            write_expr(low, f, false)?;
            f.write_str(" AND ")?;
            write_expr(high, f, false)?;
        }
        Expr::Call { func, args } => {
            write!(f, "{}(", func.name())?;
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_expr(arg, f, true)?;
            }
            f.write_str(")")?;
        }
        Expr::Case {
            branches,
            otherwise,
        } => {
            f.write_str("CASE")?;
            for (when, then) in branches {
                f.write_str(" WHEN ")?;
                write_expr(when, f, true)?;
                f.write_str(" THEN ")?;
                write_expr(then, f, true)?;
            }
            if let Some(e) = otherwise {
                f.write_str(" ELSE ")?;
                write_expr(e, f, true)?;
            }
            f.write_str(" END")?;
        }
    }
    if compound && !top {
        f.write_str(")")?;
    }
    Ok(())
}
