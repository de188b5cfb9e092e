//! Codelists: named sets of codes in one code system.
//!
//! Matching is exact for SNOMED CT and dm+d. For ICD-10 and OPCS-4 it is by prefix after
//! [normalisation](CodeSystem::normalise): `J45` in a codelist matches `J450`, `J45.0` and
//! `J45X` in the data. Codelists are matched by joining the events to a table of
//! (code, variable) pairs, so a list of thousands of codes costs one hash join.

use std::collections::BTreeSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{CaasError, Result};
use crate::limits::Limits;
pub use crate::vocabulary::CodeSystem;

/// A named set of codes in one code system, written inline or read from an
/// OpenCodelists-format CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodelistSpec {
    /// The code system of the codes.
    pub system: CodeSystem,
    /// Inline codes. Give either `codes` or `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
    /// Path of a CSV file, relative to the definition file. Give either `codes` or `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Column of the CSV file that holds the codes (default `code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_column: Option<String>,
    /// Column of the CSV file that holds a category for each code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_column: Option<String>,
    /// Keep only the rows whose category is one of these (needs `category_column`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// What the codelist is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A codelist ready for matching: normalised, de-duplicated, sorted codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codelist {
    /// The codelist's name in the definition.
    pub name: String,
    /// Its code system.
    pub system: CodeSystem,
    codes: Vec<String>,
}

impl Codelist {
    /// Builds a codelist from codes as written; they are normalised for `system`.
    ///
    /// ```
    /// use caas_core::{CodeSystem, Codelist};
    /// let list = Codelist::new("asthma_admission", CodeSystem::Icd10, ["J45", "j46.x", "J45.0"]);
    /// assert_eq!(list.codes(), ["J45", "J46"]);
    /// ```
    pub fn new<S: AsRef<str>>(
        name: impl Into<String>,
        system: CodeSystem,
        codes: impl IntoIterator<Item = S>,
    ) -> Self {
        let normalised: BTreeSet<String> = codes
            .into_iter()
            .map(|c| system.normalise(c.as_ref()))
            .filter(|c| !c.is_empty())
            .collect();
        let codes = if system.matches_by_prefix() {
            // A code that extends another code of the list adds nothing to prefix matching
            // and would make an event match twice. Sorted, a code's extensions follow it.
            let mut kept: Vec<String> = Vec::new();
            for code in normalised {
                if kept.last().is_none_or(|k| !code.starts_with(k.as_str())) {
                    kept.push(code);
                }
            }
            kept
        } else {
            normalised.into_iter().collect()
        };
        Codelist {
            name: name.into(),
            system,
            codes,
        }
    }

    /// The codes used for matching (normalised; for prefix systems, no code is a prefix of
    /// another).
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// Whether a code from the data matches this codelist: exactly, as written, for SNOMED
    /// CT and dm+d; by prefix after normalisation for ICD-10 and OPCS-4.
    ///
    /// ```
    /// use caas_core::{CodeSystem, Codelist};
    /// let asthma = Codelist::new("asthma", CodeSystem::Icd10, ["J45"]);
    /// assert!(asthma.matches("j45.9"));
    /// let bmi = Codelist::new("bmi", CodeSystem::SnomedCt, [" 60621009 "]);
    /// assert!(bmi.matches("60621009"));
    /// assert!(!bmi.matches("60621009 ")); // data codes are not trimmed
    /// ```
    pub fn matches(&self, code: &str) -> bool {
        if self.system.matches_by_prefix() {
            let code = self.system.normalise(code);
            self.codes.iter().any(|c| code.starts_with(c.as_str()))
        } else {
            self.codes
                .binary_search_by(|c| c.as_str().cmp(code))
                .is_ok()
        }
    }

    /// Loads a codelist from its specification within `limits`; `base_dir` resolves a
    /// relative `file`. A code that no code can equal (empty, or with spaces inside) is an
    /// error naming its position: left in, it would match nothing it was meant to.
    pub fn load(name: &str, spec: &CodelistSpec, base_dir: &Path, limits: &Limits) -> Result<Self> {
        let place = || crate::Place::Codelist(name.to_string());
        let codes = match (&spec.codes, &spec.file) {
            (Some(codes), None) => {
                if spec.category_column.is_some() || spec.categories.is_some() {
                    return Err(CaasError::invalid(
                        place(),
                        "`category_column` and `categories` apply only to a `file`",
                    ));
                }
                limits.check_codelist_codes(name, codes.len())?;
                for (i, code) in codes.iter().enumerate() {
                    if let Some(problem) = spec.system.code_problem(code) {
                        let message = format!("code {} of `codes` {problem}", i + 1);
                        return Err(CaasError::invalid(place(), message));
                    }
                }
                codes.clone()
            }
            (None, Some(file)) => {
                if spec.categories.is_some() && spec.category_column.is_none() {
                    return Err(CaasError::invalid(
                        place(),
                        "`categories` needs a `category_column`",
                    ));
                }
                read_codes(name, spec, &base_dir.join(file), limits)?
            }
            _ => {
                return Err(CaasError::invalid(
                    place(),
                    "give exactly one of `codes` (inline) and `file` (CSV)",
                ));
            }
        };
        Ok(Codelist::new(name, spec.system, codes))
    }
}

/// The names that OpenCodelists and similar tools give the code column of a download.
const CODE_COLUMNS: [&str; 6] = [
    "code",
    "dmd_id",
    "snomedcode",
    "snomed_code",
    "id",
    "ctv3_id",
];

/// Reads the codes, as written, of an OpenCodelists-style CSV file (a header row, RFC 4180
/// quoting) within `limits`.
///
/// Errors never quote a cell of the file: a path given by mistake may name a data extract,
/// whose first row would be a patient's. They name lines and columns instead.
pub fn read_codes(
    name: &str,
    spec: &CodelistSpec,
    path: &Path,
    limits: &Limits,
) -> Result<Vec<String>> {
    let error = |message: String| CaasError::Codelist {
        codelist: name.to_string(),
        path: path.to_path_buf(),
        message,
    };
    // A file that is not there is the definition's mistake: name the codelist that
    // points to it, not only the path.
    let bytes = (limits.read_file(path, crate::Place::Codelist(name.to_string()))).map_err(
        |e| match e {
            CaasError::Io { source, .. } => error(format!("cannot read the file: {source}")),
            other => other,
        },
    )?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| error(format!("cannot read the header row: {}", csv_problem(&e))))?
        .clone();
    let find = |column: &str| {
        headers
            .iter()
            .position(|h| h.trim() == column)
            .ok_or_else(|| {
                let known = CODE_COLUMNS
                    .iter()
                    .find(|c| headers.iter().any(|h| h.trim() == **c));
                let hint = match known {
                    Some(c) => format!("; the file has `{c}`: set `code_column: {c}`"),
                    None => " in the header row".to_string(),
                };
                error(format!("no column `{column}`{hint}"))
            })
    };
    let code_index = find(spec.code_column.as_deref().unwrap_or("code"))?;
    let category_index = spec.category_column.as_deref().map(find).transpose()?;
    let mut codes = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| error(format!("line {line}: {}", csv_problem(&e))))?;
        let code = record.get(code_index).unwrap_or("");
        if let Some(problem) = spec.system.code_problem(code) {
            return Err(error(format!("line {line}: the code {problem}")));
        }
        if let (Some(index), Some(wanted)) = (category_index, &spec.categories) {
            let category = record.get(index).unwrap_or("").trim();
            if !wanted.iter().any(|w| w == category) {
                continue;
            }
        }
        codes.push(code.trim().to_string());
        limits.check_codelist_codes(name, codes.len())?;
    }
    Ok(codes)
}

/// What is wrong with a CSV file, without the cells the csv crate's messages may quote.
fn csv_problem(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header row has {expected_len}"),
        csv::ErrorKind::Io(e) => e.kind().to_string(),
        _ => "not a CSV file".to_string(),
    }
}
