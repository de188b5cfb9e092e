//! The synthetic population: deterministic for a seed whatever the threads and file split,
//! sorted by (person id, date), with valid NHS numbers but for the configured share.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use caas_core::nhs;
use caas_synth::{self as synth, SynthConfig};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn codelists() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/flu/codelists")
}

/// Every row of a table, in file order.
fn read_table(dir: &Path, table: &str) -> Vec<RecordBatch> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(table))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}

/// FNV-1a over the text of every cell of every table: independent of the Parquet encoding.
fn content_hash(dir: &Path) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let options = FormatOptions::default().with_null("∅");
    for (table, _) in synth::schemas() {
        for batch in read_table(dir, table) {
            let formatters: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                for f in &formatters {
                    for byte in f.value(row).to_string().bytes().chain([0x1f]) {
                        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                    }
                }
            }
        }
    }
    hash
}

fn generate(config: &SynthConfig) -> (tempfile::TempDir, synth::SynthSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = synth::generate(config, &codelists(), dir.path()).unwrap();
    (dir, summary)
}

#[test]
fn same_seed_same_population_whatever_the_threads_and_files() {
    let base = SynthConfig {
        persons: 3_000,
        seed: 11,
        ..SynthConfig::default()
    };
    let (one, summary) = generate(&SynthConfig {
        threads: 1,
        persons_per_file: 3_000,
        ..base.clone()
    });
    let (split, _) = generate(&SynthConfig {
        threads: 2,
        persons_per_file: 700,
        ..base.clone()
    });
    let (other_seed, _) = generate(&SynthConfig { seed: 12, ..base });
    assert_eq!(summary.files, 1);
    assert_eq!(content_hash(one.path()), content_hash(split.path()));
    assert_ne!(content_hash(one.path()), content_hash(other_seed.path()));
    // The committed fingerprint: a change to the generator's output must be deliberate.
    assert_eq!(
        content_hash(one.path()),
        0x1a97_f070_2853_34d2,
        "update the fingerprint"
    );
}

#[test]
fn events_are_sorted_and_nhs_numbers_valid_but_for_the_configured_share() {
    let (dir, summary) = generate(&SynthConfig {
        persons: 4_000,
        seed: 5,
        invalid_nhs_share: 0.05,
        persons_per_file: 1_500,
        ..SynthConfig::default()
    });
    let events: u64 = summary
        .rows
        .iter()
        .filter(|(t, _)| t.starts_with("gp_"))
        .map(|(_, n)| n)
        .sum();
    let per_person = events as f64 / 4_000.0;
    assert!(
        (80.0..130.0).contains(&per_person),
        "{per_person} events per person"
    );

    let persons = read_table(dir.path(), "persons");
    let ids: Vec<i64> = persons
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids.len(), 4_000);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "person ids are sorted and unique"
    );
    let invalid = ids.iter().filter(|id| !nhs::is_valid(**id as u64)).count();
    assert!(
        (120..=280).contains(&invalid),
        "{invalid} invalid NHS numbers of 4,000 at 5%"
    );

    for table in ["gp_events", "gp_medications"] {
        let mut last = (i64::MIN, i32::MIN);
        for batch in read_table(dir.path(), table) {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let dates = batch.column(1).as_primitive::<Date32Type>();
            for i in 0..batch.num_rows() {
                let key = (ids.value(i), dates.value(i));
                assert!(key >= last, "{table} is sorted by (person id, date)");
                last = key;
            }
        }
    }
}
