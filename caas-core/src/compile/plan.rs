//! The backend-neutral cohort plan: what a cohort computes over the registered tables, as
//! plain data. The compiler builds it (checking the definition against the tables on the
//! way); each backend lowers it — DataFusion in-process today, SQL dialects next — so that
//! the semantics are decided once, here.
//!
//! The plan has one row per person of the person table. Its steps, in order:
//!
//! 1. [`PersonStep`]: the person table's canonical columns and, when the purpose applies
//!    opt-outs, the removal of people with one;
//! 2. per event table **one** [`EventScan`]: the events brought to one code per row, joined
//!    once to the code table of (code, variable index) pairs, grouped by person with one
//!    [`Measure`] per variable; per period table one [`PeriodScan`] likewise;
//! 3. the [`Membership`]s of other cohorts, each with its own plan;
//! 4. the variables in dependency layers ([`VariableStep`]): each layer uses only the
//!    columns of the layers before it and of the steps above. Event variables whose window
//!    or `where` reads the person's own variables are measured by a later scan of their
//!    table ([`EventScan::after`]): its events carry those variables, and its aggregates
//!    join the persons just before the layer that needs them;
//! 5. the rules in order ([`RuleStep`]), each a pass column.
//!
//! Column names are part of the contract: the person table's canonical column `x` is
//! `__p_x`, a measure's value is its [`Measure::column`], a variable's value is its name,
//! and a rule's pass column is [`rule_column`](super::rule_column).

use std::fmt;

use chrono::NaiveDate;
use indexmap::IndexMap;

use crate::codelist::CodeSystem;
use crate::error::Place;
use crate::model::expr::{DurationUnit, Expr, Type};
use crate::model::{Aggregation, Ties, Value};
use crate::source::CodeLayout;

/// The plan of one cohort with bound parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPlan {
    /// The cohort's id.
    pub cohort: String,
    /// The parameters, bound: names in expressions that are not columns are these.
    pub parameters: IndexMap<String, Value>,
    /// The persons.
    pub person: PersonStep,
    /// One scan per event table and stage ([`EventScan::after`]), in the order the
    /// variables first read them.
    pub events: Vec<EventScan>,
    /// One scan per period table, in the order the variables first read them.
    pub periods: Vec<PeriodScan>,
    /// The memberships of other cohorts, in the order of the variables.
    pub memberships: Vec<Membership>,
    /// The type of every variable.
    pub types: IndexMap<String, Type>,
    /// The variables in layers: each uses only variables of earlier layers.
    pub layers: Vec<Vec<VariableStep>>,
    /// The rules, in order.
    pub rules: Vec<RuleStep>,
    /// The checks of arithmetic, one per derived variable and rule that divides or does
    /// whole-number arithmetic or moves dates: the variables each after those it uses,
    /// then the rules.
    pub arithmetic: Vec<ArithmeticCheck>,
    /// The variable columns of the result after `person_id` (every variable, in the
    /// definition's order), before the rule columns.
    pub columns: Vec<String>,
}

/// The type of the person ids, in which the ids of every table are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// 64-bit integers.
    Integer,
    /// Text.
    Text,
}

/// The person table and the opt-out step.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonStep {
    /// The person table's name.
    pub table: String,
    /// The type of its ids.
    pub id: IdType,
    /// Its columns other than the id, by canonical name.
    pub columns: Vec<PersonColumn>,
    /// The canonical flag columns (`national_opt_out`, `type1_opt_out`) when the purpose
    /// removes people with either opt-out (a null flag is no opt-out); `None` otherwise.
    pub opt_out: Option<Vec<String>>,
}

/// A column of the person table.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonColumn {
    /// The canonical name (`date_of_birth`, `sex`, or the column's own name).
    pub canonical: String,
    /// The column in the table.
    pub source: String,
    /// Its caas type.
    pub column_type: Type,
    /// Whether the column is converted to a date (birth and death dates).
    pub as_date: bool,
}

/// How the codes of an event table are compared to codelist codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// Equal codes.
    Exact,
    /// The normalised code starts with a codelist code (ICD-10, OPCS-4).
    Prefix,
}

/// How a column of the events is converted when brought to canonical columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Kept as it is.
    AsIs,
    /// To a date (`date`, `end_date`).
    Date,
    /// To a decimal (`value`).
    Decimal,
}

/// A column of the events besides `person_id` and `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventColumn {
    /// Its canonical name (`date`, `value`, ..., or the column's own name).
    pub name: String,
    /// The column in the table.
    pub source: String,
    /// The conversion to the canonical column.
    pub conversion: Conversion,
    /// Its caas type after conversion, if expressions can use it.
    pub column_type: Option<Type>,
}

/// One scan of an event table for all the variables that read it at one stage.
///
/// The events are brought to one row per code (`primary_only` keeps only the first),
/// events without a code or a date dropped. The variables with codelists are served by
/// the rows joined to `code_table`, grouped by person; those without, by the rows
/// themselves, grouped by person.
#[derive(Debug, Clone, PartialEq)]
pub struct EventScan {
    /// The table's name.
    pub table: String,
    /// How many layers of variables come before the scan: 0 for a scan whose measures
    /// read no variable, which joins the persons before every layer. A later scan's
    /// events carry the person's variables that its measures read
    /// ([`EventScan::reads`]), each in the column [`person_column`], and its aggregates
    /// join the persons before layer `after`.
    pub after: usize,
    /// Where the codes are.
    pub codes: CodeLayout,
    /// Whether only the first (primary) code of a row counts.
    pub primary_only: bool,
    /// Whether the table's codes are integers (else text).
    pub integer_codes: bool,
    /// The table's code system.
    pub system: CodeSystem,
    /// How codes are matched.
    pub matching: Matching,
    /// The other columns of the events.
    pub columns: Vec<EventColumn>,
    /// The (code, variable index) pairs, sorted: the union of each variable's codelists.
    /// With integer codes, only codes written exactly as an integer can match.
    pub code_table: Vec<(String, i32)>,
    /// The measures of the variables with codelists, over the rows joined to the code table.
    pub coded: Vec<Measure>,
    /// The measures of the variables without codelists, over every row.
    pub uncoded: Vec<Measure>,
}

/// The column of an event row that holds the person's variable `name`, for the windows
/// and conditions of a scan after some layers ([`EventScan::after`]): apart from the
/// event's own columns, which a `where` may name alike.
pub fn person_column(name: &str) -> String {
    format!("__v_{name}")
}

impl EventScan {
    /// The person's variables that the scan's measures read, each once, in the order the
    /// measures first read them.
    pub fn reads(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for m in self.coded.iter().chain(&self.uncoded) {
            for n in &m.reads {
                if !names.contains(&n.as_str()) {
                    names.push(n);
                }
            }
        }
        names
    }

    /// Whether the events have a `value` column.
    pub fn has_value(&self) -> bool {
        self.columns.iter().any(|c| c.name == "value")
    }

    /// The first and last day that any measure's window selects, `None` where some window
    /// is open on that side or its bound is the person's: rows outside this span count
    /// for no measure, so a backend may drop them before joining the codes. A window with
    /// an unknown bound selects nothing and widens nothing.
    pub fn date_span(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let windows = || {
            self.coded
                .iter()
                .chain(&self.uncoded)
                .filter(|m| m.from != Bound::Unknown && m.to != Bound::Unknown)
        };
        let side = |bound: fn(&Measure) -> &Bound,
                    widest: fn(NaiveDate, NaiveDate) -> NaiveDate| {
            windows().try_fold(None, |span: Option<NaiveDate>, m| match bound(m) {
                Bound::On(d) => Some(Some(span.map_or(*d, |s| widest(s, *d)))),
                Bound::Open | Bound::Unknown | Bound::Person(_) => None,
            })
        };
        (
            side(|m| &m.from, std::cmp::min).flatten(),
            side(|m| &m.to, std::cmp::max).flatten(),
        )
    }
}

/// One bound of a window.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// No bound.
    Open,
    /// On this date, inclusive.
    On(NaiveDate),
    /// The bound is unknown (null): the window selects nothing.
    Unknown,
    /// Each person's date, inclusive, from an expression over parameters and the person's
    /// variables ([`Measure::reads`]): for a person whose date is unknown the window
    /// selects nothing.
    Person(Expr),
}

/// One variable's aggregate over the rows of an event scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// The variable.
    pub variable: String,
    /// The aggregate's column.
    pub column: String,
    /// The aggregate.
    pub aggregation: Aggregation,
    /// Which of several events on the first (last) date a first (last) takes.
    pub ties: Ties,
    /// The event columns after `date` that decide the first (smallest) and last
    /// (greatest) event, each ascending with a missing value smallest, before the code
    /// and the value; empty for the order [`ties`](Measure::ties) decides.
    pub order_by: Vec<String>,
    /// The event column a first or last value returns in place of `value`.
    pub returned_column: Option<String>,
    /// For a count of episodes, the days from one event to the next that start one.
    pub gap_days: Option<u32>,
    /// The variable's index in the code table, for a coded measure.
    pub code_index: Option<i32>,
    /// The first day of the window.
    pub from: Bound,
    /// The last day of the window.
    pub to: Bound,
    /// The smallest value, inclusive.
    pub min_value: Option<f64>,
    /// The largest value, inclusive.
    pub max_value: Option<f64>,
    /// The `where` condition over the event columns, parameters and the person's
    /// variables ([`Measure::reads`]).
    pub condition: Option<Expr>,
    /// The person's variables that the window and the condition read, each once: a name
    /// of the condition is the event's column where the table has one.
    pub reads: Vec<String>,
}

impl Measure {
    /// The type of a name in the measure's window or condition, over `scan`'s events in
    /// `plan`: the event's column where it has one, else a variable the measure reads,
    /// else a parameter.
    pub fn name_type(&self, plan: &CohortPlan, scan: &EventScan, name: &str) -> Option<Type> {
        let read = || self.reads.iter().any(|r| r == name);
        scan.type_of(name, plan.person.id)
            .or_else(|| plan.types.get(name).copied().filter(|_| read()))
            .or_else(|| plan.parameters.get(name).map(Value::data_type))
    }

    /// The column of an event row that holds a name in the measure's window or condition:
    /// the event's own, else that of a variable the measure reads ([`person_column`]);
    /// `None` for a parameter.
    pub fn name_column(&self, scan: &EventScan, id: IdType, name: &str) -> Option<String> {
        match scan.type_of(name, id) {
            Some(_) => Some(name.to_string()),
            None => (self.reads.iter().any(|r| r == name)).then(|| person_column(name)),
        }
    }

    /// For a count of episodes, the column that holds on each event row the previous date
    /// the measure selected (of an earlier row in date order).
    pub fn previous_column(&self) -> String {
        format!("{}_previous", self.column)
    }
}

/// What a period measure computes from the periods that cover its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodAggregate {
    /// How many periods cover the date.
    Count,
    /// The practice of the latest-starting covering period (ties to the greatest practice).
    LatestPractice,
}

/// One scan of a period table for all the variables that read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodScan {
    /// The table's name.
    pub table: String,
    /// The start date column (a missing one is null).
    pub start: Option<String>,
    /// The end date column (a missing or null end is open).
    pub end: Option<String>,
    /// The practice column.
    pub practice: Option<String>,
    /// The measures.
    pub measures: Vec<PeriodMeasure>,
}

impl PeriodScan {
    /// The earliest and latest of the measures' dates, `None` when no measure has one:
    /// a period that covers neither these dates nor any between them counts for no
    /// measure, so a backend may drop it before the aggregate.
    pub fn date_span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let dates = || self.measures.iter().filter_map(|m| m.on);
        Some((dates().min()?, dates().max()?))
    }
}

/// One variable's aggregate over the periods covering a date.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodMeasure {
    /// The variable.
    pub variable: String,
    /// The aggregate's column.
    pub column: String,
    /// The aggregate.
    pub aggregate: PeriodAggregate,
    /// The date (`None`: unknown, no period covers it).
    pub on: Option<NaiveDate>,
}

/// Membership of another cohort: its members, with `true` in `column`.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// The variable.
    pub variable: String,
    /// The membership column.
    pub column: String,
    /// The other cohort's plan; its members pass every rule.
    pub plan: Box<CohortPlan>,
}

/// A variable and how its value is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableStep {
    /// The variable (and its column).
    pub name: String,
    /// Its value.
    pub value: VariableValue,
}

/// The value of a variable, over the person columns, aggregates and earlier variables.
#[derive(Debug, Clone, PartialEq)]
pub enum VariableValue {
    /// Whole years or months from `date_of_birth` to a date, counted like an age.
    Age {
        /// The date.
        on: Expr,
        /// Years or months.
        unit: DurationUnit,
    },
    /// The `sex` column as text.
    Sex,
    /// No date of death on or before the date (birth is not considered).
    Alive {
        /// The date.
        on: Expr,
        /// Whether the person table has dates of death; without them, no death is
        /// recorded and everyone is alive.
        deaths: bool,
    },
    /// A person column (canonical name).
    PersonColumn {
        /// The canonical name.
        column: String,
    },
    /// Whether the count in an aggregate column is above 0 (none counts 0).
    Exists {
        /// The aggregate column.
        column: String,
    },
    /// The count in an aggregate column, 0 for none.
    Count {
        /// The aggregate column.
        column: String,
    },
    /// The code in an aggregate column, as text.
    Code {
        /// The aggregate column.
        column: String,
    },
    /// The aggregate column as it is (dates, values).
    Aggregate {
        /// The aggregate column.
        column: String,
    },
    /// The practice in a [`PeriodAggregate::LatestPractice`] column.
    Practice {
        /// The aggregate column.
        column: String,
    },
    /// Membership: the membership column, false for non-members.
    Member {
        /// The membership column.
        column: String,
    },
    /// An expression over variables and parameters.
    Derived {
        /// The expression.
        expr: Expr,
    },
}

/// A rule and its pass column.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStep {
    /// The rule's name.
    pub name: String,
    /// Whether people who satisfy `expr` are excluded (else included).
    pub exclude: bool,
    /// The condition; unknown (null) does not satisfy it.
    pub expr: Expr,
    /// The pass column.
    pub column: String,
    /// Where the rule is, for errors.
    pub place: Place,
}

/// Which people a variable's or a rule's arithmetic left without a value.
#[derive(Debug, Clone, PartialEq)]
pub struct ArithmeticCheck {
    /// The derived variable or the rule.
    pub place: Place,
    /// The check's column.
    pub column: String,
    /// True for a person whose value is missing because a step had no result
    /// ([`missing_by_arithmetic`](crate::model::expr::missing_by_arithmetic)).
    pub expr: Expr,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Open => write!(f, "open"),
            Bound::On(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Bound::Unknown => write!(f, "unknown"),
            Bound::Person(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for CohortPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

impl CohortPlan {
    /// The variables an evaluation holds for every person so that rules can be added to it
    /// afterwards ([`Evaluation::what_if`](crate::Evaluation::what_if)): those the rules
    /// name, and every true/false one — a bit or two a person, where holding every
    /// variable would cost as much as the evaluation itself.
    pub fn what_if_variables(&self) -> Vec<&str> {
        let named: Vec<&str> = self.rules.iter().flat_map(|r| r.expr.names()).collect();
        self.columns
            .iter()
            .map(String::as_str)
            .filter(|c| named.contains(c) || self.types.get(*c) == Some(&Type::Bool))
            .collect()
    }

    /// Writes the plan as indented text, one step a line.
    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        writeln!(f, "{pad}cohort {}", self.cohort)?;
        for (name, value) in &self.parameters {
            writeln!(f, "{pad}  parameter {name} = {value}")?;
        }
        let p = &self.person;
        writeln!(f, "{pad}  person table {} (id {:?})", p.table, p.id)?;
        for c in &p.columns {
            let date = if c.as_date { " as date" } else { "" };
            writeln!(
                f,
                "{pad}    __p_{} <- {}{date}: {}",
                c.canonical, c.source, c.column_type
            )?;
        }
        if let Some(flags) = &p.opt_out {
            writeln!(f, "{pad}    remove opt-outs: {}", flags.join(", "))?;
        }
        for scan in &self.events {
            let after = match scan.after {
                0 => String::new(),
                n => format!(" after layer {} reading {}", n - 1, scan.reads().join(", ")),
            };
            writeln!(
                f,
                "{pad}  events {}{after} codes {:?} primary_only {} integer_codes {} system {} matching {:?}",
                scan.table,
                scan.codes,
                scan.primary_only,
                scan.integer_codes,
                scan.system,
                scan.matching
            )?;
            for c in &scan.columns {
                let t = c
                    .column_type
                    .map_or("unusable".to_string(), |t| t.to_string());
                writeln!(
                    f,
                    "{pad}    column {} <- {} {:?}: {t}",
                    c.name, c.source, c.conversion
                )?;
            }
            if !scan.code_table.is_empty() {
                let pairs: Vec<String> = scan
                    .code_table
                    .iter()
                    .map(|(c, v)| format!("{c}->{v}"))
                    .collect();
                writeln!(f, "{pad}    code table {}", pairs.join(" "))?;
            }
            for (kind, measures) in [("coded", &scan.coded), ("all rows", &scan.uncoded)] {
                for m in measures {
                    write!(
                        f,
                        "{pad}    {} = {:?} of {} ({kind}",
                        m.column, m.aggregation, m.variable
                    )?;
                    if let Some(i) = m.code_index {
                        write!(f, " #{i}")?;
                    }
                    write!(f, ") window {}..{}", m.from, m.to)?;
                    if m.min_value.is_some() || m.max_value.is_some() {
                        let v = |x: Option<f64>| x.map_or("open".to_string(), |x| x.to_string());
                        write!(f, " value {}..{}", v(m.min_value), v(m.max_value))?;
                    }
                    if let Some(c) = &m.condition {
                        write!(f, " where {c}")?;
                    }
                    if !m.ties.is_code() {
                        write!(f, " ties {:?}", m.ties)?;
                    }
                    if !m.order_by.is_empty() {
                        write!(f, " order by date, {}", m.order_by.join(", "))?;
                    }
                    if let Some(c) = &m.returned_column {
                        write!(f, " returns column {c}")?;
                    }
                    if let Some(days) = m.gap_days {
                        write!(f, " gap {days} days")?;
                    }
                    writeln!(f)?;
                }
            }
        }
        for scan in &self.periods {
            let column = |c: &Option<String>| c.clone().unwrap_or_else(|| "none".to_string());
            writeln!(
                f,
                "{pad}  periods {} start {} end {} practice {}",
                scan.table,
                column(&scan.start),
                column(&scan.end),
                column(&scan.practice)
            )?;
            for m in &scan.measures {
                let on = m.on.map_or(Bound::Unknown, Bound::On);
                writeln!(
                    f,
                    "{pad}    {} = {:?} of {} on {on}",
                    m.column, m.aggregate, m.variable
                )?;
            }
        }
        for m in &self.memberships {
            writeln!(f, "{pad}  {} = member of (for {}):", m.column, m.variable)?;
            m.plan.write(f, depth + 2)?;
        }
        for (i, layer) in self.layers.iter().enumerate() {
            writeln!(f, "{pad}  layer {i}")?;
            for v in layer {
                let t = self
                    .types
                    .get(&v.name)
                    .map_or("?".to_string(), |t| t.to_string());
                let value = match &v.value {
                    VariableValue::Age {
                        on,
                        unit: DurationUnit::Months,
                    } => format!("age in months on {on}"),
                    VariableValue::Age { on, .. } => format!("age on {on}"),
                    VariableValue::Sex => "sex".to_string(),
                    VariableValue::Alive { on, deaths: true } => format!("alive on {on}"),
                    VariableValue::Alive { on, deaths: false } => {
                        format!("alive on {on}: no deaths recorded")
                    }
                    VariableValue::PersonColumn { column } => format!("__p_{column}"),
                    VariableValue::Exists { column } => format!("exists {column}"),
                    VariableValue::Count { column } => format!("count {column}"),
                    VariableValue::Code { column } => format!("code {column}"),
                    VariableValue::Aggregate { column } => column.clone(),
                    VariableValue::Practice { column } => format!("practice {column}"),
                    VariableValue::Member { column } => format!("member {column}"),
                    VariableValue::Derived { expr } => format!("{expr}"),
                };
                writeln!(f, "{pad}    {}: {t} = {value}", v.name)?;
            }
        }
        for r in &self.rules {
            let verb = if r.exclude { "exclude" } else { "include" };
            writeln!(f, "{pad}  {} = {verb} {:?}: {}", r.column, r.name, r.expr)?;
        }
        for check in &self.arithmetic {
            writeln!(
                f,
                "{pad}  {} = arithmetic of {}: {}",
                check.column, check.place, check.expr
            )?;
        }
        writeln!(f, "{pad}  columns person_id, {}", self.columns.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result = std::result::Result<(), chrono::ParseError>;

    fn day(d: &str) -> std::result::Result<Bound, chrono::ParseError> {
        Ok(Bound::On(d.parse()?))
    }

    fn measure(from: Bound, to: Bound) -> Measure {
        Measure {
            variable: "v".to_string(),
            column: "__e0".to_string(),
            aggregation: Aggregation::Exists,
            ties: Ties::Code,
            gap_days: None,
            code_index: Some(0),
            from,
            to,
            min_value: None,
            max_value: None,
            condition: None,
            reads: Vec::new(),
            order_by: Vec::new(),
            returned_column: None,
        }
    }

    fn scan(coded: Vec<Measure>, uncoded: Vec<Measure>) -> EventScan {
        EventScan {
            table: "gp".to_string(),
            after: 0,
            codes: CodeLayout::Single("code".to_string()),
            primary_only: false,
            integer_codes: false,
            system: CodeSystem::SnomedCt,
            matching: Matching::Exact,
            columns: Vec::new(),
            code_table: Vec::new(),
            coded,
            uncoded,
        }
    }

    fn span(s: &EventScan) -> (Option<String>, Option<String>) {
        let (first, last) = s.date_span();
        (first.map(|d| d.to_string()), last.map(|d| d.to_string()))
    }

    #[test]
    fn the_date_span_is_the_hull_of_the_windows() -> Result {
        let s = scan(
            vec![measure(day("2024-01-01")?, day("2024-06-30")?)],
            vec![measure(day("2023-03-01")?, day("2024-03-31")?)],
        );
        assert_eq!(
            span(&s),
            (
                Some("2023-03-01".to_string()),
                Some("2024-06-30".to_string())
            )
        );
        Ok(())
    }

    #[test]
    fn an_open_side_opens_the_span_and_an_unknown_window_widens_nothing() -> Result {
        let s = scan(
            vec![
                measure(Bound::Open, day("2024-06-30")?),
                measure(day("2024-01-01")?, day("2024-03-31")?),
                measure(Bound::Unknown, day("2030-01-01")?),
            ],
            Vec::new(),
        );
        assert_eq!(span(&s), (None, Some("2024-06-30".to_string())));
        let unknown_only = scan(
            vec![measure(day("2024-01-01")?, Bound::Unknown)],
            Vec::new(),
        );
        assert_eq!(span(&unknown_only), (None, None));
        Ok(())
    }

    #[test]
    fn a_bound_of_the_person_opens_its_side() -> Result {
        let person = Bound::Person(Expr::Name("first_admission".to_string()));
        let s = scan(
            vec![measure(person, day("2024-06-30")?)],
            vec![measure(day("2024-01-01")?, day("2024-03-31")?)],
        );
        assert_eq!(span(&s), (None, Some("2024-06-30".to_string())));
        Ok(())
    }

    #[test]
    fn the_period_span_runs_from_the_earliest_to_the_latest_date() -> Result {
        let on = |d: Option<&str>| -> std::result::Result<PeriodMeasure, chrono::ParseError> {
            Ok(PeriodMeasure {
                variable: "registered".to_string(),
                column: "__r0".to_string(),
                aggregate: PeriodAggregate::Count,
                on: d.map(str::parse).transpose()?,
            })
        };
        let mut periods = PeriodScan {
            table: "registrations".to_string(),
            start: Some("start_date".to_string()),
            end: Some("end_date".to_string()),
            practice: None,
            measures: vec![on(Some("2025-09-01"))?, on(None)?, on(Some("2026-01-31"))?],
        };
        let span = periods
            .date_span()
            .map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(
            span,
            Some(("2025-09-01".to_string(), "2026-01-31".to_string()))
        );
        periods.measures = vec![on(None)?];
        assert_eq!(periods.date_span(), None);
        Ok(())
    }
}
