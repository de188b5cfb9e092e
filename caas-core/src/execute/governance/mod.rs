//! Information governance built into evaluation.
//!
//! - **Opt-outs.** For every purpose but `direct_care`, people with a national data opt-out
//!   or a type 1 opt-out are removed before any rule, and the removal is the first step of
//!   the attrition ([`OPT_OUT_STEP`], action `exclude`). The flags are the person table's
//!   `national_opt_out` and `type1_opt_out` parts (boolean columns of those names unless
//!   mapped; a null flag is no opt-out). A purpose that needs them fails with
//!   [`CaasError::MissingColumn`](crate::CaasError::MissingColumn) when the person table
//!   lacks either, rather than include everyone. For `direct_care` nobody is removed and no
//!   step is added.
//! - **Pseudonyms.** With a [`PseudonymKey`] in the
//!   [`EvaluationOptions`](crate::EvaluationOptions), the members' `person_id` column is
//!   replaced by a `pseudonym` column: the HMAC-SHA256 of the person's NHS number (the person
//!   table's `nhs_number` part, its ten digits without spaces) — or of the person id as text
//!   when the table has no NHS number — under the key, as 64 lower-case hexadecimal digits;
//!   members are then sorted by pseudonym. The same key gives the same pseudonym in every
//!   run, so runs can be compared; the key itself is never stored, serialised or printed.
//! - **Data minimisation.** Only the definition's output columns leave the engine, besides
//!   the identifier.
//! - **No identifiers in messages.** Errors name tables, columns, variables and rules,
//!   never values read from the data; messages of DataFusion and Arrow are cleaned of the
//!   values they may quote.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{BooleanArray, Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use caas_core::governance::{OPT_OUT_STEP, PseudonymKey};
//! use caas_core::{Cohort, ColumnMapping, Engine, EvaluationOptions, Parameters, TableSpec};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("person_id", DataType::Int64, false),
//!     Field::new("national_opt_out", DataType::Boolean, true),
//!     Field::new("type1_opt_out", DataType::Boolean, true),
//! ]));
//! let persons = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(Int64Array::from(vec![9434765919, 4010232137, 4505577104])),
//!     Arc::new(BooleanArray::from(vec![Some(false), Some(true), None])),
//!     Arc::new(BooleanArray::from(vec![Some(false), Some(false), Some(false)])),
//! ]).unwrap();
//! let engine = Engine::new();
//! let spec = TableSpec::person().with_mapping(ColumnMapping {
//!     nhs_number: Some("person_id".into()),
//!     ..ColumnMapping::default()
//! });
//! engine.register_batches("persons", spec, schema, vec![persons]).unwrap();
//! let cohort = Cohort::from_yaml_str(
//!     "{id: all, title: Everyone, purpose: research, output: {columns: []}}",
//! ).unwrap();
//! let key = PseudonymKey::from_hex(&"5a".repeat(32)).unwrap();
//! let options = EvaluationOptions::new().with_pseudonym_key(key.clone());
//! let result = engine.evaluate_with_blocking(&cohort, &Parameters::new(), &options).unwrap();
//!
//! // The person with a national data opt-out is removed, as the first attrition step.
//! assert_eq!(result.member_count(), 2);
//! assert!(result.attrition_table().unwrap().contains(OPT_OUT_STEP));
//! // Members carry pseudonyms, not NHS numbers.
//! assert_eq!(result.members.schema().field(0).name(), "pseudonym");
//! let pseudonyms = result.members.column(0);
//! let expected = key.pseudonym(b"9434765919");
//! let text = arrow::util::display::array_value_to_string(pseudonyms, 0).unwrap();
//! let other = arrow::util::display::array_value_to_string(pseudonyms, 1).unwrap();
//! assert!(text == expected || other == expected);
//! ```

mod opt_out;
mod pseudonym;

pub use crate::compile::opt_out::{OPT_OUT_STEP, applies};
pub use pseudonym::{PseudonymKey, without_nhs_numbers};

pub(crate) use opt_out::{count as count_opt_outs, record as record_opt_outs, with_opt_out_step};
pub(crate) use pseudonym::pseudonymise;
