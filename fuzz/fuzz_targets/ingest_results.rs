//! Raw bytes as a results file: no panic, and rows read = accepted + rejected.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::results(data);
});
