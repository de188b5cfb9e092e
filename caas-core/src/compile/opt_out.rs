//! The opt-out step of a cohort's plan: for every purpose but direct care, the people with
//! a national data opt-out or a type 1 opt-out are removed before any rule.

use crate::error::{CaasError, Result};
use crate::model::{Cohort, Purpose};
use crate::source::Table;

/// The name of the attrition step that removes people with opt-outs.
pub const OPT_OUT_STEP: &str = "national data opt-out or type 1 opt-out";

/// The person-table parts that hold the opt-outs.
const PARTS: [(&str, &str); 2] = [
    ("national_opt_out", "the national data opt-out"),
    ("type1_opt_out", "the type 1 opt-out"),
];

/// Whether opt-outs apply to a purpose: to every purpose but direct care.
pub fn applies(purpose: Purpose) -> bool {
    purpose != Purpose::DirectCare
}

/// The canonical flag columns whose opt-outs the cohort's purpose applies (`None` when it
/// applies none). Fails, naming the table and the column, when the person table lacks a
/// flag.
pub(crate) fn flags(person: &Table, cohort: &Cohort) -> Result<Option<Vec<String>>> {
    let purpose = cohort.definition().purpose;
    if !applies(purpose) {
        return Ok(None);
    }
    let mut flags = Vec::new();
    for (part, what) in PARTS {
        if person.shape.column(part).is_none() {
            return Err(CaasError::MissingColumn {
                table: person.name.clone(),
                column: part.to_string(),
                needed_as: format!(
                    "{what} flag: purpose `{}` removes the people who opted out",
                    purpose_name(purpose)
                ),
            });
        }
        flags.push(part.to_string());
    }
    Ok(Some(flags))
}

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DirectCare => "direct_care",
        Purpose::Research => "research",
        Purpose::Planning => "planning",
    }
}
