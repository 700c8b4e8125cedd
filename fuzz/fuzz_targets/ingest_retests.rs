//! Any bytes as a retests file: no panic, no internal error, rows conserved.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::retests(data);
});
