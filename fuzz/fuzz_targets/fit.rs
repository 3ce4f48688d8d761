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

use hrcast::data::Format;
use libfuzzer_sys::fuzz_target;

/// CRC-16 of the FIT protocol (CRC-16/ARC: polynomial 0x8005 reflected, initial value 0).
fn fit_crc(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    let mut crc = 0u16;
    for &byte in bytes {
        for nibble in [byte & 0xF, byte >> 4] {
            let tmp = TABLE[usize::from(crc & 0xF)];
            crc = (crc >> 4) & 0x0FFF;
            crc = crc ^ tmp ^ TABLE[usize::from(nibble)];
        }
    }
    crc
}

/// Rewrites the header CRC (14-byte headers) and the file CRC of each chained FIT file, as far
/// as the headers' sizes hold together.
fn fix_crcs(bytes: &mut [u8]) {
    let mut pos = 0;
    while pos + 12 <= bytes.len() {
        let header = usize::from(bytes[pos]);
        if header < 12 {
            break;
        }
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let Some(data_end) = (pos + header).checked_add(size) else {
            break;
        };
        if data_end + 2 > bytes.len() {
            break;
        }
        if header >= 14 {
            let crc = fit_crc(&bytes[pos..pos + 12]);
            bytes[pos + 12..pos + 14].copy_from_slice(&crc.to_le_bytes());
        }
        let crc = fit_crc(&bytes[pos..data_end]);
        bytes[data_end..data_end + 2].copy_from_slice(&crc.to_le_bytes());
        pos = data_end + 2;
    }
}

fuzz_target!(init: common::init(), |bytes: &[u8]| {
    let mut bytes = bytes.to_vec();
    fix_crcs(&mut bytes);
    common::read_and_resample(Format::Fit, &bytes);
});
