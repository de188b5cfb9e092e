//! A recursive-descent parser for the expression language.
//!
//! Precedence, loosest first: `or`; `and`; `not`; comparisons, `IS [NOT] NULL`,
//! `[NOT] IN (...)`, `[NOT] BETWEEN ... AND ...`; `+ -`; `* /`; unary minus. Keywords are
//! case-insensitive; names are case-sensitive.

use chrono::NaiveDate;

use super::{BinaryOp, Duration, DurationUnit, Expr, Function, Literal, UnaryOp};
use crate::error::{CaasError, Place, Result};

/// Parses `text` as an expression; errors name `place` and the character position.
///
/// ```
/// use caas_core::model::expr::{parse, Expr};
/// use caas_core::Place;
/// let expr = parse("age >= 65 and not vaccinated", &Place::Definition).unwrap();
/// assert_eq!(expr.names(), vec!["age", "vaccinated"]);
/// ```
pub fn parse(text: &str, place: &Place) -> Result<Expr> {
    let tokens = tokenize(text, place)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        place,
        end: text.chars().count() + 1,
    };
    let expr = parser.expr()?;
    match parser.peek() {
        None => Ok(expr),
        Some(tok) => Err(parser.error_at(tok.column, "unexpected text after the expression")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Int(i64),
    Float(f64),
    Text(String),
    Sym(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    column: usize,
}

const SYMBOLS: [&str; 14] = [
    "<=", ">=", "!=", "<>", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",",
];

fn tokenize(text: &str, place: &Place) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let error = |column: usize, message: &str| CaasError::ExpressionSyntax {
        place: place.clone(),
        column,
        message: message.to_string(),
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token {
                tok: Tok::Word(word),
                column,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let is_float = i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit();
            if is_float {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let digits: String = chars[start..i].iter().collect();
            let tok = if is_float {
                Tok::Float(
                    digits
                        .parse()
                        .map_err(|_| error(column, "invalid number"))?,
                )
            } else {
                Tok::Int(
                    digits
                        .parse()
                        .map_err(|_| error(column, "number too large"))?,
                )
            };
            tokens.push(Token { tok, column });
        } else if c == '\'' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(error(column, "unterminated text: missing closing '")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        value.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(Token {
                tok: Tok::Text(value),
                column,
            });
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let symbol = SYMBOLS
                .iter()
                .find(|s| rest.starts_with(**s))
                .ok_or_else(|| error(column, &format!("unexpected character `{c}`")))?;
            i += symbol.chars().count();
            tokens.push(Token {
                tok: Tok::Sym(symbol),
                column,
            });
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    place: &'a Place,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn column(&self) -> usize {
        self.peek().map_or(self.end, |t| t.column)
    }

    fn error_at(&self, column: usize, message: impl Into<String>) -> CaasError {
        CaasError::ExpressionSyntax {
            place: self.place.clone(),
            column,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> CaasError {
        self.error_at(self.column(), message)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn is_keyword_at(&self, offset: usize, keyword: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(format!("expected {}", keyword.to_uppercase())))
        }
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token { tok: Tok::Sym(s), .. }) if *s == symbol);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{symbol}`")))
        }
    }

    fn expr(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = binary(BinaryOp::Or, left, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            let right = self.not()?;
            left = binary(BinaryOp::And, left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.eat_keyword("not") {
            let expr = self.not()?;
            return Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(expr),
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr> {
        let left = self.additive()?;
        const OPS: [(&str, BinaryOp); 7] = [
            ("=", BinaryOp::Eq),
            ("!=", BinaryOp::NotEq),
            ("<>", BinaryOp::NotEq),
            ("<=", BinaryOp::LtEq),
            (">=", BinaryOp::GtEq),
            ("<", BinaryOp::Lt),
            (">", BinaryOp::Gt),
        ];
        for (symbol, op) in OPS {
            if self.eat_symbol(symbol) {
                let right = self.additive()?;
                return Ok(binary(op, left, right));
            }
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null")?;
            return Ok(Expr::IsNull {
                expr: Box::new(left),
                negated,
            });
        }
        let negated = self.is_keyword("not")
            && (self.is_keyword_at(1, "in") || self.is_keyword_at(1, "between"));
        if negated {
            self.pos += 1;
        }
        if self.eat_keyword("in") {
            self.expect_symbol("(")?;
            let list = self.list()?;
            return Ok(Expr::InList {
                expr: Box::new(left),
                list,
                negated,
            });
        }
        if self.eat_keyword("between") {
            let low = self.additive()?;
            self.expect_keyword("and")?;
            let high = self.additive()?;
            return Ok(Expr::Between {
                expr: Box::new(left),
                low: Box::new(low),
                high: Box::new(high),
                negated,
            });
        }
        Ok(left)
    }

    /// A comma-separated list after `(`, up to and including `)`.
    fn list(&mut self) -> Result<Vec<Expr>> {
        let mut items = vec![self.expr()?];
        while self.eat_symbol(",") {
            items.push(self.expr()?);
        }
        self.expect_symbol(")")?;
        Ok(items)
    }

    fn additive(&mut self) -> Result<Expr> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_symbol("+") {
                BinaryOp::Plus
            } else if self.eat_symbol("-") {
                BinaryOp::Minus
            } else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = binary(op, left, right);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_symbol("*") {
                BinaryOp::Multiply
            } else if self.eat_symbol("/") {
                BinaryOp::Divide
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.eat_symbol("-") {
            let expr = self.unary()?;
            return Ok(match expr {
                Expr::Literal(Literal::Int(n)) => Expr::Literal(Literal::Int(-n)),
                Expr::Literal(Literal::Float(n)) => Expr::Literal(Literal::Float(-n)),
                Expr::Literal(Literal::Duration(d)) => Expr::Literal(Literal::Duration(Duration {
                    amount: -d.amount,
                    unit: d.unit,
                })),
                other => Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(other),
                },
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error("expected a value, found the end of the expression"));
        };
        self.pos += 1;
        match token.tok {
            Tok::Int(n) => Ok(match self.duration_unit() {
                Some((unit, factor)) => {
                    let amount = n
                        .checked_mul(factor)
                        .ok_or_else(|| self.error_at(token.column, "duration too large"))?;
                    Expr::Literal(Literal::Duration(Duration { amount, unit }))
                }
                None => Expr::Literal(Literal::Int(n)),
            }),
            Tok::Float(x) => Ok(Expr::Literal(Literal::Float(x))),
            Tok::Text(s) => Ok(Expr::Literal(Literal::Text(s))),
            Tok::Sym("(") => {
                let expr = self.expr()?;
                self.expect_symbol(")")?;
                Ok(expr)
            }
            Tok::Sym(s) => Err(self.error_at(token.column, format!("unexpected `{s}`"))),
            Tok::Word(word) => self.word(word, token.column),
        }
    }

    /// A duration unit after a number, with the factor that turns the number into it.
    fn duration_unit(&mut self) -> Option<(DurationUnit, i64)> {
        let Some(Token {
            tok: Tok::Word(w), ..
        }) = self.peek()
        else {
            return None;
        };
        let unit = match w.to_ascii_lowercase().as_str() {
            "day" | "days" => (DurationUnit::Days, 1),
            "week" | "weeks" => (DurationUnit::Days, 7),
            "month" | "months" => (DurationUnit::Months, 1),
            "year" | "years" => (DurationUnit::Years, 1),
            _ => return None,
        };
        self.pos += 1;
        Some(unit)
    }

    fn word(&mut self, word: String, column: usize) -> Result<Expr> {
        match word.to_ascii_lowercase().as_str() {
            "true" => return Ok(Expr::Literal(Literal::Bool(true))),
            "false" => return Ok(Expr::Literal(Literal::Bool(false))),
            "null" => return Ok(Expr::Literal(Literal::Null)),
            // `DATE '2025-03-31'` is a date; `date` alone is a name (an event's date).
            "date"
                if matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::Text(_),
                        ..
                    })
                ) =>
            {
                let text_column = self.column();
                let Some(Token {
                    tok: Tok::Text(text),
                    ..
                }) = self.peek().cloned()
                else {
                    return Err(
                        self.error("expected a quoted date after DATE, e.g. DATE '2025-03-31'")
                    );
                };
                self.pos += 1;
                let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    self.error_at(text_column, "invalid date: expected 'YYYY-MM-DD'")
                })?;
                return Ok(Expr::Literal(Literal::Date(date)));
            }
            "case" => return self.case(),
            "and" | "or" | "not" | "is" | "in" | "between" | "when" | "then" | "else" | "end" => {
                return Err(self.error_at(column, format!("unexpected keyword `{word}`")));
            }
            _ => {}
        }
        if self.eat_symbol("(") {
            let func = match word.to_ascii_lowercase().as_str() {
                "coalesce" => Function::Coalesce,
                "years_between" => Function::YearsBetween,
                _ => {
                    return Err(self.error_at(
                        column,
                        format!("unknown function `{word}` (known: coalesce, years_between)"),
                    ));
                }
            };
            let args = self.list()?;
            let arity_ok = match func {
                Function::Coalesce => !args.is_empty(),
                Function::YearsBetween => args.len() == 2,
            };
            if !arity_ok {
                return Err(self.error_at(
                    column,
                    format!("wrong number of arguments for {}", func.name()),
                ));
            }
            return Ok(Expr::Call { func, args });
        }
        Ok(Expr::Name(word))
    }

    fn case(&mut self) -> Result<Expr> {
        let mut branches = Vec::new();
        while self.eat_keyword("when") {
            let when = self.expr()?;
            self.expect_keyword("then")?;
            let then = self.expr()?;
            branches.push((when, then));
        }
        if branches.is_empty() {
            return Err(self.error("expected WHEN after CASE"));
        }
        let otherwise = if self.eat_keyword("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_keyword("end")?;
        Ok(Expr::Case {
            branches,
            otherwise,
        })
    }
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Expr> {
        parse(text, &Place::Definition)
    }

    #[test]
    fn precedence_of_and_or_not() {
        let e = p("a or b and not c").unwrap();
        let expected = binary(
            BinaryOp::Or,
            Expr::Name("a".into()),
            binary(
                BinaryOp::And,
                Expr::Name("b".into()),
                Expr::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(Expr::Name("c".into())),
                },
            ),
        );
        assert_eq!(e, expected);
    }

    #[test]
    fn durations_and_dates() {
        let e = p("index_date - 12 months").unwrap();
        assert_eq!(
            e,
            binary(
                BinaryOp::Minus,
                Expr::Name("index_date".into()),
                Expr::Literal(Literal::Duration(Duration {
                    amount: 12,
                    unit: DurationUnit::Months
                }))
            )
        );
        let d = p("DATE '2024-02-29'").unwrap();
        assert_eq!(
            d,
            Expr::Literal(Literal::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()))
        );
    }

    #[test]
    fn errors_carry_the_character_position() {
        let err = p("age >= ").unwrap_err();
        assert!(
            matches!(err, CaasError::ExpressionSyntax { column: 8, .. }),
            "{err}"
        );
        let err = p("age >= 65 65").unwrap_err();
        assert!(
            matches!(err, CaasError::ExpressionSyntax { column: 11, .. }),
            "{err}"
        );
        let err = p("DATE '2023-02-29'").unwrap_err();
        assert!(
            matches!(err, CaasError::ExpressionSyntax { column: 6, .. }),
            "{err}"
        );
        let err = p("x = 'open").unwrap_err();
        assert!(
            matches!(err, CaasError::ExpressionSyntax { column: 5, .. }),
            "{err}"
        );
        let err = p("frobnicate(x)").unwrap_err();
        assert!(
            matches!(err, CaasError::ExpressionSyntax { column: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn case_in_between_is_null() {
        let e =
            p("CASE WHEN x BETWEEN 1 AND 5 THEN 'a' WHEN y NOT IN (1, 2) THEN 'b' ELSE 'c' END")
                .unwrap();
        let Expr::Case {
            branches,
            otherwise,
        } = e
        else {
            panic!("not a case")
        };
        assert_eq!(branches.len(), 2);
        assert!(otherwise.is_some());
        assert!(matches!(
            p("x is not null").unwrap(),
            Expr::IsNull { negated: true, .. }
        ));
    }
}
