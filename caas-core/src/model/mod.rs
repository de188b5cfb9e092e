//! The cohort definition: the document ([`Definition`]), its expression language
//! ([`expr`]), and its checked form ([`Cohort`]).

mod builder;
mod cohort;
mod definition;
pub mod expr;
mod schema;
mod value;

pub use crate::codelist::CodelistSpec;
pub use builder::DefinitionBuilder;
pub use cohort::{Cohort, EventSelection, RuleDef, VariableDef, VariableKind};
pub use definition::{
    AgeUnit, Aggregation, Assurance, Definition, EventVariable, Output, ParameterValue, Purpose,
    Rule, Ties, Variable,
};
pub use schema::definition_schema;
pub use value::{Parameters, Value};
pub(crate) use value::{calendar, date32};
