//! Any text through the Ct parser: no panic, and accepted values lie in (0, 50].
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    poolscreen::fuzzing::ct(data);
});
