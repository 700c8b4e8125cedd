//! Raw bytes as a roster file: no panic, and rows read = accepted + rejected.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::roster(data);
});
