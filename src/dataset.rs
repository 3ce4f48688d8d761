//! Processed data files (docs/formats.md): one safetensors file per split.
//!
//! | tensor | dtype | shape |
//! | --- | --- | --- |
//! | `features` | F32 | `[N, T, 11]` raw features, zero on padding |
//! | `heart_rate` | F32 | `[N, T, 1]` bpm, zero on padding |
//! | `mask` | F32 | `[N, T, 1]` 1 on valid steps |
//! | `length` | I64 | `[N]` valid prefix length |
//! | `user_id` | I64 | `[N]` |
//! | `workout_id` | I64 | `[N]` |
//! | `person` | F32 | `[N, 11]` the person-level inputs ([`PERSON_INPUT_NAMES`]: resting and maximal heart rate, the history of earlier workouts, the sport), NaN where unknown; only where some window knows one |
//!
//! Metadata: `format` = [`DATA_FORMAT`], `feature_names` (JSON list), `interval_s`, `source`,
//! `set_id` (the same for the three splits one `prepare` run writes; absent in older files) and
//! `names` (a JSON map of workout id to the workout's name, `person/file`, for people to read;
//! absent in older files, whose workouts and people go by their ids).
//!
//! Reading a file checks it completely before any of it is used: the tensors' dtypes and shapes
//! (against each other, before anything is allocated), `1 <= T <= `[`MAX_SEQ_LEN`], every
//! length within `0..=T`, every mask value 0 or 1 and 0 beyond its window's length, every
//! feature and heart rate finite, every person value NaN or within its input's
//! [`believable_range`], and `interval_s` within [`INTERVAL_S_RANGE`]. A file without `person`
//! (written before hrcast had person-level inputs) reads as every value unknown; a `person` of
//! [`NUM_PROFILE_INPUTS`] columns (written before the history and sport inputs) as those
//! columns, the others unknown.
//!
//! Writing (dataset/writer.rs) gives the same bytes for the same split: a split in memory
//! ([`Split::to_bytes`]) or one written window by window ([`SplitWriter`]), too large for memory.

mod writer;

pub use writer::SplitWriter;

use crate::data::{
    NUM_PERSON_INPUTS, NUM_PROFILE_INPUTS, PERSON_INPUT_NAMES, Profile, believable_range,
    open_regular, person_input_unit,
};
use crate::features::{FEATURE_NAMES, NUM_FEATURES};
use crate::model::{Batch, HrLevel, Normalization};
use anyhow::{Context, Result, anyhow, bail, ensure};
use safetensors::Dtype;
use safetensors::tensor::Metadata;
use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::ops::RangeInclusive;
use std::path::Path;

/// A standard deviation below this counts as a constant feature (normalized by 1).
const MIN_STD: f64 = 1e-6;

/// The `format` metadata of a processed data file.
pub const DATA_FORMAT: &str = "hrcast-data/1";

/// The longest window, in steps, that a data file or a checkpoint may declare (11.5 days at one
/// step a second). Reading refuses more, so that a file cannot make hrcast allocate per-step
/// buffers its size does not account for (a file with no windows still declares a length).
pub const MAX_SEQ_LEN: usize = 1_000_000;

/// The grid intervals, in seconds, that a data file or a checkpoint may declare: from a
/// millisecond to an hour.
pub const INTERVAL_S_RANGE: RangeInclusive<f64> = 0.001..=3600.0;

/// Checks a grid interval read from a file's metadata `interval_s` (finite, within
/// [`INTERVAL_S_RANGE`]).
pub fn check_interval_s(interval_s: f64) -> Result<()> {
    ensure!(
        INTERVAL_S_RANGE.contains(&interval_s),
        "metadata \"interval_s\" is {interval_s}: the grid interval must be a number of seconds \
         from {} to {}",
        INTERVAL_S_RANGE.start(),
        INTERVAL_S_RANGE.end()
    );
    Ok(())
}

/// Checks a window length read from a file (`1..=`[`MAX_SEQ_LEN`]); `what` names it.
pub fn check_seq_len(what: &str, seq_len: usize) -> Result<()> {
    ensure!(
        (1..=MAX_SEQ_LEN).contains(&seq_len),
        "{what} is {seq_len}: a window must have from 1 to {MAX_SEQ_LEN} steps"
    );
    Ok(())
}

/// One split: `n` windows of `seq_len` steps.
#[derive(Debug, Clone)]
pub struct Split {
    /// Number of windows.
    pub n: usize,
    /// Steps per window.
    pub seq_len: usize,
    /// `[n, seq_len, NUM_FEATURES]`.
    pub features: Vec<f32>,
    /// `[n, seq_len]` bpm.
    pub heart_rate: Vec<f32>,
    /// `[n, seq_len]` 0 or 1.
    pub mask: Vec<f32>,
    /// `[n]` valid prefix length of each window.
    pub length: Vec<i64>,
    /// `[n]`.
    pub user_id: Vec<i64>,
    /// `[n]`.
    pub workout_id: Vec<i64>,
    /// `[n, NUM_PERSON_INPUTS]` the person-level inputs of each window
    /// ([`PERSON_INPUT_NAMES`]), NaN where unknown.
    pub person: Vec<f32>,
    /// Grid interval in seconds.
    pub interval_s: f64,
    /// Where the data came from (free text).
    pub source: String,
    /// Identifies the `prepare` run that wrote the split (the same for its three splits); empty
    /// when unknown (files written before hrcast recorded it).
    pub set_id: String,
    /// The workouts' names by workout id: `person/file` ([`crate::data::Workout::name`]); empty
    /// when unknown (files written before hrcast recorded them).
    pub names: BTreeMap<i64, String>,
}

/// Refuses two splits that different `prepare` runs wrote: they disagree on the set id (when
/// both files record one), on the window length or on the grid interval. `name_a` and `name_b`
/// name the files in the message (e.g. `train.safetensors`).
pub fn check_same_set(name_a: &str, a: &Split, name_b: &str, b: &Split) -> Result<()> {
    let mut differences = Vec::new();
    if a.seq_len != b.seq_len {
        differences.push(format!("window length {} vs {}", b.seq_len, a.seq_len));
    }
    let tolerance = 1e-9 * a.interval_s.abs().max(b.interval_s.abs());
    if (a.interval_s - b.interval_s).abs() > tolerance
        || a.interval_s.is_nan() != b.interval_s.is_nan()
    {
        differences.push(format!("interval {} s vs {} s", b.interval_s, a.interval_s));
    }
    if !a.set_id.is_empty() && !b.set_id.is_empty() && a.set_id != b.set_id {
        differences.push(format!("set id {:?} vs {:?}", b.set_id, a.set_id));
    }
    ensure!(
        differences.is_empty(),
        "{name_b} was written by another prepare run than {name_a} ({name_b} vs {name_a}: {}): \
         run hrcast prepare again",
        differences.join(", ")
    );
    Ok(())
}

/// Where flat index `i` of a `[n, t, per_step]` tensor lies, in words.
fn position(i: usize, t: usize, per_step: usize) -> String {
    let (window, step) = (i / per_step / t, i / per_step % t);
    if per_step == NUM_FEATURES {
        format!(
            "window {window}, step {step} (feature {:?})",
            FEATURE_NAMES[i % per_step]
        )
    } else {
        format!("window {window}, step {step}")
    }
}

/// Checks the values of a read split: finite features and heart rates, lengths within the
/// window, masks 0 or 1 and 0 beyond each window's length.
fn check_values(split: &Split) -> Result<()> {
    let t = split.seq_len;
    if let Some(i) = split.features.iter().position(|v| !v.is_finite()) {
        bail!(
            "tensor \"features\" holds {} at {}: features must be finite numbers",
            split.features[i],
            position(i, t, NUM_FEATURES)
        );
    }
    if let Some(i) = split.heart_rate.iter().position(|v| !v.is_finite()) {
        bail!(
            "tensor \"heart_rate\" holds {} at {}: heart rates must be finite numbers",
            split.heart_rate[i],
            position(i, t, 1)
        );
    }
    if let Some(i) = split.mask.iter().position(|v| *v != 0.0 && *v != 1.0) {
        bail!(
            "tensor \"mask\" holds {} at {}: a mask value must be 0 or 1",
            split.mask[i],
            position(i, t, 1)
        );
    }
    let believable = |(i, v): (usize, &f32)| {
        v.is_nan() || believable_range(i % NUM_PERSON_INPUTS).contains(&f64::from(*v))
    };
    if let Some(i) = split.person.iter().enumerate().position(|x| !believable(x)) {
        let input = i % NUM_PERSON_INPUTS;
        let range = believable_range(input);
        bail!(
            "tensor \"person\" holds {} at window {} ({:?}): a person value must be NaN \
             (unknown) or from {} to {} ({})",
            split.person[i],
            i / NUM_PERSON_INPUTS,
            PERSON_INPUT_NAMES[input],
            range.start(),
            range.end(),
            person_input_unit(input)
        );
    }
    for (window, &length) in split.length.iter().enumerate() {
        ensure!(
            usize::try_from(length).is_ok_and(|l| l <= t),
            "tensor \"length\" holds {length} for window {window}: a length must be from 0 to \
             the window length {t}"
        );
        let length = length as usize;
        let beyond = &split.mask[window * t + length..(window + 1) * t];
        if let Some(step) = beyond.iter().position(|m| *m != 0.0) {
            bail!(
                "tensor \"mask\" is 1 at window {window}, step {}, beyond the window's length \
                 {length}",
                length + step
            );
        }
    }
    Ok(())
}

/// The rows of a `person` tensor of `columns` columns (the first inputs of
/// [`PERSON_INPUT_NAMES`]) as rows of all of them, the others unknown (NaN).
fn widen_person(values: &[f32], columns: usize) -> Vec<f32> {
    if columns == NUM_PERSON_INPUTS {
        return values.to_vec();
    }
    let mut out = Vec::with_capacity(values.len() / columns.max(1) * NUM_PERSON_INPUTS);
    for row in values.chunks(columns.max(1)) {
        out.extend_from_slice(row);
        out.extend(std::iter::repeat_n(f32::NAN, NUM_PERSON_INPUTS - row.len()));
    }
    out
}

/// The largest header read (as safetensors allows).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Reads the header of a safetensors file of `len` bytes: where its data starts, and the
/// header, checked against itself (offsets, dtypes, shapes) and the file's size.
fn read_header(reader: &mut impl Read, len: u64) -> Result<(u64, Metadata)> {
    ensure!(len >= 8, "{len} bytes, too few for a header");
    let mut size = [0u8; 8];
    reader.read_exact(&mut size)?;
    let n = u64::from_le_bytes(size);
    ensure!(
        n <= MAX_HEADER_BYTES && n <= len - 8,
        "a header of {n} bytes in a file of {len}"
    );
    let mut header = vec![0u8; n as usize];
    reader.read_exact(&mut header)?;
    let header: Metadata = serde_json::from_slice(&header)?;
    let end = 8 + n + header.data_len() as u64;
    ensure!(
        end == len,
        "the header describes {end} bytes, the file holds {len}"
    );
    Ok((8 + n, header))
}

/// The data of tensor `name` of `header` (of dtype `T`, checked), read from `reader` whose data
/// starts at `data_start`.
fn read_tensor<T: bytemuck::Pod>(
    reader: &mut (impl Read + Seek),
    data_start: u64,
    header: &Metadata,
    name: &str,
) -> Result<Vec<T>> {
    let info = header
        .info(name)
        .ok_or_else(|| anyhow!("tensor {name:?} is missing"))?;
    let (start, end) = info.data_offsets;
    let mut values = vec![T::zeroed(); (end - start) / std::mem::size_of::<T>()];
    reader.seek(SeekFrom::Start(data_start + start as u64))?;
    reader
        .read_exact(bytemuck::cast_slice_mut(&mut values))
        .with_context(|| format!("cannot read tensor {name:?}"))?;
    Ok(values)
}

/// Mean and population standard deviation of `values`: 0 and 1 where there are none, a standard
/// deviation of 1 where they are constant (at most [`MIN_STD`]).
/// `values` makes them afresh for each pass, so that none is held in memory.
fn mean_and_std<I: Iterator<Item = f64>>(values: impl Fn() -> I) -> (f64, f64) {
    let n = values().count().max(1) as f64;
    let mean = values().sum::<f64>() / n;
    let std = (values().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, if std > MIN_STD { std } else { 1.0 })
}

/// Equal when every field is; person values compare by their bits, so that two unknown (NaN)
/// values are equal.
impl PartialEq for Split {
    fn eq(&self, other: &Split) -> bool {
        let Split {
            n,
            seq_len,
            features,
            heart_rate,
            mask,
            length,
            user_id,
            workout_id,
            person,
            interval_s,
            source,
            set_id,
            names,
        } = self;
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        (
            n, seq_len, features, heart_rate, mask, length, user_id, workout_id,
        ) == (
            &other.n,
            &other.seq_len,
            &other.features,
            &other.heart_rate,
            &other.mask,
            &other.length,
            &other.user_id,
            &other.workout_id,
        ) && bits(person) == bits(&other.person)
            && (interval_s, source, set_id, names)
                == (
                    &other.interval_s,
                    &other.source,
                    &other.set_id,
                    &other.names,
                )
    }
}

impl Split {
    /// An empty split of windows of `seq_len` steps.
    pub fn empty(seq_len: usize, interval_s: f64, source: &str) -> Split {
        Split {
            n: 0,
            seq_len,
            features: Vec::new(),
            heart_rate: Vec::new(),
            mask: Vec::new(),
            length: Vec::new(),
            user_id: Vec::new(),
            workout_id: Vec::new(),
            person: Vec::new(),
            interval_s,
            source: source.to_string(),
            set_id: String::new(),
            names: BTreeMap::new(),
        }
    }

    /// The split with its set id (see [`Split::set_id`]).
    pub fn with_set_id(mut self, set_id: &str) -> Split {
        self.set_id = set_id.to_string();
        self
    }

    /// Appends the windows of `other`, which has the same window length.
    pub fn append(&mut self, other: &Split) {
        assert_eq!(self.seq_len, other.seq_len, "append: window lengths differ");
        self.n += other.n;
        self.features.extend_from_slice(&other.features);
        self.heart_rate.extend_from_slice(&other.heart_rate);
        self.mask.extend_from_slice(&other.mask);
        self.length.extend_from_slice(&other.length);
        self.user_id.extend_from_slice(&other.user_id);
        self.workout_id.extend_from_slice(&other.workout_id);
        self.person.extend_from_slice(&other.person);
        self.names
            .extend(other.names.iter().map(|(id, name)| (*id, name.clone())));
    }

    /// The name of window `row`'s workout (`person/file`), or `workout <id>` where the file
    /// names none.
    pub fn workout_name(&self, row: usize) -> String {
        let id = self.workout_id[row];
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("workout {id}"))
    }

    /// The name of window `row`'s person (their workout's name up to the file), or `user <id>`
    /// where the file names none.
    pub fn person_name(&self, row: usize) -> String {
        let named = self.names.get(&self.workout_id[row]);
        match named.and_then(|name| name.rsplit_once('/')) {
            Some((person, _)) => person.to_string(),
            None => format!("user {}", self.user_id[row]),
        }
    }

    /// The person-level inputs of a profile as stored in [`Split::person`]: its values, the
    /// history and sport unknown (NaN), as every value it does not know.
    pub fn person_row(profile: &Profile) -> [f32; NUM_PERSON_INPUTS] {
        let mut values = [None; NUM_PERSON_INPUTS];
        values[..NUM_PROFILE_INPUTS].copy_from_slice(&profile.values());
        Split::person_values(&values)
    }

    /// Person-level input values (in the order of [`PERSON_INPUT_NAMES`]) as stored in
    /// [`Split::person`] (NaN where unknown).
    pub fn person_values(values: &[Option<f64>; NUM_PERSON_INPUTS]) -> [f32; NUM_PERSON_INPUTS] {
        values.map(|v| v.map_or(f32::NAN, |v| v as f32))
    }

    /// The same windows in windows of `seq_len` steps (at least this split's), the steps past
    /// each one's end padding.
    pub fn padded_to(&self, seq_len: usize) -> Split {
        assert!(seq_len >= self.seq_len, "padded_to: windows would shrink");
        let mut out = Split {
            seq_len,
            features: vec![0.0; self.n * seq_len * NUM_FEATURES],
            heart_rate: vec![0.0; self.n * seq_len],
            mask: vec![0.0; self.n * seq_len],
            ..self.clone()
        };
        let t = self.seq_len;
        for w in 0..self.n {
            let (from, to) = (w * t, w * seq_len);
            out.features[to * NUM_FEATURES..(to + t) * NUM_FEATURES]
                .copy_from_slice(&self.features[from * NUM_FEATURES..(from + t) * NUM_FEATURES]);
            out.heart_rate[to..to + t].copy_from_slice(&self.heart_rate[from..from + t]);
            out.mask[to..to + t].copy_from_slice(&self.mask[from..from + t]);
        }
        out
    }

    /// Number of steps with mask 1.
    pub fn valid_steps(&self) -> usize {
        self.mask.iter().filter(|m| **m > 0.0).count()
    }

    /// Reads and checks a processed data file, each tensor straight into its place in memory:
    /// the file is never held whole besides, so a split takes its size in memory once.
    pub fn read(path: &Path) -> Result<Split> {
        let (file, len) =
            open_regular(path).with_context(|| format!("cannot read {}", path.display()))?;
        Split::from_reader(BufReader::new(file), len)
            .with_context(|| format!("{} is not a usable hrcast data file", path.display()))
    }

    /// Parses and checks the safetensors bytes of a split (see the module documentation for
    /// what is checked). Nothing is allocated beyond what the bytes hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Split> {
        Split::from_reader(Cursor::new(bytes), bytes.len() as u64)
    }

    /// [`Split::from_bytes`] of the `len` bytes `reader` reads.
    fn from_reader(mut reader: impl Read + Seek, len: u64) -> Result<Split> {
        let (data_start, header) =
            read_header(&mut reader, len).map_err(|e| anyhow!("not a safetensors file: {e:#}"))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| anyhow!("metadata {key:?} is missing"))
        };
        let format = get("format")?;
        ensure!(
            format == DATA_FORMAT,
            "format is {format:?}, expected {DATA_FORMAT:?}"
        );
        let names: Vec<String> = serde_json::from_str(get("feature_names")?)
            .context("metadata \"feature_names\" is not a JSON list of names")?;
        ensure!(
            names == FEATURE_NAMES,
            "it has the features {names:?}, expected the {NUM_FEATURES} features {FEATURE_NAMES:?}"
        );
        let interval_s: f64 = get("interval_s")?
            .trim()
            .parse()
            .map_err(|_| anyhow!("metadata \"interval_s\" is not a number"))?;
        check_interval_s(interval_s)?;

        // Dtypes and shapes, from the header, before anything is allocated.
        let info = |name: &str, dtype: Dtype| -> Result<Vec<usize>> {
            let info = header
                .info(name)
                .ok_or_else(|| anyhow!("tensor {name:?} is missing"))?;
            ensure!(
                info.dtype == dtype,
                "tensor {name:?} is {:?}, expected {dtype:?}",
                info.dtype
            );
            Ok(info.shape.clone())
        };
        let shape = info("features", Dtype::F32)?;
        let [n, t, f] = shape[..] else {
            bail!("features has shape {shape:?}, expected [N, T, {NUM_FEATURES}]");
        };
        ensure!(
            f == NUM_FEATURES,
            "features has {f} features per step, expected {NUM_FEATURES}"
        );
        check_seq_len("the window length T of tensor \"features\"", t)?;
        for (name, dtype, expected) in [
            ("heart_rate", Dtype::F32, vec![n, t, 1]),
            ("mask", Dtype::F32, vec![n, t, 1]),
            ("length", Dtype::I64, vec![n]),
            ("user_id", Dtype::I64, vec![n]),
            ("workout_id", Dtype::I64, vec![n]),
        ] {
            let got = info(name, dtype)?;
            ensure!(
                got == expected,
                "{name} has shape {got:?}, expected {expected:?}"
            );
        }
        // The columns of `person`: all of them, or those written before the history and
        // sport inputs (the others unknown), or none (every value unknown).
        let person_columns = match header.info("person") {
            None => 0,
            Some(_) => {
                let got = info("person", Dtype::F32)?;
                ensure!(
                    got == [n, NUM_PERSON_INPUTS] || got == [n, NUM_PROFILE_INPUTS],
                    "person has shape {got:?}, expected [{n}, {NUM_PERSON_INPUTS}] (or \
                     [{n}, {NUM_PROFILE_INPUTS}] as older files)"
                );
                got[1]
            }
        };

        // The header's offsets were checked against the dtypes, shapes and file size above, so
        // each tensor's data is exactly its shape's worth of bytes.
        let mut f32s = |name: &str| read_tensor::<f32>(&mut reader, data_start, &header, name);
        let (features, heart_rate, mask) = (f32s("features")?, f32s("heart_rate")?, f32s("mask")?);
        let person = match person_columns {
            0 => vec![f32::NAN; n * NUM_PERSON_INPUTS],
            columns => widen_person(&f32s("person")?, columns),
        };
        let mut i64s = |name: &str| read_tensor::<i64>(&mut reader, data_start, &header, name);
        let split = Split {
            n,
            seq_len: t,
            features,
            heart_rate,
            mask,
            length: i64s("length")?,
            user_id: i64s("user_id")?,
            workout_id: i64s("workout_id")?,
            person,
            interval_s,
            source: meta.get("source").cloned().unwrap_or_default(),
            set_id: meta.get("set_id").cloned().unwrap_or_default(),
            names: match meta.get("names") {
                Some(names) => serde_json::from_str(names)
                    .context("metadata \"names\" is not a JSON map of workout ids to names")?,
                None => BTreeMap::new(),
            },
        };
        check_values(&split)?;
        Ok(split)
    }
}

impl Split {
    /// Z-scoring statistics of the selected features and of heart rate over the valid steps of
    /// this (training) split; population standard deviations, 1 where a value is constant.
    pub fn normalization(&self, features: &[usize]) -> Normalization {
        let stats = |value: &dyn Fn(usize) -> f64| mean_and_std(|| self.valid().map(value));
        let (feature_mean, feature_std) = features
            .iter()
            .map(|&f| match f.checked_sub(NUM_FEATURES) {
                None => stats(&|i| f64::from(self.features[i * NUM_FEATURES + f])),
                Some(p) => self.person_stats(p),
            })
            .unzip();
        let (hr_mean, hr_std) = stats(&|i| f64::from(self.heart_rate[i]));
        Normalization {
            feature_mean,
            feature_std,
            hr_mean,
            hr_std,
            hr_level: HrLevel::TrainingMean,
        }
    }

    /// Number of windows that know person input `p` (an index into [`PERSON_INPUT_NAMES`]).
    pub fn person_known(&self, p: usize) -> usize {
        self.person
            .iter()
            .skip(p)
            .step_by(NUM_PERSON_INPUTS)
            .filter(|v| !v.is_nan())
            .count()
    }

    /// Mean and population standard deviation (1 where constant) of person input `p` over the
    /// valid steps whose window knows it; 0 and 1 where no window does.
    fn person_stats(&self, p: usize) -> (f64, f64) {
        mean_and_std(|| {
            self.valid()
                .map(move |i| self.person[i / self.seq_len * NUM_PERSON_INPUTS + p])
                .filter(|v| !v.is_nan())
                .map(f64::from)
        })
    }

    /// The flat indices (window × step) of the valid steps, in order.
    fn valid(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n * self.seq_len).filter(|&i| self.mask[i] > 0.0)
    }

    /// The person-level inputs of window `r` (in the order of [`PERSON_INPUT_NAMES`], NaN where
    /// unknown).
    pub fn person_row_of(&self, r: usize) -> &[f32] {
        &self.person[r * NUM_PERSON_INPUTS..(r + 1) * NUM_PERSON_INPUTS]
    }

    /// The windows `rows` as a normalized batch of the selected features. Padding steps are 0
    /// in `x` and `y` and masked.
    pub fn batch(&self, rows: &[usize], features: &[usize], norm: &Normalization) -> Batch<f32> {
        self.batch_of(rows, self.seq_len, features, norm)
    }

    /// [`Split::batch`] with the first `steps` steps of each window only (at least the longest
    /// of their lengths: what is cut is padding).
    pub fn batch_of(
        &self,
        rows: &[usize],
        steps: usize,
        features: &[usize],
        norm: &Normalization,
    ) -> Batch<f32> {
        let (t, f) = (self.seq_len, features.len());
        assert!(
            rows.iter().all(|&r| self.length[r] as usize <= steps) && steps <= t,
            "batch_of: {steps} steps would cut valid steps"
        );
        let mut batch = Batch {
            batch: rows.len(),
            steps,
            inputs: f,
            x: vec![0.0; rows.len() * steps * f],
            y: vec![0.0; rows.len() * steps],
            mask: vec![0.0; rows.len() * steps],
            lengths: rows
                .iter()
                .map(|&r| self.length[r].max(0) as usize)
                .collect(),
        };
        for (b, &r) in rows.iter().enumerate() {
            let person = self.person_row_of(r);
            for step in 0..batch.lengths[b] {
                let (src, dst) = (r * t + step, b * steps + step);
                let raw = &self.features[src * NUM_FEATURES..(src + 1) * NUM_FEATURES];
                norm.features(raw, person, features, &mut batch.x[dst * f..(dst + 1) * f]);
                if self.mask[src] > 0.0 {
                    batch.mask[dst] = 1.0;
                    batch.y[dst] = norm.heart_rate(self.heart_rate[src], person);
                }
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::SafeTensors;
    use std::collections::HashMap;

    /// Two windows of one step: workout 10 of user 1, workout 20 of user 2.
    fn two_windows() -> Split {
        let mut split = Split::empty(1, 5.0, "test");
        split.n = 2;
        split.features = vec![0.0; 2 * NUM_FEATURES];
        split.heart_rate = vec![100.0, 110.0];
        split.mask = vec![1.0, 1.0];
        split.length = vec![1, 1];
        split.user_id = vec![1, 2];
        split.workout_id = vec![10, 20];
        split.person = vec![f32::NAN; 2 * NUM_PERSON_INPUTS];
        split
    }

    #[test]
    fn names_are_kept_in_the_file() {
        let mut split = two_windows();
        split.names.insert(10, "alice/a.fit".into());
        let read = Split::from_bytes(&split.to_bytes().unwrap()).unwrap();
        assert_eq!(read, split);
        assert_eq!(read.workout_name(0), "alice/a.fit");
        assert_eq!(read.person_name(0), "alice");
        assert_eq!(read.workout_name(1), "workout 20", "unnamed: the id");
        assert_eq!(read.person_name(1), "user 2");
    }

    #[test]
    fn a_file_without_names_reads_with_ids() {
        let split = two_windows();
        let bytes = split.to_bytes().unwrap();
        let without = |meta: &mut HashMap<String, String>| {
            meta.remove("names");
        };
        let read = Split::from_bytes(&with_metadata(&bytes, without)).unwrap();
        assert!(read.names.is_empty());
        assert_eq!(read.person_name(0), "user 1");
        let broken = |meta: &mut HashMap<String, String>| {
            meta.insert("names".into(), "[1, 2]".into());
        };
        let error = Split::from_bytes(&with_metadata(&bytes, broken)).unwrap_err();
        assert!(
            format!("{error:#}").contains("metadata \"names\""),
            "{error:#}"
        );
    }

    /// The file `bytes` with its metadata changed by `change`.
    fn with_metadata(bytes: &[u8], change: impl Fn(&mut HashMap<String, String>)) -> Vec<u8> {
        let tensors = SafeTensors::deserialize(bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        change(&mut meta);
        safetensors::serialize(tensors.tensors(), Some(meta)).unwrap()
    }
}
