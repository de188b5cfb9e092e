//! The definition in plain English: each variable and rule as a sentence a clinician can
//! check against the clinical specification — dates written out ("31 August 2025"),
//! windows, codelists by their description and name, value ranges, conditions, and
//! expressions read as words ("`age` is at least 65", "has a Diabetes code (`diab`) in
//! `gp_events` on or before 31 January 2026 and no later Diabetes resolved code
//! (`dmres`)").
//!
//! A sentence is a list of [`Part`]s — plain text and names — so that each output format
//! (plain text, Markdown, HTML) marks names its own way.

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::Serialize;

use crate::Place;
use crate::model::expr::{
    BinaryOp, DurationUnit, Expr, Function, Literal, Type, UnaryOp, eval_constant,
};
use crate::model::{
    AgeUnit, Aggregation, Cohort, EventSelection, RuleDef, Ties, Value, VariableKind,
};

/// A piece of a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Part {
    /// The text.
    pub text: String,
    /// Whether it is a name (of a variable, codelist, table or column), shown as code.
    pub code: bool,
}

/// A sentence: text and names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Sentence(pub Vec<Part>);

impl Sentence {
    fn text(&mut self, text: impl AsRef<str>) -> &mut Self {
        let text = text.as_ref();
        match self.0.last_mut() {
            Some(last) if !last.code => last.text.push_str(text),
            _ => self.0.push(Part {
                text: text.to_string(),
                code: false,
            }),
        }
        self
    }

    fn code(&mut self, name: impl Into<String>) -> &mut Self {
        self.0.push(Part {
            text: name.into(),
            code: true,
        });
        self
    }

    fn append(&mut self, other: Sentence) -> &mut Self {
        for part in other.0 {
            if part.code {
                self.code(part.text);
            } else {
                self.text(part.text);
            }
        }
        self
    }

    /// Plain text, names in backticks.
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(|p| {
                if p.code {
                    format!("`{}`", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }
}

/// A date as a clinician writes it: `31 August 2025`.
pub(crate) fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        x.to_string()
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(x) => number(*x),
        Value::Date(d) => long_date(*d),
        Value::Text(s) => format!("\"{s}\""),
    }
}

/// `a` or `an` before a word.
fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// How loosely an expression binds, loosest first: what decides where parentheses go.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Binary {
            op: BinaryOp::Or, ..
        } => 1,
        Expr::Binary {
            op: BinaryOp::And, ..
        } => 2,
        Expr::Unary {
            op: UnaryOp::Not, ..
        } => 3,
        Expr::Binary { op, .. } if op.is_comparison() => 4,
        Expr::IsNull { .. } | Expr::InList { .. } | Expr::Between { .. } => 4,
        Expr::Binary {
            op: BinaryOp::Plus | BinaryOp::Minus,
            ..
        } => 5,
        Expr::Binary { .. } | Expr::Duration { .. } => 6,
        Expr::Case { .. } => 0,
        _ => 7,
    }
}

/// Renders a cohort's definition in words.
pub(crate) struct English<'a> {
    cohort: &'a Cohort,
    parameters: &'a IndexMap<String, Value>,
    /// Whether the person table has dates of death (what `alive` means without them).
    deaths: bool,
}

impl<'a> English<'a> {
    /// Sentences for `cohort` with the parameters of a run.
    pub fn new(cohort: &'a Cohort, parameters: &'a IndexMap<String, Value>) -> Self {
        English {
            cohort,
            parameters,
            deaths: true,
        }
    }

    /// The sentences over a person table that has dates of death (`deaths`) or none,
    /// which `alive` then says.
    pub fn with_deaths(self, deaths: bool) -> Self {
        English { deaths, ..self }
    }

    /// What a variable is, e.g. "the date of the latest Diabetes code (`diab`) in
    /// `gp_events` on or before 31 January 2026".
    pub fn variable(&self, name: &str) -> Sentence {
        let mut s = Sentence::default();
        let Some(var) = self.cohort.variable(name) else {
            return s;
        };
        match &var.kind {
            VariableKind::Age { on, unit } => {
                s.text(match unit {
                    AgeUnit::Years => "age in whole years on ",
                    AgeUnit::Months => "age in whole months on ",
                })
                .append(self.expr(on));
            }
            VariableKind::Sex => {
                s.text("sex, from the person table");
            }
            VariableKind::Alive { on } => {
                s.text("alive on ").append(self.expr(on));
                s.text(if self.deaths {
                    ": no date of death on or before that day (birth is not considered)"
                } else {
                    ": the person table has no dates of death, so no one is recorded as dead"
                });
            }
            VariableKind::Registered { table, on } => {
                s.text("registered on ")
                    .append(self.expr(on))
                    .text(": a period in ")
                    .code(table)
                    .text(" covers that day");
            }
            VariableKind::Practice { table, on } => {
                s.text("the practice of the period in ")
                    .code(table)
                    .text(" that covers ")
                    .append(self.expr(on))
                    .text(" (the latest-starting one if several do)");
            }
            VariableKind::PersonColumn { column } => {
                s.text("the ")
                    .code(column)
                    .text(" column of the person table");
            }
            VariableKind::Events(ev) => {
                s.append(self.events(ev));
            }
            VariableKind::Derived { expr } => match expr {
                Expr::Name(n) if !self.parameters.contains_key(n) => {
                    s.text("the same as ").code(n);
                }
                _ if var.data_type == Type::Bool => {
                    s.text("true when ").append(self.expr(expr));
                }
                _ => {
                    s.append(self.expr(expr));
                }
            },
            VariableKind::MemberOf { cohort } => {
                s.text("a member of the cohort ").code(cohort);
            }
        }
        s
    }

    /// What a rule does, e.g. "keep only people for whom `age` is at least 65".
    pub fn rule(&self, rule: &RuleDef) -> Sentence {
        let mut s = Sentence::default();
        s.text(if rule.exclude {
            "remove people for whom "
        } else {
            "keep only people for whom "
        })
        .append(self.top(&rule.expr));
        s
    }

    /// An expression at the top of a sentence: a lone boolean name reads "`x` is true".
    fn top(&self, expr: &Expr) -> Sentence {
        let mut s = Sentence::default();
        match expr {
            Expr::Name(n) if !self.parameters.contains_key(n) => {
                s.code(n).text(" is true");
            }
            Expr::Unary {
                op: UnaryOp::Not,
                expr: inner,
            } if matches!(inner.as_ref(), Expr::Name(n) if !self.parameters.contains_key(n)) => {
                s.append(self.expr(inner)).text(" is false");
            }
            _ => {
                s.append(self.expr(expr));
            }
        }
        s
    }

    /// The phrase of an event variable.
    fn events(&self, ev: &EventSelection) -> Sentence {
        let mut s = Sentence::default();
        let (lead, plural) = match ev.returns {
            Aggregation::Exists => ("has ", false),
            Aggregation::Count => ("the number of ", true),
            Aggregation::FirstDate => ("the date of the earliest ", false),
            Aggregation::LastDate => ("the date of the latest ", false),
            Aggregation::FirstValue => ("the value of the earliest ", false),
            Aggregation::LastValue => ("the value of the latest ", false),
            Aggregation::FirstCode => ("the code of the earliest ", false),
            Aggregation::LastCode => ("the code of the latest ", false),
            Aggregation::MinValue => ("the smallest value of the ", true),
            Aggregation::MaxValue => ("the largest value of the ", true),
            Aggregation::Sum => ("the sum of the values of the ", true),
            Aggregation::Mean => ("the mean value of the ", true),
            Aggregation::CountDistinctCodes => ("the number of different codes among the ", true),
            Aggregation::CountDistinctDates => ("the number of different dates of the ", true),
            Aggregation::CountEpisodes => ("the number of episodes of ", true),
        };
        match (&ev.column, ev.returns) {
            (Some(column), Aggregation::FirstValue) => {
                s.text("the ").code(column).text(" of the earliest ");
            }
            (Some(column), _) => {
                s.text("the ").code(column).text(" of the latest ");
            }
            (None, _) => {
                s.text(lead);
            }
        }
        let codes = self.codes(ev, ev.returns == Aggregation::Exists, plural);
        s.append(codes).append(self.selection(ev));
        if let Some(days) = ev.gap_days {
            let unit = if days == 1 { "day" } else { "days" };
            s.text(format!(
                ", a new episode starting {days} {unit} or more after the previous event"
            ));
        }
        s
    }

    /// "a Diabetes code (`diab`)", "Diabetes codes (`diab`)", "an event", ...
    fn codes(&self, ev: &EventSelection, with_article: bool, plural: bool) -> Sentence {
        let mut s = Sentence::default();
        let noun = if plural { "codes" } else { "code" };
        let described = |name: &str| {
            self.cohort
                .definition()
                .codelists
                .get(name)
                .and_then(|c| c.description.clone())
        };
        match ev.codelists.as_slice() {
            [] => {
                s.text(match (with_article, plural) {
                    (_, true) => "events",
                    (true, false) => "an event",
                    (false, false) => "event",
                });
            }
            [one] => {
                let words = described(one);
                let first = words.as_deref().unwrap_or(one);
                if with_article {
                    s.text(article(first)).text(" ");
                }
                match &words {
                    Some(w) => s.text(format!("{w} {noun} (")).code(one).text(")"),
                    None => s.code(one).text(format!(" {noun}")),
                };
            }
            many => {
                if with_article {
                    s.text("a ");
                }
                s.text(format!("{noun} in "));
                for (i, list) in many.iter().enumerate() {
                    if i > 0 {
                        s.text(if i + 1 == many.len() { " or " } else { ", " });
                    }
                    match described(list) {
                        Some(w) => s.text(format!("{w} (")).code(list).text(")"),
                        None => s.code(list),
                    };
                }
            }
        }
        s
    }

    /// " in `table` on or before 31 January 2026 with a value between 10 and 100 where ..."
    fn selection(&self, ev: &EventSelection) -> Sentence {
        let mut s = Sentence::default();
        s.text(" in ").code(&ev.table).append(self.window(ev));
        match (ev.min_value, ev.max_value) {
            (Some(lo), Some(hi)) => {
                s.text(format!(
                    " with a value between {} and {}",
                    number(lo),
                    number(hi)
                ));
            }
            (Some(lo), None) => {
                s.text(format!(" with a value of at least {}", number(lo)));
            }
            (None, Some(hi)) => {
                s.text(format!(" with a value of at most {}", number(hi)));
            }
            (None, None) => {}
        }
        if let Some(condition) = &ev.condition {
            s.text(" where ").append(self.expr(condition));
        }
        if !ev.order_by.is_empty() {
            s.text(" (of several on that date, the ");
            s.text(if ev.returns.is_last() {
                "greatest"
            } else {
                "smallest"
            });
            s.text(" by ");
            for (i, column) in ev.order_by.iter().enumerate() {
                if i > 0 {
                    s.text(if i + 1 == ev.order_by.len() {
                        " then "
                    } else {
                        ", "
                    });
                }
                s.code(column);
            }
            s.text(")");
        }
        match ev.ties {
            Ties::Code => {}
            Ties::MaxValue => {
                s.text(" (of several on that date, the one with the largest value)");
            }
            Ties::MinValue => {
                s.text(" (of several on that date, the one with the smallest value)");
            }
        }
        s
    }

    /// "a, b and c": the operands, the last two joined by `last`.
    fn listing(&self, items: &[Expr], last: &str) -> Sentence {
        let mut s = Sentence::default();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                s.text(if i + 1 == items.len() { last } else { ", " });
            }
            s.append(self.operand(item, 5));
        }
        s
    }

    fn window(&self, ev: &EventSelection) -> Sentence {
        let mut s = Sentence::default();
        match (&ev.from, &ev.to) {
            (Some(from), Some(to)) => {
                s.text(" between ")
                    .append(self.expr(from))
                    .text(" and ")
                    .append(self.expr(to));
            }
            (Some(from), None) => {
                s.text(" on or after ").append(self.expr(from));
            }
            (None, Some(to)) => {
                s.text(" on or before ").append(self.expr(to));
            }
            (None, None) => {
                s.text(" at any time");
            }
        }
        s
    }

    fn event_variable(&self, expr: &Expr) -> Option<(&'a str, &'a EventSelection)> {
        let Expr::Name(name) = expr else {
            return None;
        };
        match &self.cohort.variable(name)?.kind {
            VariableKind::Events(ev) => Some((self.cohort.variable(name)?.name.as_str(), ev)),
            _ => None,
        }
    }

    fn type_of(&self, expr: &Expr) -> Type {
        let resolve = |n: &str| {
            self.cohort
                .variable(n)
                .map(|v| match &v.kind {
                    VariableKind::PersonColumn { column }
                        if matches!(column.as_str(), "date_of_birth" | "date_of_death") =>
                    {
                        Type::Date
                    }
                    _ => v.data_type,
                })
                .or_else(|| self.parameters.get(n).map(Value::data_type))
        };
        crate::model::expr::infer_type(expr, &resolve, &Place::Definition).unwrap_or(Type::Any)
    }

    /// A constant (parameters and literals only), computed: dates come out as dates.
    fn constant(&self, expr: &Expr) -> Option<Value> {
        if matches!(expr, Expr::Literal(_)) {
            return None;
        }
        if expr
            .names()
            .iter()
            .any(|n| !self.parameters.contains_key(*n))
        {
            return None;
        }
        eval_constant(expr, self.parameters, &Place::Definition)
            .ok()
            .flatten()
    }

    /// An expression in words.
    #[recursive::recursive]
    pub fn expr(&self, expr: &Expr) -> Sentence {
        let mut s = Sentence::default();
        if let Some(value) = self.constant(expr) {
            s.text(value_text(&value));
            return s;
        }
        if let Some(pattern) = self.pattern(expr) {
            return pattern;
        }
        match expr {
            Expr::Literal(l) => {
                s.text(match l {
                    Literal::Null => "unknown".to_string(),
                    Literal::Bool(b) => b.to_string(),
                    Literal::Int(n) => n.to_string(),
                    Literal::Float(x) => number(*x),
                    Literal::Text(t) => format!("\"{t}\""),
                    Literal::Date(d) => long_date(*d),
                    Literal::Duration(d) => {
                        let (one, many) = match d.unit {
                            DurationUnit::Days => ("day", "days"),
                            DurationUnit::Months => ("month", "months"),
                            DurationUnit::Years => ("year", "years"),
                        };
                        let n = d.amount.abs();
                        format!("{n} {}", if n == 1 { one } else { many })
                    }
                });
            }
            Expr::Duration { amount, unit } => {
                s.append(self.operand(amount, 7))
                    .text(format!(" {}", unit.plural()));
            }
            Expr::Name(n) => match self.parameters.get(n) {
                Some(v) => {
                    s.text(value_text(v));
                }
                None => {
                    s.code(n);
                }
            },
            Expr::Unary { op, expr: inner } => {
                s.text(match op {
                    UnaryOp::Not => "not ",
                    UnaryOp::Neg => "minus ",
                });
                s.append(self.operand(inner, 4));
            }
            Expr::Binary { op, left, right } => {
                s.append(self.binary(*op, left, right));
            }
            Expr::IsNull {
                expr: inner,
                negated,
            } => {
                s.append(self.operand(inner, 5)).text(if *negated {
                    " is not missing"
                } else {
                    " is missing"
                });
            }
            Expr::InList {
                expr: inner,
                list,
                negated,
            } => {
                s.append(self.operand(inner, 5)).text(if *negated {
                    " is none of "
                } else {
                    " is one of "
                });
                s.append(self.listing(list, " or "));
            }
            Expr::Between {
                expr: inner,
                low,
                high,
                negated,
            } => {
                s.append(self.operand(inner, 5))
                    .text(if *negated {
                        " is not between "
                    } else {
                        " is between "
                    })
                    .append(self.operand(low, 5))
                    .text(" and ")
                    .append(self.operand(high, 5));
            }
            Expr::Call { func, args } => match func {
                Function::Coalesce => {
                    for (i, arg) in args.iter().enumerate() {
                        if i == 0 {
                            s.append(self.operand(arg, 5));
                        } else {
                            s.text(" (if missing: ").append(self.expr(arg)).text(")");
                        }
                    }
                }
                Function::Between(unit) => {
                    s.text(match unit {
                        DurationUnit::Years => "the whole years from ",
                        DurationUnit::Months => "the whole months from ",
                        DurationUnit::Days => "the days from ",
                    });
                    if let [from, to] = args.as_slice() {
                        s.append(self.operand(from, 5))
                            .text(" to ")
                            .append(self.operand(to, 5));
                    }
                }
                Function::Extreme { greatest } => {
                    s.text(if *greatest {
                        "the greatest (the latest date, or the largest number) of "
                    } else {
                        "the least (the earliest date, or the smallest number) of "
                    });
                    s.append(self.listing(args, " and "))
                        .text(", ignoring missing ones");
                }
                Function::Part(unit) => {
                    s.text(match unit {
                        DurationUnit::Years => "the year of ",
                        DurationUnit::Months => "the month (1 to 12) of ",
                        DurationUnit::Days => "the day of the month of ",
                    });
                    for arg in args {
                        s.append(self.operand(arg, 7));
                    }
                }
                Function::FirstOf { year } => {
                    s.text(if *year {
                        "the first day of the year of "
                    } else {
                        "the first day of the month of "
                    });
                    for arg in args {
                        s.append(self.operand(arg, 7));
                    }
                }
                Function::Abs => {
                    s.text("the absolute value of ");
                    for arg in args {
                        s.append(self.operand(arg, 7));
                    }
                }
                Function::Div => {
                    if let [dividend, divisor] = args.as_slice() {
                        s.append(self.operand(dividend, 7))
                            .text(" divided by ")
                            .append(self.operand(divisor, 7))
                            .text(", as a whole number rounded toward zero");
                    }
                }
                Function::Cast(to) => {
                    let (before, after) = match to {
                        Type::Int => ("the whole number (rounded toward zero; true is 1) of ", ""),
                        Type::Float => ("the decimal number (true is 1) of ", ""),
                        _ => ("", " is neither zero nor false"),
                    };
                    s.text(before);
                    for arg in args {
                        s.append(self.operand(arg, 7));
                    }
                    s.text(after);
                }
            },
            Expr::Case {
                branches,
                otherwise,
            } => {
                for (i, (when, then)) in branches.iter().enumerate() {
                    if i > 0 {
                        s.text("; ");
                    }
                    s.append(self.expr(then))
                        .text(" if ")
                        .append(self.expr(when));
                }
                s.text("; otherwise ");
                match otherwise {
                    Some(e) => s.append(self.expr(e)),
                    None => s.text("unknown"),
                };
            }
        }
        s
    }

    /// An operand that needs parentheses when it binds more loosely than `min`.
    fn operand(&self, expr: &Expr, min: u8) -> Sentence {
        let inner = self.expr(expr);
        if self.binding(expr) < min {
            let mut s = Sentence::default();
            s.text("(").append(inner).text(")");
            s
        } else {
            inner
        }
    }

    /// How loosely an expression binds as it reads: a constant is one word, an idiom
    /// ("the person has ... and no later ...") reads as an `and`.
    fn binding(&self, expr: &Expr) -> u8 {
        if self.constant(expr).is_some() {
            return 7;
        }
        match expr {
            Expr::Call {
                func: Function::Coalesce,
                args,
            } if self.pattern(expr).is_some() => args.first().map_or(7, |e| self.binding(e)),
            _ if self.pattern(expr).is_some() => 2,
            _ => precedence(expr),
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Sentence {
        let mut s = Sentence::default();
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let word = if op == BinaryOp::And { " and " } else { " or " };
                // A chain of one operator reads without parentheses; a mix gets them.
                let side = |e: &Expr| match e {
                    Expr::Binary { op: o, .. } if *o == op => self.expr(e),
                    _ => self.operand(e, 3),
                };
                s.append(side(left)).text(word).append(side(right));
            }
            _ if op.is_comparison() => {
                let dates = self.type_of(left) == Type::Date || self.type_of(right) == Type::Date;
                let phrase = match (op, dates) {
                    (BinaryOp::Lt, true) => "is before",
                    (BinaryOp::LtEq, true) => "is on or before",
                    (BinaryOp::Gt, true) => "is after",
                    (BinaryOp::GtEq, true) => "is on or after",
                    (BinaryOp::Lt, false) => "is less than",
                    (BinaryOp::LtEq, false) => "is at most",
                    (BinaryOp::Gt, false) => "is more than",
                    (BinaryOp::GtEq, false) => "is at least",
                    (BinaryOp::NotEq, _) => "is not",
                    _ => "is",
                };
                s.append(self.comparand(left))
                    .text(format!(" {phrase} "))
                    .append(self.comparand(right));
            }
            BinaryOp::Plus | BinaryOp::Minus
                if matches!(
                    right,
                    Expr::Literal(Literal::Duration(_)) | Expr::Duration { .. }
                ) =>
            {
                // An amount that is not constant reads as the operator says ("`n` months
                // before the index date"), whatever its sign.
                let forward = match right {
                    Expr::Literal(Literal::Duration(d)) => d.amount >= 0,
                    _ => true,
                };
                let before = (op == BinaryOp::Minus) == forward;
                s.append(self.expr(right))
                    .text(if before { " before " } else { " after " })
                    .append(self.operand(left, 6));
            }
            BinaryOp::Minus
                if self.type_of(left) == Type::Date && self.type_of(right) == Type::Date =>
            {
                s.text("the days from ")
                    .append(self.operand(right, 6))
                    .text(" to ")
                    .append(self.operand(left, 6));
            }
            _ => {
                let symbol = match op {
                    BinaryOp::Plus => " + ",
                    BinaryOp::Minus => " − ",
                    BinaryOp::Multiply => " × ",
                    _ => " ÷ ",
                };
                let own = if matches!(op, BinaryOp::Plus | BinaryOp::Minus) {
                    5
                } else {
                    6
                };
                // `a - (b - c)` and `a / (b / c)` keep their parentheses.
                let right_min = own + u8::from(matches!(op, BinaryOp::Minus | BinaryOp::Divide));
                s.append(self.operand(left, own))
                    .text(symbol)
                    .append(self.operand(right, right_min));
            }
        }
        s
    }

    /// A side of a comparison: an event date or value reads as what it is ("the latest
    /// Diabetes code (`diab_dat`)").
    fn comparand(&self, expr: &Expr) -> Sentence {
        let Some((name, ev)) = self.event_variable(expr) else {
            return self.operand(expr, 5);
        };
        let (lead, noun) = match ev.returns {
            Aggregation::FirstDate => ("the earliest ", "code"),
            Aggregation::LastDate => ("the latest ", "code"),
            Aggregation::FirstValue => ("the earliest ", "value"),
            Aggregation::LastValue => ("the latest ", "value"),
            Aggregation::MinValue => ("the smallest ", "value"),
            Aggregation::MaxValue => ("the largest ", "value"),
            _ => return self.operand(expr, 5),
        };
        let mut s = Sentence::default();
        s.text(lead);
        if ev.codelists.len() > 1 {
            // Descriptions joined with "or" could read as one ("Pregnancy or delivery").
            s.code(name).text(format!(" {noun} (codelists "));
            for (i, list) in ev.codelists.iter().enumerate() {
                if i > 0 {
                    s.text(", ");
                }
                s.code(list);
            }
            s.text(")");
        } else {
            s.append(self.list_names(ev))
                .text(format!(" {noun} ("))
                .code(name)
                .text(")");
        }
        s
    }

    /// The codelists of an event variable by description ("Diabetes", "Pregnancy or
    /// Pregnancy or delivery"), or "event" without codelists.
    fn list_names(&self, ev: &EventSelection) -> Sentence {
        let mut s = Sentence::default();
        if ev.codelists.is_empty() {
            s.text("event");
        }
        for (i, list) in ev.codelists.iter().enumerate() {
            if i > 0 {
                s.text(" or ");
            }
            match self
                .cohort
                .definition()
                .codelists
                .get(list)
                .and_then(|c| c.description.clone())
            {
                Some(words) => s.text(words),
                None => s.code(list),
            };
        }
        s
    }

    /// Idioms of clinical rules read as one phrase:
    ///
    /// - `coalesce(x, false)` around a comparison reads as the comparison (a missing date
    ///   makes it false, which is how the comparison reads anyway);
    /// - `a >= coalesce(b, DATE '1900-01-01')`, `a` and `b` latest dates of codes, reads
    ///   "the person has an A code (`a`) ... and no later B code (`b`)"; with `>`, "and no
    ///   B code (`b`) on or after it".
    fn pattern(&self, expr: &Expr) -> Option<Sentence> {
        match expr {
            Expr::Call {
                func: Function::Coalesce,
                args,
            } => match args.as_slice() {
                [inner, Expr::Literal(Literal::Bool(false))] if reads_false_when_missing(inner) => {
                    Some(self.expr(inner))
                }
                _ => None,
            },
            Expr::Binary {
                op: op @ (BinaryOp::GtEq | BinaryOp::Gt),
                left,
                right,
            } => {
                let (a_name, a) = self.event_variable(left)?;
                let Expr::Call {
                    func: Function::Coalesce,
                    args,
                } = right.as_ref()
                else {
                    return None;
                };
                let [b_expr, fallback] = args.as_slice() else {
                    return None;
                };
                let (b_name, b) = self.event_variable(b_expr)?;
                let earliest = NaiveDate::from_ymd_opt(1900, 1, 1)?;
                let fallback_is_early = match fallback {
                    Expr::Literal(Literal::Date(d)) => *d <= earliest,
                    other => matches!(self.constant(other), Some(Value::Date(d)) if d <= earliest),
                };
                if a.returns != Aggregation::LastDate
                    || b.returns != Aggregation::LastDate
                    || !fallback_is_early
                {
                    return None;
                }
                let mut s = Sentence::default();
                let a_words = self.list_names(a);
                let first_word = a_words.0.first().map_or("", |p| p.text.as_str());
                s.text(format!("the person has {} ", article(first_word)));
                s.append(a_words).text(" code (").code(a_name).text(")");
                let a_window = self.window(a);
                s.text(" in ").code(&a.table).append(a_window.clone());
                let mut b_codes = self.list_names(b);
                b_codes.text(" code");
                let b_where = {
                    let mut w = Sentence::default();
                    if b.table != a.table {
                        w.text(" in ").code(&b.table);
                    }
                    let b_window = self.window(b);
                    if b_window != a_window {
                        w.append(b_window);
                    }
                    w
                };
                if *op == BinaryOp::GtEq {
                    s.text(" and no later ")
                        .append(b_codes)
                        .text(" (")
                        .code(b_name)
                        .text(")")
                        .append(b_where);
                } else {
                    s.text(" and no ")
                        .append(b_codes)
                        .text(" (")
                        .code(b_name)
                        .text(")")
                        .append(b_where)
                        .text(" on or after it");
                }
                Some(s)
            }
            _ => None,
        }
    }
}

/// Whether an expression reads as false, in words, when a value in it is missing: a
/// comparison ("the latest X is on or after the latest Y" is not the case without a Y).
#[recursive::recursive]
fn reads_false_when_missing(expr: &Expr) -> bool {
    match expr {
        Expr::Binary {
            op: BinaryOp::And | BinaryOp::Or,
            left,
            right,
        } => reads_false_when_missing(left) && reads_false_when_missing(right),
        Expr::Binary { op, .. } => op.is_comparison(),
        Expr::Between { negated, .. } => !negated,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFINITION: &str = r#"
id: words
title: Sentences
purpose: research
parameters: { index_date: 2025-03-31, threshold: 40, region_name: North }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"], description: Asthma }
  copd: { system: snomed_ct, codes: ["13645005"] }
  bmi: { system: snomed_ct, codes: ["60621009"], description: Body mass index }
variables:
  sex: { kind: sex }
  region: { kind: person_column, column: region }
  dob: { kind: person_column, column: date_of_birth }
  age: { kind: age, on: index_date - 1 year }
  other: { kind: member_of, cohort: adults }
  any_event: { kind: events, table: gp, returns: exists }
  either: { kind: events, table: gp, codelists: [asthma, copd], from: index_date - 2 years, returns: exists }
  copd_count: { kind: events, table: gp, codelists: [copd], to: index_date, returns: count }
  first_asthma: { kind: events, table: gp, codelists: [asthma], returns: first_code }
  bmi_low: { kind: events, table: gp, codelists: [bmi], min_value: 12.5, returns: min_value }
  bmi_high: { kind: events, table: gp, codelists: [bmi], max_value: 90, where: "source in ('gp', 'hospital')", returns: max_value }
  bmi_date: { kind: events, table: gp, codelists: [bmi], returns: last_date }
  band: { kind: derived, expr: "CASE WHEN age < 18 THEN 'child' WHEN age < 65 THEN 'adult' END" }
  whole_years: { kind: derived, expr: "years_between(dob, coalesce(bmi_date, index_date))" }
  day_count: { kind: derived, expr: "index_date - bmi_date" }
  sum: { kind: derived, expr: "(age - 1) - (2 - age) * 3 / -age" }
  flags: { kind: derived, expr: "not (any_event or either) and sex not in ('F', 'M') and region = region_name" }
  heavy: { kind: derived, expr: "bmi_high >= threshold and bmi_date > DATE '2020-02-29' + 1 day" }
  off_by: { kind: derived, expr: "abs(copd_count - 3)" }
  pairs: { kind: derived, expr: "div(copd_count, 2)" }
  casts: { kind: derived, expr: "decimal(any_event) + integer(bmi_low)" }
  any_copd: { kind: derived, expr: "boolean(copd_count)" }
  review: { kind: derived, expr: "bmi_date + (copd_count + 1) months" }
  exacerbations: { kind: events, table: gp, codelists: [copd], returns: count_episodes, gap_days: 14 }
  practice_of_latest: { kind: events, table: gp, codelists: [bmi], returns: last_value, column: practice, order_by: [date, value, practice] }
  after_bmi: { kind: events, table: gp, codelists: [copd], from: bmi_date, to: bmi_date + 28 days, returns: exists }
rules:
  - { name: not other, exclude: "not other" }
  - { name: unknown sex, exclude: "sex is null or age not between 0 and 120" }
"#;

    fn sentences() -> IndexMap<String, String> {
        let cohort = Cohort::from_yaml_str(DEFINITION).unwrap();
        let english = English::new(&cohort, cohort.parameter_defaults());
        let mut out: IndexMap<String, String> = cohort
            .definition()
            .variables
            .keys()
            .map(|n| (n.clone(), english.variable(n).plain()))
            .collect();
        for rule in cohort.rules() {
            out.insert(rule.name.clone(), english.rule(rule).plain());
        }
        out
    }

    #[test]
    fn every_kind_of_variable_and_expression_in_words() {
        let s = sentences();
        let expected = [
            ("sex", "sex, from the person table"),
            ("region", "the `region` column of the person table"),
            ("age", "age in whole years on 31 March 2024"),
            ("other", "a member of the cohort `adults`"),
            ("any_event", "has an event in `gp` at any time"),
            (
                "either",
                "has a code in Asthma (`asthma`) or `copd` in `gp` on or after 31 March 2023",
            ),
            (
                "copd_count",
                "the number of `copd` codes in `gp` on or before 31 March 2025",
            ),
            (
                "first_asthma",
                "the code of the earliest Asthma code (`asthma`) in `gp` at any time",
            ),
            (
                "bmi_low",
                "the smallest value of the Body mass index codes (`bmi`) in `gp` at any time with a value of at least 12.5",
            ),
            (
                "bmi_high",
                "the largest value of the Body mass index codes (`bmi`) in `gp` at any time with a value of at most 90 where `source` is one of \"gp\" or \"hospital\"",
            ),
            (
                "band",
                "\"child\" if `age` is less than 18; \"adult\" if `age` is less than 65; otherwise unknown",
            ),
            (
                "whole_years",
                "the whole years from `dob` to `bmi_date` (if missing: 31 March 2025)",
            ),
            ("day_count", "the days from `bmi_date` to 31 March 2025"),
            ("sum", "`age` − 1 − (2 − `age`) × 3 ÷ minus `age`"),
            (
                "flags",
                "true when not (`any_event` or `either`) and `sex` is none of \"F\" or \"M\" and `region` is \"North\"",
            ),
            (
                "heavy",
                "true when the largest Body mass index value (`bmi_high`) is at least 40 and the latest Body mass index code (`bmi_date`) is after 1 March 2020",
            ),
            ("off_by", "the absolute value of (`copd_count` − 3)"),
            (
                "pairs",
                "`copd_count` divided by 2, as a whole number rounded toward zero",
            ),
            (
                "casts",
                "the decimal number (true is 1) of `any_event` + the whole number (rounded toward zero; true is 1) of `bmi_low`",
            ),
            (
                "any_copd",
                "true when `copd_count` is neither zero nor false",
            ),
            ("review", "(`copd_count` + 1) months after `bmi_date`"),
            (
                "exacerbations",
                "the number of episodes of `copd` codes in `gp` at any time, a new episode starting 14 days or more after the previous event",
            ),
            (
                "practice_of_latest",
                "the `practice` of the latest Body mass index code (`bmi`) in `gp` at any time (of several on that date, the greatest by `value` then `practice`)",
            ),
            (
                "after_bmi",
                "has a `copd` code in `gp` between `bmi_date` and 28 days after `bmi_date`",
            ),
            ("not other", "remove people for whom `other` is false"),
            (
                "unknown sex",
                "remove people for whom `sex` is missing or `age` is not between 0 and 120",
            ),
        ];
        for (name, sentence) in expected {
            assert_eq!(s[name], sentence, "`{name}`");
        }
    }

    #[test]
    fn the_idiom_needs_latest_dates_and_an_early_fallback() {
        let cohort = Cohort::from_yaml_str(
            r#"
id: idiom
title: T
purpose: research
parameters: { index_date: 2025-03-31 }
codelists:
  diab: { system: snomed_ct, codes: ["1"], description: Diabetes }
  res: { system: snomed_ct, codes: ["2"], description: Diabetes resolved }
variables:
  diab_dat: { kind: events, table: gp, codelists: [diab], to: index_date, returns: last_date }
  res_dat: { kind: events, table: gp, codelists: [res], returns: last_date }
  res_first: { kind: events, table: gp, codelists: [res], returns: first_date }
  a: { kind: derived, expr: "diab_dat >= coalesce(res_dat, DATE '1900-01-01')" }
  b: { kind: derived, expr: "diab_dat > coalesce(res_dat, DATE '1800-01-01')" }
  c: { kind: derived, expr: "diab_dat >= coalesce(res_dat, DATE '2000-01-01')" }
  d: { kind: derived, expr: "diab_dat >= coalesce(res_first, DATE '1900-01-01')" }
"#,
        )
        .unwrap();
        let english = English::new(&cohort, cohort.parameter_defaults());
        let s = |n: &str| english.variable(n).plain();
        assert_eq!(
            s("a"),
            "true when the person has a Diabetes code (`diab_dat`) in `gp` on or before 31 March 2025 and no later Diabetes resolved code (`res_dat`) at any time"
        );
        assert_eq!(
            s("b"),
            "true when the person has a Diabetes code (`diab_dat`) in `gp` on or before 31 March 2025 and no Diabetes resolved code (`res_dat`) at any time on or after it"
        );
        // A late fallback date or an earliest date does not mean "no later code".
        assert_eq!(
            s("c"),
            "true when the latest Diabetes code (`diab_dat`) is on or after `res_dat` (if missing: 1 January 2000)"
        );
        assert_eq!(
            s("d"),
            "true when the latest Diabetes code (`diab_dat`) is on or after `res_first` (if missing: 1 January 1900)"
        );
    }
}
