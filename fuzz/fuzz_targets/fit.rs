//! Fuzzes the FIT reader: `data::read_bytes(Format::Fit, ..)`, then `features::resample`.
//!
//! fitparser decodes every message before it compares the file's CRC at the end, so a mutated
//! input with a stale CRC still exercises the decoder but is then rejected, and never reaches
//! hrcast's record handling or the resampling. This target therefore rewrites the header and
//! file CRCs of every chained FIT file in the input first (the CRC check itself is a plain
//! comparison, not worth the fuzzer's time).
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "../../tests/common/fit_crc.rs"]
mod fit_crc;

use hrcast::data::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: common::init(), |bytes: &[u8]| {
    let mut bytes = bytes.to_vec();
    fit_crc::fix_fit_crcs(&mut bytes);
    common::read_and_resample(Format::Fit, &bytes);
});
