//! Input bytes → a table → an Arrow C stream through the C ABI → an evaluation over it
//! (`caas_fuzz::stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caas_fuzz::stream(data));
