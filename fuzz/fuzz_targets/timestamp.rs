//! Any text through the timestamp parser: no panic, and what parses formats back to
//! the same instant.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::timestamp(data);
});
