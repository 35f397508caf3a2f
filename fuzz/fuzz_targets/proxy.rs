#![no_main]
//! `tenax::fuzz::proxy` on arbitrary bytes (see crates/tenax/src/fuzz.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tenax::fuzz::proxy(data));
