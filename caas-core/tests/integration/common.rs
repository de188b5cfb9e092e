//! What several modules set up alike.

use std::path::{Path, PathBuf};

use caas_core::Engine;
use caas_synth::{self as synth, SynthConfig};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An engine with a synthetic population of `config`, made with the flu example's
/// codelists, registered under its table names. The engine reads the files of the
/// returned folder: keep it while the engine is used.
pub fn synthetic_engine(config: &SynthConfig) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(config, &root().join("examples/flu/codelists"), dir.path()).unwrap();
    let engine = Engine::new();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(synth::register(&engine, dir.path()))
        .unwrap();
    (engine, dir)
}
