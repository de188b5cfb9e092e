//! The cohort definition: the document ([`Definition`]), its expression language
//! ([`expr`]), and its checked form ([`Cohort`]).

mod builder;
mod cohort;
mod definition;
mod describe;
pub(crate) mod english;
pub mod expr;
mod schema;
mod value;

pub use builder::DefinitionBuilder;
pub use cohort::{Cohort, EventSelection, RuleDef, VariableDef, VariableKind};
pub use definition::{
    Aggregation, Assurance, CodelistSpec, Definition, EventVariable, Output, ParameterValue,
    Purpose, Rule, Variable,
};
pub use describe::Description;
pub(crate) use describe::assurance_text;
pub use schema::definition_schema;
pub use value::{Parameters, Value};
