//! Raw workouts: the records a device wrote, before resampling.
//!
//! Each reader turns one file format into [`Workout`]s. [`read_inputs`] walks files and folders,
//! reads every workout it recognises and reports the ones it had to skip, with the reason. A
//! person's resting and maximal heart rate are in data/profile.rs, the names of the person-level
//! inputs in data/person.rs, the sport classes in data/sport.rs, the distance along positions in
//! data/distance.rs.

mod clean;
mod distance;
mod fit;
pub mod fitrec;
mod person;
mod profile;
mod sport;
mod xml;

pub use clean::{Cleaned, MAX_SPEED_KMH, SPLIT_GAP_S, clean, finite_as_f32};
pub use distance::{distance_along, haversine_m};
pub use person::{
    HISTORY_INPUT_NAMES, MOST_HR_PER_SPEED, NUM_HISTORY_INPUTS, NUM_PERSON_INPUTS,
    NUM_PROFILE_INPUTS, NUM_SPORT_INPUTS, PERSON_INPUT_NAMES, PROFILE_INPUT_NAMES,
    SPORT_INPUT_NAMES, believable_range, concat_names, person_input_unit,
};
pub use profile::{Profile, ProfileAt, share_profiles, share_profiles_at};
pub use sport::Sport;

use anyhow::{Context, Result, bail, ensure};
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Heart-rate samples outside this range (bpm) are sensor dropouts: masked, never trained on.
pub const HEART_RATE_VALID_BPM: std::ops::RangeInclusive<f64> = 30.0..=240.0;

/// One recorded sample. Every channel is optional because devices record different subsets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the Unix epoch.
    pub time_s: f64,
    /// Beats per minute as recorded (dropouts are filtered later, not here).
    pub heart_rate: Option<f64>,
    /// Speed in km/h.
    pub speed_kmh: Option<f64>,
    /// Distance covered since the start of the recording, in metres.
    pub distance_m: Option<f64>,
    /// Altitude in metres.
    pub altitude_m: Option<f64>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
}

/// A person's sex as the model's `gender` feature encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    /// Encoded as 1.
    Male,
    /// Encoded as 0.
    Female,
    /// Encoded as 0.5.
    Unknown,
}

impl Gender {
    /// The value of the `gender` feature.
    pub fn feature_value(self) -> f64 {
        match self {
            Gender::Male => 1.0,
            Gender::Female => 0.0,
            Gender::Unknown => 0.5,
        }
    }
}

/// One workout as read from a file.
#[derive(Debug, Clone)]
pub struct Workout {
    /// Where it came from: a file, or `file:line` for FitRec JSON lines.
    pub source: String,
    /// Stable identifier (the FitRec id, else a hash of the file name).
    pub workout_id: i64,
    /// Stable identifier of the person (the FitRec userId, else a hash of the folder name).
    pub user_id: i64,
    /// The person's name, for people to read: the name of the folder that stands for them
    /// ([`read_inputs`]), `user <userId>` for FitRec lines.
    pub person: String,
    /// The person's sex, where the format records it.
    pub gender: Gender,
    /// The sport as the file names it (free text).
    pub sport: String,
    /// The person's resting and maximal heart rate, where the file records them.
    pub profile: Profile,
    /// Samples in recording order.
    pub samples: Vec<Sample>,
}

impl Workout {
    /// The workout's name, for people to read: `person/file` (`person/file:line` for FitRec
    /// lines).
    pub fn name(&self) -> String {
        format!("{}/{}", self.person, file_name(Path::new(&self.source)))
    }

    /// Seconds since the Unix epoch of the first sample (0 for an empty workout).
    pub fn start_time(&self) -> f64 {
        self.samples.first().map_or(0.0, |s| s.time_s)
    }

    /// Seconds since the Unix epoch of the last sample (0 for an empty workout).
    pub fn end_time(&self) -> f64 {
        self.samples.last().map_or(0.0, |s| s.time_s)
    }

    /// The class of the sport the file names ([`Sport::of`]).
    pub fn sport_class(&self) -> Sport {
        Sport::of(&self.sport)
    }

    /// Checks that every recorded value is a finite number, naming the first one that is not.
    pub fn check_finite(&self) -> Result<()> {
        for (i, s) in self.samples.iter().enumerate() {
            let channels = [
                ("timestamp", Some(s.time_s)),
                ("heart_rate", s.heart_rate),
                ("speed", s.speed_kmh),
                ("distance", s.distance_m),
                ("altitude", s.altitude_m),
                ("latitude", s.latitude),
                ("longitude", s.longitude),
            ];
            for (name, value) in channels {
                if let Some(v) = value.filter(|v| !v.is_finite()) {
                    bail!("{name} of sample {i} is {v}, not a finite number");
                }
            }
        }
        Ok(())
    }
}

/// A file or workout that was passed over, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file, or `file:line`.
    pub source: String,
    /// Why it was passed over.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// The formats hrcast reads, recognised by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Garmin FIT (binary).
    Fit,
    /// Garmin Training Center XML.
    Tcx,
    /// GPS Exchange format, heart rate from Garmin's TrackPointExtension.
    Gpx,
    /// FitRec/Endomondo JSON lines (one Python-dict literal per line).
    FitRec,
}

impl Format {
    /// The format of a file, from its extension; `None` for files hrcast does not read.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "fit" => Some(Format::Fit),
            "tcx" => Some(Format::Tcx),
            "gpx" => Some(Format::Gpx),
            "json" | "jsonl" => Some(Format::FitRec),
            _ => None,
        }
    }
}

/// Whether the points of a TCX or GPX file must have times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointTimes {
    /// A recording: a file none of whose points has a time is refused.
    Required,
    /// Maybe a planned route (a GPX `<rte>`, a TCX course, track points a route planner wrote
    /// without times): points without a time keep time NaN, for `hrcast predict` to time them
    /// from a pace.
    Optional,
}

/// Why a file of nothing but whitespace gives no workout.
pub const EMPTY_FILE: &str = "the file is empty";

/// Stable 63-bit FNV-1a hash, used to give files without identifiers stable ids.
pub fn stable_id(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) as i64
}

/// Everything [`read_inputs`] found.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Workouts read, in file order.
    pub workouts: Vec<Workout>,
    /// Files and workouts passed over, with the reason.
    pub skipped: Vec<Skipped>,
    /// Number of workout files looked at.
    pub files: usize,
}

/// A workout file found under an input, and the folder that stands for its person.
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// The file.
    pub path: PathBuf,
    /// The folder standing for its person (see [`read_inputs`]).
    pub person: PathBuf,
}

/// The workout files of some inputs, in the order they are read, and what was passed over.
#[derive(Debug, Default)]
pub struct Found {
    /// The files, each with its person.
    pub files: Vec<FoundFile>,
    /// Entries passed over (not regular files, links that lead nowhere), with the reason.
    pub skipped: Vec<Skipped>,
}

/// Walks the inputs for workout files. Symbolic links are followed, but every file and folder is
/// visited once (by its canonical path), so a link loop or a file reached twice is read once.
/// Entries that are not regular files (FIFOs, sockets, devices) and links that lead nowhere are
/// skipped with a reason rather than opened: opening a FIFO would wait forever.
///
/// The person of a file is the first folder below the input folder that holds it (`in/alice/
/// rides/a.fit` belongs to `in/alice`), or the input folder itself for files directly in it, or
/// the file's own folder for a file given as an input.
#[derive(Debug, Default)]
struct Walk {
    seen: HashSet<PathBuf>,
    files: Vec<FoundFile>,
    skipped: Vec<Skipped>,
}

impl Walk {
    /// Whether `path` was not visited before (by canonical path); marks it visited.
    fn first_visit(&mut self, path: &Path) -> bool {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.seen.insert(canonical)
    }

    fn skip(&mut self, path: &Path, reason: &str) {
        self.skipped.push(Skipped {
            source: path.display().to_string(),
            reason: reason.to_string(),
        });
    }

    /// Adds `path` if it is a regular workout file, naming why not otherwise.
    fn file(&mut self, path: &Path, meta: &std::fs::Metadata, person: &Path) {
        if !meta.is_file() {
            self.skip(
                path,
                "not a regular file (a FIFO, socket or device): not read",
            );
        } else if self.first_visit(path) {
            self.files.push(FoundFile {
                path: path.to_path_buf(),
                person: person.to_path_buf(),
            });
        }
    }

    /// Walks a folder; `person` is the folder standing for the person of the files directly in
    /// it (`None`: each subfolder is a person of its own, the input folder's own files belong to
    /// the input folder).
    fn folder(&mut self, dir: &Path, person: Option<&Path>) -> Result<()> {
        if !self.first_visit(dir) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read folder {}", dir.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read folder {}", dir.display()))?;
        entries.sort();
        for entry in entries {
            let meta = match std::fs::metadata(&entry) {
                Ok(meta) => meta,
                Err(err) => {
                    if Format::of(&entry).is_some() {
                        self.skip(&entry, &format!("cannot read it: {err}"));
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                let own = person.map_or_else(|| entry.clone(), Path::to_path_buf);
                if let Err(err) = self.folder(&entry, Some(&own)) {
                    self.skip(&entry, &format!("{err:#}"));
                }
            } else if Format::of(&entry).is_some() {
                self.file(&entry, &meta, person.unwrap_or(dir));
            }
        }
        Ok(())
    }
}

/// Reads one recorded file into workouts. FitRec files may hold many; a bad line is reported in
/// `skipped`, as are the fields of a FIT file that were passed over.
/// The file's folder stands for its person (see [`read_inputs`] for files found in folders).
pub fn read_file(path: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<Workout>> {
    read_file_with(path, PointTimes::Required, skipped)
}

/// [`read_file`], the points of a TCX or GPX file needing times or not (`times`).
pub fn read_file_with(
    path: &Path,
    times: PointTimes,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Workout>> {
    let person = path.parent().unwrap_or(Path::new(""));
    read_person_file(path, person, times, skipped)
}

/// Reads one file of the person `person` (a folder): workouts from FIT, TCX and GPX files get
/// a user id hashed from that folder (their workout id is hashed from the path by
/// [`read_bytes`]); FitRec lines keep their own ids.
pub fn read_person_file(
    path: &Path,
    person: &Path,
    times: PointTimes,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Workout>> {
    let format = Format::of(path).with_context(|| {
        "not a workout file (expected .fit, .tcx, .gpx, .json or .jsonl)".to_string()
    })?;
    let bytes = read_regular(path).context("cannot read the file")?;
    let source = path.display().to_string();
    let mut workouts = read_bytes_with(format, &bytes, &source, times, skipped)?;
    if format != Format::FitRec {
        let user_id = stable_id(&person.display().to_string());
        let name = folder_name(person);
        for w in &mut workouts {
            w.user_id = user_id;
            w.person.clone_from(&name);
        }
    }
    Ok(workouts)
}

/// The name of a folder standing for a person: its own name, that of the folder it leads to for
/// `.`, `..` or an empty path (the current folder), its path where it has no name (`/`).
fn folder_name(folder: &Path) -> String {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let named = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned());
    named(folder)
        .or_else(|| named(&std::fs::canonicalize(folder).ok()?))
        .unwrap_or_else(|| folder.display().to_string())
}

/// The last part of a path, or the whole path where it has none.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Decodes the bytes of one recorded file of `format` into workouts. `source` names the file in
/// the workouts and in `skipped`. Files without identifiers of their own (FIT, TCX, GPX) get a
/// workout id hashed from `source`, and the same as user id (and the file's name as person)
/// until [`read_file`] or [`read_inputs`] name the person.
pub fn read_bytes(
    format: Format,
    bytes: &[u8],
    source: &str,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Workout>> {
    read_bytes_with(format, bytes, source, PointTimes::Required, skipped)
}

/// [`read_bytes`], the points of a TCX or GPX file needing times or not (`times`).
pub fn read_bytes_with(
    format: Format,
    bytes: &[u8],
    source: &str,
    times: PointTimes,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Workout>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!(EMPTY_FILE);
    }
    let file_workout = |sport: String, samples: Vec<Sample>| Workout {
        source: source.to_string(),
        workout_id: stable_id(source),
        user_id: stable_id(source),
        person: file_name(Path::new(source)),
        gender: Gender::Unknown,
        sport,
        profile: Profile::default(),
        samples,
    };
    Ok(match format {
        Format::Fit => {
            let fit = fit::read(bytes)?;
            if let Some(reason) = fit.note {
                skipped.push(Skipped {
                    source: source.to_string(),
                    reason,
                });
            }
            vec![Workout {
                profile: fit.profile,
                ..file_workout(fit.sport, fit.samples)
            }]
        }
        Format::Tcx => {
            let (sport, samples) = xml::read_tcx(bytes, times)?;
            vec![file_workout(sport, samples)]
        }
        Format::Gpx => {
            let (sport, samples) = xml::read_gpx(bytes, times)?;
            vec![file_workout(sport, samples)]
        }
        Format::FitRec => fitrec::read(bytes, source, skipped)?,
    })
}

/// Reads every workout in `inputs` (files or folders). A file that cannot be read is skipped with
/// its reason; an input path that does not exist, or a folder without workout files, is an error.
/// Workouts from FIT, TCX and GPX files get a workout id hashed from the file's path and a user
/// id hashed from its person's folder (see [`Walk`]); FitRec lines keep their own ids.
pub fn read_inputs(inputs: &[PathBuf]) -> Result<ReadResult> {
    let found = find_inputs(inputs)?;
    let mut result = ReadResult {
        skipped: found.skipped,
        ..ReadResult::default()
    };
    for file in found.files {
        result.files += 1;
        let times = PointTimes::Required;
        match read_person_file(&file.path, &file.person, times, &mut result.skipped) {
            Ok(workouts) => result.workouts.extend(workouts),
            Err(err) => result.skipped.push(Skipped {
                source: file.path.display().to_string(),
                reason: format!("{err:#}"),
            }),
        }
    }
    share_profiles(&mut result.workouts);
    Ok(result)
}

/// The workout files of `inputs` (files or folders), each with its person, as [`read_inputs`]
/// reads them.
pub fn find_inputs(inputs: &[PathBuf]) -> Result<Found> {
    find_walked(inputs, "--input", |person| person.to_path_buf())
}

/// The workout files of `history` (files or folders, `prepare --history`), which only serve as
/// earlier workouts of the people of `inputs`, each with its person as for [`find_inputs`],
/// except that a folder `X` under a history folder `H` (`H/X`) is the person of the folder
/// `I/X` under the first input folder `I` that has one, and the files directly in `H` are the
/// person of the files directly in the first input folder. A history person without such a
/// folder (and a FitRec line, which names its own user) keeps its own.
pub fn find_history(history: &[PathBuf], inputs: &[PathBuf]) -> Result<Found> {
    let input_folders: Vec<&PathBuf> = inputs.iter().filter(|i| i.is_dir()).collect();
    let roots: Vec<&PathBuf> = history.iter().filter(|h| h.is_dir()).collect();
    find_walked(history, "--history", |person| {
        let relative = roots.iter().find_map(|root| person.strip_prefix(root).ok());
        let Some(relative) = relative else {
            return person.to_path_buf();
        };
        if relative.as_os_str().is_empty() {
            return input_folders
                .first()
                .map_or_else(|| person.to_path_buf(), |i| i.to_path_buf());
        }
        input_folders
            .iter()
            .map(|i| i.join(relative))
            .find(|folder| folder.is_dir())
            .unwrap_or_else(|| person.to_path_buf())
    })
}

/// The workout files under `folder` (given with `flag`), in the order [`read_inputs`] reads
/// them, and the entries passed over, with the reason. Fails where the folder cannot be read or
/// holds no workout file.
pub fn workout_files(folder: &Path, flag: &str) -> Result<(Vec<PathBuf>, Vec<Skipped>)> {
    let walk = walk(std::slice::from_ref(&folder.to_path_buf()), flag)?;
    let files = walk.files.into_iter().map(|found| found.path).collect();
    Ok((files, walk.skipped))
}

/// Walks `paths` (files or folders, given with `flag`) for workout files (see [`Walk`]). Fails
/// where a path cannot be read or a folder holds no workout file.
fn walk(paths: &[PathBuf], flag: &str) -> Result<Walk> {
    let mut walk = Walk::default();
    for input in paths {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("{flag} {}: cannot read it", input.display()))?;
        let before = walk.files.len() + walk.skipped.len();
        if meta.is_dir() {
            walk.folder(input, None)?;
        } else {
            let parent = input.parent().unwrap_or(Path::new("")).to_path_buf();
            walk.file(input, &meta, &parent);
        }
        if walk.files.len() + walk.skipped.len() == before && meta.is_dir() {
            bail!(
                "{flag} {}: no workout files (.fit, .tcx, .gpx, .json, .jsonl) in this folder",
                input.display()
            );
        }
    }
    Ok(walk)
}

/// The workout files in `paths` (files or folders, given with `flag`), the person of each being
/// the folder `person_of` makes of the one it was found under (see [`Walk`]).
fn find_walked(
    paths: &[PathBuf],
    flag: &str,
    person_of: impl Fn(&Path) -> PathBuf,
) -> Result<Found> {
    let walk = walk(paths, flag)?;
    let files = walk
        .files
        .into_iter()
        .map(|found| FoundFile {
            person: person_of(&found.person),
            path: found.path,
        })
        .collect();
    Ok(Found {
        files,
        skipped: walk.skipped,
    })
}

/// A regular file (following links) opened for reading, with its size: a FIFO, device or
/// folder is refused rather than opened (reading one could wait or grow forever).
pub fn open_regular(path: &Path) -> Result<(std::fs::File, u64)> {
    let not_regular = "not a regular file (a FIFO, socket, device or folder)";
    // Checked before opening too: opening a FIFO waits for a writer.
    ensure!(std::fs::metadata(path)?.is_file(), not_regular);
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    ensure!(meta.is_file(), not_regular);
    Ok((file, meta.len()))
}

/// The bytes of a regular file (following links), never more than its size when opened: a
/// FIFO, device or folder is refused rather than read (reading one could wait or grow forever).
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    let size = usize::try_from(len).context("the file is larger than memory")?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size)
        .context("the file is larger than memory")?;
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_folder_goes_by_its_name() {
        assert_eq!(folder_name(Path::new("in/alice")), "alice");
        assert_eq!(folder_name(Path::new("in/alice/")), "alice");
        let here = std::env::current_dir().unwrap();
        let here = here.file_name().unwrap().to_string_lossy();
        assert_eq!(folder_name(Path::new("")), here, "a file given bare");
        assert_eq!(folder_name(Path::new(".")), here);
        assert_eq!(folder_name(Path::new("/")), "/");
    }

    #[test]
    fn a_file_of_a_folder_is_named_person_slash_file() {
        let gpx = include_bytes!("../../tests/data/workouts/gpx/garmin-activity.gpx");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice").join("ride.gpx");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, gpx).unwrap();
        let read = read_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(read.workouts[0].name(), "alice/ride.gpx");
    }
}
