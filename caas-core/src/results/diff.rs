//! The difference between an evaluation's members and an earlier run's: who joined and who
//! left, so that a campaign refreshed every week invites nobody twice.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};

use super::Evaluation;
use crate::error::{CaasError, Result};
use crate::runtime::block_on;
use crate::source::column;
use crate::source::is_text;

const PREVIOUS: &str = "previous members";

/// Who joined the cohort and who left it since an earlier run.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// People in this run's members and not in the earlier ones: one column, the members'
    /// identifier (`person_id`, or `pseudonym` for a run with a pseudonym key), sorted.
    pub joined: RecordBatch,
    /// People in the earlier members and not in this run's: the same column, sorted, each
    /// once.
    pub left: RecordBatch,
    /// How many people are in both.
    pub stayed: u64,
}

impl Evaluation {
    /// Compares this run's members with an earlier run's, given as a table with the same
    /// identifier column — `person_id` of the same kind (integers or text), or `pseudonym`
    /// when both runs used the same pseudonym key; other columns are ignored.
    ///
    /// A table without that column, with ids of the other kind or with missing ids is an
    /// error naming the problem (never an id).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{AsArray, Int32Array, Int64Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("person_id", DataType::Int64, false)]));
    /// let persons = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])
    ///     .unwrap();
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![persons]).unwrap();
    /// let cohort = Cohort::from_yaml_str("{id: all, title: Everyone, purpose: direct_care}").unwrap();
    /// let result = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap();
    ///
    /// let earlier = RecordBatch::try_new(
    ///     Arc::new(Schema::new(vec![Field::new("person_id", DataType::Int32, false)])),
    ///     vec![Arc::new(Int32Array::from(vec![4, 2, 1]))],
    /// ).unwrap();
    /// let diff = result.diff(&earlier).unwrap();
    /// assert_eq!(diff.joined.column(0).as_primitive::<Int64Type>().values(), &[3]);
    /// assert_eq!(diff.left.column(0).as_primitive::<Int64Type>().values(), &[4]);
    /// assert_eq!(diff.stayed, 2);
    /// ```
    pub fn diff(&self, previous: &RecordBatch) -> Result<Difference> {
        let current = self.members.column(0);
        let name = self.id_column();
        let earlier = previous_ids(previous, name, current.data_type())?;
        let field = Field::new(name, current.data_type().clone(), false);
        let schema = Arc::new(Schema::new(vec![field]));
        match current.data_type() {
            DataType::Int64 => {
                let now = current.as_primitive::<Int64Type>();
                let before = earlier.as_primitive::<Int64Type>();
                let before_set: HashSet<i64> = before.values().iter().copied().collect();
                let now_set: HashSet<i64> = now.iter().flatten().collect();
                let joined: Vec<i64> = now
                    .iter()
                    .flatten()
                    .filter(|id| !before_set.contains(id))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let left: BTreeSet<i64> = before_set
                    .iter()
                    .copied()
                    .filter(|id| !now_set.contains(id))
                    .collect();
                let stayed = now_set.intersection(&before_set).count() as u64;
                Ok(Difference {
                    joined: ids(&schema, Arc::new(Int64Array::from(joined)))?,
                    left: ids(&schema, Arc::new(Int64Array::from_iter_values(left)))?,
                    stayed,
                })
            }
            _ => {
                let now = cast(current, &DataType::Utf8)?;
                let now = now.as_string::<i32>();
                let before = earlier.as_string::<i32>();
                let before_set: HashSet<&str> = before.iter().flatten().collect();
                let now_set: HashSet<&str> = now.iter().flatten().collect();
                let joined: BTreeSet<&str> = now_set
                    .iter()
                    .copied()
                    .filter(|id| !before_set.contains(id))
                    .collect();
                let left: BTreeSet<&str> = before_set
                    .iter()
                    .copied()
                    .filter(|id| !now_set.contains(id))
                    .collect();
                let stayed = now_set.intersection(&before_set).count() as u64;
                let text = |set: BTreeSet<&str>| -> ArrayRef {
                    Arc::new(StringArray::from_iter_values(set))
                };
                Ok(Difference {
                    joined: ids(&schema, text(joined))?,
                    left: ids(&schema, text(left))?,
                    stayed,
                })
            }
        }
    }

    /// [`Evaluation::diff`] with the earlier members read from a Parquet, Arrow IPC
    /// (`.arrow`, `.ipc`, `.feather`) or CSV file, or a folder of them. From CSV, the ids
    /// are read as the kind this run's members have.
    pub async fn diff_path(&self, path: impl AsRef<Path>) -> Result<Difference> {
        let previous = self.read_members(path.as_ref()).await?;
        self.diff(&previous)
    }

    /// [`Evaluation::diff_path`], blocking the calling thread.
    pub fn diff_path_blocking(&self, path: impl AsRef<Path>) -> Result<Difference> {
        block_on(self.diff_path(path))?
    }

    /// The members' identifier column: `person_id`, or `pseudonym`.
    fn id_column(&self) -> &str {
        self.members.schema_ref().field(0).name()
    }

    async fn read_members(&self, path: &Path) -> Result<RecordBatch> {
        let ctx = &self.run.ctx;
        let name = self.id_column();
        let (format, extension) = detect(path)?;
        let location = path.to_string_lossy().to_string();
        let df = match format {
            Format::Parquet => {
                let options = ParquetReadOptions {
                    file_extension: extension,
                    ..Default::default()
                };
                ctx.read_parquet(location, options).await?
            }
            Format::Arrow => {
                let options = ArrowReadOptions {
                    file_extension: extension,
                    ..Default::default()
                };
                ctx.read_arrow(location, options).await?
            }
            Format::Csv => {
                let options = || {
                    CsvReadOptions::new()
                        .file_extension(extension)
                        .null_regex(Some("^$".to_string()))
                };
                let inferred = ctx.read_csv(location.clone(), options()).await?;
                let id_type = self.members.column(0).data_type().clone();
                let fields: Vec<Field> = inferred
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        if f.name() == name {
                            Field::new(name, id_type.clone(), true)
                        } else {
                            f.as_ref().clone()
                        }
                    })
                    .collect();
                let schema = Schema::new(fields);
                ctx.read_csv(location, options().schema(&schema)).await?
            }
        };
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        if schema.field_with_name(name).is_err() {
            return Err(missing_id(name));
        }
        let df = df.select(vec![column(name)])?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok(concat_batches(&schema, &batches)?)
    }
}

fn missing_id(name: &str) -> CaasError {
    CaasError::MissingColumn {
        table: PREVIOUS.to_string(),
        column: name.to_string(),
        needed_as: "the members' identifier".to_string(),
    }
}

fn ids(schema: &SchemaRef, array: ArrayRef) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(schema.clone(), vec![array])?)
}

fn is_integer(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, v) => is_integer(v),
        t => t.is_integer(),
    }
}

/// The earlier run's ids, as the current ids' type (Int64 or Utf8).
fn previous_ids(previous: &RecordBatch, name: &str, current: &DataType) -> Result<ArrayRef> {
    let ids = previous
        .column_by_name(name)
        .ok_or_else(|| missing_id(name))?;
    let found = ids.data_type();
    let (fits, target, expected) = if current == &DataType::Int64 {
        (
            is_integer(found),
            DataType::Int64,
            "integers, as this run's ids",
        )
    } else {
        (is_text(found), DataType::Utf8, "text, as this run's ids")
    };
    if !(fits || found == &DataType::Null && ids.is_empty()) {
        return Err(CaasError::ColumnType {
            table: PREVIOUS.to_string(),
            column: name.to_string(),
            expected: expected.to_string(),
            actual: found.to_string(),
        });
    }
    let missing = ids.null_count();
    if missing > 0 {
        return Err(CaasError::InvalidInput {
            what: PREVIOUS.to_string(),
            message: format!("{missing} rows have no {name}"),
        });
    }
    Ok(cast(ids, &target)?)
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Parquet,
    Arrow,
    Csv,
}

fn format_of(path: &Path) -> Option<(Format, &'static str)> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "parquet" => (Format::Parquet, ".parquet"),
        "arrow" => (Format::Arrow, ".arrow"),
        "ipc" => (Format::Arrow, ".ipc"),
        "feather" => (Format::Arrow, ".feather"),
        "csv" => (Format::Csv, ".csv"),
        _ => return None,
    })
}

/// The format of a file, or of the first file with a known extension in a folder.
fn detect(path: &Path) -> Result<(Format, &'static str)> {
    let io = |source| CaasError::Io {
        path: path.to_path_buf(),
        source,
    };
    let found = if std::fs::metadata(path).map_err(io)?.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        entries.iter().find_map(|p| format_of(p))
    } else {
        format_of(path)
    };
    found.ok_or_else(|| CaasError::InvalidInput {
        what: format!("{PREVIOUS} ({})", path.display()),
        message: "not a .parquet, .arrow, .ipc, .feather or .csv file, or a folder holding them"
            .to_string(),
    })
}
