//! A recursive-descent parser for the expression language.
//!
//! Precedence, loosest first: `or`; `and`; `not`; comparisons, `IS [NOT] NULL`,
//! `[NOT] IN (...)`, `[NOT] BETWEEN ... AND ...`; `+ -`; `* /`; unary minus. Keywords are
//! case-insensitive; names are case-sensitive.

use chrono::{Datelike, NaiveDate};

use super::{BinaryOp, Duration, DurationUnit, Expr, Function, Literal, UnaryOp};
use crate::error::{CaasError, Place, Result};
use crate::limits::Limits;

/// Parses `text` as an expression; errors name `place` and the character position. The
/// expression may nest as deep as the default [`Limits`] allow; [`parse_with_depth`] sets
/// another limit.
///
/// ```
/// use caas_core::model::expr::{parse, Expr};
/// use caas_core::Place;
/// let expr = parse("age >= 65 and not vaccinated", &Place::Definition).unwrap();
/// assert_eq!(expr.names(), vec!["age", "vaccinated"]);
/// ```
pub fn parse(text: &str, place: &Place) -> Result<Expr> {
    parse_with_depth(text, place, Limits::default().max_expression_depth)
}

/// Parses `text` as an expression whose tree may be at most `max_depth` levels deep; a
/// deeper one is a [`LimitExceeded`](CaasError::LimitExceeded) error.
///
/// Every later step (type checking, display, lowering, DataFusion's planning) walks the
/// tree recursively, so the depth is checked here, as the tree is built, before any of them
/// can run out of stack; the parser's own recursion is bounded by the same limit.
///
/// ```
/// use caas_core::model::expr::parse_with_depth;
/// use caas_core::Place;
/// assert!(parse_with_depth("not not not a", &Place::Definition, 4).is_ok());
/// let err = parse_with_depth("not not not not a", &Place::Definition, 4).unwrap_err();
/// assert_eq!(err.code(), "limit_exceeded");
/// ```
pub fn parse_with_depth(text: &str, place: &Place, max_depth: usize) -> Result<Expr> {
    parse_tokens(text, place, max_depth).map_err(|e| in_context(e, text))
}

/// The words of the expression language, which no variable or parameter may be called.
pub(crate) const KEYWORDS: [&str; 22] = [
    "and", "or", "not", "is", "null", "in", "between", "true", "false", "case", "when", "then",
    "else", "end", "day", "days", "week", "weeks", "month", "months", "year", "years",
];

/// `error`, where it is a syntax error in `text`, with the text and the keyword or
/// function most likely meant by the word at its place (`mnths`: `months`).
fn in_context(error: CaasError, text: &str) -> CaasError {
    let CaasError::ExpressionSyntax {
        place,
        column,
        message,
        line,
        ..
    } = error
    else {
        return error;
    };
    let word: String = (text.chars().skip(column.saturating_sub(1)))
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let words = KEYWORDS
        .into_iter()
        .chain(["date"])
        .chain(Function::ALL.map(Function::name));
    CaasError::ExpressionSyntax {
        place,
        column,
        message,
        expression: text.to_string(),
        line,
        suggestion: crate::error::nearest(&word, words).map(str::to_string),
    }
}

fn parse_tokens(text: &str, place: &Place, max_depth: usize) -> Result<Expr> {
    let tokens = tokenize(text, place)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        place,
        end: text.chars().count() + 1,
        max_depth,
        nesting: 0,
    };
    let (expr, _) = parser.expr()?;
    match parser.peek() {
        None => Ok(expr),
        Some(tok) => Err(parser.error_at(tok.column, "unexpected text after the expression")),
    }
}

/// A parsed expression and the depth of its tree (a name or a constant is 1).
type Parsed = (Expr, usize);

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
        expression: String::new(),
        line: None,
        suggestion: None,
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
    max_depth: usize,
    /// How many brackets, `not`s, signs, calls and `CASE`s the parser is inside: the depth
    /// of its own recursion, which brackets alone can grow without deepening the tree.
    nesting: usize,
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
            expression: String::new(),
            line: None,
            suggestion: None,
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

    /// The depth of a node over children of the given depths, if within the limit.
    fn node_depth(&self, children: impl IntoIterator<Item = usize>) -> Result<usize> {
        let depth = children.into_iter().max().unwrap_or(0) + 1;
        if depth > self.max_depth {
            return Err(Limits::exceeded(
                self.place.clone(),
                "max_expression_depth",
                self.max_depth as u64,
            ));
        }
        Ok(depth)
    }

    /// Runs `f` one level deeper in the parser's recursion, which is bounded before it
    /// recurses (the tree's depth is only known on the way back). The bound is twice the
    /// tree's: a level of an expression as caas prints it takes at most two (`not (`),
    /// so every expression within the limit reads back.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.nesting >= self.max_depth.saturating_mul(2) {
            return Err(Limits::exceeded(
                self.place.clone(),
                "max_expression_depth",
                self.max_depth as u64,
            ));
        }
        self.nesting += 1;
        let out = f(self);
        self.nesting -= 1;
        out
    }

    fn binary(&self, op: BinaryOp, left: Parsed, right: Parsed) -> Result<Parsed> {
        let depth = self.node_depth([left.1, right.1])?;
        Ok((binary(op, left.0, right.0), depth))
    }

    fn expr(&mut self) -> Result<Parsed> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = self.binary(BinaryOp::Or, left, right)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Parsed> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            let right = self.not()?;
            left = self.binary(BinaryOp::And, left, right)?;
        }
        Ok(left)
    }

    #[recursive::recursive]
    fn not(&mut self) -> Result<Parsed> {
        if self.eat_keyword("not") {
            let (expr, depth) = self.nested(Self::not)?;
            let expr = Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(expr),
            };
            return Ok((expr, self.node_depth([depth])?));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Parsed> {
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
                return self.binary(op, left, right);
            }
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null")?;
            let expr = Expr::IsNull {
                expr: Box::new(left.0),
                negated,
            };
            return Ok((expr, self.node_depth([left.1])?));
        }
        let negated = self.is_keyword("not")
            && (self.is_keyword_at(1, "in") || self.is_keyword_at(1, "between"));
        if negated {
            self.pos += 1;
        }
        if self.eat_keyword("in") {
            self.expect_symbol("(")?;
            // `x IN ()` is false, as a codelist-like list of no values should be.
            let (list, depth) = if self.eat_symbol(")") {
                (Vec::new(), 0)
            } else {
                self.list()?
            };
            let expr = Expr::InList {
                expr: Box::new(left.0),
                list,
                negated,
            };
            return Ok((expr, self.node_depth([left.1, depth])?));
        }
        if self.eat_keyword("between") {
            let low = self.additive()?;
            self.expect_keyword("and")?;
            let high = self.additive()?;
            let depth = self.node_depth([left.1, low.1, high.1])?;
            let expr = Expr::Between {
                expr: Box::new(left.0),
                low: Box::new(low.0),
                high: Box::new(high.0),
                negated,
            };
            return Ok((expr, depth));
        }
        Ok(left)
    }

    /// A comma-separated list after `(`, up to and including `)`, and the greatest depth
    /// of its items.
    fn list(&mut self) -> Result<(Vec<Expr>, usize)> {
        self.nested(|p| {
            let (first, mut depth) = p.expr()?;
            let mut items = vec![first];
            while p.eat_symbol(",") {
                let (item, d) = p.expr()?;
                items.push(item);
                depth = depth.max(d);
            }
            p.expect_symbol(")")?;
            Ok((items, depth))
        })
    }

    fn additive(&mut self) -> Result<Parsed> {
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
            left = self.binary(op, left, right)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Parsed> {
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
            left = self.binary(op, left, right)?;
        }
    }

    #[recursive::recursive]
    fn unary(&mut self) -> Result<Parsed> {
        if self.eat_symbol("-") {
            let (expr, depth) = self.nested(Self::unary)?;
            return Ok(match expr {
                Expr::Literal(Literal::Int(n)) => (Expr::Literal(Literal::Int(-n)), depth),
                Expr::Literal(Literal::Float(n)) => (Expr::Literal(Literal::Float(-n)), depth),
                Expr::Literal(Literal::Duration(d)) => {
                    let negated = Duration {
                        amount: -d.amount,
                        unit: d.unit,
                    };
                    (Expr::Literal(Literal::Duration(negated)), depth)
                }
                // `-n months` is `(-n) months`, as `-3 months` is `(-3) months`.
                Expr::Duration { amount, unit } => {
                    let amount = match *amount {
                        Expr::Literal(Literal::Float(x)) => Expr::Literal(Literal::Float(-x)),
                        amount => Expr::Unary {
                            op: UnaryOp::Neg,
                            expr: Box::new(amount),
                        },
                    };
                    let duration = Expr::Duration {
                        amount: Box::new(amount),
                        unit,
                    };
                    (duration, self.node_depth([depth])?)
                }
                other => {
                    let expr = Expr::Unary {
                        op: UnaryOp::Neg,
                        expr: Box::new(other),
                    };
                    (expr, self.node_depth([depth])?)
                }
            });
        }
        let (expr, depth) = self.primary()?;
        // A unit after a value that is not a whole-number literal (whose unit `primary`
        // reads): `n_months months`, `(a + 1) days`.
        let Some((unit, factor)) = self.duration_unit() else {
            return Ok((expr, depth));
        };
        let (amount, depth) = if factor == 1 {
            (expr, depth)
        } else {
            let times = Expr::Binary {
                op: BinaryOp::Multiply,
                left: Box::new(expr),
                right: Box::new(Expr::Literal(Literal::Int(factor))),
            };
            (times, self.node_depth([depth])?)
        };
        let duration = Expr::Duration {
            amount: Box::new(amount),
            unit,
        };
        Ok((duration, self.node_depth([depth])?))
    }

    #[recursive::recursive]
    fn primary(&mut self) -> Result<Parsed> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error("expected a value, found the end of the expression"));
        };
        self.pos += 1;
        let leaf = |expr: Expr| Ok((expr, 1));
        match token.tok {
            Tok::Int(n) => leaf(match self.duration_unit() {
                Some((unit, factor)) => {
                    let amount = n
                        .checked_mul(factor)
                        .ok_or_else(|| self.error_at(token.column, "duration too large"))?;
                    Expr::Literal(Literal::Duration(Duration { amount, unit }))
                }
                None => Expr::Literal(Literal::Int(n)),
            }),
            Tok::Float(x) => leaf(Expr::Literal(Literal::Float(x))),
            Tok::Text(s) => leaf(Expr::Literal(Literal::Text(s))),
            Tok::Sym("(") => self.nested(|p| {
                let expr = p.expr()?;
                p.expect_symbol(")")?;
                Ok(expr)
            }),
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

    fn word(&mut self, word: String, column: usize) -> Result<Parsed> {
        match word.to_ascii_lowercase().as_str() {
            "true" => return Ok((Expr::Literal(Literal::Bool(true)), 1)),
            "false" => return Ok((Expr::Literal(Literal::Bool(false)), 1)),
            "null" => return Ok((Expr::Literal(Literal::Null), 1)),
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
                let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .ok()
                    .filter(|d| (1..=9999).contains(&d.year()))
                    .ok_or_else(|| {
                        self.error_at(
                            text_column,
                            "invalid date: expected 'YYYY-MM-DD', in the years 0001 to 9999",
                        )
                    })?;
                return Ok((Expr::Literal(Literal::Date(date)), 1));
            }
            "case" => return self.nested(Self::case),
            "and" | "or" | "not" | "is" | "in" | "between" | "when" | "then" | "else" | "end" => {
                return Err(self.error_at(column, format!("unexpected keyword `{word}`")));
            }
            _ => {}
        }
        if self.eat_symbol("(") {
            let Some(func) = Function::from_name(&word) else {
                let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
                return Err(self.error_at(
                    column,
                    format!("unknown function `{word}` (known: {})", known.join(", ")),
                ));
            };
            let (args, depth) = self.list()?;
            if !func.takes(args.len()) {
                return Err(self.error_at(
                    column,
                    format!("wrong number of arguments for {}", func.name()),
                ));
            }
            return Ok((Expr::Call { func, args }, self.node_depth([depth])?));
        }
        Ok((Expr::Name(word), 1))
    }

    fn case(&mut self) -> Result<Parsed> {
        let mut branches = Vec::new();
        let mut depth = 0;
        while self.eat_keyword("when") {
            let (when, when_depth) = self.expr()?;
            self.expect_keyword("then")?;
            let (then, then_depth) = self.expr()?;
            branches.push((when, then));
            depth = depth.max(when_depth).max(then_depth);
        }
        if branches.is_empty() {
            return Err(self.error("expected WHEN after CASE"));
        }
        let otherwise = if self.eat_keyword("else") {
            let (otherwise, d) = self.expr()?;
            depth = depth.max(d);
            Some(Box::new(otherwise))
        } else {
            None
        };
        self.expect_keyword("end")?;
        let expr = Expr::Case {
            branches,
            otherwise,
        };
        Ok((expr, self.node_depth([depth])?))
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
    fn every_expression_within_the_depth_limit_reads_back_as_printed() -> Result<()> {
        // Printed, each `not` of a chain is bracketed: `not (not (... x))`. Found by the
        // fuzz target `definition`, when brackets counted against the depth one for one.
        let deepest = p(&format!("{}x", "not ".repeat(199)))?;
        assert_eq!(p(&deepest.to_string())?, deepest);
        let err = p(&format!("{}x{}", "(".repeat(401), ")".repeat(401)));
        assert!(matches!(err, Err(CaasError::LimitExceeded { .. })));
        Ok(())
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
        // An amount that is not a literal: `n months`, negated inside, weeks as days.
        let amount = |amount: Expr, unit| Expr::Duration {
            amount: Box::new(amount),
            unit,
        };
        let n = || Expr::Name("n".into());
        assert_eq!(
            p("dob + n months").unwrap(),
            binary(
                BinaryOp::Plus,
                Expr::Name("dob".into()),
                amount(n(), DurationUnit::Months)
            )
        );
        assert_eq!(
            p("- n years").unwrap(),
            amount(
                Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(n())
                },
                DurationUnit::Years
            )
        );
        assert_eq!(
            p("(n + 1) weeks").unwrap(),
            amount(
                binary(
                    BinaryOp::Multiply,
                    binary(BinaryOp::Plus, n(), Expr::Literal(Literal::Int(1))),
                    Expr::Literal(Literal::Int(7))
                ),
                DurationUnit::Days
            )
        );
        assert_eq!(p("dob + n months").unwrap().to_string(), "dob + (n months)");
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
