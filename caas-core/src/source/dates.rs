//! Date columns read as dates: a date and time is read as its day, and one that no calendar
//! date can hold fails with an error that names its table and column; text is read in the
//! table's format for the column (ISO 8601 without one), blank text as a missing date, and
//! text that is not a date in that format fails likewise, naming the format, never the
//! value.

use arrow::array::{Array, ArrayRef, Date32Array, StringArray};
use arrow::compute::{CastOptions, cast, cast_with_options};
use arrow::datatypes::DataType;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::common::{DataFusionError, Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use datafusion::dataframe::DataFrame;
use futures::StreamExt;

use super::catalog::Snapshot;
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
    /// The strftime format of a text column.
    format: Option<String>,
}

impl DateOf {
    /// The text `values` read as dates in `format`.
    fn parse(&self, values: &ArrayRef, format: &str) -> DfResult<ArrayRef> {
        let text = as_text(values)?;
        // 1970-01-01, from which a Date32 counts its days.
        let epoch = NaiveDate::default();
        let mut days = Vec::with_capacity(text.len());
        for value in &text {
            let day = match read(value, format) {
                Ok(date) => date.and_then(|d| i32::try_from((d - epoch).num_days()).ok()),
                Err(NotADate) => {
                    return Err(DataFusionError::External(Box::new(
                        CaasError::UnreadableDate {
                            table: self.table.clone(),
                            column: self.column.clone(),
                            format: format.to_string(),
                            // Found afterwards by `with_row`: a batch does not know its place.
                            row: None,
                        },
                    )));
                }
            };
            days.push(day);
        }
        Ok(std::sync::Arc::new(Date32Array::from(days)))
    }
}

/// Text that is not a date in the format it is read in.
struct NotADate;

/// A text date in `format`: blank text is no date. In ISO 8601, the format without a
/// `date_format`, a date and time is read as its day (in UTC, where it has an offset), as
/// a column of dates and times is.
fn read(value: Option<&str>, format: &str) -> Result<Option<NaiveDate>, NotADate> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(date) = NaiveDate::parse_from_str(v, format) {
        return Ok(Some(date));
    }
    if format != super::ISO_DATE {
        return Err(NotADate);
    }
    let date_time = (v.parse::<NaiveDateTime>())
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|t| t.date())
        .or_else(|_| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc).date_naive()));
    date_time.map(Some).map_err(|_| NotADate)
}

fn as_text(values: &ArrayRef) -> DfResult<StringArray> {
    let text = cast(values, &DataType::Utf8)?;
    match text.as_any().downcast_ref::<StringArray>() {
        Some(text) => Ok(text.clone()),
        None => exec_err!("caas_date_of: text that is not text"),
    }
}

/// `err` with the row at fault, when it is a text date that could not be read and its table
/// is among `tables`. The parse runs inside the scans, over batches that do not know their
/// place in the table, so the row is found here by reading that one column again in the
/// table's order — the cost of a second look falls only on a run that has already failed.
pub(crate) async fn with_row(err: CaasError, tables: &Snapshot) -> CaasError {
    let CaasError::UnreadableDate {
        table,
        column,
        format,
        row: None,
    } = &err
    else {
        return err;
    };
    let Some(data) = tables.get(table).map(|t| t.data.clone()) else {
        return err;
    };
    match first_unreadable(data, column, format).await {
        Ok(Some(row)) => CaasError::UnreadableDate {
            table: table.clone(),
            column: column.clone(),
            format: format.clone(),
            row: Some(row),
        },
        // Without the row the error still names the table, the column and the format.
        Ok(None) | Err(_) => err,
    }
}

/// The first row (1-based) of `data` whose `column` is text that is not a date in `format`.
/// The partitions of a scan are read one after the other, each from its start: a file's
/// ranges and a folder's files in order.
async fn first_unreadable(data: DataFrame, column: &str, format: &str) -> DfResult<Option<u64>> {
    let streams = (data.select(vec![crate::source::column(column)])?)
        .execute_stream_partitioned()
        .await?;
    let mut rows = 0u64;
    for mut stream in streams {
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let text = as_text(batch.column(0))?;
            if let Some(at) = (&text).into_iter().position(|v| read(v, format).is_err()) {
                return Ok(Some(rows + at as u64 + 1));
            }
            rows += batch.num_rows() as u64;
        }
    }
    Ok(None)
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
        if let Some(format) = &self.format {
            return Ok(ColumnarValue::Array(self.parse(&values, format)?));
        }
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

/// `column` of `table`, of type `data_type`, as a date; `format` is the strftime format of
/// a column of text.
pub(crate) fn date_of(
    table: &str,
    column: &str,
    data_type: &DataType,
    format: Option<&str>,
) -> Expr {
    let values = crate::source::column(column);
    if data_type == &DataType::Date32 {
        return values;
    }
    let udf = ScalarUDF::new_from_impl(DateOf {
        signature: Signature::any(1, Volatility::Immutable),
        table: table.to_string(),
        column: column.to_string(),
        format: format.map(str::to_string),
    });
    udf.call(vec![values])
}
