//! The canonical text of an expression: every operation but the outermost in parentheses,
//! keywords in one case, literals in one spelling. It parses back to the same expression,
//! and two expressions that differ only in spacing, keyword case, redundant parentheses or
//! the spelling of a duration (`2 weeks`, `14 days`) have the same text — which is what the
//! definition hash of the provenance needs.

use std::fmt;

use super::{Duration, Expr, Literal, UnaryOp};

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
        write!(f, "{} {}", self.amount, self.unit.plural())
    }
}

#[recursive::recursive]
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
        Expr::Duration { amount, unit } => {
            write_expr(amount, f, false)?;
            write!(f, " {}", unit.plural())?;
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::super::{BinaryOp, DurationUnit, Function, parse};
    use super::*;
    use crate::error::Place;

    fn literal() -> impl Strategy<Value = Expr> {
        prop_oneof![
            Just(Literal::Null),
            any::<bool>().prop_map(Literal::Bool),
            (-1_000_000i64..1_000_000).prop_map(Literal::Int),
            prop_oneof![
                (-1e6f64..1e6),
                Just(40.0),
                Just(-0.5),
                Just(1e-7),
                Just(1e20)
            ]
            .prop_map(Literal::Float),
            "[a-z' %-]{0,6}".prop_map(Literal::Text),
            (0i32..60_000).prop_map(|d| {
                Literal::Date(NaiveDate::from_num_days_from_ce_opt(700_000 + d).unwrap_or_default())
            }),
            (
                -500i64..500,
                prop_oneof![
                    Just(DurationUnit::Days),
                    Just(DurationUnit::Months),
                    Just(DurationUnit::Years)
                ]
            )
                .prop_map(|(amount, unit)| Literal::Duration(Duration { amount, unit })),
        ]
        .prop_map(Expr::Literal)
    }

    fn name() -> impl Strategy<Value = Expr> {
        prop_oneof![
            Just("age"),
            Just("index_date"),
            Just("x1"),
            Just("_y"),
            Just("Dob")
        ]
        .prop_map(|n| Expr::Name(n.to_string()))
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let ops = [
            BinaryOp::And,
            BinaryOp::Or,
            BinaryOp::Eq,
            BinaryOp::NotEq,
            BinaryOp::Lt,
            BinaryOp::LtEq,
            BinaryOp::Gt,
            BinaryOp::GtEq,
            BinaryOp::Plus,
            BinaryOp::Minus,
            BinaryOp::Multiply,
            BinaryOp::Divide,
        ];
        prop_oneof![literal(), name()].prop_recursive(4, 32, 3, move |inner| {
            let boxed = inner.clone().prop_map(Box::new);
            prop_oneof![
                boxed.clone().prop_map(|expr| Expr::Unary {
                    op: UnaryOp::Not,
                    expr
                }),
                // The parser folds `- 5` into the literal -5, so negation is of names.
                name().prop_map(|e| Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(e)
                }),
                (
                    proptest::sample::select(ops.to_vec()),
                    boxed.clone(),
                    boxed.clone()
                )
                    .prop_map(|(op, left, right)| Expr::Binary { op, left, right }),
                (boxed.clone(), any::<bool>())
                    .prop_map(|(expr, negated)| Expr::IsNull { expr, negated }),
                // A whole-number literal with a unit is read as a duration literal, and a
                // duration literal with a second unit does not read back as one.
                (
                    boxed.clone().prop_filter("a literal amount", |e| !matches!(
                        **e,
                        Expr::Literal(Literal::Int(_) | Literal::Duration(_))
                    )),
                    prop_oneof![
                        Just(DurationUnit::Days),
                        Just(DurationUnit::Months),
                        Just(DurationUnit::Years)
                    ]
                )
                    .prop_map(|(amount, unit)| Expr::Duration { amount, unit }),
                (
                    boxed.clone(),
                    proptest::collection::vec(inner.clone(), 1..3),
                    any::<bool>()
                )
                    .prop_map(|(expr, list, negated)| Expr::InList {
                        expr,
                        list,
                        negated
                    }),
                (boxed.clone(), boxed.clone(), boxed.clone(), any::<bool>()).prop_map(
                    |(expr, low, high, negated)| Expr::Between {
                        expr,
                        low,
                        high,
                        negated
                    }
                ),
                (
                    proptest::sample::select(Function::ALL.to_vec()),
                    proptest::collection::vec(inner.clone(), 1..4)
                )
                    .prop_filter_map("arity", |(func, args)| func
                        .takes(args.len())
                        .then_some(Expr::Call { func, args })),
                (
                    proptest::collection::vec((inner.clone(), inner.clone()), 1..3),
                    proptest::option::of(boxed)
                )
                    .prop_map(|(branches, otherwise)| Expr::Case {
                        branches,
                        otherwise
                    }),
            ]
        })
    }

    proptest! {
        /// The canonical text reads back as the same expression, so two expressions with
        /// one text are one expression: the definition hash tells definitions apart.
        #[test]
        fn canonical_text_parses_back_to_the_same_expression(e in expr()) {
            let text = e.to_string();
            let back = parse(&text, &Place::Definition);
            prop_assert!(back.is_ok(), "{text}: {back:?}");
            prop_assert_eq!(back.ok(), Some(e), "{}", text);
        }
    }

    #[test]
    fn spellings_of_one_expression_have_one_text() {
        let text = |s: &str| parse(s, &Place::Definition).unwrap().to_string();
        assert_eq!(text("a or b and not c"), "a or (b and (not c))");
        assert_eq!(text("A OR (B AND NOT C)"), "A or (B and (not C))");
        assert_eq!(text("x between 1 and 2 + 3"), "x BETWEEN 1 AND (2 + 3)");
        assert_eq!(text("d - 2 weeks"), "d - 14 days");
        assert_eq!(text("date = date '2025-01-01'"), "date = DATE '2025-01-01'");
        assert_eq!(text("s in ('it''s', 'x')"), "s IN ('it''s', 'x')");
        assert_eq!(text("v >= 40"), "v >= 40");
        assert_eq!(text("v >= 40.0"), "v >= 40.0");
        assert_eq!(
            text("case when a then 1 else 2 end"),
            "CASE WHEN a THEN 1 ELSE 2 END"
        );
        assert_eq!(text("coalesce(x, -1)"), "coalesce(x, -1)");
    }
}
