//! The cohort definition document, as written in YAML or JSON.
//!
//! These types are the single source of truth for the definition format: the JSON Schema
//! in `schema/cohort-definition.schema.json` is generated from them, and the Python and C
//! front ends pass definitions through them unchanged.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::codelist::CodelistSpec;

/// A cohort definition: metadata, parameters, codelists, variables, rules and output.
///
/// Expressions (rules, derived variables, window bounds) are kept as text here; a `Cohort`
/// parses them, loads the codelist files and checks the whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Stable identifier, used to refer to this cohort from others (`member_of`).
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Version of this definition (free text, e.g. `2025.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What the cohort is for, in plain English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Owner or commissioner of the cohort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Why the data is processed; decides which opt-outs apply.
    pub purpose: Purpose,
    /// Legal basis for the processing (e.g. a direction or a regulation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// Reference of the data protection impact assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpia_reference: Option<String>,
    /// Clinical assurance sign-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assurance: Option<Assurance>,
    /// Named values (dates, numbers, text) that expressions may use; each has a default
    /// that can be overridden at run time. Dates are written `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, ParameterValue>,
    /// Named sets of codes.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub codelists: IndexMap<String, CodelistSpec>,
    /// Named per-person values.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, Variable>,
    /// Ordered inclusion and exclusion steps; their order defines the attrition table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// What the members table holds.
    #[serde(default)]
    pub output: Output,
}

/// Why the data is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Care of the individual: opt-outs do not apply.
    DirectCare,
    /// Research: the national data opt-out and type 1 opt-outs apply.
    Research,
    /// Planning: the national data opt-out and type 1 opt-outs apply.
    Planning,
}

/// Who signed the definition off clinically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assurance {
    /// Name of the clinical safety officer or clinician.
    pub signed_off_by: String,
    /// Their role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Date of the sign-off (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Reference of the safety case or hazard log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The default value of a parameter. Text of the form `YYYY-MM-DD` is a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParameterValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// A date (`YYYY-MM-DD`) or other text.
    Text(String),
}

/// The unit of an age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgeUnit {
    /// Whole years.
    #[default]
    Years,
    /// Whole months.
    Months,
}

impl AgeUnit {
    /// Whether this is the default unit, years (left out when a definition is written).
    pub fn is_years(&self) -> bool {
        *self == AgeUnit::Years
    }

    /// The unit as a calendar duration's.
    pub fn duration_unit(self) -> crate::model::expr::DurationUnit {
        match self {
            AgeUnit::Years => crate::model::expr::DurationUnit::Years,
            AgeUnit::Months => crate::model::expr::DurationUnit::Months,
        }
    }
}

/// A named per-person value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Variable {
    /// Age in whole years (or months) on a date. A 29 February birthday counts on 1 March
    /// in non-leap years, as a month-day missing from a shorter month counts on the 1st of
    /// the next (`years_between`, `months_between`). Negative before birth.
    Age {
        /// The date (an expression, e.g. `index_date` or `latest_bmi_date`).
        on: String,
        /// `years` (the default) or `months` ("under 6 months old").
        #[serde(default, skip_serializing_if = "AgeUnit::is_years")]
        unit: AgeUnit,
    },
    /// The person table's `sex` column.
    Sex,
    /// Not dead on the date: no date of death on or before it, as national specifications
    /// define "alive on". It says nothing of birth — a person born after the date is alive
    /// on it; `age >= 0` in a rule keeps only those born by then.
    Alive {
        /// The date (an expression).
        on: String,
    },
    /// Has a period in a period table (e.g. practice registrations) that covers the date:
    /// `start_date <= on` and (`end_date` is null or `end_date >= on`).
    Registered {
        /// The period table.
        table: String,
        /// The date (parameters and literals only).
        on: String,
    },
    /// The `practice` of the period covering the date (the latest-starting one if several
    /// do; then the greatest practice code).
    Practice {
        /// The period table.
        table: String,
        /// The date (parameters and literals only).
        on: String,
    },
    /// Any column of the person table, by its (mapped) name.
    PersonColumn {
        /// The column.
        column: String,
    },
    /// An aggregate over a person's events filtered by codelist, window, value and condition.
    Events(EventVariable),
    /// An expression over other variables and parameters.
    Derived {
        /// The expression, e.g. `age >= 65 or at_risk`: `and`, `or`, `not`, comparisons,
        /// `IS NULL`, `IN (...)`, `BETWEEN`, `+ - * /`, a date ± `N days|months|years`
        /// (`N` a whole number or a whole-number expression, e.g. `lookback months`),
        /// `CASE WHEN ... THEN ... ELSE ... END` and the functions `coalesce`,
        /// `years_between`, `months_between`, `days_between`, `least`, `greatest`, `year`,
        /// `month`, `day`, `first_of_month`, `first_of_year`, `abs`, `div` (whole numbers,
        /// rounded toward zero) and the casts `integer`, `decimal` and `boolean`.
        expr: String,
    },
    /// Whether the person is a member of another cohort (registered with the engine).
    MemberOf {
        /// The other cohort's `id`.
        cohort: String,
    },
}

/// An aggregate over a person's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventVariable {
    /// The event table.
    pub table: String,
    /// Codelists whose codes select events (any of them). Without codelists every event
    /// of the table counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codelists: Vec<String>,
    /// First day of the window, inclusive: a date over parameters and the person's earlier
    /// variables (`index_date - 12 months`, `first_admission + 1 day`). Open if absent;
    /// where the date is missing for a person, no event is selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last day of the window, inclusive, as `from`. Open if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Smallest `value` to count, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// Largest `value` to count, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// An extra condition over the event's columns, parameters and the person's earlier
    /// variables (a name is the event's column where the table has one).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// What to compute from the selected events.
    pub returns: Aggregation,
    /// For `first_*` and `last_*`: which of several events on the first (last) date to
    /// take. Default `code`.
    #[serde(default, skip_serializing_if = "Ties::is_code")]
    pub ties: Ties,
    /// For `first_*` and `last_*`: the order that decides the first (smallest) and last
    /// (greatest) event — `date`, then columns of the event table (`value`, `code` or a
    /// mapped column) that break its ties, each ascending with a missing value smallest,
    /// then by code and value as without. Not with `ties`. Default `[date]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<String>,
    /// For `first_value` and `last_value`: the column of the chosen event to return in
    /// place of `value` — any column of the event table, such as its practice or episode
    /// id; the variable has that column's type. Events equal in every key of the order
    /// are told apart by this column: the first takes the smallest, the last the
    /// greatest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// For `count_episodes`: how many days after the previous selected event an event
    /// starts a new episode (1 or more; required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_days: Option<u32>,
}

/// Which of several selected events on the first (or last) date a `first_*` (`last_*`)
/// variable takes: "the largest value among the readings on the latest date".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// By code, then value: the smallest code for `first_*`, the greatest for `last_*`
    /// (codes compared as text; the order of (date, code, value)).
    #[default]
    Code,
    /// The largest value (an event without one is taken only when none has one), then
    /// by code.
    MaxValue,
    /// The smallest value (an event without one is taken only when none has one), then
    /// by code.
    MinValue,
}

impl Ties {
    /// Whether this is the default, `code` (left out when a definition is written).
    pub fn is_code(&self) -> bool {
        *self == Ties::Code
    }
}

/// What an event variable computes from the selected events.
///
/// Ties: `first_*` takes the event that is smallest by (date, code, value) and `last_*`
/// the one that is greatest by (date, code, value), a null value counting as smallest and
/// codes compared as text, even where a table holds them as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Whether any event is selected (never null).
    Exists,
    /// How many events are selected (never null). In a table with several codes per row
    /// (e.g. 20 diagnosis columns), each matching code is an event.
    Count,
    /// Date of the earliest selected event.
    FirstDate,
    /// Date of the latest selected event.
    LastDate,
    /// Value of the earliest selected event.
    FirstValue,
    /// Value of the latest selected event.
    LastValue,
    /// Code of the earliest selected event.
    FirstCode,
    /// Code of the latest selected event.
    LastCode,
    /// Smallest value of the selected events.
    MinValue,
    /// Largest value of the selected events.
    MaxValue,
    /// Sum of the selected events' values; missing when none has a value (as SQL's `sum`
    /// and ehrQL's `sum_for_patient`).
    Sum,
    /// Mean of the selected events' values; missing when none has a value.
    Mean,
    /// How many different codes the selected events have (never null).
    CountDistinctCodes,
    /// On how many different dates the selected events fall (never null).
    CountDistinctDates,
    /// How many episodes the selected events make: an event starts a new one when it is
    /// at least `gap_days` days after the previous selected event (the first always
    /// does), so events on one day are one episode (never null). ehrQL's
    /// `count_episodes_for_patient(maximum_gap)` is `gap_days: maximum_gap + 1`.
    CountEpisodes,
}

impl Aggregation {
    /// Whether the aggregate takes one event, the first or the last.
    pub fn takes_one_event(self) -> bool {
        matches!(
            self,
            Aggregation::FirstValue
                | Aggregation::LastValue
                | Aggregation::FirstCode
                | Aggregation::LastCode
        )
    }

    /// Whether the aggregate takes the last event (else, of those that take one, the first).
    pub fn is_last(self) -> bool {
        matches!(self, Aggregation::LastValue | Aggregation::LastCode)
    }

    /// Whether the aggregate reads the events' `value` column.
    pub fn needs_value(self) -> bool {
        matches!(
            self,
            Aggregation::FirstValue
                | Aggregation::LastValue
                | Aggregation::MinValue
                | Aggregation::MaxValue
                | Aggregation::Sum
                | Aggregation::Mean
        )
    }
}

/// One inclusion or exclusion step. Exactly one of `include` and `exclude` is given.
///
/// A rule whose value is null (unknown) is not satisfied: an `include` drops the person, an
/// `exclude` keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name shown in the attrition table (default `rule N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Keep only the people for whom this expression is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Remove the people for whom this expression is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// The clinical intent, in plain English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What the members table holds besides `person_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Variables to return, in this order (data minimisation: nothing else leaves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}
