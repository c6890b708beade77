//! cargo fuzz target: see `zorgkluis_server::fhir::fuzz_targets::bundle`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zorgkluis_server::fhir::fuzz_targets::bundle(data);
});
