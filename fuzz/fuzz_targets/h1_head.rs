#![no_main]
//! `tenax::fuzz::h1_head` on arbitrary bytes (see crates/tenax/src/fuzz.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tenax::fuzz::h1_head(data));
