//! Replays the fuzz targets over the conformance cases' definitions and, for each, a fixed
//! set of mutations (bytes changed, fragments that nest or break the text inserted, spans
//! cut or repeated), and the `evaluate` and `stream` targets, whose inputs are not
//! definitions, over fixed random inputs: a short, repeatable run of every target on each
//! CI run, without the fuzzer. Any panic is a finding; `scripts/fuzz.sh` runs the same targets under
//! cargo-fuzz for as long as it is given.

use std::path::{Path, PathBuf};
use std::time::Instant;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Text that nests, quotes, comments or ends a definition: where parsers break.
const FRAGMENTS: [&str; 16] = [
    "(",
    ")",
    "not ",
    "[",
    "]",
    "{",
    "}",
    "coalesce(",
    "'",
    "\"",
    "\n",
    "#",
    " IN (1, ",
    "- ",
    "DATE '0000-01-01'",
    "9223372036854775807",
];

/// The definitions of the conformance cases, and of the cohorts they use.
fn seeds() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let mut seeds = Vec::new();
    for path in paths {
        let case: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path)?)?;
        if let Some(text) = case["definition"].as_str() {
            seeds.push(text.to_string());
        }
        if let Some(cohorts) = case["cohorts"].as_sequence() {
            seeds.extend(
                cohorts
                    .iter()
                    .filter_map(|c| c.as_str())
                    .map(str::to_string),
            );
        }
    }
    Ok(seeds)
}

/// A small deterministic generator (SplitMix64): the same mutations on every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    /// `seed` with one to four changes.
    fn mutate(&mut self, seed: &str) -> Vec<u8> {
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(5) {
                0 => {
                    if let Some(b) = bytes.get_mut(at) {
                        *b = u8::try_from(self.next() & 0xFF).unwrap_or(b'?');
                    }
                }
                1 => {
                    let fragment =
                        FRAGMENTS[self.below(FRAGMENTS.len())].repeat(1 + self.below(300));
                    bytes.splice(at..at, fragment.into_bytes());
                }
                2 => {
                    let end = (at + self.below(40)).min(bytes.len());
                    bytes.drain(at..end);
                }
                3 => {
                    let end = (at + self.below(40)).min(bytes.len());
                    let span = bytes[at..end].to_vec();
                    bytes.splice(at..at, span.repeat(1 + self.below(20)));
                }
                _ => bytes.truncate(at),
            }
        }
        bytes
    }
}

fn replay(name: &str, target: fn(&[u8]), mutations: usize) -> TestResult {
    let seeds = seeds()?;
    let mut mutator = Mutator(0x00CA_A5F0);
    let started = Instant::now();
    let mut runs = 0usize;
    for seed in &seeds {
        target(seed.as_bytes());
        runs += 1;
        for _ in 0..mutations {
            target(&mutator.mutate(seed));
            runs += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "fuzz target `{name}`: {runs} inputs from {} seeds in {seconds:.1} s ({:.0}/s)",
        seeds.len(),
        runs as f64 / seconds.max(1e-9)
    );
    assert!(seeds.len() >= 100, "the conformance cases were not found");
    Ok(())
}

#[test]
fn definition_target_over_the_conformance_definitions() -> TestResult {
    replay("definition", caas_fuzz::definition, 2000)
}

#[test]
fn plan_target_over_the_conformance_definitions() -> TestResult {
    replay("plan", caas_fuzz::plan, 50)
}

/// `target` over the empty input and `inputs` fixed random ones of up to `max_len` bytes.
fn replay_random(name: &str, target: fn(&[u8]), inputs: usize, max_len: usize) {
    let mut mutator = Mutator(0x0E7A_1000);
    let started = Instant::now();
    target(b"");
    for _ in 0..inputs {
        let bytes: Vec<u8> = (0..mutator.below(max_len))
            .map(|_| mutator.next() as u8)
            .collect();
        target(&bytes);
    }
    eprintln!(
        "fuzz target `{name}`: {} inputs in {:.1} s",
        inputs + 1,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn evaluate_target_over_fixed_inputs() {
    // Its inputs seed random cases rather than being definitions. (The property test in
    // tests/differential.rs runs 256 more cases.)
    replay_random("evaluate", caas_fuzz::evaluate, 32, 64);
}

#[test]
fn stream_target_over_fixed_inputs() {
    replay_random("stream", caas_fuzz::stream, 200, 400);
}
