//! Which checks each table gets, and what each finds in a row, independent of the engine
//! that counts them: DataFusion in-process (`inspect.rs`), or the SQL of another engine
//! (`execute::sql`). Both count the same findings because both start from this list.

use chrono::NaiveDate;

use super::FindingKind;
use crate::codelist::CodeSystem;
use crate::source::{CodeLayout, Role, TableShape};

/// What makes a row have a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// The column is null.
    Missing(String),
    /// The column's NHS number is not valid (`nhs_number_text_is_valid`); with `or_missing`,
    /// a missing one counts too.
    BadNhsNumber { column: String, or_missing: bool },
    /// The row's person id is on more than one row of the person table (the person table's
    /// own rows).
    Duplicate,
    /// The row's person id is not in the person table. `date` is the row's main date, so
    /// that one look-up of the person serves this test and [`Test::BeforeBirth`].
    Unknown { date: Option<String> },
    /// The date column is before the earliest date of birth of the row's person.
    BeforeBirth(String),
    /// One of the date columns is after the date.
    After(Vec<String>, NaiveDate),
    /// One of the date columns is before the date.
    Before(Vec<String>, NaiveDate),
    /// The first date column is before the second (of the same row).
    Earlier(String, String),
    /// A code of the row has no format of its system (`code_has_format`).
    BadCode(CodeLayout, CodeSystem),
    /// The number column is NaN or infinite.
    NonFinite(String),
    /// One of the columns is null.
    AnyMissing(Vec<String>),
}

impl Test {
    /// Whether the test compares a row with its person in the person table.
    pub fn compares_with_person(&self) -> bool {
        matches!(
            self,
            Test::Duplicate | Test::Unknown { .. } | Test::BeforeBirth(_)
        )
    }
}

/// One check of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckSpec {
    pub kind: FindingKind,
    /// The columns checked, comma-separated, for the report and for errors.
    pub column: String,
    pub test: Test,
    /// Whether removing the rows can change a result: rows of nobody cannot.
    pub effective: bool,
}

/// The first day that is not "before 1900".
pub(crate) fn year_1900() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
}

/// The checks of a table of `shape`, in report order ([`FindingKind::ALL`]).
pub(crate) fn checks_of(shape: &TableShape, reference_date: NaiveDate) -> Vec<CheckSpec> {
    let role = shape.role;
    let id = shape.column("person_id").unwrap_or("person_id").to_string();
    let mapped = |part: &str| shape.column(part).map(str::to_string);
    let dates: Vec<String> = match role {
        Role::Person => ["date_of_birth", "date_of_death"]
            .iter()
            .filter_map(|p| mapped(p))
            .collect(),
        Role::Events => mapped("date").into_iter().collect(),
        Role::Periods => mapped("start_date").into_iter().collect(),
    };
    let main_date = match role {
        Role::Person => mapped("date_of_birth"),
        Role::Events => mapped("date"),
        Role::Periods => mapped("start_date"),
    };
    let check = |kind, column: String, test| CheckSpec {
        kind,
        column,
        test,
        effective: true,
    };

    let mut checks = Vec::new();
    if role == Role::Person
        && let Some(nhs) = shape.column("nhs_number")
    {
        let test = Test::BadNhsNumber {
            column: nhs.to_string(),
            or_missing: nhs != id,
        };
        checks.push(check(FindingKind::InvalidNhsNumber, nhs.to_string(), test));
    }
    checks.push(CheckSpec {
        effective: role == Role::Person,
        ..check(
            FindingKind::MissingPersonId,
            id.clone(),
            Test::Missing(id.clone()),
        )
    });
    if role == Role::Person {
        checks.push(check(
            FindingKind::DuplicatePerson,
            id.clone(),
            Test::Duplicate,
        ));
    } else {
        let test = Test::Unknown {
            date: main_date.clone(),
        };
        checks.push(CheckSpec {
            effective: false,
            ..check(FindingKind::UnknownPerson, id.clone(), test)
        });
    }
    if let Some(c) = &main_date {
        checks.push(check(
            FindingKind::MissingDate,
            c.clone(),
            Test::Missing(c.clone()),
        ));
    }
    if !dates.is_empty() {
        let names = dates.join(", ");
        checks.push(check(
            FindingKind::FutureDate,
            names.clone(),
            Test::After(dates.clone(), reference_date),
        ));
        checks.push(check(
            FindingKind::DateBefore1900,
            names,
            Test::Before(dates.clone(), year_1900()),
        ));
    }
    match role {
        Role::Person => {
            if let (Some(dob), Some(dod)) = (mapped("date_of_birth"), mapped("date_of_death")) {
                let test = Test::Earlier(dod.clone(), dob);
                checks.push(check(FindingKind::DateBeforeBirth, dod, test));
            }
        }
        Role::Events | Role::Periods => {
            if let Some(c) = &main_date {
                let test = Test::BeforeBirth(c.clone());
                checks.push(check(FindingKind::DateBeforeBirth, c.clone(), test));
            }
        }
    }
    if let (Some(system), Some(layout)) = (shape.code_system, &shape.codes) {
        let columns = match layout {
            CodeLayout::Single(c) | CodeLayout::List(c) | CodeLayout::Delimited(c, _) => c.clone(),
            CodeLayout::Columns(cs) => cs.join(", "),
        };
        let test = Test::BadCode(layout.clone(), system);
        checks.push(check(FindingKind::InvalidCode, columns, test));
    }
    if role == Role::Events
        && let Some(value) = mapped("value")
    {
        let test = Test::NonFinite(value.clone());
        checks.push(check(FindingKind::NonFiniteValue, value, test));
    }
    let flags: Vec<String> = ["national_opt_out", "type1_opt_out"]
        .iter()
        .filter_map(|p| mapped(p))
        .collect();
    if role == Role::Person && !flags.is_empty() {
        let names = flags.join(", ");
        checks.push(check(
            FindingKind::MissingOptOut,
            names,
            Test::AnyMissing(flags),
        ));
    }
    checks
}
