//! The engine against the reference evaluator, over random cases ([`caas_fuzz::differential`]).
//! 256 cases unless `PROPTEST_CASES` says otherwise (`scripts/soak.sh` runs 100,000).
//! Failures are not persisted: the failure message holds the whole minimal case
//! (definition, parameters and tables).

use caas_fuzz::differential::{case, check};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let config = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(256)
    };
    ProptestConfig {
        failure_persistence: None,
        ..config
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_agrees_with_reference(case in case()) {
        check(&case)?;
    }
}
