//! Raw bytes as a samples file against a small roster: no panic, and rows read =
//! accepted + rejected.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::samples(data);
});
