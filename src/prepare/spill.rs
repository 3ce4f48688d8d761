//! The resampled workouts of a prepare run, kept on disk between its two passes: the first
//! appends each workout's sequence as it is made, the second reads them back in the same order
//! once the splits and histories are known. The file has no name: the system removes it however
//! the run ends.

use crate::features::{NUM_FEATURES, Sequence};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes buffered on each side of the file.
const BUFFER_BYTES: usize = 4 << 20;

/// Sequences being written.
pub struct Spill {
    file: BufWriter<File>,
}

/// Sequences being read back, in the order they were written.
pub struct Unspill {
    file: BufReader<File>,
}

impl Spill {
    /// A new spill file beside the output folder `out`: in it, or where it does not exist yet
    /// (it is made only once the files are written), in the nearest folder above it that does,
    /// so that the disk that takes the data takes the spill too.
    pub fn create(out: &Path) -> Result<Spill> {
        let dir = out
            .ancestors()
            .find(|dir| dir.is_dir())
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = tempfile::tempfile_in(dir)
            .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
        Ok(Spill {
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
        })
    }

    /// Appends a sequence.
    pub fn push(&mut self, sequence: &Sequence) -> Result<()> {
        let valid: Vec<u8> = sequence.valid.iter().map(|&v| u8::from(v)).collect();
        self.file
            .write_all(bytemuck::cast_slice(&sequence.features))
            .and_then(|()| {
                self.file
                    .write_all(bytemuck::cast_slice(&sequence.heart_rate))
            })
            .and_then(|()| self.file.write_all(&valid))
            .context("cannot write the temporary file of prepare")
    }

    /// The sequences written, to be read back from the first.
    pub fn read_back(self) -> Result<Unspill> {
        let error = "cannot read back the temporary file of prepare";
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0)).context(error)?;
        Ok(Unspill {
            file: BufReader::with_capacity(BUFFER_BYTES, file),
        })
    }
}

impl Unspill {
    /// The next sequence, of `steps` steps.
    pub fn next(&mut self, steps: usize) -> Result<Sequence> {
        let mut sequence = Sequence {
            features: vec![0.0; steps * NUM_FEATURES],
            heart_rate: vec![0.0; steps],
            valid: Vec::new(),
        };
        let mut valid = vec![0u8; steps];
        self.file
            .read_exact(bytemuck::cast_slice_mut(&mut sequence.features))
            .and_then(|()| {
                self.file
                    .read_exact(bytemuck::cast_slice_mut(&mut sequence.heart_rate))
            })
            .and_then(|()| self.file.read_exact(&mut valid))
            .context("cannot read back the temporary file of prepare")?;
        sequence.valid = valid.into_iter().map(|v| v != 0).collect();
        Ok(sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(dir.path()).unwrap();
        let sequences: Vec<Sequence> = [3usize, 0, 5]
            .iter()
            .map(|&steps| Sequence {
                features: (0..steps * NUM_FEATURES).map(|v| v as f32 * 0.5).collect(),
                heart_rate: (0..steps).map(|v| 100.0 + v as f32).collect(),
                valid: (0..steps).map(|v| v % 2 == 0).collect(),
            })
            .collect();
        for s in &sequences {
            spill.push(s).unwrap();
        }
        let mut back = spill.read_back().unwrap();
        for s in &sequences {
            let read = back.next(s.len()).unwrap();
            assert_eq!(
                (&read.features, &read.heart_rate, &read.valid),
                (&s.features, &s.heart_rate, &s.valid)
            );
        }
        assert!(back.next(1).is_err(), "nothing more");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no name");
    }
}
