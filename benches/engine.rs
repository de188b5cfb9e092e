//! Criterion benchmarks of the engine's main paths: reading and checking a definition,
//! planning it, matching large codelists, and evaluating the flu cohort over synthetic
//! populations of growing size (the curve should be linear in events).
//!
//! Run with `cargo bench -p caas-core --bench engine`.

// A test or an example reports a failure by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use caas_core::{CodeSystem, Codelist, Cohort, Engine, Parameters};
use caas_synth::{self as synth, SynthConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn flu() -> Cohort {
    Cohort::from_path(root().join("examples/flu/flu.yaml")).expect("the flu example reads")
}

fn definition(c: &mut Criterion) {
    let path = root().join("examples/flu/flu.yaml");
    c.bench_function("definition/read_and_check_flu", |b| {
        b.iter(|| Cohort::from_path(&path).expect("the flu example reads"))
    });
    let codes: Vec<String> = (0..4_594)
        .map(|i| {
            format!(
                "{}{:02}{}",
                (b'A' + (i % 26) as u8) as char,
                i % 100,
                i % 10
            )
        })
        .collect();
    c.bench_function("codelist/build_4594_icd10_codes", |b| {
        b.iter(|| Codelist::new("immunosuppression", CodeSystem::Icd10, &codes))
    });
}

/// A generated population of `persons`, registered with an engine, and its GP event rows.
struct Population {
    _dir: tempfile::TempDir,
    engine: Engine,
    persons: u64,
    events: u64,
}

fn population(runtime: &tokio::runtime::Runtime, persons: u64) -> Population {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = SynthConfig {
        persons,
        ..SynthConfig::default()
    };
    let summary = synth::generate(&config, &root().join("examples/flu/codelists"), dir.path())
        .expect("the population generates");
    let events = summary
        .rows
        .iter()
        .filter(|(t, _)| t.starts_with("gp_"))
        .map(|(_, n)| n)
        .sum();
    let engine = Engine::new();
    runtime
        .block_on(synth::register(&engine, dir.path()))
        .expect("the population registers");
    Population {
        _dir: dir,
        engine,
        persons,
        events,
    }
}

fn evaluation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let cohort = flu();
    let parameters = Parameters::new();
    let populations: Vec<Population> = [10_000, 20_000, 40_000]
        .into_iter()
        .map(|n| population(&runtime, n))
        .collect();

    let smallest = &populations[0].engine;
    c.bench_function("plan/flu", |b| {
        b.to_async(&runtime)
            .iter(|| smallest.plan(&cohort, &parameters))
    });

    let mut group = c.benchmark_group("evaluate_flu");
    group.sample_size(10);
    for p in &populations {
        group.throughput(Throughput::Elements(p.events));
        group.bench_with_input(
            BenchmarkId::from_parameter(p.persons),
            &p.engine,
            |b, engine| {
                b.to_async(&runtime)
                    .iter(|| engine.evaluate(&cohort, &parameters))
            },
        );
    }
    group.finish();
}

criterion_group!(benches, definition, evaluation);
criterion_main!(benches);
