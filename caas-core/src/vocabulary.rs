//! The small closed vocabularies that every layer names, errors included: code systems and
//! kinds of data-quality finding. They sit below [`error`](crate::error) so that an error
//! can name them without the error type depending on the layers that use it.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A clinical code system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeSystem {
    /// SNOMED CT concept ids (GP records). Exact match.
    SnomedCt,
    /// Dictionary of medicines and devices ids. Exact match.
    Dmd,
    /// ICD-10 diagnoses (hospital records). Prefix match after normalisation.
    Icd10,
    /// OPCS-4 procedures (hospital records). Prefix match after normalisation.
    Opcs4,
}

impl fmt::Display for CodeSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeSystem::SnomedCt => "SNOMED CT",
            CodeSystem::Dmd => "dm+d",
            CodeSystem::Icd10 => "ICD-10",
            CodeSystem::Opcs4 => "OPCS-4",
        })
    }
}

impl CodeSystem {
    /// Whether codes of this system match by prefix (ICD-10, OPCS-4) rather than exactly.
    pub fn matches_by_prefix(self) -> bool {
        matches!(self, CodeSystem::Icd10 | CodeSystem::Opcs4)
    }

    /// The form in which codes of this system are compared.
    ///
    /// Surrounding spaces are always removed. ICD-10 and OPCS-4 codes are upper-cased,
    /// lose their `.` and any trailing `X` filler after the third character.
    ///
    /// ```
    /// use caas_core::CodeSystem;
    /// assert_eq!(CodeSystem::Icd10.normalise(" j45.x "), "J45");
    /// assert_eq!(CodeSystem::Icd10.normalise("X59"), "X59");
    /// assert_eq!(CodeSystem::SnomedCt.normalise(" 195967001 "), "195967001");
    /// ```
    pub fn normalise(self, code: &str) -> String {
        // Spaces only, as SQL's `trim`: every engine reads a code alike.
        let code = code.trim_matches(' ');
        if !self.matches_by_prefix() {
            return code.to_string();
        }
        let mut out: String = code
            .chars()
            .filter(|c| *c != '.')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        while out.len() > 3 && out.ends_with('X') {
            out.pop();
        }
        out
    }

    /// What makes `code` (from a codelist) one that no code can match, if anything: being
    /// empty once trimmed, or holding spaces or control characters inside. Codes are not
    /// held to their system's format: local codes (EMIS's `EMISNQAS1`, say) sit in SNOMED
    /// CT lists in practice; the data-quality checks report malformed codes in the data.
    ///
    /// ```
    /// use caas_core::CodeSystem;
    /// assert_eq!(CodeSystem::SnomedCt.code_problem(" 195967001 "), None);
    /// assert_eq!(CodeSystem::Icd10.code_problem("j45.x"), None);
    /// assert!(CodeSystem::SnomedCt.code_problem("  ").is_some());
    /// assert!(CodeSystem::SnomedCt.code_problem("1959 67001").is_some());
    /// assert!(CodeSystem::Icd10.code_problem("J45\t").is_some());
    /// ```
    pub fn code_problem(self, code: &str) -> Option<&'static str> {
        let code = self.normalise(code);
        if code.is_empty() {
            Some("is empty")
        } else if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("holds spaces or control characters, which no code has")
        } else {
            None
        }
    }
}

/// A kind of data-quality finding. See [`quality`](crate::quality) for what each means
/// and where it is looked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An NHS number of the wrong length or failing the Modulus 11 check.
    InvalidNhsNumber,
    /// A row without a person id.
    MissingPersonId,
    /// A person id on more than one row of the person table.
    DuplicatePerson,
    /// An event or period of a person who is not in the person table.
    UnknownPerson,
    /// A missing date of birth, event date or period start date.
    MissingDate,
    /// A date after the reference date.
    FutureDate,
    /// A date before 1 January 1900.
    #[serde(rename = "date_before_1900")]
    DateBefore1900,
    /// A date before the person's date of birth.
    DateBeforeBirth,
    /// A code that has no format of its code system.
    InvalidCode,
    /// An event's value that is not a finite number (NaN or infinite).
    NonFiniteValue,
    /// A person's opt-out flag that is missing (read as no opt-out).
    MissingOptOut,
    /// A person's value of a derived variable or a rule that is missing because an
    /// arithmetic step had no result (a division by zero, a whole number out of range, a
    /// date outside the years 1 to 9999).
    ArithmeticError,
}

impl FindingKind {
    /// Every kind, in the order of reports.
    pub const ALL: [FindingKind; 12] = [
        FindingKind::InvalidNhsNumber,
        FindingKind::MissingPersonId,
        FindingKind::DuplicatePerson,
        FindingKind::UnknownPerson,
        FindingKind::MissingDate,
        FindingKind::FutureDate,
        FindingKind::DateBefore1900,
        FindingKind::DateBeforeBirth,
        FindingKind::InvalidCode,
        FindingKind::NonFiniteValue,
        FindingKind::MissingOptOut,
        FindingKind::ArithmeticError,
    ];

    /// The snake_case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::InvalidNhsNumber => "invalid_nhs_number",
            FindingKind::MissingPersonId => "missing_person_id",
            FindingKind::DuplicatePerson => "duplicate_person",
            FindingKind::UnknownPerson => "unknown_person",
            FindingKind::MissingDate => "missing_date",
            FindingKind::FutureDate => "future_date",
            FindingKind::DateBefore1900 => "date_before_1900",
            FindingKind::DateBeforeBirth => "date_before_birth",
            FindingKind::InvalidCode => "invalid_code",
            FindingKind::NonFiniteValue => "non_finite_value",
            FindingKind::MissingOptOut => "missing_opt_out",
            FindingKind::ArithmeticError => "arithmetic_error",
        }
    }

    /// What a row with this finding has, for messages ("3 rows have ..."; for
    /// `arithmetic_error`, "3 people have ...").
    pub fn description(self) -> &'static str {
        match self {
            FindingKind::InvalidNhsNumber => "an invalid NHS number",
            FindingKind::MissingPersonId => "no person id",
            FindingKind::DuplicatePerson => "a person id that is on more than one row",
            FindingKind::UnknownPerson => "a person id that is not in the person table",
            FindingKind::MissingDate => "a missing date",
            FindingKind::FutureDate => "a date after the reference date",
            FindingKind::DateBefore1900 => "a date before 1900",
            FindingKind::DateBeforeBirth => "a date before the person's date of birth",
            FindingKind::InvalidCode => "a code that has no format of its code system",
            FindingKind::NonFiniteValue => "a value that is not a finite number",
            FindingKind::MissingOptOut => "a missing opt-out flag",
            FindingKind::ArithmeticError => {
                "a value that arithmetic left missing (a division by zero, a whole number out of \
                 range or a date outside the years 1 to 9999)"
            }
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
