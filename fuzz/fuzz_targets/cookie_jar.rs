#![no_main]
//! A Netscape cookie file (curl's `-b`/`-c` format) loaded into a `Jar`: what loads must
//! write out as a file that loads again, to as many cookies.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let jar = tenax::cookie::Jar::default();
    if jar.load_netscape(text).is_ok() {
        let written = jar.to_netscape();
        let again = tenax::cookie::Jar::default();
        again
            .load_netscape(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not load again: {e}"));
        // The same cookies (the order of a jar's file is not fixed).
        let lines = |s: &str| {
            let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(lines(&again.to_netscape()), lines(&written), "the round trip changed it");
    }
});
