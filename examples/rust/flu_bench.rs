//! Benchmark driver for `benches/compare_duckdb.py` and `benches/many_cohorts.py`: generates
//! a synthetic population, evaluates the flu cohort on one several times, or evaluates the
//! five programmes of the examples alone and together, and reports the wall times as JSON.
//!
//! ```text
//! cargo run --release -p caas-core --example flu_bench -- generate --persons N --data DIR
//! cargo run --release -p caas-core --example flu_bench -- run --data DIR --repeat K --members FILE \
//!     [--threads N] [--batch-size ROWS]
//! cargo run --release -p caas-core --example flu_bench -- many --data DIR --repeat K [--threads N]
//! ```
//!
//! `run` prints one JSON object: `{"seconds": [...], "members": n, "population": n}`.
//! `many` prints `{"cohorts": [ids], "alone": [[s per cohort] per round], "together": [s per
//! round], "members": [n per cohort]}`; each round evaluates every cohort alone, then all of
//! them in one `evaluate_many`, after a first round (not reported) that counts the data
//! quality of every table. It fails if a cohort's members or attrition together differ from
//! its own.

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
            let (engine, runtime) = engine(&args, &data)?;
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
        Some("many") => many(root, &args, &data)?,
        _ => return Err("usage: flu_bench generate|run|many --data DIR ...".into()),
    }
    Ok(())
}

/// An engine with the options of `args` over the population in `data`, and a runtime.
fn engine(
    args: &[String],
    data: &Path,
) -> Result<(Engine, tokio::runtime::Runtime), Box<dyn std::error::Error>> {
    let options = EngineOptions {
        target_partitions: value(args, "--threads").map(str::parse).transpose()?,
        batch_size: value(args, "--batch-size").map(str::parse).transpose()?,
        ..EngineOptions::default()
    };
    let engine = Engine::with_options(&options)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(synth::register(&engine, data))?;
    Ok((engine, runtime))
}

/// The flu cohort and the four programmes of `examples/programmes`, alone and together.
fn many(root: &Path, args: &[String], data: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let repeat: usize = value(args, "--repeat").unwrap_or("3").parse()?;
    let (engine, runtime) = engine(args, data)?;
    let cohorts = [
        "flu/flu.yaml",
        "programmes/covid19_autumn.yaml",
        "programmes/shingles.yaml",
        "programmes/rsv_older_adults.yaml",
        "programmes/pneumococcal.yaml",
    ]
    .iter()
    .map(|path| Cohort::from_path(root.join("examples").join(path)))
    .collect::<Result<Vec<_>, _>>()?;
    let parameters = Parameters::new();
    let runs: Vec<(&Cohort, &Parameters)> = cohorts.iter().map(|c| (c, &parameters)).collect();
    let (mut alone, mut together) = (Vec::new(), Vec::new());
    let mut members = Vec::new();
    for round in 0..=repeat.max(1) {
        let mut seconds = Vec::new();
        let mut own = Vec::new();
        for cohort in &cohorts {
            let started = Instant::now();
            own.push(runtime.block_on(engine.evaluate(cohort, &parameters))?);
            seconds.push(started.elapsed().as_secs_f64());
        }
        let started = Instant::now();
        let all = runtime.block_on(engine.evaluate_many(&runs))?;
        let elapsed = started.elapsed().as_secs_f64();
        for ((one, shared), cohort) in own.iter().zip(&all).zip(&cohorts) {
            if one.members != shared.members || one.attrition != shared.attrition {
                return Err(format!("{}: together differs from alone", cohort.id()).into());
            }
        }
        members = own.iter().map(|e| e.member_count()).collect();
        if round > 0 {
            alone.push(seconds);
            together.push(elapsed);
        }
    }
    let json = |xs: &[f64]| {
        let items: Vec<String> = xs.iter().map(|s| format!("{s:.4}")).collect();
        format!("[{}]", items.join(", "))
    };
    let ids: Vec<String> = cohorts.iter().map(|c| format!("\"{}\"", c.id())).collect();
    let alone: Vec<String> = alone.iter().map(|r| json(r)).collect();
    let counts: Vec<String> = members.iter().map(usize::to_string).collect();
    println!(
        "{{\"cohorts\": [{}], \"alone\": [{}], \"together\": {}, \"members\": [{}]}}",
        ids.join(", "),
        alone.join(", "),
        json(&together),
        counts.join(", ")
    );
    Ok(())
}
