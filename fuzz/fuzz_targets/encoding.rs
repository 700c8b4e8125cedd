//! Raw bytes through encoding detection and decoding: no panic, and a decoded file
//! keeps its rows conserved.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::encoding(data);
});
