//! Reading tables from Parquet, CSV and Arrow IPC files or folders.

use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

use super::{Role, TableSpec};
use crate::error::{CaasError, Result};

/// A file format caas reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileFormat {
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// CSV with a header row (`.csv`); empty fields are null.
    Csv,
    /// Arrow IPC file (`.arrow`, `.ipc`, `.feather`).
    Arrow,
}

impl FileFormat {
    fn from_extension(ext: &str) -> Option<(Self, &'static str)> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" => Some((FileFormat::Parquet, ".parquet")),
            "csv" => Some((FileFormat::Csv, ".csv")),
            "arrow" => Some((FileFormat::Arrow, ".arrow")),
            "ipc" => Some((FileFormat::Arrow, ".ipc")),
            "feather" => Some((FileFormat::Arrow, ".feather")),
            _ => None,
        }
    }
}

/// A file, or a folder of files of one format, to read a table from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceFile {
    path: PathBuf,
}

impl SourceFile {
    /// A file or folder; the format comes from the file extension (in a folder, from the
    /// first file with a known extension).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SourceFile { path: path.into() }
    }

    fn detect(&self, table: &str) -> Result<(FileFormat, &'static str)> {
        let path = &self.path;
        let metadata = std::fs::metadata(path).map_err(|source| CaasError::Io {
            path: path.clone(),
            source,
        })?;
        let from_path = |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .and_then(FileFormat::from_extension)
        };
        let found = if metadata.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| CaasError::Io {
                    path: path.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            entries.iter().find_map(|p| from_path(p))
        } else {
            from_path(path)
        };
        found.ok_or_else(|| CaasError::Registration {
            table: table.to_string(),
            message: format!(
                "{} is not a .parquet, .csv, .arrow, .ipc or .feather file, or a folder holding them",
                path.display()
            ),
        })
    }

    /// Reads the file(s) as a DataFrame. CSV columns that the spec maps are read with the
    /// type their part needs, so that an empty or all-null column still fits.
    pub(crate) async fn read(
        &self,
        ctx: &SessionContext,
        table: &str,
        spec: &TableSpec,
    ) -> Result<DataFrame> {
        let (format, extension) = self.detect(table)?;
        let path = self.path.to_string_lossy().to_string();
        let df = match format {
            FileFormat::Parquet => {
                let options = ParquetReadOptions {
                    file_extension: extension,
                    ..Default::default()
                };
                ctx.read_parquet(path, options).await?
            }
            FileFormat::Arrow => {
                let options = ArrowReadOptions {
                    file_extension: extension,
                    ..Default::default()
                };
                ctx.read_arrow(path, options).await?
            }
            FileFormat::Csv => {
                let options = || {
                    CsvReadOptions::new()
                        .file_extension(extension)
                        .null_regex(Some("^$".to_string()))
                };
                let inferred = ctx.read_csv(path.clone(), options()).await?;
                let schema = csv_schema(inferred.schema().as_arrow(), spec);
                ctx.read_csv(path, options().schema(&schema)).await?
            }
        };
        Ok(df)
    }
}

/// The inferred CSV schema with the mapped columns given the type their part needs.
///
/// Identifiers — person ids, NHS numbers, codes, practices — are always text: a CSV field
/// says `0195967001` or `01`, and reading it as the integer 195967001 or 1 would make it
/// match a code or a person it is not (a text id still meets an integer id of another table
/// when it is that integer's own digits; see `Table::person_key`).
fn csv_schema(inferred: &Schema, spec: &TableSpec) -> Schema {
    let m = &spec.mapping;
    let name =
        |mapped: &Option<String>, part: &str| mapped.clone().unwrap_or_else(|| part.to_string());
    let mut wanted: Vec<(String, DataType)> =
        vec![(name(&m.person_id, "person_id"), DataType::Utf8)];
    let dates: &[(&Option<String>, &str)] = match spec.role {
        Role::Person => &[
            (&m.date_of_birth, "date_of_birth"),
            (&m.date_of_death, "date_of_death"),
        ],
        Role::Events => &[(&m.date, "date"), (&m.end_date, "end_date")],
        Role::Periods => &[(&m.start_date, "start_date"), (&m.end_date, "end_date")],
    };
    // Dates are read as text and parsed in the table's format (ISO 8601 without one): the
    // reader infers a column's type from its first rows only, and would fail on a later
    // value that is not a date with an error naming a line of no table; the parse names
    // the table, the column and the row.
    for (mapped, part) in dates {
        wanted.push((name(mapped, part), DataType::Utf8));
    }
    match spec.role {
        Role::Person => {
            wanted.push((name(&m.sex, "sex"), DataType::Utf8));
            wanted.push((name(&m.nhs_number, "nhs_number"), DataType::Utf8));
            for (mapped, part) in [
                (&m.national_opt_out, "national_opt_out"),
                (&m.type1_opt_out, "type1_opt_out"),
            ] {
                wanted.push((name(mapped, part), DataType::Boolean));
            }
        }
        Role::Periods => wanted.push((name(&m.practice, "practice"), DataType::Utf8)),
        Role::Events => {
            wanted.push((name(&m.value, "value"), DataType::Float64));
            let codes = m
                .codes
                .clone()
                .unwrap_or_else(|| vec![name(&m.code, "code")]);
            for code in codes {
                wanted.push((code, DataType::Utf8));
            }
        }
    }
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(
            |field| match wanted.iter().find(|(n, _)| n == field.name()) {
                Some((_, target)) => Field::new(field.name(), target.clone(), true),
                None => field.as_ref().clone(),
            },
        )
        .collect();
    Schema::new(fields)
}
