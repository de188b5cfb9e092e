//! Definition text → read → check → plan, in-process and as SQL (`caas_fuzz::plan`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caas_fuzz::plan(data));
