//! The provenance manifest: its committed schema is current, two runs on the same inputs
//! give byte-identical members and identical hashes, formatting does not change the
//! definition's hash and content does.
//!
//! Regenerate the schema with `CAAS_UPDATE_SCHEMA=1 cargo test -p caas-core --test integration provenance`.

use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::ipc::writer::StreamWriter;
use caas_core::model::{ParameterValue, Purpose};
use caas_core::provenance::{Provenance, codelist_hash, definition_hash, provenance_schema};
use caas_core::{CodeSystem, Cohort, Engine, Format, Parameters, Role};
use caas_synth::{self as synth, SynthConfig};

use super::common::root;

fn flu_dir() -> PathBuf {
    root().join("examples/flu")
}

fn flu() -> Cohort {
    Cohort::from_path(flu_dir().join("flu.yaml")).unwrap()
}

fn ipc_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    out
}

/// The manifest without its times, which are the only part that may differ between runs.
fn timeless(p: &Provenance) -> Provenance {
    Provenance {
        started_at: String::new(),
        finished_at: String::new(),
        ..p.clone()
    }
}

#[test]
fn committed_schema_is_current() {
    let path = root().join("schema/provenance.schema.json");
    let generated = provenance_schema();
    if std::env::var_os("CAAS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write the schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `CAAS_UPDATE_SCHEMA=1 cargo test -p caas-core --test integration provenance` and commit it",
        path.display()
    );
}

#[test]
fn two_runs_on_the_same_inputs_agree_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 1_500,
        seed: 11,
        persons_per_file: 500,
        threads: 2,
        ..SynthConfig::default()
    };
    synth::generate(&config, &flu_dir().join("codelists"), dir.path()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let run = || {
        // A fresh engine each time: nothing is shared but the files.
        let engine = Engine::new();
        runtime
            .block_on(synth::register(&engine, dir.path()))
            .unwrap();
        runtime
            .block_on(engine.evaluate(&flu(), &Parameters::new()))
            .unwrap()
    };
    let (first, second) = (run(), run());

    assert!(first.member_count() > 100, "{}", first.member_count());
    assert_eq!(ipc_bytes(&first.members), ipc_bytes(&second.members));
    assert_eq!(ipc_bytes(&first.attrition), ipc_bytes(&second.attrition));
    assert_eq!(timeless(&first.provenance), timeless(&second.provenance));

    let p = &first.provenance;
    assert_eq!(p.format, "caas-provenance/1");
    assert_eq!(p.cohort.id, "seasonal_flu_2025_26");
    assert_eq!(p.purpose, Purpose::DirectCare);
    assert_eq!(
        p.definition_sha256,
        definition_hash(flu().definition()).unwrap()
    );
    assert_eq!(p.population, 1_500);
    assert_eq!(p.members, first.member_count() as u64);
    assert_eq!(p.attrition.len(), flu().rules().len());
    assert_eq!(p.attrition.last().unwrap().after, p.members);
    assert_eq!(p.codelists.len(), flu().codelists().len());
    for (c, (name, list)) in p.codelists.iter().zip(flu().codelists()) {
        assert_eq!((&c.name, c.size), (name, list.codes().len()));
        assert_eq!(c.sha256, codelist_hash(list));
        let file = c.file.as_deref().unwrap();
        assert!(
            file.starts_with("codelists/") && file.ends_with(".csv"),
            "{file}"
        );
    }
    assert_eq!(
        p.parameters.get("index_date"),
        Some(&ParameterValue::Text("2026-01-31".into()))
    );
    let persons = &p.tables[0];
    assert_eq!((persons.role, persons.rows), (Role::Person, 1_500));
    assert!(persons.columns.iter().any(|c| c.name == "date_of_birth"));
    let gp = p.tables.iter().find(|t| t.name == "gp_events").unwrap();
    assert_eq!(gp.code_system, Some(CodeSystem::SnomedCt));
    assert!(gp.rows > 10 * 1_500);
    assert_eq!(p.engine.caas, env!("CARGO_PKG_VERSION"));
    assert!(p.engine.datafusion.starts_with("55."));
    for time in [&p.started_at, &p.finished_at] {
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
        assert!(time.ends_with('Z'));
    }
    assert!(p.started_at <= p.finished_at);

    // The JSON reads back to the same manifest.
    let json = p.to_json().unwrap();
    assert_eq!(&Provenance::from_json(&json).unwrap(), p);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["tables"][0]["rows"], 1_500);
    assert_eq!(value["codelists"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn formatting_keeps_the_definition_hash_and_content_changes_it() {
    let text = std::fs::read_to_string(flu_dir().join("flu.yaml")).unwrap();
    let original = flu();
    let hash = definition_hash(original.definition()).unwrap();

    // The same document as JSON, keys in another order, and as block-style YAML.
    let yaml: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    fn reversed(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.reverse();
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    out.insert(k.clone(), reversed(v));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(reversed).collect())
            }
            other => other.clone(),
        }
    }
    let json = serde_json::to_string_pretty(&reversed(&yaml)).unwrap();
    let as_json = Cohort::from_str_in(&json, Format::Json, &flu_dir()).unwrap();
    assert_eq!(definition_hash(as_json.definition()).unwrap(), hash);
    let block = serde_yaml_ng::to_string(original.definition()).unwrap();
    assert_ne!(block, text);
    let as_block = Cohort::from_str_in(&block, Format::Yaml, &flu_dir()).unwrap();
    assert_eq!(definition_hash(as_block.definition()).unwrap(), hash);

    // Spacing, keyword case and parentheses of expressions do not count either.
    let respaced = text
        .replace("age >= 65", "(AGE_PLACEHOLDER>=65)")
        .replace("AGE_PLACEHOLDER", "age")
        .replace("dob is null", "dob IS   NULL")
        .replace("index_date - 6 months", "index_date-6 MONTHS");
    assert_ne!(respaced, text);
    let cohort = Cohort::from_str_in(&respaced, Format::Yaml, &flu_dir()).unwrap();
    assert_eq!(definition_hash(cohort.definition()).unwrap(), hash);

    // What the definition says does count: a bound, a rule, a description.
    for (from, to) in [
        ("index_date - 6 months", "index_date - 7 months"),
        ("age >= 65", "age > 65"),
        ("Alive on the index date", "Alive on the index day"),
        ("min_value: 10,", "min_value: 11,"),
    ] {
        assert!(text.contains(from), "{from}");
        let changed =
            Cohort::from_str_in(&text.replacen(from, to, 1), Format::Yaml, &flu_dir()).unwrap();
        assert_ne!(
            definition_hash(changed.definition()).unwrap(),
            hash,
            "{from} -> {to}"
        );
    }

    // Changing a code changes the codelist's hash, and for inline codes the definition's.
    let inline = |code: &str| {
        Cohort::from_yaml_str(&format!(
            "{{id: c, title: T, purpose: research, codelists: {{asthma: {{system: icd10, codes: [J45, '{code}']}}}}}}"
        ))
        .unwrap()
    };
    let (a, b, c) = (inline("J46"), inline("J47"), inline("j46.x"));
    assert_ne!(
        definition_hash(a.definition()).unwrap(),
        definition_hash(b.definition()).unwrap()
    );
    assert_ne!(
        codelist_hash(&a.codelists()["asthma"]),
        codelist_hash(&b.codelists()["asthma"])
    );
    // The same codes spelt differently match the same events: same codelist hash.
    assert_eq!(
        codelist_hash(&a.codelists()["asthma"]),
        codelist_hash(&c.codelists()["asthma"])
    );

    // A codelist file whose content changes keeps the definition's hash (the definition
    // names the file) and changes the codelist's: the manifest records both.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("codelists")).unwrap();
    for entry in std::fs::read_dir(flu_dir().join("codelists")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path().join("codelists").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let diab = dir.path().join("codelists/diab.csv");
    let csv = std::fs::read_to_string(&diab).unwrap();
    let first_code = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&diab, csv.replacen(&first_code, "999999999", 1)).unwrap();
    let moved = Cohort::from_str_in(&text, Format::Yaml, dir.path()).unwrap();
    assert_eq!(definition_hash(moved.definition()).unwrap(), hash);
    assert_ne!(
        codelist_hash(&moved.codelists()["diab"]),
        codelist_hash(&original.codelists()["diab"])
    );
    assert_eq!(
        codelist_hash(&moved.codelists()["chd"]),
        codelist_hash(&original.codelists()["chd"])
    );
}

#[test]
fn a_saved_run_gives_the_report_of_its_evaluation() {
    use caas_core::report::{ReportOptions, SavedRun};
    let (engine, _files) = super::common::synthetic_engine(&SynthConfig {
        persons: 600,
        seed: 5,
        threads: 2,
        ..SynthConfig::default()
    });
    let result = engine
        .evaluate_blocking(&flu(), &Parameters::new())
        .unwrap();

    let json = result.saved().unwrap().to_json().unwrap();
    // The codelists read from files are saved with their codes: the run stands alone.
    let saved = SavedRun::from_json(&json).unwrap();
    assert!(
        saved
            .definition
            .codelists
            .values()
            .all(|c| c.file.is_none())
    );
    for disclosure_control in [false, true] {
        let options = ReportOptions { disclosure_control };
        assert_eq!(
            saved.report(&options).unwrap(),
            result.report(&options).unwrap()
        );
    }
    let other = json.replace("\"caas-run/1\"", "\"caas-run/9\"");
    let err = SavedRun::from_json(&other).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("`caas-run/9`"), "{err}");
}
