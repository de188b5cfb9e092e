//! The opt-out step of a cohort's plan: for every purpose but direct care, the people with
//! a national data opt-out or a type 1 opt-out are removed before any rule.

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::{Expr as DfExpr, cast, lit};

use crate::error::{CaasError, Result};
use crate::model::{Cohort, Purpose};
use crate::source::{Table, column};

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

/// True for a person with either opt-out, over columns named by `name` (a null flag is no
/// opt-out). Fails, naming the table and the column, when the person table lacks a flag.
pub(crate) fn opted_out(
    person: &Table,
    cohort: &Cohort,
    name: impl Fn(&str) -> String,
) -> Result<DfExpr> {
    let purpose = cohort.definition().purpose;
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
        flags.push(coalesce(vec![
            cast(column(&name(part)), DataType::Boolean),
            lit(false),
        ]));
    }
    Ok(flags.into_iter().fold(lit(false), DfExpr::or))
}

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DirectCare => "direct_care",
        Purpose::Research => "research",
        Purpose::Planning => "planning",
    }
}

/// The persons of a cohort's plan (columns `__p_<part>`) without the people whose opt-outs
/// its purpose applies.
pub(crate) fn without_opt_outs(
    persons: DataFrame,
    person: &Table,
    cohort: &Cohort,
) -> Result<DataFrame> {
    if !applies(cohort.definition().purpose) {
        return Ok(persons);
    }
    let out = opted_out(person, cohort, |part| format!("__p_{part}"))?;
    Ok(persons.filter(DfExpr::Not(Box::new(out)))?)
}
