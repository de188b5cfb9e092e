//! Tables: what a registered table is for ([`Role`]), which of its columns play which part
//! ([`ColumnMapping`]), and the checks that its columns fit.
//!
//! Column names are mapped, not imposed. After mapping, every table is seen through the
//! canonical names below; other columns keep their own names.
//!
//! | role | canonical columns |
//! |---|---|
//! | person | `person_id`, `date_of_birth`, `sex`, `date_of_death`, `nhs_number`, `national_opt_out`, `type1_opt_out`, any other |
//! | events | `person_id`, `date`, `code`, `value` (optional), `end_date` (optional), any other |
//! | periods | `person_id`, `start_date`, `end_date`, `practice` (optional) |

pub(crate) mod catalog;
pub(crate) mod dates;
pub mod quality;
mod read;
mod reads;

pub(crate) use catalog::{Catalog, IdKey, Snapshot, Table};
pub(crate) use read::SourceFile;
pub(crate) use reads::counted;
pub use reads::{Reads, TableReads, with_progress, with_progress_blocking};

use arrow::datatypes::{DataType, Schema};
use datafusion::common::Column;
use datafusion::logical_expr::Expr as DfExpr;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::codelist::CodeSystem;
use crate::error::{CaasError, Result};

/// What a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// One row per person (like the Personal Demographics Service).
    Person,
    /// Many rows per person, each with a date and one or more codes.
    Events,
    /// Many rows per person, each a period from `start_date` to `end_date`.
    Periods,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Person => "a person table",
            Role::Events => "an event table",
            Role::Periods => "a period table",
        })
    }
}

/// How a table is to be read: its role, its code system (event tables) and which of its
/// columns play which part.
///
/// ```
/// use caas_core::{CodeSystem, ColumnMapping, TableSpec};
/// let spec: TableSpec = serde_json::from_str(r#"{
///     "role": "events",
///     "code_system": "icd10",
///     "mapping": {"person_id": "patient", "date": "admidate",
///                 "codes": ["DIAG_4_01", "DIAG_4_02"]}
/// }"#)?;
/// let built = TableSpec::events(CodeSystem::Icd10).with_mapping(ColumnMapping {
///     person_id: Some("patient".into()),
///     date: Some("admidate".into()),
///     codes: Some(vec!["DIAG_4_01".into(), "DIAG_4_02".into()]),
///     ..ColumnMapping::default()
/// });
/// assert_eq!(spec, built);
///
/// // Dates written as text in another format than ISO 8601: for every date column, or
/// // per column.
/// use caas_core::DateFormat;
/// let uk: TableSpec =
///     serde_json::from_str(r#"{"role": "person", "date_format": "%d/%m/%Y"}"#)?;
/// assert_eq!(uk.date_format, Some(DateFormat::All("%d/%m/%Y".into())));
/// let one: TableSpec =
///     serde_json::from_str(r#"{"role": "person", "date_format": {"dob": "%Y%m%d"}}"#)?;
/// assert_eq!(one.date_format.and_then(|f| f.of("dob").map(str::to_string)), Some("%Y%m%d".into()));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The table's role.
    pub role: Role,
    /// The code system of an event table's codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_system: Option<CodeSystem>,
    /// Which columns play which part; unmapped parts use their canonical names.
    #[serde(default)]
    pub mapping: ColumnMapping,
    /// How the date columns that hold text are read; ISO 8601 (`%Y-%m-%d`) without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<DateFormat>,
}

/// How the text of a table's date columns is written, in strftime syntax (`%d/%m/%Y` for
/// 01/06/1950): one format for every date column of the table, or one per column (by the
/// column's name in the table; the others ISO 8601). It applies to the date columns that
/// hold text; columns of dates are read as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DateFormat {
    /// One format for every date column.
    All(String),
    /// A format per column.
    Columns(indexmap::IndexMap<String, String>),
}

/// The format of text dates without a `date_format`: ISO 8601, a date or a date and time
/// (read as its day, as a column of dates and times is).
pub(crate) const ISO_DATE: &str = "%Y-%m-%d";

impl DateFormat {
    /// The format of `column`, where it has one.
    pub fn of(&self, column: &str) -> Option<&str> {
        match self {
            DateFormat::All(format) => Some(format),
            DateFormat::Columns(formats) => formats.get(column).map(String::as_str),
        }
    }
}

/// Whether `format` reads a whole calendar date: valid strftime, with a year, a month and a
/// day (a date written in it and read back is the same date). It may also read a time and
/// an offset (`%Y-%m-%d %H:%M:%S`), which are ignored.
fn reads_whole_dates(format: &str) -> bool {
    use std::fmt::Write;

    use chrono::TimeZone;
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return false;
    }
    // A date, time and offset, so that any field of the format can be written; writing
    // fails (rather than panics, as `to_string` would) on a field it cannot.
    let chrono::LocalResult::Single(sample) =
        chrono::Utc.with_ymd_and_hms(1987, 11, 23, 13, 45, 56)
    else {
        return false;
    };
    let mut written = String::new();
    if write!(written, "{}", sample.format(format)).is_err() {
        return false;
    }
    chrono::NaiveDate::parse_from_str(&written, format).ok() == Some(sample.date_naive())
}

/// Which columns of a table play which part. Every field is optional: an absent field means
/// the column has the canonical name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// The person identifier (an integer or text column). All tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// Date of birth. Person table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Sex. Person table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// Date of death. Person table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_death: Option<String>,
    /// The NHS number (an integer or text column), checked by the Modulus 11 rule and the
    /// input of pseudonyms. Person table. It may name the `person_id` column when the
    /// person id is the NHS number. Without it (and without a column `nhs_number`) the
    /// table has no NHS numbers: none are checked, and pseudonyms are made from the
    /// person id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<String>,
    /// Whether the person has registered a national data opt-out (a boolean column).
    /// Person table; needed by purposes other than `direct_care`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_opt_out: Option<String>,
    /// Whether the person has registered a type 1 opt-out with their GP practice (a boolean
    /// column). Person table; needed by purposes other than `direct_care`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type1_opt_out: Option<String>,
    /// The event date. Event table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The code column of an event table: a text or integer column, a list column, or a
    /// delimited text column (with `code_delimiter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Several code columns of an event table, primary first (e.g. `DIAG_4_01`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
    /// The delimiter of a delimited code column (e.g. `,`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_delimiter: Option<String>,
    /// Use only the primary (first) code of each row.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_code_only: bool,
    /// A numeric value of the event (e.g. a BMI). Event table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Start of a period. Period table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// End of a period (event or period table); null means still open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// The practice of a period. Period table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
}

impl TableSpec {
    /// A person table with canonical column names.
    pub fn person() -> Self {
        Self::new(Role::Person, None)
    }

    /// An event table of the given code system with canonical column names.
    pub fn events(code_system: CodeSystem) -> Self {
        Self::new(Role::Events, Some(code_system))
    }

    /// A period table with canonical column names.
    pub fn periods() -> Self {
        Self::new(Role::Periods, None)
    }

    fn new(role: Role, code_system: Option<CodeSystem>) -> Self {
        TableSpec {
            role,
            code_system,
            mapping: ColumnMapping::default(),
            date_format: None,
        }
    }

    /// Sets how the date columns that hold text are written.
    pub fn with_date_format(mut self, format: DateFormat) -> Self {
        self.date_format = Some(format);
        self
    }

    /// Sets which columns play which part.
    pub fn with_mapping(mut self, mapping: ColumnMapping) -> Self {
        self.mapping = mapping;
        self
    }
}

/// How the codes of an event table are laid out in its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeLayout {
    /// One code per row.
    Single(String),
    /// Several code columns, primary first.
    Columns(Vec<String>),
    /// A list column, primary first.
    List(String),
    /// A text column of codes separated by a delimiter, primary first.
    Delimited(String, String),
}

/// The checked shape of a registered table: which columns play which part.
#[derive(Debug, Clone)]
pub(crate) struct TableShape {
    /// The role.
    pub role: Role,
    /// The code system (event tables).
    pub code_system: Option<CodeSystem>,
    /// Source column of each canonical part that the table has.
    pub parts: Vec<(&'static str, String)>,
    /// The code layout (event tables).
    pub codes: Option<CodeLayout>,
    /// Whether only the primary code counts.
    pub primary_code_only: bool,
    /// Whether person ids are integers (else text).
    pub integer_person_id: bool,
    /// Whether codes are integers (else text).
    pub integer_codes: bool,
    /// The date columns that hold text, each with the format it is written in.
    pub text_dates: Vec<(String, String)>,
}

impl TableShape {
    /// The source column of a canonical part, if the table has it.
    pub fn column(&self, part: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, c)| c.as_str())
    }
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

pub(crate) fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

fn is_date(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) | DataType::Null
    )
}

fn is_code_list(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            is_text(f.data_type()) || is_integer(f.data_type())
        }
        _ => false,
    }
}

impl TableSpec {
    /// Checks the spec against a table's schema: every mapped column exists with a usable
    /// type. Errors name the table, the column, the expected and the actual type.
    pub(crate) fn check(&self, table: &str, schema: &Schema) -> Result<TableShape> {
        let m = &self.mapping;
        let err = |message: String| CaasError::Registration {
            table: table.to_string(),
            message,
        };
        let given: [(&'static str, &Option<String>); 13] = [
            ("person_id", &m.person_id),
            ("date_of_birth", &m.date_of_birth),
            ("sex", &m.sex),
            ("date_of_death", &m.date_of_death),
            ("nhs_number", &m.nhs_number),
            ("national_opt_out", &m.national_opt_out),
            ("type1_opt_out", &m.type1_opt_out),
            ("date", &m.date),
            ("code", &m.code),
            ("value", &m.value),
            ("start_date", &m.start_date),
            ("end_date", &m.end_date),
            ("practice", &m.practice),
        ];
        let (required, optional): (&[&'static str], &[&'static str]) = match self.role {
            Role::Person => (
                &["person_id"],
                &[
                    "date_of_birth",
                    "sex",
                    "date_of_death",
                    "nhs_number",
                    "national_opt_out",
                    "type1_opt_out",
                ],
            ),
            Role::Events => (&["person_id", "date"], &["value", "end_date"]),
            Role::Periods => (&["person_id", "start_date"], &["end_date", "practice"]),
        };
        let allowed = |part: &str| {
            required.contains(&part)
                || optional.contains(&part)
                || (self.role == Role::Events && part == "code")
        };
        for (part, column) in given {
            if column.is_some() && !allowed(part) {
                return Err(err(format!("`{part}` cannot be mapped in {}", self.role)));
            }
        }
        let events_only = m.codes.is_some() || m.code_delimiter.is_some() || m.primary_code_only;
        if self.role != Role::Events && (events_only || self.code_system.is_some()) {
            return Err(err(format!(
                "codes and a code system belong to event tables, not to {}",
                self.role
            )));
        }
        if self.role == Role::Events && self.code_system.is_none() {
            return Err(err("an event table needs a `code_system`".to_string()));
        }

        let field_type = |column: &str, needed_as: &str| {
            schema
                .field_with_name(column)
                .map(|f| f.data_type().clone())
                .map_err(|_| CaasError::MissingColumn {
                    table: table.to_string(),
                    column: column.to_string(),
                    needed_as: needed_as.to_string(),
                })
        };
        let wrong_type = |column: &str, expected: &str, actual: &DataType| CaasError::ColumnType {
            table: table.to_string(),
            column: column.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        };

        let mut parts = Vec::new();
        let mut text_dates = Vec::new();
        let mut integer_person_id = false;
        for (part, mapped) in given {
            if !required.contains(&part) && !optional.contains(&part) {
                continue;
            }
            let column = mapped.clone().unwrap_or_else(|| part.to_string());
            let present = schema.field_with_name(&column).is_ok();
            if !present && mapped.is_none() && optional.contains(&part) {
                continue;
            }
            let t = field_type(&column, part)?;
            match part {
                "person_id" => {
                    if !(is_integer(&t) || is_text(&t)) {
                        return Err(wrong_type(&column, "an integer or text", &t));
                    }
                    integer_person_id = is_integer(&t);
                }
                "nhs_number" => {
                    if !(is_integer(&t) || is_text(&t) || t == DataType::Null) {
                        return Err(wrong_type(&column, "an integer or text", &t));
                    }
                }
                "national_opt_out" | "type1_opt_out" => {
                    if !matches!(t, DataType::Boolean | DataType::Null) {
                        return Err(wrong_type(&column, "a boolean", &t));
                    }
                }
                "value" => {
                    if !(t.is_numeric() || t == DataType::Null) {
                        return Err(wrong_type(&column, "a number", &t));
                    }
                }
                "sex" | "practice" => {
                    if !(is_text(&t) || t == DataType::Null) {
                        return Err(wrong_type(&column, "text", &t));
                    }
                }
                _ if is_text(&t) => {
                    let format = self.date_format.as_ref().and_then(|f| f.of(&column));
                    text_dates.push((column.clone(), format.unwrap_or(ISO_DATE).to_string()));
                }
                _ => {
                    if !is_date(&t) {
                        return Err(wrong_type(
                            &column,
                            "a date (Date32, Date64 or Timestamp), or text",
                            &t,
                        ));
                    }
                }
            }
            parts.push((part, column));
        }
        self.check_date_format(table, &parts)?;

        let (codes, integer_codes) = if self.role == Role::Events {
            let (layout, integer) = self.code_layout(table, &field_type, &wrong_type)?;
            (Some(layout), integer)
        } else {
            (None, false)
        };
        if integer_codes && self.code_system.is_some_and(CodeSystem::matches_by_prefix) {
            return Err(CaasError::ColumnType {
                table: table.to_string(),
                column: m.code.clone().unwrap_or_else(|| "code".into()),
                expected: "text (ICD-10 and OPCS-4 codes are matched by prefix)".to_string(),
                actual: "integers".to_string(),
            });
        }
        Ok(TableShape {
            role: self.role,
            code_system: self.code_system,
            parts,
            codes,
            primary_code_only: m.primary_code_only,
            integer_person_id,
            integer_codes,
            text_dates,
        })
    }

    /// Checks the `date_format`: each format reads whole dates, and each column it names
    /// is one of the table's date columns (`parts`).
    fn check_date_format(&self, table: &str, parts: &[(&str, String)]) -> Result<()> {
        let Some(date_format) = &self.date_format else {
            return Ok(());
        };
        let err = |message: String| CaasError::Registration {
            table: table.to_string(),
            message,
        };
        let is_date_part = |p: &str| {
            matches!(
                p,
                "date_of_birth" | "date_of_death" | "date" | "end_date" | "start_date"
            )
        };
        let formats: Vec<(Option<&str>, &str)> = match date_format {
            DateFormat::All(format) => vec![(None, format.as_str())],
            DateFormat::Columns(formats) => (formats.iter())
                .map(|(c, f)| (Some(c.as_str()), f.as_str()))
                .collect(),
        };
        for (column, format) in formats {
            if !reads_whole_dates(format) {
                return Err(err(format!(
                    "date_format `{format}` does not read a whole date: give the year, month \
                     and day, e.g. `%d/%m/%Y`"
                )));
            }
            if let Some(column) = column
                && !parts.iter().any(|(p, c)| c == column && is_date_part(p))
            {
                return Err(err(format!(
                    "date_format names `{column}`, which is not a date column of {}",
                    self.role
                )));
            }
        }
        Ok(())
    }

    fn code_layout(
        &self,
        table: &str,
        field_type: &dyn Fn(&str, &str) -> Result<DataType>,
        wrong_type: &dyn Fn(&str, &str, &DataType) -> CaasError,
    ) -> Result<(CodeLayout, bool)> {
        let m = &self.mapping;
        let err = |message: &str| CaasError::Registration {
            table: table.to_string(),
            message: message.to_string(),
        };
        if let Some(columns) = &m.codes {
            if m.code.is_some() || m.code_delimiter.is_some() {
                return Err(err(
                    "give either `codes` (several columns) or `code`, not both",
                ));
            }
            if columns.is_empty() {
                return Err(err("`codes` lists no column"));
            }
            let mut integer = None;
            for column in columns {
                let t = field_type(column, "a code column")?;
                let this = if is_integer(&t) {
                    true
                } else if is_text(&t) || t == DataType::Null {
                    false
                } else {
                    return Err(wrong_type(column, "text or an integer", &t));
                };
                if integer.is_some_and(|i| i != this) {
                    return Err(wrong_type(
                        column,
                        "the same type as the other code columns",
                        &t,
                    ));
                }
                integer = Some(this);
            }
            return Ok((
                CodeLayout::Columns(columns.clone()),
                integer.unwrap_or(false),
            ));
        }
        let column = m.code.clone().unwrap_or_else(|| "code".to_string());
        let t = field_type(&column, "code")?;
        if let Some(delimiter) = &m.code_delimiter {
            if !is_text(&t) {
                return Err(wrong_type(&column, "text (it has a `code_delimiter`)", &t));
            }
            if delimiter.is_empty() {
                return Err(err("`code_delimiter` is empty"));
            }
            return Ok((CodeLayout::Delimited(column, delimiter.clone()), false));
        }
        if is_code_list(&t) {
            let integer = match &t {
                DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
                    is_integer(f.data_type())
                }
                _ => false,
            };
            return Ok((CodeLayout::List(column), integer));
        }
        if is_integer(&t) {
            return Ok((CodeLayout::Single(column), true));
        }
        if is_text(&t) || t == DataType::Null {
            return Ok((CodeLayout::Single(column), false));
        }
        Err(wrong_type(
            &column,
            "text, an integer, or a list of codes",
            &t,
        ))
    }
}

/// The column `name` of a plan, unqualified and taken as written (no case folding).
pub(crate) fn column(name: &str) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(name))
}
