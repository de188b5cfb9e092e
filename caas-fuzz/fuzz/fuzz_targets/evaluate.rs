//! Input bytes → a random case (tables, definition) → the engine against the reference
//! evaluator (`caas_fuzz::evaluate`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caas_fuzz::evaluate(data));
