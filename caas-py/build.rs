//! Embeds the flagship example (`examples/flu`: the definition and its codelists) in the
//! module, so that `caas demo` works from an installed wheel in any folder while the
//! repository keeps one copy of the files.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let example = manifest.join("../examples/flu");
    let mut files = vec![(String::from("flu.yaml"), example.join("flu.yaml"))];
    let mut codelists: Vec<PathBuf> = std::fs::read_dir(example.join("codelists"))
        .map_err(|e| format!("cannot read {}: {e}", example.join("codelists").display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    codelists.sort();
    for path in codelists {
        let name = file_name(&path)?;
        files.push((format!("codelists/{name}"), path));
    }

    let mut code = String::from(
        "/// The flu example's files: (path relative to the example's folder, content).\n",
    );
    code.push_str("pub static FLU: &[(&str, &[u8])] = &[\n");
    for (relative, path) in &files {
        let absolute = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("examples.rs");
    std::fs::write(out, code)?;
    println!("cargo:rerun-if-changed={}", example.display());
    println!(
        "cargo:rerun-if-changed={}",
        example.join("codelists").display()
    );
    Ok(())
}

fn file_name(path: &Path) -> Result<String, Box<dyn Error>> {
    Ok(path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("not a file name: {}", path.display()))?
        .to_string())
}
