#![no_main]
//! `tenax::fuzz::ws_frames` on arbitrary bytes (see crates/tenax/src/fuzz.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| tenax::fuzz::ws_frames(data));
