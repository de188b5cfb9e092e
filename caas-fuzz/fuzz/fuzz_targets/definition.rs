//! Definition text → read → check → print back (`caas_fuzz::definition`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caas_fuzz::definition(data));
