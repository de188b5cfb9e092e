//! The differential test of the engine against the [reference evaluator](mod@crate::reference):
//! its cases, and the check of one.
//!
//! [`case`] is a proptest strategy of small random tables (persons, a SNOMED CT event table with values, an
//! ICD-10 event table, a period table) and a random, well-typed cohort definition over
//! them: codelists, variables of every kind but `member_of` (derived variables are random
//! expression trees over the variables before them), rules and output columns. The engine
//! and the reference must agree on every person's every variable, on the members and on the
//! attrition; so must both runs of the cohort evaluated twice in one `evaluate_many`, which
//! share their scans.
//!
//! Random choices are drawn as plain numbers ("seeds") and turned into a definition by
//! `build_case`, which keeps every choice well typed; shrinking a failure shrinks those
//! numbers, so the minimal failing case is a small definition over small tables. The
//! property test (`tests/differential.rs`) draws cases from a random source; the fuzz
//! target [`crate::evaluate`] from its input.

use crate::reference;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Int64Type, Schema};
use caas_core::model::expr::{Duration, DurationUnit, Type, add_duration};
use caas_core::model::{Aggregation, Ties};
use caas_core::{CodeSystem, Cohort, Engine, EngineOptions, Parameters, TableSpec, Value};
use chrono::{Days, Months, NaiveDate};
use indexmap::IndexMap;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::TestCaseError;
use serde::Serialize;
use serde_json::json;

use reference::{Cell, Database, Outcome, Table};

// ---------------------------------------------------------------------------------------
// Pools of values the generator draws from: small, so that ties and boundaries happen.

/// Dates that index dates, event dates and window bounds are anchored on (month ends, leap
/// days, year ends).
const ANCHORS: [(i32, u32, u32); 8] = [
    (2024, 3, 31),
    (2025, 3, 31),
    (2024, 2, 29),
    (2023, 12, 31),
    (2025, 1, 1),
    (2023, 3, 1),
    (2022, 8, 31),
    (2020, 2, 29),
];

/// SNOMED CT codes in the data: list codes, an unlisted one, and one with surrounding
/// spaces, which matches nothing (exact codes are compared as written).
const SNOMED_DATA_CODES: [&str; 10] = [
    "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "9999", " 1002 ",
];

const SNOMED_LIST_CODES: [&str; 9] = [
    "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "4242",
];
/// ICD-10 codes in the data, in the shapes hospital data has them.
const ICD10_DATA_CODES: [&str; 14] = [
    "J45", "J45.0", "j450", "J45X", "J459", "J46", "I10", "I10X", "E11", "E11.9", "e119", "K57",
    "X59", " ",
];
const ICD10_LIST_CODES: [&str; 9] = [
    "J45", "J45.0", "J4", "I10", "E11", "E11.9", "j46.x", "K", "X",
];
const VALUES: [f64; 7] = [5.0, 20.0, 20.5, 37.25, 100.0, -1.5, 0.5];
const SEXES: [&str; 3] = ["F", "M", "U"];
const REGIONS: [&str; 3] = ["north", "south", "east"];
const PRACTICES: [&str; 4] = ["A", "B", "C", "D"];
/// The person id of events and periods whose person is not in the person table.
const ORPHAN_ID: i64 = 1000;

const ALL_AGGREGATIONS: [Aggregation; 15] = [
    Aggregation::Exists,
    Aggregation::Count,
    Aggregation::FirstDate,
    Aggregation::LastDate,
    Aggregation::FirstValue,
    Aggregation::LastValue,
    Aggregation::FirstCode,
    Aggregation::LastCode,
    Aggregation::MinValue,
    Aggregation::MaxValue,
    Aggregation::Sum,
    Aggregation::Mean,
    Aggregation::CountDistinctCodes,
    Aggregation::CountDistinctDates,
    Aggregation::CountEpisodes,
];
const NO_VALUE_AGGREGATIONS: [Aggregation; 9] = [
    Aggregation::Exists,
    Aggregation::Count,
    Aggregation::FirstDate,
    Aggregation::LastDate,
    Aggregation::FirstCode,
    Aggregation::LastCode,
    Aggregation::CountDistinctCodes,
    Aggregation::CountDistinctDates,
    Aggregation::CountEpisodes,
];
const DURATIONS: [(i64, DurationUnit); 8] = [
    (1, DurationUnit::Days),
    (30, DurationUnit::Days),
    (365, DurationUnit::Days),
    (1, DurationUnit::Months),
    (6, DurationUnit::Months),
    (12, DurationUnit::Months),
    (1, DurationUnit::Years),
    (5, DurationUnit::Years),
];

fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn shift_months(date: NaiveDate, months: i32) -> NaiveDate {
    let shifted = if months >= 0 {
        date.checked_add_months(Months::new(months.unsigned_abs()))
    } else {
        date.checked_sub_months(Months::new(months.unsigned_abs()))
    };
    shifted.expect("date in range")
}

fn shift_days(date: NaiveDate, days: i64) -> NaiveDate {
    let shifted = if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    shifted.expect("date in range")
}

// ---------------------------------------------------------------------------------------
// Strategies for the data.

/// An anchor, half the time one of the first three, so that dates drawn separately (an
/// index date, an event date, the end of a period) often coincide.
fn anchor() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        select(&ANCHORS[..3]).prop_map(ymd),
        select(ANCHORS.as_slice()).prop_map(ymd),
    ]
}

/// A date near an anchor (often exactly on one, or a day, a month or a year off), or any
/// day of 2015–2025.
fn event_date() -> impl Strategy<Value = NaiveDate> {
    let months = select(vec![0, 0, 0, 0, -1, 1, -6, -12, 12, -24]);
    let days = select(vec![0, 0, 0, 0, -1, 1, -30, -365]);
    prop_oneof![
        3 => (anchor(), months, days)
            .prop_map(|(a, months, days)| shift_days(shift_months(a, months), days)),
        1 => (0i64..4000).prop_map(|days| shift_days(ymd((2015, 1, 1)), days)),
    ]
}

/// A date of birth: often a whole number of years (give or take a day) before an anchor, so
/// that birthdays fall on index dates.
fn birth_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (anchor(), 0i32..95, -1i64..=1)
            .prop_map(|(a, years, days)| shift_days(shift_months(a, -12 * years), days)),
        (0i64..36500).prop_map(|days| shift_days(ymd((1925, 1, 1)), days)),
    ]
}

#[derive(Debug, Clone)]
struct PersonSeed {
    id: i64,
    dob: Option<NaiveDate>,
    dod: Option<NaiveDate>,
    sex: Option<&'static str>,
    region: Option<&'static str>,
    score: Option<i64>,
}

fn persons() -> impl Strategy<Value = Vec<PersonSeed>> {
    let person = (
        1i64..=3,
        option::weighted(0.9, birth_date()),
        option::weighted(0.25, event_date()),
        option::weighted(0.85, select(SEXES.as_slice())),
        option::weighted(0.7, select(REGIONS.as_slice())),
        option::weighted(0.7, -5i64..100),
    );
    vec(person, 0..=12)
        .prop_map(|rows| {
            // Distinct ids with gaps: each row's id is the previous one plus its gap.
            let mut id = 0;
            rows.into_iter()
                .map(|(gap, dob, dod, sex, region, score)| {
                    id += gap;
                    PersonSeed {
                        id,
                        dob,
                        dod,
                        sex,
                        region,
                        score,
                    }
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// A row of an event table. `slot` picks the person (see [`person_for`]).
#[derive(Debug, Clone)]
struct EventSeed {
    slot: usize,
    date: Option<NaiveDate>,
    code: Option<&'static str>,
    value: Option<f64>,
    priority: Option<i64>,
}

/// How a row relates to the row before it: rows that share a person and a date (and maybe
/// a code) make the ties that `first_*`, `last_*` and `practice` must break.
#[derive(Debug, Clone, Copy)]
enum Twin {
    /// Its own person and dates.
    No,
    /// The previous row's person and (start) date.
    SameDate,
    /// The previous row's person, date and code.
    SameDateAndCode,
}

fn twin() -> impl Strategy<Value = Twin> {
    prop_oneof![
        6 => Just(Twin::No),
        2 => Just(Twin::SameDate),
        2 => Just(Twin::SameDateAndCode),
    ]
}

fn events(codes: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<EventSeed>> {
    let event = (
        twin(),
        0usize..16,
        option::weighted(0.9, event_date()),
        option::weighted(0.9, select(codes)),
        option::weighted(0.8, select(VALUES.as_slice())),
        option::weighted(0.7, 0i64..4),
    );
    vec(event, 0..=max).prop_map(|rows| {
        let mut events: Vec<EventSeed> = Vec::new();
        for (twin, slot, date, code, value, priority) in rows {
            let mut event = EventSeed {
                slot,
                date,
                code,
                value,
                priority,
            };
            if let Some(previous) = events.last() {
                match twin {
                    Twin::No => {}
                    Twin::SameDate => (event.slot, event.date) = (previous.slot, previous.date),
                    Twin::SameDateAndCode => {
                        (event.slot, event.date, event.code) =
                            (previous.slot, previous.date, previous.code)
                    }
                }
            }
            events.push(event);
        }
        events
    })
}

#[derive(Debug, Clone)]
struct PeriodSeed {
    slot: usize,
    start: Option<NaiveDate>,
    end: Option<PeriodEnd>,
    practice: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
enum PeriodEnd {
    /// On a date (often an anchor, like the dates the periods are looked at on).
    On(NaiveDate),
    /// Some days after the start (or after 2020-01-01 without a start).
    After(i64),
}

fn periods() -> impl Strategy<Value = Vec<PeriodSeed>> {
    let end = prop_oneof![
        event_date().prop_map(PeriodEnd::On),
        (-30i64..1500).prop_map(PeriodEnd::After),
    ];
    let period = (
        twin(),
        0usize..16,
        option::weighted(0.95, event_date()),
        option::weighted(0.6, end),
        option::weighted(0.85, select(PRACTICES.as_slice())),
    );
    vec(period, 0..=15).prop_map(|rows| {
        let mut periods: Vec<PeriodSeed> = Vec::new();
        for (twin, slot, start, end, practice) in rows {
            let mut period = PeriodSeed {
                slot,
                start,
                end,
                practice,
            };
            if let (Some(previous), Twin::SameDate | Twin::SameDateAndCode) = (periods.last(), twin)
            {
                (period.slot, period.start) = (previous.slot, previous.start);
            }
            periods.push(period);
        }
        periods
    })
}

/// The person a `slot` of an event or period row refers to: one of the persons, or (one
/// time in `persons + 1`) somebody not in the person table.
fn person_for(slot: usize, ids: &[i64]) -> i64 {
    ids.get(slot % (ids.len() + 1))
        .copied()
        .unwrap_or(ORPHAN_ID)
}

// ---------------------------------------------------------------------------------------
// Strategies for the definition.

/// Random material from which [`Realiser`] builds a well-typed expression: `choice` picks
/// the production, `pick` the details (operator, operand types, leaf), `kids` the operands.
#[derive(Debug, Clone)]
struct Seed {
    choice: u8,
    pick: u8,
    kids: Vec<Seed>,
}

fn seed() -> impl Strategy<Value = Seed> {
    let leaf = (any::<u8>(), any::<u8>()).prop_map(|(choice, pick)| Seed {
        choice,
        pick,
        kids: Vec::new(),
    });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (any::<u8>(), any::<u8>(), vec(inner, 1..=3)).prop_map(|(choice, pick, kids)| Seed {
            choice,
            pick,
            kids,
        })
    })
}

/// The seed of the `i`-th operand of an operator. Operands beyond the seed's kids reuse
/// them with other picks, so that `x BETWEEN lo AND hi` is not `x BETWEEN x AND x`.
fn operand(seed: &Seed, i: usize) -> Cow<'_, Seed> {
    let n = seed.kids.len();
    if i < n {
        return Cow::Borrowed(&seed.kids[i]);
    }
    let round = u8::try_from(i / n).unwrap_or(u8::MAX);
    let mut kid = seed.kids[i % n].clone();
    kid.pick = kid.pick.wrapping_add(round.wrapping_mul(97));
    kid.choice = kid.choice.wrapping_add(round.wrapping_mul(13));
    Cow::Owned(kid)
}

/// A seed of an operator (not a lone name or literal).
fn compound_seed() -> impl Strategy<Value = Seed> {
    (any::<u8>(), any::<u8>(), vec(seed(), 1..=3)).prop_map(|(choice, pick, kids)| Seed {
        choice,
        pick,
        kids,
    })
}

/// A constant date: `index_date` or a date literal, maybe shifted by a duration.
#[derive(Debug, Clone, Copy)]
struct Bound {
    base: Option<NaiveDate>,
    shift: Option<Duration>,
}

impl Bound {
    fn text(&self) -> String {
        let base = match self.base {
            None => "index_date".to_string(),
            Some(d) => format!("DATE '{d}'"),
        };
        self.shifted(base)
    }

    /// `base`, a date expression, with the bound's shift.
    fn shifted(&self, base: String) -> String {
        match self.shift {
            None => base,
            Some(d) => {
                let sign = if d.amount < 0 { '-' } else { '+' };
                let unit = match d.unit {
                    DurationUnit::Days => "days",
                    DurationUnit::Months => "months",
                    DurationUnit::Years => "years",
                };
                format!("{base} {sign} {} {unit}", d.amount.abs())
            }
        }
    }

    fn at(&self, index_date: NaiveDate) -> NaiveDate {
        let base = self.base.unwrap_or(index_date);
        self.shift
            .map_or(base, |d| add_duration(base, d).expect("date in range"))
    }
}

fn bound() -> impl Strategy<Value = Bound> {
    let shift =
        (select(DURATIONS.as_slice()), any::<bool>()).prop_map(|((amount, unit), back)| Duration {
            amount: if back { -amount } else { amount },
            unit,
        });
    (
        option::weighted(0.2, anchor()),
        option::weighted(0.7, shift),
    )
        .prop_map(|(base, shift)| Bound { base, shift })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventTable {
    /// SNOMED CT, with `value` and `priority` columns.
    Gp,
    /// ICD-10, codes and dates only.
    Hes,
}

#[derive(Debug, Clone, Copy)]
enum Head {
    Age,
    Sex,
    Alive,
    Registered,
    Practice,
    PersonColumn(&'static str, Type),
    Events(EventTable, Aggregation),
    Derived(Type),
}

fn head() -> impl Strategy<Value = Head> {
    prop_oneof![
        2 => Just(Head::Age),
        1 => Just(Head::Sex),
        1 => Just(Head::Alive),
        1 => Just(Head::Registered),
        1 => Just(Head::Practice),
        1 => select(vec![("region", Type::Text), ("score", Type::Int)])
            .prop_map(|(c, t)| Head::PersonColumn(c, t)),
        4 => select(ALL_AGGREGATIONS.as_slice()).prop_map(|a| Head::Events(EventTable::Gp, a)),
        2 => select(NO_VALUE_AGGREGATIONS.as_slice())
            .prop_map(|a| Head::Events(EventTable::Hes, a)),
        5 => select(vec![Type::Bool, Type::Bool, Type::Int, Type::Float, Type::Date, Type::Text])
            .prop_map(Head::Derived),
    ]
}

/// Everything one variable may need; [`build_case`] uses the parts its kind needs.
#[derive(Debug, Clone)]
struct VariableSeed {
    head: Head,
    /// For `age` and `alive`: the kind of date (a constant, a date variable, a coalesce);
    /// for a first or last event of the GP table, how ties go.
    on: u8,
    on_bound: Bound,
    expr: Seed,
    from: Option<Bound>,
    to: Option<Bound>,
    min_value: Option<f64>,
    max_value: Option<f64>,
    /// Which of the codelists of the table's system the variable uses (a bit each).
    codelists: u8,
    condition: Option<Seed>,
    /// For an event variable, which bound (if any) is an earlier date variable, shifted as
    /// the bound's seed says, and which variable.
    relative: u8,
}

fn variable() -> impl Strategy<Value = VariableSeed> {
    (
        head(),
        any::<u8>(),
        bound(),
        compound_seed(),
        option::weighted(0.5, bound()),
        option::weighted(0.5, bound()),
        option::weighted(0.25, select(VALUES.as_slice())),
        option::weighted(0.25, select(VALUES.as_slice())),
        any::<u8>(),
        option::weighted(0.3, compound_seed()),
        any::<u8>(),
    )
        .prop_map(
            |(
                head,
                on,
                on_bound,
                expr,
                from,
                to,
                min_value,
                max_value,
                codelists,
                condition,
                relative,
            )| {
                VariableSeed {
                    head,
                    on,
                    on_bound,
                    expr,
                    from,
                    to,
                    min_value,
                    max_value,
                    codelists,
                    condition,
                    relative,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct RuleSeed {
    exclude: bool,
    named: bool,
    expr: Seed,
}

fn rule() -> impl Strategy<Value = RuleSeed> {
    (any::<bool>(), any::<bool>(), seed()).prop_map(|(exclude, named, expr)| RuleSeed {
        exclude,
        named,
        expr,
    })
}

fn codelist() -> impl Strategy<Value = (CodeSystem, Vec<&'static str>)> {
    prop_oneof![
        subsequence(SNOMED_LIST_CODES.as_slice(), 1..=4).prop_map(|c| (CodeSystem::SnomedCt, c)),
        subsequence(ICD10_LIST_CODES.as_slice(), 1..=3).prop_map(|c| (CodeSystem::Icd10, c)),
    ]
}

/// All the random material of one case.
#[derive(Debug, Clone)]
struct RawCase {
    persons: Vec<PersonSeed>,
    gp: Vec<EventSeed>,
    hes: Vec<EventSeed>,
    periods: Vec<PeriodSeed>,
    index_date: NaiveDate,
    index_override: Option<NaiveDate>,
    min_age: i64,
    cutoff: f64,
    codelists: Vec<(CodeSystem, Vec<&'static str>)>,
    variables: Vec<VariableSeed>,
    rules: Vec<RuleSeed>,
    output: u16,
    partitions: usize,
    batch_rows: usize,
}

fn raw_case() -> impl Strategy<Value = RawCase> {
    let data = (
        persons(),
        events(&SNOMED_DATA_CODES, 40),
        events(ICD10_DATA_CODES.as_slice(), 20),
        periods(),
    );
    let parameters = (
        anchor(),
        option::weighted(0.3, anchor()),
        0i64..90,
        select(VALUES.as_slice()),
    );
    let definition = (
        vec(codelist(), 1..=4),
        vec(variable(), 3..=10),
        vec(rule(), 0..=4),
        any::<u16>(),
    );
    let engine = (1usize..=3, 1usize..=16);
    (data, parameters, definition, engine).prop_map(
        |(
            (persons, gp, hes, periods),
            (index_date, index_override, min_age, cutoff),
            (codelists, variables, rules, output),
            (partitions, batch_rows),
        )| RawCase {
            persons,
            gp,
            hes,
            periods,
            index_date,
            index_override,
            min_age,
            cutoff,
            codelists,
            variables,
            rules,
            output,
            partitions,
            batch_rows,
        },
    )
}

// ---------------------------------------------------------------------------------------
// From seeds to expressions.

const LEAF_TYPES: [Type; 5] = [Type::Int, Type::Float, Type::Date, Type::Text, Type::Bool];
const COMPARISONS: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];

fn literals(t: Type) -> &'static [&'static str] {
    match t {
        Type::Bool => &["true", "false"],
        Type::Int => &["0", "1", "2", "18", "65", "-3"],
        Type::Float => &["0.5", "20.0", "37.25", "100.0"],
        Type::Date => &[
            "DATE '2024-02-29'",
            "DATE '2023-03-31'",
            "DATE '2000-01-01'",
        ],
        Type::Text => &["'F'", "'M'", "'1003'", "'J45.0'", "'A'", "'north'", "''"],
        other => panic!("no literals of type {other}"),
    }
}

/// Builds expressions of a wanted type over the names in scope. Every operator's text is
/// parenthesised, so precedence never matters.
struct Realiser<'a> {
    scope: &'a [(String, Type)],
}

impl<'a> Realiser<'a> {
    fn new(scope: &'a [(String, Type)]) -> Self {
        Realiser { scope }
    }

    fn expr(&self, seed: &Seed, t: Type) -> String {
        if seed.kids.is_empty() {
            return self.leaf(seed.pick, t);
        }
        let kid = |i: usize| operand(seed, i);
        let p = usize::from(seed.pick);
        let number = |i: usize| [Type::Int, Type::Float][i % 2];
        match t {
            Type::Bool => match seed.choice % 9 {
                0 => {
                    let left_type = LEAF_TYPES[p % 5];
                    let right_type = match left_type {
                        Type::Int | Type::Float => number(p / 30),
                        other => other,
                    };
                    format!(
                        "({} {} {})",
                        self.expr(&kid(0), left_type),
                        COMPARISONS[(p / 5) % 6],
                        self.expr(&kid(1), right_type)
                    )
                }
                1 => {
                    let op = if p % 2 == 0 { "and" } else { "or" };
                    format!("({} {op} {})", self.expr(&kid(0), t), self.expr(&kid(1), t))
                }
                2 => format!("(not {})", self.expr(&kid(0), t)),
                3 => {
                    let test = if (p / 5) % 2 == 0 {
                        "IS NULL"
                    } else {
                        "IS NOT NULL"
                    };
                    format!("({} {test})", self.expr(&kid(0), LEAF_TYPES[p % 5]))
                }
                4 => {
                    let item_types = [Type::Int, Type::Text, Type::Date, Type::Float];
                    let item_type = item_types[p % item_types.len()];
                    let item = |k: &Seed| self.expr(k, item_type);
                    let mut items: Vec<String> = seed.kids.iter().skip(1).map(item).collect();
                    items.push(self.leaf(seed.choice, item_type));
                    if (p / 4) % 3 == 2 {
                        items.push("null".to_string());
                    }
                    let not = if (p / 12) % 2 == 1 { "NOT " } else { "" };
                    format!(
                        "({} {not}IN ({}))",
                        self.expr(&kid(0), item_type),
                        items.join(", ")
                    )
                }
                5 => {
                    let operand_type = [Type::Int, Type::Float, Type::Date, Type::Text][p % 4];
                    let not = if (p / 4) % 2 == 1 { "NOT " } else { "" };
                    format!(
                        "({} {not}BETWEEN {} AND {})",
                        self.expr(&kid(0), operand_type),
                        self.expr(&kid(1), operand_type),
                        self.expr(&kid(2), operand_type)
                    )
                }
                6 => self.coalesce(seed, t),
                7 => format!(
                    "boolean({})",
                    self.expr(&kid(0), [Type::Int, Type::Float, Type::Bool][p % 3])
                ),
                _ => self.case(seed, t),
            },
            Type::Int => match seed.choice % 7 {
                0 => format!(
                    "({} {} {})",
                    self.expr(&kid(0), t),
                    ["+", "-", "*"][p % 3],
                    self.expr(&kid(1), t)
                ),
                1 => format!("(- {})", self.expr(&kid(0), t)),
                2 => format!(
                    "({} - {})",
                    self.expr(&kid(0), Type::Date),
                    self.expr(&kid(1), Type::Date)
                ),
                3 if p % 6 < 3 => format!(
                    "{}_between({}, {})",
                    ["years", "months", "days"][p % 3],
                    self.expr(&kid(0), Type::Date),
                    self.expr(&kid(1), Type::Date)
                ),
                3 => format!(
                    "{}({})",
                    ["year", "month", "day"][p % 3],
                    self.expr(&kid(0), Type::Date)
                ),
                4 => self.coalesce(seed, t),
                5 => match p % 4 {
                    0 => format!("abs({})", self.expr(&kid(0), t)),
                    // Division by a non-zero constant only, as for `/`.
                    1 => format!(
                        "div({}, {})",
                        self.expr(&kid(0), t),
                        ["2", "-3", "7"][(p / 4) % 3]
                    ),
                    _ => format!(
                        "integer({})",
                        self.expr(&kid(0), [Type::Float, Type::Bool][p % 2])
                    ),
                },
                _ => self.case(seed, t),
            },
            Type::Float => match seed.choice % 7 {
                0 => {
                    // One decimal operand makes the sum decimal.
                    let (a, b) = (self.expr(&kid(0), t), self.expr(&kid(1), number(p / 3)));
                    let (a, b) = if (p / 6) % 2 == 0 { (a, b) } else { (b, a) };
                    format!("({a} {} {b})", ["+", "-", "*"][p % 3])
                }
                1 => {
                    // Division by a non-zero constant only.
                    let divisor = ["2", "4", "0.5", "3"][p % 4];
                    format!("({} / {divisor})", self.expr(&kid(0), number(p / 4)))
                }
                2 => format!("(- {})", self.expr(&kid(0), t)),
                3 => self.coalesce(seed, t),
                4 => format!(
                    "{}({}, {})",
                    ["least", "greatest"][p % 2],
                    self.expr(&kid(0), t),
                    self.expr(&kid(1), number(p / 2))
                ),
                5 => match p % 3 {
                    0 => format!("abs({})", self.expr(&kid(0), t)),
                    _ => format!(
                        "decimal({})",
                        self.expr(&kid(0), [Type::Int, Type::Bool][p % 2])
                    ),
                },
                _ => self.case(seed, t),
            },
            Type::Date => match seed.choice % 5 {
                0 => {
                    let (amount, unit) = DURATIONS[p % DURATIONS.len()];
                    let unit = match unit {
                        DurationUnit::Days => "days",
                        DurationUnit::Months => "months",
                        DurationUnit::Years => "years",
                    };
                    let sign = if (p / 8) % 2 == 0 { "+" } else { "-" };
                    // Half the time the amount is a whole-number expression: `n months`.
                    let amount = if (p / 16) % 2 == 0 {
                        amount.to_string()
                    } else {
                        format!("({})", self.expr(&kid(1), Type::Int))
                    };
                    format!("({} {sign} {amount} {unit})", self.expr(&kid(0), t))
                }
                1 => self.coalesce(seed, t),
                2 => format!(
                    "{}({}, {})",
                    ["least", "greatest"][p % 2],
                    self.expr(&kid(0), t),
                    self.expr(&kid(1), t)
                ),
                3 => format!(
                    "first_of_{}({})",
                    ["month", "year"][p % 2],
                    self.expr(&kid(0), t)
                ),
                _ => self.case(seed, t),
            },
            Type::Text => match seed.choice % 2 {
                0 => self.coalesce(seed, t),
                _ => self.case(seed, t),
            },
            other => panic!("no expressions of type {other}"),
        }
    }

    /// A name in scope of type `t` (three times in four when there is one), or a literal.
    fn leaf(&self, pick: u8, t: Type) -> String {
        let names: Vec<&str> = self
            .scope
            .iter()
            .filter(|(_, nt)| *nt == t)
            .map(|(n, _)| n.as_str())
            .collect();
        let pick = usize::from(pick);
        if !names.is_empty() && pick % 4 != 3 {
            names[(pick / 4) % names.len()].to_string()
        } else {
            let literals = literals(t);
            literals[(pick / 4) % literals.len()].to_string()
        }
    }

    /// `coalesce(...)` of type `t`. A decimal one mixes in whole numbers, whose values the
    /// result must turn into decimals; its last argument is decimal, which types it.
    fn coalesce(&self, seed: &Seed, t: Type) -> String {
        let arg_type = |i: usize| match t {
            Type::Float => [Type::Int, Type::Float][(usize::from(seed.pick) + i) % 2],
            other => other,
        };
        let mut args: Vec<String> = seed
            .kids
            .iter()
            .enumerate()
            .map(|(i, k)| self.expr(k, arg_type(i)))
            .collect();
        if seed.pick.is_multiple_of(3) {
            args.insert(0, "null".to_string());
        }
        args.push(self.leaf(seed.pick / 3, t));
        format!("coalesce({})", args.join(", "))
    }

    /// `CASE ... END` of type `t`. A decimal one has a decimal first branch and whole
    /// numbers in the others, which meet as decimals.
    fn case(&self, seed: &Seed, t: Type) -> String {
        let kid = |i: usize| operand(seed, i);
        let p = usize::from(seed.pick);
        let value_type = |branch: usize| match t {
            Type::Float if branch > 0 => Type::Int,
            other => other,
        };
        let branches = 1 + p % 2;
        let mut text = "(CASE".to_string();
        for b in 0..branches {
            text += &format!(
                " WHEN {} THEN {}",
                self.expr(&kid(2 * b), Type::Bool),
                self.expr(&kid(2 * b + 1), value_type(b))
            );
        }
        match (p / 2) % 3 {
            0 => text += &format!(" ELSE {}", self.leaf(seed.choice, value_type(1))),
            1 => text += " ELSE null",
            _ => {}
        }
        text + " END)"
    }
}

// ---------------------------------------------------------------------------------------
// A case: the definition as YAML, the run's parameters and the tables.

struct TestTable {
    name: &'static str,
    spec: TableSpec,
    table: Table,
}

/// A definition as YAML, the run's index date, the tables and the engine's partitions and
/// batch size.
pub struct Case {
    yaml: String,
    index_override: Option<NaiveDate>,
    tables: Vec<TestTable>,
    partitions: usize,
    batch_rows: usize,
}

/// The definition document, serialised to YAML in this field order.
#[derive(Serialize)]
struct Document {
    id: &'static str,
    title: &'static str,
    purpose: &'static str,
    parameters: IndexMap<&'static str, serde_json::Value>,
    codelists: IndexMap<String, serde_json::Value>,
    variables: IndexMap<String, serde_json::Value>,
    rules: Vec<serde_json::Value>,
    output: serde_json::Value,
}

fn build_case(raw: RawCase) -> Case {
    let index_dates: Vec<NaiveDate> = std::iter::once(raw.index_date)
        .chain(raw.index_override)
        .collect();
    let mut parameters = IndexMap::new();
    parameters.insert("index_date", json!(raw.index_date.to_string()));
    parameters.insert("min_age", json!(raw.min_age));
    parameters.insert("cutoff", json!(raw.cutoff));

    let mut codelists = IndexMap::new();
    let mut lists_of: Vec<(String, CodeSystem)> = Vec::new();
    for (i, (system, codes)) in raw.codelists.iter().enumerate() {
        let name = format!("list_{}", i + 1);
        codelists.insert(name.clone(), json!({ "system": system, "codes": codes }));
        lists_of.push((name, *system));
    }

    // Names in scope for expressions: the parameters, then each variable once defined.
    let mut scope: Vec<(String, Type)> = vec![
        ("index_date".into(), Type::Date),
        ("min_age".into(), Type::Int),
        ("cutoff".into(), Type::Float),
    ];
    let mut variables = IndexMap::new();
    for (i, seed) in raw.variables.iter().enumerate() {
        let (label, body, t) = variable_body(seed, &scope, &lists_of, &index_dates);
        let name = format!("{label}_{}", i + 1);
        variables.insert(name.clone(), body);
        scope.push((name, t));
    }

    let realiser = Realiser::new(&scope);
    let rules = raw
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let action = if rule.exclude { "exclude" } else { "include" };
            let mut body = serde_json::Map::new();
            if rule.named {
                body.insert("name".into(), json!(format!("step {}", i + 1)));
            }
            body.insert(action.into(), json!(realiser.expr(&rule.expr, Type::Bool)));
            serde_json::Value::Object(body)
        })
        .collect();
    let columns: Vec<String> = variables
        .keys()
        .enumerate()
        .filter(|(i, _)| raw.output & (1 << i) != 0)
        .map(|(_, name)| name.clone())
        .collect();

    let document = Document {
        id: "differential",
        title: "Random definition",
        purpose: "direct_care",
        parameters,
        codelists,
        variables,
        rules,
        output: json!({ "columns": columns }),
    };
    let yaml = serde_yaml_ng::to_string(&document).expect("the document serialises");
    Case {
        yaml,
        index_override: raw.index_override,
        tables: tables(&raw),
        partitions: raw.partitions,
        batch_rows: raw.batch_rows,
    }
}

/// A variable's label, its definition and its type.
fn variable_body(
    seed: &VariableSeed,
    scope: &[(String, Type)],
    lists_of: &[(String, CodeSystem)],
    index_dates: &[NaiveDate],
) -> (&'static str, serde_json::Value, Type) {
    let realiser = Realiser::new(scope);
    let constant = seed.on_bound.text();
    match seed.head {
        Head::Age => (
            "age",
            json!({ "kind": "age", "on": on_date(seed, scope) }),
            Type::Int,
        ),
        Head::Sex => ("sex", json!({ "kind": "sex" }), Type::Text),
        Head::Alive => (
            "alive",
            json!({ "kind": "alive", "on": on_date(seed, scope) }),
            Type::Bool,
        ),
        Head::Registered => (
            "registered",
            json!({ "kind": "registered", "table": "registrations", "on": constant }),
            Type::Bool,
        ),
        Head::Practice => (
            "practice",
            json!({ "kind": "practice", "table": "registrations", "on": constant }),
            Type::Text,
        ),
        Head::PersonColumn(column, t) => (
            "column",
            json!({ "kind": "person_column", "column": column }),
            t,
        ),
        Head::Derived(t) => (
            "derived",
            json!({ "kind": "derived", "expr": realiser.expr(&seed.expr, t) }),
            t,
        ),
        Head::Events(table, returns) => {
            let body = event_body(seed, scope, table, returns, lists_of, index_dates);
            let t = match body["column"].as_str() {
                Some("priority") => Type::Int,
                Some(_) => Type::Date,
                None => aggregation_type(returns),
            };
            ("events", body, t)
        }
    }
}

/// The `on` date of `age` and `alive`: a constant, an earlier date variable, or both.
fn on_date(seed: &VariableSeed, scope: &[(String, Type)]) -> String {
    let constant = seed.on_bound.text();
    let dates: Vec<&str> = scope
        .iter()
        .filter(|(n, t)| *t == Type::Date && n != "index_date")
        .map(|(n, _)| n.as_str())
        .collect();
    let variable = dates.get(usize::from(seed.on / 3) % dates.len().max(1));
    match (seed.on % 3, variable) {
        (1, Some(v)) => v.to_string(),
        (2, Some(v)) => format!("coalesce({v}, {constant})"),
        _ => constant,
    }
}

/// An event variable: its window of constants or of an earlier date variable, and its
/// `where` over the event's columns, the parameters and the earlier variables.
fn event_body(
    seed: &VariableSeed,
    scope: &[(String, Type)],
    table: EventTable,
    returns: Aggregation,
    lists_of: &[(String, CodeSystem)],
    index_dates: &[NaiveDate],
) -> serde_json::Value {
    let (name, system) = match table {
        EventTable::Gp => ("gp", CodeSystem::SnomedCt),
        EventTable::Hes => ("hes", CodeSystem::Icd10),
    };
    let codelists: Vec<&String> = lists_of
        .iter()
        .filter(|(_, s)| *s == system)
        .enumerate()
        .filter(|(i, _)| seed.codelists & (1 << i) != 0)
        .map(|(_, (name, _))| name)
        .collect();
    let mut body = json!({ "kind": "events", "table": name, "returns": returns });
    if !codelists.is_empty() {
        body["codelists"] = json!(codelists);
    }
    if returns == Aggregation::CountEpisodes {
        body["gap_days"] = json!([1, 2, 30, 365][usize::from(seed.on % 4)]);
    }
    // A window must not end before it starts, with the default index date or the override.
    let from = seed.from.filter(|from| {
        seed.to
            .is_none_or(|to| index_dates.iter().all(|d| from.at(*d) <= to.at(*d)))
    });
    if let Some(from) = from {
        body["from"] = json!(from.text());
    }
    if let Some(to) = seed.to {
        body["to"] = json!(to.text());
    }
    // One bound in four is an earlier date variable's (the window empty for a person
    // where it ends before it starts, or where the date is missing).
    let dates: Vec<&str> = scope
        .iter()
        .filter(|(n, t)| *t == Type::Date && n != "index_date")
        .map(|(n, _)| n.as_str())
        .collect();
    if let Some(variable) = dates.get(usize::from(seed.relative / 4) % dates.len().max(1)) {
        let side = match seed.relative % 4 {
            0 => Some(("from", seed.from)),
            1 => Some(("to", seed.to)),
            _ => None,
        };
        if let Some((side, bound)) = side {
            let text = bound.map_or(variable.to_string(), |b| b.shifted(variable.to_string()));
            body[side] = json!(text);
        }
    }
    let mut event_scope: Vec<(String, Type)> = vec![("code".into(), Type::Text)];
    if table == EventTable::Gp {
        let (low, high) = match (seed.min_value, seed.max_value) {
            (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
            other => other,
        };
        if let Some(low) = low {
            body["min_value"] = json!(low);
        }
        if let Some(high) = high {
            body["max_value"] = json!(high);
        }
        event_scope.push(("value".into(), Type::Float));
        event_scope.push(("priority".into(), Type::Int));
        if returns.takes_one_event() {
            let ties = [Ties::Code, Ties::MaxValue, Ties::MinValue][usize::from(seed.on % 3)];
            if !ties.is_code() {
                body["ties"] = json!(ties);
            }
            // Or, with ties by code, an order of other columns, nulls and text included.
            let order_by: &[&str] = match (seed.on / 3) % 4 {
                1 => &["date", "priority"],
                2 => &["date", "value"],
                3 => &["date", "priority", "code"],
                _ => &[],
            };
            if ties.is_code() && !order_by.is_empty() {
                body["order_by"] = json!(order_by);
            }
            // A first or last value may return another column of the chosen event.
            let column = match (seed.on / 12) % 3 {
                1 => Some("priority"),
                2 => Some("date"),
                _ => None,
            };
            if let (Some(c), Aggregation::FirstValue | Aggregation::LastValue) = (column, returns) {
                body["column"] = json!(c);
            }
        }
    }
    event_scope.extend(scope.iter().cloned());
    if let Some(condition) = &seed.condition {
        let realiser = Realiser::new(&event_scope);
        body["where"] = json!(realiser.expr(condition, Type::Bool));
    }
    body
}

fn aggregation_type(returns: Aggregation) -> Type {
    match returns {
        Aggregation::Exists => Type::Bool,
        Aggregation::Count | Aggregation::CountEpisodes => Type::Int,
        Aggregation::FirstDate | Aggregation::LastDate => Type::Date,
        Aggregation::FirstCode | Aggregation::LastCode => Type::Text,
        _ => Type::Float,
    }
}

fn date_cell(d: Option<NaiveDate>) -> Cell {
    d.map(Value::Date)
}

fn text_cell(s: Option<&str>) -> Cell {
    s.map(|s| Value::Text(s.to_string()))
}

/// A table of the given columns with one row per item.
fn table<T>(columns: &[(&str, Type)], items: &[T], row: impl Fn(&T) -> Vec<Cell>) -> Table {
    Table {
        columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        rows: items.iter().map(row).collect(),
    }
}

fn tables(raw: &RawCase) -> Vec<TestTable> {
    let mut ids: Vec<i64> = raw.persons.iter().map(|p| p.id).collect();
    ids.sort_unstable();
    let person = table(
        &[
            ("person_id", Type::Int),
            ("date_of_birth", Type::Date),
            ("date_of_death", Type::Date),
            ("sex", Type::Text),
            ("region", Type::Text),
            ("score", Type::Int),
        ],
        &raw.persons,
        |p| {
            vec![
                Some(Value::Int(p.id)),
                date_cell(p.dob),
                date_cell(p.dod),
                text_cell(p.sex),
                text_cell(p.region),
                p.score.map(Value::Int),
            ]
        },
    );
    let gp = table(
        &[
            ("person_id", Type::Int),
            ("date", Type::Date),
            ("code", Type::Text),
            ("value", Type::Float),
            ("priority", Type::Int),
        ],
        &raw.gp,
        |e| {
            vec![
                Some(Value::Int(person_for(e.slot, &ids))),
                date_cell(e.date),
                text_cell(e.code),
                e.value.map(Value::Float),
                e.priority.map(Value::Int),
            ]
        },
    );
    let hes = table(
        &[
            ("person_id", Type::Int),
            ("date", Type::Date),
            ("code", Type::Text),
        ],
        &raw.hes,
        |e| {
            vec![
                Some(Value::Int(person_for(e.slot, &ids))),
                date_cell(e.date),
                text_cell(e.code),
            ]
        },
    );
    let registrations = table(
        &[
            ("person_id", Type::Int),
            ("start_date", Type::Date),
            ("end_date", Type::Date),
            ("practice", Type::Text),
        ],
        &raw.periods,
        |p| {
            let end = p.end.map(|end| match end {
                PeriodEnd::On(date) => date,
                PeriodEnd::After(days) => shift_days(p.start.unwrap_or(ymd((2020, 1, 1))), days),
            });
            vec![
                Some(Value::Int(person_for(p.slot, &ids))),
                date_cell(p.start),
                date_cell(end),
                text_cell(p.practice),
            ]
        },
    );
    vec![
        TestTable {
            name: "persons",
            spec: TableSpec::person(),
            table: person,
        },
        TestTable {
            name: "gp",
            spec: TableSpec::events(CodeSystem::SnomedCt),
            table: gp,
        },
        TestTable {
            name: "hes",
            spec: TableSpec::events(CodeSystem::Icd10),
            table: hes,
        },
        TestTable {
            name: "registrations",
            spec: TableSpec::periods(),
            table: registrations,
        },
    ]
}

/// A random case: tables, a definition over them and the engine's settings.
pub fn case() -> impl Strategy<Value = Case> {
    raw_case().prop_map(build_case)
}

// ---------------------------------------------------------------------------------------
// Display of cases and values, for failure messages.

fn show(cell: &Cell) -> String {
    match cell {
        None => "null".to_string(),
        Some(Value::Text(s)) => format!("{s:?}"),
        Some(Value::Float(x)) => format!("{x:?}"),
        Some(v) => v.to_string(),
    }
}

fn show_row(cells: &[Cell]) -> String {
    cells.iter().map(show).collect::<Vec<_>>().join(", ")
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n--- definition ---\n{}", self.yaml)?;
        match self.index_override {
            Some(d) => writeln!(f, "--- run-time parameters: index_date = {d}")?,
            None => writeln!(f, "--- run-time parameters: none (defaults)")?,
        }
        writeln!(
            f,
            "--- engine: {} partition(s), batches of {} rows",
            self.partitions, self.batch_rows
        )?;
        for t in &self.tables {
            let names: Vec<&str> = t.table.columns.iter().map(|(n, _)| n.as_str()).collect();
            writeln!(
                f,
                "--- table `{}` ({:?})\n{}",
                t.name,
                t.spec.role,
                names.join(", ")
            )?;
            for row in &t.table.rows {
                writeln!(f, "{}", show_row(row))?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Running both sides.

fn arrow_type(t: Type) -> DataType {
    match t {
        Type::Int => DataType::Int64,
        Type::Float => DataType::Float64,
        Type::Date => DataType::Date32,
        Type::Text => DataType::Utf8,
        Type::Bool => DataType::Boolean,
        other => panic!("no Arrow type for {other}"),
    }
}

fn to_array(t: Type, cells: Vec<&Cell>) -> ArrayRef {
    let value = |cell: &Cell| cell.clone();
    match t {
        Type::Int => Arc::new(
            cells
                .into_iter()
                .map(|c| {
                    value(c).map(|v| match v {
                        Value::Int(n) => n,
                        other => panic!("not an integer: {other:?}"),
                    })
                })
                .collect::<Int64Array>(),
        ),
        Type::Float => Arc::new(
            cells
                .into_iter()
                .map(|c| {
                    value(c).map(|v| match v {
                        Value::Float(x) => x,
                        other => panic!("not a number: {other:?}"),
                    })
                })
                .collect::<Float64Array>(),
        ),
        Type::Date => Arc::new(
            cells
                .into_iter()
                .map(|c| {
                    value(c).map(|v| match v {
                        Value::Date(d) => Date32Type::from_naive_date(d),
                        other => panic!("not a date: {other:?}"),
                    })
                })
                .collect::<Date32Array>(),
        ),
        Type::Text => Arc::new(
            cells
                .into_iter()
                .map(|c| {
                    value(c).map(|v| match v {
                        Value::Text(s) => s,
                        other => panic!("not text: {other:?}"),
                    })
                })
                .collect::<StringArray>(),
        ),
        Type::Bool => Arc::new(
            cells
                .into_iter()
                .map(|c| {
                    value(c).map(|v| match v {
                        Value::Bool(b) => b,
                        other => panic!("not a boolean: {other:?}"),
                    })
                })
                .collect::<BooleanArray>(),
        ),
        other => panic!("no Arrow array for {other}"),
    }
}

/// Registers a table, its rows split into batches of `batch_rows`.
fn register(engine: &Engine, t: &TestTable, batch_rows: usize) -> Result<(), TestCaseError> {
    let fields: Vec<Field> = t
        .table
        .columns
        .iter()
        .map(|(name, ty)| Field::new(name, arrow_type(*ty), name != "person_id"))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = |rows: &[Vec<Cell>]| {
        let arrays = t
            .table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| to_array(*ty, rows.iter().map(|r| &r[i]).collect()))
            .collect();
        RecordBatch::try_new(schema.clone(), arrays).expect("a valid batch")
    };
    let batches = if t.table.rows.is_empty() {
        vec![batch(&[])]
    } else {
        t.table.rows.chunks(batch_rows).map(batch).collect()
    };
    engine
        .register_batches(t.name, t.spec.clone(), schema.clone(), batches)
        .map_err(|e| TestCaseError::fail(format!("registering `{}` failed: {e}", t.name)))
}

/// The cells of an engine column, as reference values.
fn cells(array: &ArrayRef) -> Vec<Cell> {
    let cast = |to: &DataType| arrow::compute::cast(array, to).expect("a castable column");
    let n = array.len();
    let present = |i: usize| array.is_valid(i);
    match array.data_type() {
        DataType::Null => vec![None; n],
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| present(i).then(|| Value::Bool(a.value(i))))
                .collect()
        }
        t if t.is_integer() => {
            let a = cast(&DataType::Int64);
            let a = a.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| present(i).then(|| Value::Int(a.value(i))))
                .collect()
        }
        t if t.is_floating() => {
            let a = cast(&DataType::Float64);
            let a = a.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| present(i).then(|| Value::Float(a.value(i))))
                .collect()
        }
        DataType::Date32 | DataType::Date64 => {
            let a = cast(&DataType::Date32);
            let a = a.as_primitive::<Date32Type>();
            (0..n)
                .map(|i| present(i).then(|| Value::Date(date_of(a.value(i)))))
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let a = cast(&DataType::Utf8);
            let a = a.as_string::<i32>();
            (0..n)
                .map(|i| present(i).then(|| Value::Text(a.value(i).to_string())))
                .collect()
        }
        other => panic!("unexpected engine column type {other}"),
    }
}

fn date_of(days: i32) -> NaiveDate {
    Date32Type::to_naive_date_opt(days).expect("a date in range")
}

/// Rows of `(person_id, other columns)` of an engine result.
fn rows(batch: &RecordBatch) -> Vec<(i64, Vec<Cell>)> {
    let columns: Vec<Vec<Cell>> = batch.columns().iter().map(cells).collect();
    (0..batch.num_rows())
        .map(|r| {
            let id = match &columns[0][r] {
                Some(Value::Int(id)) => *id,
                other => panic!("person_id is {other:?}"),
            };
            (id, columns[1..].iter().map(|c| c[r].clone()).collect())
        })
        .collect()
}

/// Typed equality; decimals within 1e-9 (relative to their size when large).
fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Some(Value::Float(x)), Some(Value::Float(y))) => {
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

/// The first difference between two tables of per-person rows, described.
fn difference(
    what: &str,
    names: &[&str],
    engine: &[(i64, Vec<Cell>)],
    reference: &[(i64, Vec<Cell>)],
) -> Option<String> {
    let engine_ids: Vec<i64> = engine.iter().map(|(id, _)| *id).collect();
    let reference_ids: Vec<i64> = reference.iter().map(|(id, _)| *id).collect();
    if engine_ids != reference_ids {
        return Some(format!(
            "{what}: the engine has persons {engine_ids:?}, the reference {reference_ids:?}"
        ));
    }
    for ((id, e), (_, r)) in engine.iter().zip(reference) {
        for (i, name) in names.iter().enumerate() {
            if !same(&e[i], &r[i]) {
                return Some(format!(
                    "{what}: person {id}, variable `{name}`: engine {}, reference {}\n  \
                     columns:   {}\n  engine:    {}\n  reference: {}",
                    show(&e[i]),
                    show(&r[i]),
                    names.join(", "),
                    show_row(e),
                    show_row(r),
                ));
            }
        }
    }
    None
}

fn attrition_difference(attrition: &RecordBatch, expected: &Outcome) -> Option<String> {
    let column = |name: &str| {
        attrition
            .column_by_name(name)
            .unwrap_or_else(|| panic!("attrition has no `{name}`"))
    };
    let (rule, action) = (
        column("rule").as_string::<i32>(),
        column("action").as_string::<i32>(),
    );
    let counts = |name: &str| column(name).as_primitive::<Int64Type>().values().to_vec();
    let (before, after, removed) = (counts("before"), counts("after"), counts("removed"));
    let actual: Vec<String> = (0..attrition.num_rows())
        .map(|i| {
            format!(
                "{} {} {} -> {} (-{})",
                action.value(i),
                rule.value(i),
                before[i],
                after[i],
                removed[i]
            )
        })
        .collect();
    let wanted: Vec<String> = expected
        .attrition
        .iter()
        .map(|s| {
            let action = if s.exclude { "exclude" } else { "include" };
            format!(
                "{action} {} {} -> {} (-{})",
                s.rule,
                s.before,
                s.after,
                s.before - s.after
            )
        })
        .collect();
    (actual != wanted)
        .then(|| format!("attrition differs\n  engine:    {actual:?}\n  reference: {wanted:?}"))
}

/// Evaluates `case` with the engine and with the reference: they must agree on every
/// person's every variable, on the members and on the attrition.
pub fn check(case: &Case) -> Result<(), TestCaseError> {
    let fail = |what: &str, e: &dyn fmt::Display| TestCaseError::fail(format!("{what}: {e}"));
    let cohort = Cohort::from_yaml_str(&case.yaml)
        .map_err(|e| fail("the generated definition was rejected", &e))?;
    let options = EngineOptions {
        target_partitions: Some(case.partitions),
        ..EngineOptions::default()
    };
    let engine = Engine::with_options(&options).map_err(|e| fail("engine", &e))?;
    for table in &case.tables {
        register(&engine, table, case.batch_rows)?;
    }
    let mut parameters = Parameters::new();
    if let Some(d) = case.index_override {
        parameters.set("index_date", d);
    }
    let evaluation = engine
        .evaluate_blocking(&cohort, &parameters)
        .map_err(|e| fail("the engine failed to evaluate", &e))?;
    let variables = engine
        .variables_blocking(&cohort, &parameters)
        .map_err(|e| fail("the engine failed to compute the variables", &e))?;

    let bound = cohort.bind(&parameters).map_err(|e| fail("bind", &e))?;
    let db = Database {
        person: case.tables[0].table.clone(),
        tables: case.tables[1..]
            .iter()
            .map(|t| (t.name.to_string(), t.table.clone()))
            .collect(),
    };
    let expected = reference::evaluate(&cohort, &bound, &db);

    let variable_names: Vec<&str> = cohort
        .definition()
        .variables
        .keys()
        .map(String::as_str)
        .collect();
    let output_names: Vec<&str> = cohort.output_columns().iter().map(String::as_str).collect();
    let problem = difference(
        "variables",
        &variable_names,
        &rows(&variables),
        &expected.variables,
    )
    .or_else(|| {
        difference(
            "members",
            &output_names,
            &rows(&evaluation.members),
            &expected.members,
        )
    })
    .or_else(|| attrition_difference(&evaluation.attrition, &expected))
    .or_else(|| {
        let population = expected.variables.len() as u64;
        (evaluation.population != population).then(|| {
            format!(
                "population: engine {}, reference {population}",
                evaluation.population
            )
        })
    });
    // The same cohort twice in one `evaluate_many`: both runs over shared scans.
    let together = engine
        .evaluate_many_blocking(&[(&cohort, &parameters), (&cohort, &parameters)])
        .map_err(|e| {
            fail(
                "the engine failed to evaluate the cohort twice together",
                &e,
            )
        })?;
    let problem = problem.or_else(|| {
        together.iter().enumerate().find_map(|(i, run)| {
            difference(
                &format!("members of run {} of two together", i + 1),
                &output_names,
                &rows(&run.members),
                &expected.members,
            )
            .or_else(|| attrition_difference(&run.attrition, &expected))
        })
    });
    match problem {
        Some(p) => Err(TestCaseError::fail(p)),
        None => Ok(()),
    }
}
