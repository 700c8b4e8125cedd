//! Any text as a `--rules` file: no panic, and accepted rules are in range.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::rules(data);
});
