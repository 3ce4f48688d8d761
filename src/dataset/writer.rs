//! Writing processed data files: a split in memory at once ([`Split::to_bytes`]), or one too
//! large for memory window by window ([`SplitWriter`]). Both write the same bytes: the
//! safetensors header (tensors in safetensors' order, the metadata's keys sorted, so that the
//! same split always gives the same bytes), then each tensor's data.

use super::{DATA_FORMAT, Split};
use crate::data::NUM_PERSON_INPUTS;
use crate::features::{FEATURE_NAMES, NUM_FEATURES};
use anyhow::{Context, Result, ensure};
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes buffered per tensor by a [`SplitWriter`] before they go to the file.
const BUFFER_BYTES: usize = 256 << 10;

/// One tensor of a data file: name, dtype and shape.
struct Tensor {
    name: &'static str,
    dtype: Dtype,
    shape: Vec<usize>,
}

impl Tensor {
    /// Its data's size in bytes.
    fn bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// The tensors of a file of `n` windows of `seq_len` steps (with `person` or not) in the order
/// safetensors writes them: by descending dtype, then by name.
fn tensors(n: usize, seq_len: usize, person: bool) -> Vec<Tensor> {
    let tensor = |name, dtype, shape| Tensor { name, dtype, shape };
    let mut tensors = vec![
        tensor("features", Dtype::F32, vec![n, seq_len, NUM_FEATURES]),
        tensor("heart_rate", Dtype::F32, vec![n, seq_len, 1]),
        tensor("mask", Dtype::F32, vec![n, seq_len, 1]),
        tensor("length", Dtype::I64, vec![n]),
        tensor("user_id", Dtype::I64, vec![n]),
        tensor("workout_id", Dtype::I64, vec![n]),
    ];
    if person {
        tensors.push(tensor("person", Dtype::F32, vec![n, NUM_PERSON_INPUTS]));
    }
    tensors.sort_by(|a, b| b.dtype.cmp(&a.dtype).then(a.name.cmp(b.name)));
    tensors
}

/// The header of a file holding `tensors` (their data in that order) and `metadata`: its length
/// (8 bytes, little-endian), then the JSON, padded with spaces to a multiple of 8 bytes.
fn header(tensors: &[Tensor], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut json = format!("{{\"__metadata__\":{}", serde_json::to_string(metadata)?);
    let mut offset = 0;
    for t in tensors {
        let dtype = match t.dtype {
            Dtype::F32 => "F32",
            _ => "I64",
        };
        write!(
            json,
            ",{}:{{\"dtype\":\"{dtype}\",\"shape\":{},\"data_offsets\":[{offset},{}]}}",
            serde_json::to_string(t.name)?,
            serde_json::to_string(&t.shape)?,
            offset + t.bytes()
        )?;
        offset += t.bytes();
    }
    json.push('}');
    let padded = json.len().next_multiple_of(8);
    let mut bytes = (padded as u64).to_le_bytes().to_vec();
    bytes.extend(json.bytes());
    bytes.resize(8 + padded, b' ');
    Ok(bytes)
}

impl Split {
    /// The metadata of this split's file.
    fn metadata(&self) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::from([
            ("format".to_string(), DATA_FORMAT.to_string()),
            (
                "feature_names".to_string(),
                serde_json::to_string(&FEATURE_NAMES)?,
            ),
            ("interval_s".to_string(), self.interval_s.to_string()),
            ("source".to_string(), self.source.clone()),
            ("set_id".to_string(), self.set_id.clone()),
            ("names".to_string(), serde_json::to_string(&self.names)?),
        ]))
    }

    /// Whether the file holds the tensor `person`: where some window knows a person value, so
    /// that a file of workouts without profiles holds just the six tensors it always had.
    pub fn knows_person(&self) -> bool {
        self.person.iter().any(|v| !v.is_nan())
    }

    /// The data of tensor `name` of this split, as bytes.
    fn data(&self, name: &str) -> &[u8] {
        match name {
            "features" => bytemuck::cast_slice(&self.features),
            "heart_rate" => bytemuck::cast_slice(&self.heart_rate),
            "mask" => bytemuck::cast_slice(&self.mask),
            "length" => bytemuck::cast_slice(&self.length),
            "user_id" => bytemuck::cast_slice(&self.user_id),
            "workout_id" => bytemuck::cast_slice(&self.workout_id),
            _ => bytemuck::cast_slice(&self.person),
        }
    }

    /// The safetensors bytes of this split.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let tensors = tensors(self.n, self.seq_len, self.knows_person());
        let mut bytes = header(&tensors, &self.metadata()?)?;
        for t in &tensors {
            bytes.extend_from_slice(self.data(t.name));
        }
        Ok(bytes)
    }
}

/// A writer at its own place in a file whose handle it shares with others: each write seeks
/// there first.
struct Region {
    file: File,
    at: u64,
}

impl Write for Region {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.seek(SeekFrom::Start(self.at))?;
        let written = self.file.write(buf)?;
        self.at += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A data file written window by window, for splits larger than memory: the header first (the
/// number of windows, the names and whether `person` is written are known up front), then the
/// windows of [`SplitWriter::append`] each at their place in every tensor. The bytes are those
/// [`Split::to_bytes`] writes for the same windows.
pub struct SplitWriter {
    /// The file, for messages.
    path: PathBuf,
    /// Each tensor's name and writer, at the end of its data written so far.
    tensors: Vec<(&'static str, BufWriter<Region>)>,
    /// Windows the header declares.
    n: usize,
    /// Windows written.
    written: usize,
}

impl SplitWriter {
    /// Writes into `file` (an empty file, `path` in messages) the header of a split of `n`
    /// windows with `person` or not and the metadata of `like` (window length, interval,
    /// source, set id and names; its windows are not written).
    pub fn create(file: File, path: &Path, like: &Split, n: usize, person: bool) -> Result<Self> {
        let tensors = tensors(n, like.seq_len, person);
        let header = header(&tensors, &like.metadata()?)?;
        let error = || format!("cannot write {}", path.display());
        let mut file = file;
        file.write_all(&header).with_context(error)?;
        let mut at = header.len() as u64;
        let mut writers = Vec::new();
        for t in &tensors {
            let region = Region {
                file: file.try_clone().with_context(error)?,
                at,
            };
            writers.push((t.name, BufWriter::with_capacity(BUFFER_BYTES, region)));
            at += t.bytes() as u64;
        }
        Ok(SplitWriter {
            path: path.to_path_buf(),
            tensors: writers,
            n,
            written: 0,
        })
    }

    /// Writes the windows of `windows` (of the same window length, `person` written or not as
    /// declared) after those written before.
    pub fn append(&mut self, windows: &Split) -> Result<()> {
        ensure!(
            self.written + windows.n <= self.n,
            "{}: more windows than the {} declared",
            self.path.display(),
            self.n
        );
        for (name, writer) in &mut self.tensors {
            writer
                .write_all(windows.data(name))
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        self.written += windows.n;
        Ok(())
    }

    /// Writes what is buffered; fails where fewer windows were written than declared.
    pub fn finish(self) -> Result<()> {
        ensure!(
            self.written == self.n,
            "{}: {} windows written of the {} declared",
            self.path.display(),
            self.written,
            self.n
        );
        for (_, mut writer) in self.tensors {
            writer
                .flush()
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three windows of two steps, `person` known in the second.
    fn three_windows() -> Split {
        let mut split = Split::empty(2, 5.0, "test");
        split.n = 3;
        split.features = (0..3 * 2 * NUM_FEATURES).map(|v| v as f32).collect();
        split.heart_rate = vec![100.0, 101.0, 102.0, 0.0, 104.0, 105.0];
        split.mask = vec![1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        split.length = vec![2, 1, 2];
        split.user_id = vec![1, 1, 2];
        split.workout_id = vec![10, 11, 20];
        split.person = vec![f32::NAN; 3 * NUM_PERSON_INPUTS];
        split.person[NUM_PERSON_INPUTS] = 60.0;
        split.names.insert(10, "alice/a.fit".into());
        split.set_id = "0123456789abcdef".into();
        split
    }

    /// The windows `rows` of `split` as a split of their own.
    fn rows(split: &Split, rows: std::ops::Range<usize>) -> Split {
        let (t, f, p) = (split.seq_len, NUM_FEATURES, NUM_PERSON_INPUTS);
        Split {
            n: rows.len(),
            features: split.features[rows.start * t * f..rows.end * t * f].to_vec(),
            heart_rate: split.heart_rate[rows.start * t..rows.end * t].to_vec(),
            mask: split.mask[rows.start * t..rows.end * t].to_vec(),
            length: split.length[rows.clone()].to_vec(),
            user_id: split.user_id[rows.clone()].to_vec(),
            workout_id: split.workout_id[rows.clone()].to_vec(),
            person: split.person[rows.start * p..rows.end * p].to_vec(),
            ..split.clone()
        }
    }

    #[test]
    fn a_split_reads_back_as_written_and_in_safetensors_order() {
        let split = three_windows();
        let bytes = split.to_bytes().unwrap();
        assert_eq!(Split::from_bytes(&bytes).unwrap(), split);
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<(usize, String)> = st
            .tensors()
            .into_iter()
            .map(|(name, view)| (view.data().as_ptr() as usize, name))
            .collect();
        names.sort();
        let order: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
        let expected = [
            "length",
            "user_id",
            "workout_id",
            "features",
            "heart_rate",
            "mask",
            "person",
        ];
        assert_eq!(order, expected);
        assert_eq!(
            bytes,
            split.to_bytes().unwrap(),
            "the same bytes every time"
        );
    }

    #[test]
    fn the_writer_writes_the_bytes_of_the_split_in_memory() {
        let split = three_windows();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.safetensors");
        let file = File::create(&path).unwrap();
        let like = Split {
            n: 0,
            ..split.clone()
        };
        let mut writer = SplitWriter::create(file, &path, &like, 3, true).unwrap();
        writer.append(&rows(&split, 0..2)).unwrap();
        writer.append(&rows(&split, 2..3)).unwrap();
        assert!(
            writer.append(&rows(&split, 2..3)).is_err(),
            "a fourth window"
        );
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), split.to_bytes().unwrap());
    }

    #[test]
    fn the_writer_refuses_to_finish_short_of_its_windows() {
        let split = three_windows();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.safetensors");
        let file = File::create(&path).unwrap();
        let mut writer = SplitWriter::create(file, &path, &split, 3, true).unwrap();
        writer.append(&rows(&split, 0..1)).unwrap();
        let error = writer.finish().unwrap_err();
        assert!(
            format!("{error}").contains("1 windows written of the 3"),
            "{error}"
        );
    }
}
