//! FIT files end in a CRC-16 over their header and data, which fitparser checks after decoding
//! every message. The mutation test and the `fit` fuzz target rewrite it after editing a file,
//! so that the edit reaches hrcast's record handling instead of being rejected at the end.

/// CRC-16 of the FIT protocol (CRC-16/ARC: polynomial 0x8005 reflected, initial value 0).
pub fn fit_crc(bytes: &[u8]) -> u16 {
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

/// One FIT file of a chain (a `.fit` may hold several back to back): header start, header
/// size, and the end of its data (where its 2-byte CRC sits).
#[derive(Debug, Clone, Copy)]
pub struct FitChunk {
    pub start: usize,
    pub header: usize,
    pub data_end: usize,
}

/// The chained FIT files in `bytes`, as far as their headers are consistent.
pub fn fit_chunks(bytes: &[u8]) -> Vec<FitChunk> {
    let mut chunks = Vec::new();
    let mut pos = 0;
    while pos + 12 <= bytes.len() {
        let header = usize::from(bytes[pos]);
        if header < 12 || &bytes[pos + 8..pos + 12] != b".FIT" {
            break;
        }
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let Some(data_end) = (pos + header).checked_add(size) else {
            break;
        };
        if data_end + 2 > bytes.len() {
            break;
        }
        chunks.push(FitChunk {
            start: pos,
            header,
            data_end,
        });
        pos = data_end + 2;
    }
    chunks
}

/// Rewrites the header CRC (14-byte headers) and the file CRC of every chained FIT file, so that
/// fitparser's CRC checks pass and the edited file is read.
pub fn fix_fit_crcs(bytes: &mut [u8]) {
    for c in fit_chunks(bytes) {
        if c.header >= 14 {
            let crc = fit_crc(&bytes[c.start..c.start + 12]);
            bytes[c.start + 12..c.start + 14].copy_from_slice(&crc.to_le_bytes());
        }
        let crc = fit_crc(&bytes[c.start..c.data_end]);
        bytes[c.data_end..c.data_end + 2].copy_from_slice(&crc.to_le_bytes());
    }
}
