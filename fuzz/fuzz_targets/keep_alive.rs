#![no_main]
//! `tenax::fuzz::keep_alive` on arbitrary bytes (see crates/tenax/src/fuzz.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tenax::fuzz::keep_alive(data));
