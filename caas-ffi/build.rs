//! Gives the shared library a SONAME, `libcaas.so.N`, where N is the C ABI version
//! (`CAAS_ABI_VERSION` of `src/lib.rs`, which changes only on an incompatible change of the
//! C ABI, as a SONAME's number should). A program linked against libcaas then records
//! `libcaas.so.N` and loads any later library of the same ABI, never one of another. The
//! version is read from the source rather than copied here, so that the two cannot differ.

use std::env;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=build.rs");
    // Only ELF platforms have SONAMEs (macOS has install names, Windows neither).
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos"
    ) {
        return ExitCode::SUCCESS;
    }
    match abi_version() {
        Ok(abi) => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcaas.so.{abi}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("caas-ffi build script: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The N of `pub const CAAS_ABI_VERSION: u32 = N;` in src/lib.rs.
fn abi_version() -> Result<u32, String> {
    let dir = env::var("CARGO_MANIFEST_DIR").map_err(|e| format!("CARGO_MANIFEST_DIR: {e}"))?;
    let path = Path::new(&dir).join("src/lib.rs");
    let source = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    source
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("pub const CAAS_ABI_VERSION: u32 =")
                .and_then(|rest| rest.trim().strip_suffix(';'))
                .map(|value| value.trim().replace('_', ""))
        })
        .ok_or_else(|| "no `pub const CAAS_ABI_VERSION: u32 = N;` in src/lib.rs".to_string())?
        .parse()
        .map_err(|e| format!("CAAS_ABI_VERSION in src/lib.rs: {e}"))
}
