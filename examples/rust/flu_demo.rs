//! The main job on synthetic data: generate a population (once; it is cached), evaluate the
//! seasonal flu cohort of `examples/flu/flu.yaml`, print the attrition and the time taken,
//! and write the members as Parquet.
//!
//! ```text
//! cargo run --release -p caas-core --example flu_demo -- [--persons N] [--seed S] [--data DIR] [--out DIR]
//! ```

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use caas_core::{Cohort, Engine, Parameters};
use caas_synth::{self as synth, SynthConfig};
use datafusion::parquet::arrow::ArrowWriter;

struct Args {
    persons: u64,
    seed: u64,
    data: Option<PathBuf>,
    out: PathBuf,
}

fn parse_args(root: &Path) -> Result<Args, String> {
    let mut args = Args {
        persons: SynthConfig::default().persons,
        seed: SynthConfig::default().seed,
        data: None,
        out: root.join("target/caas-demo/out"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--persons" => {
                args.persons = value()?.parse().map_err(|_| "--persons takes a number")?
            }
            "--seed" => args.seed = value()?.parse().map_err(|_| "--seed takes a number")?,
            "--data" => args.data = Some(PathBuf::from(value()?)),
            "--out" => args.out = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}; see the file's header")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("caas-core has a parent folder")?;
    let args = parse_args(root)?;
    let config = SynthConfig {
        persons: args.persons,
        seed: args.seed,
        ..SynthConfig::default()
    };
    let data = args.data.unwrap_or_else(|| {
        root.join(format!(
            "target/caas-demo/synthetic-{}-seed{}",
            config.persons, config.seed
        ))
    });
    let codelists = root.join("examples/flu/codelists");

    let marker = data.join("complete");
    if marker.exists() {
        println!("Synthetic population: {} (cached)", data.display());
    } else {
        println!(
            "Generating {} synthetic people into {} ...",
            config.persons,
            data.display()
        );
        let summary = synth::generate(&config, &codelists, &data)?;
        for (table, rows) in &summary.rows {
            println!("  {table:<16} {rows:>13} rows");
        }
        println!(
            "  {:.1} s, {:.0} rows/s",
            summary.seconds,
            summary.rows_per_second()
        );
        std::fs::write(&marker, format!("{config:?}\n"))?;
    }

    let engine = Engine::new();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(synth::register(&engine, &data))?;
    let cohort = Cohort::from_path(root.join("examples/flu/flu.yaml"))?;

    let started = Instant::now();
    let result = runtime.block_on(engine.evaluate(&cohort, &Parameters::new()))?;
    let elapsed = started.elapsed();

    println!("\n{} — attrition", cohort.definition().title);
    println!("{}", result.attrition_table()?);
    println!(
        "{} of {} people in the cohort; evaluated in {:.2} s",
        result.member_count(),
        result.population,
        elapsed.as_secs_f64()
    );
    for table in &result.data_quality.tables {
        for finding in table.findings.iter().filter(|f| f.count > 0) {
            println!(
                "Data quality: `{}`: {} row(s) have {} (policy {})",
                table.table,
                finding.count,
                finding.kind.description(),
                finding.policy
            );
        }
    }

    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("flu_members.parquet");
    let mut writer = ArrowWriter::try_new(File::create(&path)?, result.members.schema(), None)?;
    writer.write(&result.members)?;
    writer.close()?;
    println!("Members written to {}", path.display());
    Ok(())
}
