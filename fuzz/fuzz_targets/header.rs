//! Any header row through the header matcher: no panic, and no column matched twice.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::header(data);
});
