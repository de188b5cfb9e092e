//! No input makes caas panic: arbitrary text as a definition or an expression gives a
//! result or a typed error.

use caas_core::model::expr::parse;
use caas_core::{Cohort, Place};
use proptest::prelude::*;

const FRAGMENTS: [&str; 24] = [
    "age",
    " >= ",
    "65",
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "'x'",
    "DATE '2024-02-29'",
    " - ",
    "12 months",
    " + ",
    "CASE WHEN ",
    " THEN ",
    " ELSE ",
    " END",
    "coalesce(",
    ", ",
    " IN (",
    " BETWEEN ",
    " IS NULL",
    "-9223372036854775807 years",
    "years_between(",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,60}") {
        let _ = parse(&text, &Place::Definition);
        let _ = Cohort::from_yaml_str(&text);
        let _ = Cohort::from_json_str(&text);
    }

    #[test]
    fn parsing_expression_like_text_never_panics(parts in prop::collection::vec(0..FRAGMENTS.len(), 0..12)) {
        let text: String = parts.iter().map(|i| FRAGMENTS[*i]).collect();
        let _ = parse(&text, &Place::Definition);
        let definition = format!(
            "id: x\ntitle: x\npurpose: direct_care\nparameters: {{ index_date: 2025-01-01 }}\nvariables:\n  v: {{ kind: derived, expr: \"{}\" }}\n  w: {{ kind: age, on: \"{}\" }}\n",
            text.replace('"', ""),
            text.replace('"', "")
        );
        let _ = Cohort::from_yaml_str(&definition);
    }
}
