//! Any text as the raw row of a rejected roster line: no ID-shaped run survives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::reject_raw(data);
});
