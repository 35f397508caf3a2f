#![no_main]
//! The CLI's own value parsers (`crates/cli/src/args.rs`, included as it is: the CLI is a
//! binary crate): durations and limits (`-m`, `--connect-timeout`), sizes (`--max-filesize`),
//! `--resolve HOST:PORT:ADDR[,ADDR]`, `-H`, and the URL fix-ups.

#[path = "../../crates/cli/src/args.rs"]
#[allow(dead_code)]
mod args;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // `Duration::from_secs_f64` panics on what does not fit: the parser must refuse it first.
    let _ = args::duration(s);
    let _ = args::limit(s);
    let _ = args::size(s);
    if let Ok((host, port, addrs)) = args::resolve(s) {
        assert!(!addrs.is_empty(), "{s:?} gave {host}:{port} and no address");
    }
    let _ = args::header(s);
    let _ = args::url(s);
});
