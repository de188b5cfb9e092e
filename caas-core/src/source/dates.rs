//! Date columns read as dates: a date and time is read as its day, and one that no calendar
//! date can hold fails with an error that names its table and column.

use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::CaasError;

/// A date or date-and-time column of a table as Date32. Arrow's cast of a date and time so
/// far from the epoch that no calendar date holds it (beyond about 262,000 years) fails
/// with a message naming neither the table nor the column; this fails with
/// [`CaasError::ColumnType`], which names both and no value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateOf {
    signature: Signature,
    table: String,
    column: String,
}

impl ScalarUDFImpl for DateOf {
    fn name(&self) -> &str {
        "caas_date_of"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [values] = args.args.as_slice() else {
            return exec_err!("caas_date_of takes one column");
        };
        let values = values.to_array(n)?;
        let strict = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        match cast_with_options(&values, &DataType::Date32, &strict) {
            Ok(dates) => Ok(ColumnarValue::Array(dates)),
            Err(_) => Err(DataFusionError::External(Box::new(CaasError::ColumnType {
                table: self.table.clone(),
                column: self.column.clone(),
                expected: "dates, or dates and times, of the calendar".to_string(),
                actual: "a date and time beyond any calendar date".to_string(),
            }))),
        }
    }
}

/// `column` of `table`, of type `data_type`, as a date.
pub(crate) fn date_of(table: &str, column: &str, data_type: &DataType) -> Expr {
    let values = crate::source::column(column);
    if data_type == &DataType::Date32 {
        return values;
    }
    let udf = ScalarUDF::new_from_impl(DateOf {
        signature: Signature::any(1, Volatility::Immutable),
        table: table.to_string(),
        column: column.to_string(),
    });
    udf.call(vec![values])
}
