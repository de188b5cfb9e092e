//! Benchmark driver for `benches/compare_duckdb.py`: generates a synthetic population, or
//! evaluates the flu cohort on one several times and reports the wall times as JSON.
//!
//! ```text
//! cargo run --release -p caas-core --example flu_bench -- generate --persons N --data DIR
//! cargo run --release -p caas-core --example flu_bench -- run --data DIR --repeat K --members FILE \
//!     [--threads N] [--batch-size ROWS]
//! ```
//!
//! `run` prints one JSON object: `{"seconds": [...], "members": n, "population": n}`.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use caas_core::{Cohort, Engine, EngineOptions, Parameters};
use caas_synth::{self as synth, SynthConfig};
use datafusion::parquet::arrow::ArrowWriter;

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("caas-core has a parent folder")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = PathBuf::from(value(&args, "--data").ok_or("--data DIR is required")?);
    match args.first().map(String::as_str) {
        Some("generate") => {
            let config = SynthConfig {
                persons: value(&args, "--persons")
                    .ok_or("--persons N is required")?
                    .parse()?,
                ..SynthConfig::default()
            };
            let summary = synth::generate(&config, &root.join("examples/flu/codelists"), &data)?;
            let rows: u64 = summary.rows.iter().map(|(_, n)| n).sum();
            println!(
                "{{\"rows\": {rows}, \"seconds\": {:.3}, \"rows_per_second\": {:.0}}}",
                summary.seconds,
                summary.rows_per_second()
            );
        }
        Some("run") => {
            let repeat: usize = value(&args, "--repeat").unwrap_or("3").parse()?;
            let options = EngineOptions {
                target_partitions: value(&args, "--threads").map(str::parse).transpose()?,
                batch_size: value(&args, "--batch-size").map(str::parse).transpose()?,
                ..EngineOptions::default()
            };
            let engine = Engine::with_options(&options)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(synth::register(&engine, &data))?;
            let cohort = Cohort::from_path(root.join("examples/flu/flu.yaml"))?;
            let mut seconds = Vec::new();
            let mut last = None;
            for _ in 0..repeat.max(1) {
                let started = Instant::now();
                let result = runtime.block_on(engine.evaluate(&cohort, &Parameters::new()))?;
                seconds.push(started.elapsed().as_secs_f64());
                last = Some(result);
            }
            let result = last.ok_or("no run")?;
            if let Some(path) = value(&args, "--members") {
                let mut writer =
                    ArrowWriter::try_new(File::create(path)?, result.members.schema(), None)?;
                writer.write(&result.members)?;
                writer.close()?;
            }
            let times: Vec<String> = seconds.iter().map(|s| format!("{s:.4}")).collect();
            println!(
                "{{\"seconds\": [{}], \"members\": {}, \"population\": {}}}",
                times.join(", "),
                result.member_count(),
                result.population
            );
        }
        _ => return Err("usage: flu_bench generate|run --data DIR ...".into()),
    }
    Ok(())
}
