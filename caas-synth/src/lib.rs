//! A synthetic NHS-like population, written as Parquet, for demonstrations, tests and
//! benchmarks.
//!
//! The tables are shaped like the national sources: a person table like the Personal
//! Demographics Service (valid NHS numbers, with a configurable share of invalid ones),
//! practice registrations, GP clinical events (SNOMED CT, with BMI values), GP medications
//! (dm+d), and hospital episodes with up to 20 ICD-10 diagnoses and 12 OPCS-4 procedures per
//! row. Clinical codes come from the flu example's codelists (see [`Cluster`]) at realistic
//! prevalence, among background codes that match no codelist; there are about 100 events per
//! person.
//!
//! Output is deterministic for a seed: each person is drawn from their own random stream, so
//! neither the number of threads nor the split into files changes a row. Every table is
//! sorted by (person id, date) and split into `part-NNNNN.parquet` files of
//! [`SynthConfig::persons_per_file`] people each; memory stays bounded by one slice of
//! people per thread.

mod catalogue;
mod person;
mod rng;
mod tables;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use catalogue::Catalogue;
pub use catalogue::Cluster;
pub use tables::schemas;

use self::person::{Background, Calendar, World, diagnosis_codes, procedure_codes};
use self::rng::Rng;
use self::tables::{PartWriters, Slice};
use caas_core::nhs;
use caas_core::{CaasError, Result};
use caas_core::{CodeSystem, ColumnMapping, Engine, TableSpec};

/// People generated and written at a time by one thread.
const SLICE: u64 = 10_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// How many people.
    pub persons: u64,
    /// The seed: the same seed gives the same population.
    pub seed: u64,
    /// Share of people whose NHS number fails the Modulus 11 check.
    pub invalid_nhs_share: f64,
    /// People per Parquet file.
    pub persons_per_file: u64,
    /// Threads generating files in parallel.
    pub threads: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            persons: 100_000,
            seed: 20_250_901,
            invalid_nhs_share: 0.002,
            persons_per_file: 250_000,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    /// Rows per table, in [`schemas`] order.
    pub rows: Vec<(&'static str, u64)>,
    /// Files per table.
    pub files: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl SynthSummary {
    /// Rows of every table per second of wall time.
    pub fn rows_per_second(&self) -> f64 {
        let total: u64 = self.rows.iter().map(|(_, n)| n).sum();
        total as f64 / self.seconds.max(1e-9)
    }
}

/// Generates the population described by `config` into `out` (one folder per table),
/// drawing clinical codes from the codelist files in `codelists` (see [`Cluster::file`]).
pub fn generate(config: &SynthConfig, codelists: &Path, out: &Path) -> Result<SynthSummary> {
    let started = Instant::now();
    let catalogue = Catalogue::from_dir(codelists)?;
    let background = Background::new(&catalogue, config.seed);
    let world = World {
        ckd12: catalogue.numeric_minus(Cluster::KidneyStage1To5, Cluster::KidneyStage3To5),
        delivery: catalogue.numeric_minus(Cluster::PregnancyOrDelivery, Cluster::Pregnancy),
        other_residence: catalogue.numeric_minus(Cluster::Residence, Cluster::LongStayCare),
        diagnosis_codes: diagnosis_codes(&catalogue),
        procedure_codes: procedure_codes(&catalogue),
        catalogue: &catalogue,
        background: &background,
        calendar: Calendar::new(),
        // About one practice per 9,000 people, spread over seven regions.
        practices_per_region: (config.persons / 63_000).max(1),
        invalid_nhs_share: config.invalid_nhs_share,
    };
    clear(out)?;
    let per_file = config.persons_per_file.max(1);
    let parts = config.persons.div_ceil(per_file) as usize;
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(vec![0u64; schemas().len()]);
    let failure: Mutex<Option<CaasError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..config.threads.clamp(1, parts.max(1)) {
            scope.spawn(|| {
                loop {
                    let part = next.fetch_add(1, Ordering::Relaxed);
                    if part >= parts || failure.lock().map_or(true, |f| f.is_some()) {
                        return;
                    }
                    let first = part as u64 * per_file;
                    let last = (first + per_file).min(config.persons);
                    match write_part(&world, config, out, part, first, last) {
                        Ok(rows) => {
                            if let Ok(mut totals) = totals.lock() {
                                totals.iter_mut().zip(rows).for_each(|(t, r)| *t += r);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let totals = totals.into_inner().unwrap_or_default();
    Ok(SynthSummary {
        rows: schemas().iter().map(|(n, _)| *n).zip(totals).collect(),
        files: parts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Removes the part files a previous run left in `out`.
fn clear(out: &Path) -> Result<()> {
    for (table, _) in schemas() {
        let dir = out.join(table);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_part = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(".parquet"));
            if is_part {
                std::fs::remove_file(&path).map_err(|source| CaasError::Io { path, source })?;
            }
        }
    }
    Ok(())
}

/// Writes people `first..last` as part `part` of every table.
fn write_part(
    world: &World<'_>,
    config: &SynthConfig,
    out: &Path,
    part: usize,
    first: u64,
    last: u64,
) -> Result<Vec<u64>> {
    let mut writers = PartWriters::create(out, part)?;
    let mut start = first;
    while start < last {
        let end = (start + SLICE).min(last);
        let mut slice = Slice::default();
        for index in start..end {
            let mut rng = Rng::new(config.seed, index);
            let (prefix, check) = nhs_prefix(index);
            let last_digit = if rng.chance(world.invalid_nhs_share) {
                (check + 1) % 10
            } else {
                check
            };
            let id = i64::try_from(prefix * 10 + last_digit)
                .map_err(|_| CaasError::Internal("NHS number out of range".to_string()))?;
            world.person(&mut rng, id, &mut slice);
        }
        writers.write(&slice.batches(&world.diagnosis_codes, &world.procedure_codes)?)?;
        start = end;
    }
    writers.finish()
}

/// The tables of a generated population as caas reads them: (table name, folder, spec).
/// Hospital episodes are registered twice, once for their ICD-10 diagnoses (`apc`) and
/// once for their OPCS-4 procedures (`apc_procedures`).
pub fn table_specs() -> Vec<(&'static str, &'static str, TableSpec)> {
    let hospital = |prefix: &str, count: usize, system: CodeSystem| {
        TableSpec::events(system).with_mapping(ColumnMapping {
            date: Some("admidate".into()),
            end_date: Some("disdate".into()),
            codes: Some((1..=count).map(|i| format!("{prefix}_{i:02}")).collect()),
            ..ColumnMapping::default()
        })
    };
    vec![
        (
            "persons",
            "persons",
            // The person id is the NHS number.
            TableSpec::person().with_mapping(ColumnMapping {
                nhs_number: Some("person_id".into()),
                ..ColumnMapping::default()
            }),
        ),
        ("registrations", "registrations", TableSpec::periods()),
        (
            "gp_events",
            "gp_events",
            TableSpec::events(CodeSystem::SnomedCt),
        ),
        (
            "gp_medications",
            "gp_medications",
            TableSpec::events(CodeSystem::Dmd),
        ),
        (
            "apc",
            "apc",
            hospital("DIAG_4", tables::DIAGNOSES, CodeSystem::Icd10),
        ),
        (
            "apc_procedures",
            "apc",
            hospital("OPERTN_4", tables::PROCEDURES, CodeSystem::Opcs4),
        ),
    ]
}

/// Registers a population generated into `dir` with `engine`, under the names of
/// [`table_specs`].
pub async fn register(engine: &Engine, dir: &Path) -> Result<()> {
    for (name, folder, spec) in table_specs() {
        engine.register_file(name, dir.join(folder), spec).await?;
    }
    Ok(())
}

/// The first nine digits of person `index`'s NHS number and its check digit: the first of
/// `400 000 000 + 2 × index` and the next number that has a check digit. One of two
/// consecutive prefixes always has one, so numbers increase with the index and do not
/// depend on how the population is split into files.
fn nhs_prefix(index: u64) -> (u64, u64) {
    let even = 400_000_000 + 2 * index;
    match nhs::check_digit(even) {
        Some(check) => (even, check),
        None => (even + 1, nhs::check_digit(even + 1).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_person_index_has_a_valid_increasing_nhs_number() {
        let mut previous = 0;
        for index in (0..10_000_000).step_by(7) {
            let (prefix, check) = nhs_prefix(index);
            let number = prefix * 10 + check;
            assert!(nhs::is_valid(number), "index {index}");
            assert!(number > previous);
            previous = number;
        }
    }
}
