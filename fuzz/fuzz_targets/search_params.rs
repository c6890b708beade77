//! cargo fuzz target: see `zorgkluis_server::fhir::fuzz_targets::search_params`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    zorgkluis_server::fhir::fuzz_targets::search_params(data);
});
