//! Column buffers of the generated tables, and their Parquet files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use caas_core::{CaasError, Result};

/// Diagnosis columns of a hospital episode (`DIAG_4_01`...).
pub const DIAGNOSES: usize = 20;
/// Procedure columns of a hospital episode (`OPERTN_4_01`...).
pub const PROCEDURES: usize = 12;

/// The person table (like the Personal Demographics Service).
#[derive(Default)]
pub struct Persons {
    pub person_id: Vec<i64>,
    pub date_of_birth: Vec<i32>,
    pub sex: Vec<&'static str>,
    pub date_of_death: Vec<Option<i32>>,
    pub region: Vec<&'static str>,
    pub icb: Vec<String>,
    pub postcode_district: Vec<String>,
    pub lsoa: Vec<String>,
    pub practice: Vec<String>,
    pub national_opt_out: Vec<bool>,
    pub type1_opt_out: Vec<bool>,
}

/// Practice registrations.
#[derive(Default)]
pub struct Registrations {
    pub person_id: Vec<i64>,
    pub start_date: Vec<i32>,
    pub end_date: Vec<Option<i32>>,
    pub practice: Vec<String>,
}

/// GP clinical events (SNOMED CT) or medications (dm+d), codes as integers.
#[derive(Default)]
pub struct Events {
    pub person_id: Vec<i64>,
    pub date: Vec<i32>,
    pub code: Vec<i64>,
    pub value: Vec<Option<f64>>,
}

/// Hospital admitted patient care episodes.
#[derive(Default)]
pub struct Episodes {
    pub person_id: Vec<i64>,
    pub admission_date: Vec<i32>,
    pub discharge_date: Vec<i32>,
    /// Indexes into the world's diagnosis codes.
    pub diagnoses: Vec<[Option<u16>; DIAGNOSES]>,
    /// Indexes into the world's procedure codes.
    pub procedures: Vec<[Option<u16>; PROCEDURES]>,
}

/// The rows of one slice of the population, for every table.
#[derive(Default)]
pub struct Slice {
    pub persons: Persons,
    pub registrations: Registrations,
    pub gp_events: Events,
    pub gp_medications: Events,
    pub apc: Episodes,
}

fn date(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Date32, nullable)
}

/// The names and schemas of the generated tables.
pub fn schemas() -> Vec<(&'static str, SchemaRef)> {
    let events = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        date("date", false),
        Field::new("code", DataType::Int64, false),
        Field::new("value", DataType::Float64, true),
    ]));
    let mut apc = vec![
        Field::new("person_id", DataType::Int64, false),
        date("admidate", false),
        date("disdate", false),
    ];
    for i in 1..=DIAGNOSES {
        apc.push(Field::new(format!("DIAG_4_{i:02}"), DataType::Utf8, true));
    }
    for i in 1..=PROCEDURES {
        apc.push(Field::new(format!("OPERTN_4_{i:02}"), DataType::Utf8, true));
    }
    vec![
        (
            "persons",
            Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Int64, false),
                date("date_of_birth", false),
                Field::new("sex", DataType::Utf8, false),
                date("date_of_death", true),
                Field::new("region", DataType::Utf8, false),
                Field::new("icb", DataType::Utf8, false),
                Field::new("postcode_district", DataType::Utf8, false),
                Field::new("lsoa", DataType::Utf8, false),
                Field::new("practice", DataType::Utf8, false),
                Field::new("national_opt_out", DataType::Boolean, false),
                Field::new("type1_opt_out", DataType::Boolean, false),
            ])),
        ),
        (
            "registrations",
            Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Int64, false),
                date("start_date", false),
                date("end_date", true),
                Field::new("practice", DataType::Utf8, false),
            ])),
        ),
        ("gp_events", events.clone()),
        ("gp_medications", events),
        ("apc", Arc::new(Schema::new(apc))),
    ]
}

fn lookup(codes: &[String], index: Option<u16>) -> Option<&str> {
    index
        .and_then(|i| codes.get(usize::from(i)))
        .map(String::as_str)
}

fn strings<S: AsRef<str>>(values: &[S]) -> ArrayRef {
    Arc::new(
        values
            .iter()
            .map(|s| Some(s.as_ref()))
            .collect::<StringArray>(),
    )
}

fn events_batch(schema: SchemaRef, e: &Events) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(e.person_id.clone())),
            Arc::new(Date32Array::from(e.date.clone())),
            Arc::new(Int64Array::from(e.code.clone())),
            Arc::new(Float64Array::from(e.value.clone())),
        ],
    )?)
}

impl Slice {
    /// The slice's rows as one record batch per table, in [`schemas`] order.
    pub fn batches(&self, diagnoses: &[String], procedures: &[String]) -> Result<Vec<RecordBatch>> {
        let schemas = schemas();
        let schema = |i: usize| schemas[i].1.clone();
        let p = &self.persons;
        let persons = RecordBatch::try_new(
            schema(0),
            vec![
                Arc::new(Int64Array::from(p.person_id.clone())),
                Arc::new(Date32Array::from(p.date_of_birth.clone())),
                strings(&p.sex),
                Arc::new(Date32Array::from(p.date_of_death.clone())),
                strings(&p.region),
                strings(&p.icb),
                strings(&p.postcode_district),
                strings(&p.lsoa),
                strings(&p.practice),
                Arc::new(BooleanArray::from(p.national_opt_out.clone())),
                Arc::new(BooleanArray::from(p.type1_opt_out.clone())),
            ],
        )?;
        let r = &self.registrations;
        let registrations = RecordBatch::try_new(
            schema(1),
            vec![
                Arc::new(Int64Array::from(r.person_id.clone())),
                Arc::new(Date32Array::from(r.start_date.clone())),
                Arc::new(Date32Array::from(r.end_date.clone())),
                strings(&r.practice),
            ],
        )?;
        let a = &self.apc;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(a.person_id.clone())),
            Arc::new(Date32Array::from(a.admission_date.clone())),
            Arc::new(Date32Array::from(a.discharge_date.clone())),
        ];
        for i in 0..DIAGNOSES {
            columns.push(Arc::new(
                a.diagnoses
                    .iter()
                    .map(|d| lookup(diagnoses, d[i]))
                    .collect::<StringArray>(),
            ));
        }
        for i in 0..PROCEDURES {
            columns.push(Arc::new(
                a.procedures
                    .iter()
                    .map(|d| lookup(procedures, d[i]))
                    .collect::<StringArray>(),
            ));
        }
        let apc = RecordBatch::try_new(schema(4), columns)?;
        Ok(vec![
            persons,
            registrations,
            events_batch(schema(2), &self.gp_events)?,
            events_batch(schema(3), &self.gp_medications)?,
            apc,
        ])
    }
}

/// One Parquet file per table for one part of the population.
pub struct PartWriters {
    writers: Vec<ArrowWriter<File>>,
    /// Rows written per table.
    pub rows: Vec<u64>,
}

impl PartWriters {
    /// Creates `<out>/<table>/part-<part>.parquet` for every table.
    pub fn create(out: &Path, part: usize) -> Result<Self> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let mut writers = Vec::new();
        for (name, schema) in schemas() {
            let dir = out.join(name);
            std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
            let path = dir.join(format!("part-{part:05}.parquet"));
            let file = File::create(&path).map_err(|source| io(&path, source))?;
            writers.push(ArrowWriter::try_new(
                file,
                schema,
                Some(properties.clone()),
            )?);
        }
        let rows = vec![0; writers.len()];
        Ok(PartWriters { writers, rows })
    }

    /// Appends a slice.
    pub fn write(&mut self, batches: &[RecordBatch]) -> Result<()> {
        for (i, batch) in batches.iter().enumerate() {
            self.rows[i] += batch.num_rows() as u64;
            self.writers[i].write(batch)?;
        }
        Ok(())
    }

    /// Finishes the files.
    pub fn finish(self) -> Result<Vec<u64>> {
        for writer in self.writers {
            writer.close()?;
        }
        Ok(self.rows)
    }
}

fn io(path: &Path, source: std::io::Error) -> CaasError {
    CaasError::Io {
        path: PathBuf::from(path),
        source,
    }
}
