//! Mutation test of the workout readers: thousands of corrupted copies of the real workouts
//! (tests/data/workouts) go through `data::read_bytes` and `features::resample` (of each workout
//! as read and of the pieces `data::clean` makes of it), and some through a whole
//! `prepare::prepare`. A GPX and a TCX file made into planned routes (their points without
//! times, GPX route points `<rtept>`) are read without times and timed by
//! `predict::retime`, as `predict --speed` reads them, before the resampling. A corrupted file may be rejected with an error or read into
//! something odd, but it must never panic, hang, or make the program take memory out of
//! proportion to its size; and a workout that resamples without an error has finite features.
//!
//! Each mutant is drawn from an RNG seeded with its index, so one mutant can be rerun alone:
//! `HRCAST_MUTANT=<index> cargo test --release --test mutation -- --nocapture`.
//!
//! Mutations are byte-level (bit flips, byte sets, truncation, deleted and inserted runs) and
//! format-aware:
//! - FIT: files carry a CRC-16 over header and data. fitparser decodes every message before it
//!   compares the CRC at the end, so a blind byte flip exercises its decoder but the file is
//!   then rejected and never reaches hrcast's record handling or the resampling. The FIT
//!   mutations edit the data region (record timestamps, record field values, random bytes,
//!   deleted or repeated runs with the header's data size adjusted) and then recompute the
//!   header and file CRCs (for 90% of them), so the edited files are accepted;
//! - TCX/GPX: times set to 1990, 2100 or year 0, years shifted, times going backwards, numbers
//!   set to 1e39, NaN or garbage, deep element nesting, elements with thousands of attributes,
//!   repeated track points;
//! - FitRec: timestamps in milliseconds or 1e19, altitude 1e39, NaN and Infinity, arrays
//!   reversed, shortened or emptied, values of the wrong type, deeply nested arrays.

use hrcast::data::{self, Format, PointTimes, Sample, Workout};
use hrcast::features;
use hrcast::predict;
use hrcast::prepare::{self, PrepareOptions, SplitBy};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::catch_unwind;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/workouts");
/// Number of mutants.
const MUTANTS: usize = 3000;
/// Every this many mutants also go through a whole `prepare` run (300 of the 3000).
const PREPARE_EVERY: usize = 10;
/// Seed of the mutant RNGs: mutant `i` draws from `StdRng::seed_from_u64(SEED + i)`.
const SEED: u64 = 0x6872_6361_7374;
/// Grid interval of the resampling (the default of `hrcast prepare`).
const INTERVAL_S: f64 = 5.0;
/// The slowest a mutant may be. Reading and resampling the largest real file (866 kB of TCX)
/// takes tens of milliseconds in release mode, so 5 s leaves room for a loaded machine while
/// still catching quadratic blow-ups; a mutant still running after [`HANG_S`] is a hang and
/// ends the test at once.
const SLOW: Duration = Duration::from_secs(5);
/// A mutant running this long is a hang: the watchdog aborts the test, naming it.
const HANG_S: u64 = 60;

// ---------------------------------------------------------------------------------------------
// A counting allocator: live bytes, their peak, the largest single request.

/// Counts the bytes the test binary holds, so that each mutant's peak can be checked.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Set when a request was refused, so the test reports it if it somehow survives.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// A single request above this is refused (the allocation fails and the process aborts with
/// "memory allocation failed"), and so is one that would take the live total above
/// [`REFUSE_LIVE`]. Without these a runaway mutant could take the machine's memory (this runs
/// beside other builds), and the per-mutant bound below is far smaller anyway: the refusal only
/// turns a machine-wide problem into this test's failure, after naming the mutant.
const REFUSE_SINGLE: usize = 1 << 30;
const REFUSE_LIVE: usize = 4 << 30;

/// The mutant being run, for the messages the allocator and the watchdog print before aborting.
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Writes `text` and `n` to stderr without allocating (this runs inside the allocator).
fn say_without_allocating(text: &str, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.write_all(&digits[at..]);
    let _ = err.write_all(b" bytes; mutant: ");
    if let Ok(current) = CURRENT.try_lock() {
        let _ = err.write_all(current.as_bytes());
    }
    let _ = err.write_all(b"\n");
}

/// Whether a request of `size` more bytes may go ahead.
fn admit(size: usize) -> bool {
    LARGEST.fetch_max(size, Relaxed);
    if size > REFUSE_SINGLE {
        REFUSED.store(true, Relaxed);
        say_without_allocating("mutation test: refused a single allocation of ", size);
        return false;
    }
    if LIVE.load(Relaxed).saturating_add(size) > REFUSE_LIVE {
        REFUSED.store(true, Relaxed);
        say_without_allocating("mutation test: refused to go past 4 GiB live with ", size);
        return false;
    }
    true
}

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout is passed on as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's pointer and layout are passed on as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !admit(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's pointer, layout and size are passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// FIT layout: CRCs (shared with the fuzz target), and where the record messages keep their
// fields.

#[path = "common/fit_crc.rs"]
mod fit_crc;
use fit_crc::{fit_chunks, fit_crc, fix_fit_crcs};

/// One field of a `record` message in the file: where its bytes are.
#[derive(Debug, Clone, Copy)]
struct FitField {
    offset: usize,
    size: usize,
    /// The field number in the FIT profile (253 timestamp, 3 heart_rate, 2 altitude, ...).
    number: u8,
    big_endian: bool,
}

/// Global message number of `record` messages.
const FIT_RECORD: u16 = 20;
/// Field number of `timestamp`, in every message.
const FIT_TIMESTAMP: u8 = 253;
/// Seconds from the Unix epoch to the FIT epoch (1989-12-31T00:00:00Z).
const FIT_EPOCH_S: i64 = 631_065_600;

/// Walks the messages of every chained FIT file and lists the fields of its record messages.
fn fit_record_fields(bytes: &[u8]) -> Vec<FitField> {
    #[derive(Clone, Default)]
    struct Definition {
        global: u16,
        big_endian: bool,
        fields: Vec<(u8, usize)>,
        developer_bytes: usize,
    }
    let mut out = Vec::new();
    for chunk in fit_chunks(bytes) {
        let mut definitions: Vec<Option<Definition>> = vec![None; 16];
        let mut pos = chunk.start + chunk.header;
        while pos < chunk.data_end {
            let header = bytes[pos];
            pos += 1;
            if header & 0x80 == 0 && header & 0x40 != 0 {
                // Definition message.
                if pos + 5 > chunk.data_end {
                    break;
                }
                let big_endian = bytes[pos + 1] == 1;
                let raw = [bytes[pos + 2], bytes[pos + 3]];
                let global = if big_endian {
                    u16::from_be_bytes(raw)
                } else {
                    u16::from_le_bytes(raw)
                };
                let count = usize::from(bytes[pos + 4]);
                pos += 5;
                let fields: Vec<(u8, usize)> = (0..count)
                    .filter_map(|i| {
                        let at = pos + 3 * i;
                        (at + 3 <= chunk.data_end).then(|| (bytes[at], usize::from(bytes[at + 1])))
                    })
                    .collect();
                pos += 3 * count;
                let mut developer_bytes = 0;
                if header & 0x20 != 0 && pos < chunk.data_end {
                    let count = usize::from(bytes[pos]);
                    pos += 1;
                    for i in 0..count {
                        if let Some(&size) = bytes.get(pos + 3 * i + 1) {
                            developer_bytes += usize::from(size);
                        }
                    }
                    pos += 3 * count;
                }
                definitions[usize::from(header & 0x0F)] = Some(Definition {
                    global,
                    big_endian,
                    fields,
                    developer_bytes,
                });
            } else {
                // Data message, with a normal or a compressed-timestamp header.
                let local = if header & 0x80 != 0 {
                    (header >> 5) & 0x03
                } else {
                    header & 0x0F
                };
                let Some(def) = &definitions[usize::from(local)] else {
                    break;
                };
                for &(number, size) in &def.fields {
                    if def.global == FIT_RECORD && pos + size <= chunk.data_end {
                        out.push(FitField {
                            offset: pos,
                            size,
                            number,
                            big_endian: def.big_endian,
                        });
                    }
                    pos += size;
                }
                pos += def.developer_bytes;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The real workouts the mutants are made from.

struct Base {
    name: String,
    format: Format,
    bytes: Vec<u8>,
    /// FIT: the fields of the record messages.
    fit_fields: Vec<FitField>,
    /// A planned route (points without times): read without times and timed as `predict
    /// --speed` times it ([`read`]).
    route: bool,
}

/// One FitRec line (a Python-dict literal, as the FitRec files write them) holding `samples`.
fn fitrec_line(id: i64, samples: &[Sample]) -> String {
    let list = |get: &dyn Fn(&Sample) -> f64| {
        let values: Vec<String> = samples.iter().map(|s| format!("{}", get(s))).collect();
        format!("[{}]", values.join(", "))
    };
    format!(
        "{{'id': {id}, 'userId': 7, 'gender': 'female', 'sport': 'run', 'timestamp': {}, \
         'altitude': {}, 'heart_rate': {}, 'latitude': {}, 'longitude': {}, 'speed': {}}}\n",
        list(&|s| s.time_s),
        list(&|s| s.altitude_m.unwrap_or(0.0)),
        list(&|s| s.heart_rate.unwrap_or(0.0)),
        list(&|s| s.latitude.unwrap_or(0.0)),
        list(&|s| s.longitude.unwrap_or(0.0)),
        list(&|s| s.speed_kmh.unwrap_or(0.0)),
    )
}

/// The real workouts, plus two FitRec files: one made of the GPX workout's samples (the test
/// data holds no FitRec file), one generated by `hrcast synth`.
fn bases() -> Vec<Base> {
    let mut files = Vec::new();
    for folder in std::fs::read_dir(DIR).unwrap() {
        let folder = folder.unwrap().path();
        if folder.is_dir() {
            for file in std::fs::read_dir(&folder).unwrap() {
                let file = file.unwrap().path();
                if data::Format::of(&file).is_some() {
                    files.push(file);
                }
            }
        }
    }
    files.sort();
    let mut bases: Vec<Base> = files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).unwrap();
            let format = Format::of(file).unwrap();
            let name = file.strip_prefix(DIR).unwrap_or(file).display().to_string();
            let fit_fields = if format == Format::Fit {
                fit_record_fields(&bytes)
            } else {
                Vec::new()
            };
            Base {
                name,
                format,
                bytes,
                fit_fields,
                route: false,
            }
        })
        .collect();
    let gpx = bases.iter().find(|b| b.format == Format::Gpx).unwrap();
    let workout: Workout = data::read_bytes(Format::Gpx, &gpx.bytes, "gpx", &mut Vec::new())
        .unwrap()
        .remove(0);
    let half = workout.samples.len() / 2;
    let real = fitrec_line(1, &workout.samples[..half]) + &fitrec_line(2, &workout.samples[half..]);
    bases.push(Base {
        name: "fitrec made from the GPX samples".into(),
        format: Format::FitRec,
        bytes: real.into_bytes(),
        fit_fields: Vec::new(),
        route: false,
    });
    bases.push(Base {
        name: "fitrec from hrcast synth".into(),
        format: Format::FitRec,
        bytes: hrcast::synth::generate(1, 2, 11).into_bytes(),
        fit_fields: Vec::new(),
        route: false,
    });
    let routes: Vec<Base> = [Format::Gpx, Format::Tcx]
        .iter()
        .filter_map(|&format| bases.iter().find(|b| b.format == format))
        .map(planned_route)
        .collect();
    bases.extend(routes);
    bases
}

/// The route a planner would write of the recorded TCX or GPX file `base`: its points without
/// times (and, in GPX, as the route points `<rtept>` of a `<rte>`).
fn planned_route(base: &Base) -> Base {
    let text = String::from_utf8_lossy(&base.bytes);
    let time = if base.format == Format::Tcx {
        "Time"
    } else {
        "time"
    };
    let mut route = String::new();
    let mut rest = text.as_ref();
    // Every <time> element left out (those of the metadata too).
    while let Some(at) = rest.find(&format!("<{time}>")) {
        route.push_str(&rest[..at]);
        let close = format!("</{time}>");
        let end = rest[at..]
            .find(&close)
            .map_or(rest.len(), |e| at + e + close.len());
        rest = &rest[end..];
    }
    route.push_str(rest);
    if base.format == Format::Gpx {
        route = route
            .replace("<trkseg>", "")
            .replace("</trkseg>", "")
            .replace("<trk>", "<rte>")
            .replace("</trk>", "</rte>")
            .replace("trkpt", "rtept");
    }
    Base {
        name: format!("{} as a planned route", base.name),
        format: base.format,
        bytes: route.into_bytes(),
        fit_fields: Vec::new(),
        route: true,
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// A mutant: the bytes and what was done to them.
struct Mutant {
    base: usize,
    bytes: Vec<u8>,
    description: String,
}

/// Byte-level mutations, blind to the format.
fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut StdRng, log: &mut String) {
    if bytes.is_empty() {
        bytes.push(rng.random());
        log.push_str("push a byte; ");
        return;
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..6) {
        0 => {
            let flips = rng.random_range(1..=8);
            for _ in 0..flips {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1u8 << rng.random_range(0..8u32);
            }
            let _ = write!(log, "{flips} bit flips; ");
        }
        1 => {
            const INTERESTING: &[u8] = b"\x00\xff\x7f\x80<>\"'[]{}/-.e9&";
            let value = *INTERESTING.choose(rng).unwrap();
            bytes[at] = value;
            let _ = write!(log, "byte {at} = {value:#04x}; ");
        }
        2 => {
            bytes.truncate(at);
            let _ = write!(log, "truncate at {at}; ");
        }
        3 => {
            let len = rng.random_range(1..=4096).min(bytes.len() - at);
            bytes.drain(at..at + len);
            let _ = write!(log, "delete {len} bytes at {at}; ");
        }
        4 => {
            let len = rng.random_range(1..=64);
            let run: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            bytes.splice(at..at, run);
            let _ = write!(log, "insert {len} random bytes at {at}; ");
        }
        _ => {
            let from = rng.random_range(0..bytes.len());
            let len = rng.random_range(1..=4096).min(bytes.len() - from);
            let run = bytes[from..from + len].to_vec();
            bytes.splice(at..at, run);
            let _ = write!(log, "repeat {len} bytes from {from} at {at}; ");
        }
    }
}

/// FIT mutations inside the data region; the CRCs are fixed afterwards by the caller.
fn mutate_fit(base: &Base, bytes: &mut Vec<u8>, rng: &mut StdRng, log: &mut String) {
    let chunks = fit_chunks(bytes);
    let Some(&chunk) = chunks.choose(rng) else {
        return mutate_bytes(bytes, rng, log);
    };
    let data = chunk.start + chunk.header..chunk.data_end;
    let timestamps: Vec<&FitField> = base
        .fit_fields
        .iter()
        .filter(|f| f.number == FIT_TIMESTAMP && f.size == 4 && f.offset + 4 <= bytes.len())
        .collect();
    let write_u32 = |bytes: &mut Vec<u8>, f: &FitField, v: u32| {
        let raw = if f.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        bytes[f.offset..f.offset + 4].copy_from_slice(&raw);
    };
    let read_u32 = |bytes: &[u8], f: &FitField| {
        let raw: [u8; 4] = bytes[f.offset..f.offset + 4].try_into().unwrap();
        if f.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        }
    };
    const YEAR_S: i64 = 31_557_600;
    match rng.random_range(0..6) {
        0 | 1 if !timestamps.is_empty() => {
            // A record timestamp: another year, or before the record ahead of it.
            let i = rng.random_range(0..timestamps.len());
            let f = timestamps[i];
            let old = i64::from(read_u32(bytes, f));
            let (value, what) = match rng.random_range(0..8) {
                0 => (0, "0 (1989-12-31)".to_string()),
                1 => (u32::MAX, "0xffffffff (invalid)".to_string()),
                2 => (u32::MAX - 1, "0xfffffffe (2126)".to_string()),
                3 => ((946_684_800 - FIT_EPOCH_S) as u32, "2000-01-01".to_string()),
                4 => (
                    (4_102_444_800 - FIT_EPOCH_S) as u32,
                    "2100-01-01".to_string(),
                ),
                5 => {
                    let years = *[-30i64, -5, -1, 1, 5, 50].choose(rng).unwrap();
                    let v = (old + years * YEAR_S).clamp(0, i64::from(u32::MAX)) as u32;
                    (v, format!("shifted {years} years"))
                }
                6 => {
                    let first = i64::from(read_u32(bytes, timestamps[0]));
                    (
                        (first - 3600).max(0) as u32,
                        "an hour before the first".into(),
                    )
                }
                _ => {
                    let v = (old - rng.random_range(1..100_000)).max(0) as u32;
                    (v, "backwards".to_string())
                }
            };
            // Either this one record, or this one and all the records after it.
            let all_after = rng.random_bool(0.3);
            let delta = i64::from(value) - old;
            if all_after {
                for g in &timestamps[i..] {
                    let v = (i64::from(read_u32(bytes, g)) + delta).clamp(0, i64::from(u32::MAX));
                    write_u32(bytes, g, v as u32);
                }
            } else {
                write_u32(bytes, f, value);
            }
            let _ = write!(
                log,
                "FIT record timestamp {i} (byte {}) = {what}{}; ",
                f.offset,
                if all_after { " and all after it" } else { "" }
            );
        }
        2 if !base.fit_fields.is_empty() => {
            // A record field set to all-ones (invalid), all-zeros, the extremes or noise.
            let f = base.fit_fields.choose(rng).unwrap();
            if f.offset + f.size > bytes.len() {
                return;
            }
            let kind = rng.random_range(0..5);
            for (k, b) in bytes[f.offset..f.offset + f.size].iter_mut().enumerate() {
                let msb = if f.big_endian {
                    k == 0
                } else {
                    k + 1 == f.size
                };
                *b = match kind {
                    0 => 0xFF,
                    1 => 0x00,
                    2 if msb => 0x7F,
                    2 => 0xFF,
                    3 if msb => 0x80,
                    3 => 0x00,
                    _ => rng.random(),
                };
            }
            let _ = write!(
                log,
                "FIT record field {} ({} bytes at {}) kind {kind}; ",
                f.number, f.size, f.offset
            );
        }
        3 | 4 if data.len() > 2 => {
            // Bytes of the data region changed, the data size in the header kept.
            let flips = rng.random_range(1..=4);
            for _ in 0..flips {
                let i = rng.random_range(data.clone());
                bytes[i] = rng.random();
            }
            let _ = write!(log, "{flips} random bytes in FIT data; ");
        }
        _ if data.len() > 2 => {
            // A run deleted or repeated inside the data, the header's data size adjusted.
            let at = rng.random_range(data.clone());
            let len = rng.random_range(1..=512).min(chunk.data_end - at);
            let delta: i64 = if rng.random_bool(0.5) {
                bytes.drain(at..at + len);
                let _ = write!(log, "delete {len} FIT data bytes at {at}; ");
                -(len as i64)
            } else {
                let run = bytes[at..at + len].to_vec();
                bytes.splice(at..at, run);
                let _ = write!(log, "repeat {len} FIT data bytes at {at}; ");
                len as i64
            };
            let size_at = chunk.start + 4..chunk.start + 8;
            let size = u32::from_le_bytes(bytes[size_at.clone()].try_into().unwrap());
            let size = (i64::from(size) + delta) as u32;
            bytes[size_at].copy_from_slice(&size.to_le_bytes());
        }
        _ => mutate_bytes(bytes, rng, log),
    }
}

/// Byte ranges of the text of every `<tag>...</tag>` (exact tag, no attributes).
fn element_texts(bytes: &[u8], tag: &str) -> Vec<std::ops::Range<usize>> {
    let open = format!("<{tag}>").into_bytes();
    let close = format!("</{tag}>").into_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(found) = find(&bytes[pos..], &open) {
        let start = pos + found + open.len();
        let Some(len) = find(&bytes[start..], &close) else {
            break;
        };
        out.push(start..start + len);
        pos = start + len;
    }
    out
}

/// Byte ranges of the values of every `name="..."` attribute.
fn attribute_values(bytes: &[u8], name: &str) -> Vec<std::ops::Range<usize>> {
    let open = format!(" {name}=\"").into_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(found) = find(&bytes[pos..], &open) {
        let start = pos + found + open.len();
        let Some(len) = bytes[start..].iter().position(|&b| b == b'"') else {
            break;
        };
        out.push(start..start + len);
        pos = start + len;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Numbers a reader must take in its stride: beyond f32, beyond f64, not numbers at all.
const ODD_NUMBERS: &[&str] = &[
    "1e39",
    "-1e39",
    "3.5e38",
    "1e308",
    "-1e308",
    "1e309",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e-320",
    "-0",
    "0",
    "99999999999999999999999999",
    "",
    "1.5.3",
    "0x10",
    " 12 ",
];

/// TCX/GPX mutations: times, numbers and structure.
fn mutate_xml(format: Format, bytes: &mut Vec<u8>, rng: &mut StdRng, log: &mut String) {
    let (time_tag, point_tag, number_tags, number_attrs): (&str, &str, &[&str], &[&str]) =
        if format == Format::Tcx {
            (
                "Time",
                "Trackpoint",
                &[
                    "Value",
                    "AltitudeMeters",
                    "DistanceMeters",
                    "LatitudeDegrees",
                    "LongitudeDegrees",
                    "ns3:Speed",
                ],
                &[],
            )
        } else {
            (
                "time",
                "trkpt",
                &["ele", "gpxtpx:hr", "ns3:hr", "gpxtpx:speed"],
                &["lat", "lon"],
            )
        };
    // A planned route's points.
    let point_tag = if find(bytes, b"<rtept").is_some() {
        "rtept"
    } else {
        point_tag
    };
    let times = element_texts(bytes, time_tag);
    match rng.random_range(0..8) {
        0..=2 if !times.is_empty() => {
            let i = rng.random_range(0..times.len());
            let span = times[i].clone();
            let old = String::from_utf8_lossy(&bytes[span.clone()]).into_owned();
            let year: Option<i64> = old.get(..4).and_then(|y| y.parse().ok());
            let new = match (rng.random_range(0..10), year) {
                (0, _) => "1990-01-01T00:00:00Z".to_string(),
                (1, _) => "2100-01-01T00:00:00Z".to_string(),
                (2, _) => "0000-01-01T00:00:00Z".to_string(),
                (3, _) => "9999-12-31T23:59:59Z".to_string(),
                (4, _) => "1970-01-01T00:00:00+14:00".to_string(),
                (5, _) => {
                    // Backwards: a time before the first point's.
                    let first = String::from_utf8_lossy(&bytes[times[0].clone()]).into_owned();
                    first.replacen(first.get(..4).unwrap_or(""), "2001", 1)
                }
                (6, _) => format!("{}.{}Z", old.trim_end_matches('Z'), "9".repeat(40)),
                (7, _) => ["", "yesterday", "2021-13-45T99:99:99Z", "2021"]
                    .choose(rng)
                    .unwrap()
                    .to_string(),
                (_, Some(year)) => {
                    // Shift the years of this point and every point after it.
                    let years = *[-100i64, -30, -1, 1, 10, 79].choose(rng).unwrap();
                    let shifted = (year + years).clamp(0, 9999);
                    for later in times[i + 1..].iter().rev() {
                        let text = String::from_utf8_lossy(&bytes[later.clone()]).into_owned();
                        if let Some(y) = text.get(..4).and_then(|y| y.parse::<i64>().ok()) {
                            let y = format!("{:04}", (y + years).clamp(0, 9999));
                            bytes[later.start..later.start + 4].copy_from_slice(y.as_bytes());
                        }
                    }
                    let _ = write!(log, "years of <{time_tag}> {i}.. shifted by {years}; ");
                    format!("{shifted:04}{}", &old[4..])
                }
                (_, None) => "2100-01-01T00:00:00Z".to_string(),
            };
            let _ = write!(log, "<{time_tag}> {i} = {new:?}; ");
            bytes.splice(span, new.into_bytes());
        }
        3 | 4 => {
            let mut spans: Vec<(String, std::ops::Range<usize>)> = Vec::new();
            for tag in number_tags {
                let found = element_texts(bytes, tag);
                if let Some(s) = found.choose(rng) {
                    spans.push((format!("<{tag}>"), s.clone()));
                }
            }
            for attr in number_attrs {
                let found = attribute_values(bytes, attr);
                if let Some(s) = found.choose(rng) {
                    spans.push((format!("{attr}="), s.clone()));
                }
            }
            let Some((what, span)) = spans.choose(rng).cloned() else {
                return mutate_bytes(bytes, rng, log);
            };
            let new = *ODD_NUMBERS.choose(rng).unwrap();
            let _ = write!(log, "{what} at {} = {new:?}; ", span.start);
            bytes.splice(span, new.bytes());
        }
        5 => {
            // Deep nesting inside a point, each level with text: paths grow with depth.
            let Some(at) = find(bytes, format!("<{point_tag}").as_bytes()) else {
                return mutate_bytes(bytes, rng, log);
            };
            let at = at + bytes[at..].iter().position(|&b| b == b'>').unwrap_or(0) + 1;
            let depth = rng.random_range(1000..=20_000);
            let closed = rng.random_bool(0.5);
            let mut run = "<a>x".repeat(depth);
            if closed {
                run.push_str(&"</a>".repeat(depth));
            }
            let _ = write!(
                log,
                "{depth} nested elements with text in a point (closed {closed}); "
            );
            bytes.splice(at.min(bytes.len())..at.min(bytes.len()), run.into_bytes());
        }
        6 => {
            // Thousands of attributes on one element, maybe all with the same name.
            let at = find(bytes, format!("<{point_tag}").as_bytes())
                .map_or(1, |at| at + point_tag.len() + 1)
                .min(bytes.len());
            let count = rng.random_range(1000..=20_000);
            let same = rng.random_bool(0.5);
            let run: String = (0..count)
                .map(|k| {
                    if same {
                        " a=\"1\"".to_string()
                    } else {
                        format!(" a{k}=\"1\"")
                    }
                })
                .collect();
            let _ = write!(log, "{count} attributes on a point (same name {same}); ");
            bytes.splice(at..at, run.into_bytes());
        }
        _ => {
            // A run of points repeated, or one point's closing tag removed.
            let open = format!("<{point_tag}");
            let close = format!("</{point_tag}>");
            let starts: Vec<usize> = (0..bytes.len())
                .filter(|&i| bytes[i..].starts_with(open.as_bytes()))
                .collect();
            if starts.len() < 2 {
                return mutate_bytes(bytes, rng, log);
            }
            let i = rng.random_range(0..starts.len() - 1);
            if rng.random_bool(0.5) {
                let j = rng.random_range(i + 1..starts.len().min(i + 200));
                let run = bytes[starts[i]..starts[j]].to_vec();
                let times = rng.random_range(1..=5);
                for _ in 0..times {
                    bytes.splice(starts[j]..starts[j], run.iter().copied());
                }
                let _ = write!(log, "points {i}..{j} repeated {times} times; ");
            } else if let Some(end) = find(&bytes[starts[i]..], close.as_bytes()) {
                let end = starts[i] + end;
                bytes.drain(end..end + close.len());
                let _ = write!(log, "closing tag of point {i} removed; ");
            }
        }
    }
}

/// The byte range of the list after `'key': ` in a FitRec line, without the brackets.
fn fitrec_list(bytes: &[u8], from: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let needle = format!("'{key}': [");
    let start = from + find(&bytes[from..], needle.as_bytes())? + needle.len();
    let len = bytes[start..].iter().position(|&b| b == b']')?;
    Some(start..start + len)
}

/// FitRec mutations: timestamps, values, arrays and nesting.
fn mutate_fitrec(bytes: &mut Vec<u8>, rng: &mut StdRng, log: &mut String) {
    const KEYS: [&str; 6] = [
        "timestamp",
        "altitude",
        "heart_rate",
        "latitude",
        "longitude",
        "speed",
    ];
    // Lines start at 0 and after each newline; pick one.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            (0..bytes.len())
                .filter(|&i| bytes[i] == b'\n')
                .map(|i| i + 1),
        )
        .filter(|&i| i < bytes.len())
        .collect();
    let Some(&line) = line_starts.choose(rng) else {
        return mutate_bytes(bytes, rng, log);
    };
    let key = if rng.random_bool(0.5) {
        "timestamp"
    } else {
        *KEYS.choose(rng).unwrap()
    };
    let Some(span) = fitrec_list(bytes, line, key) else {
        return mutate_bytes(bytes, rng, log);
    };
    if rng.random_bool(0.1) {
        // Deep nesting under a key the reader ignores (json5 still parses it, recursively).
        let depth = rng.random_range(1000..=200_000);
        let nested = format!("'extra': {}, ", "[".repeat(depth) + &"]".repeat(depth));
        let _ = write!(
            log,
            "'extra' key nested {depth} deep in the line at byte {line}; "
        );
        let at = (line + 1).min(bytes.len());
        bytes.splice(at..at, nested.into_bytes());
        return;
    }
    let text = String::from_utf8_lossy(&bytes[span.clone()]).into_owned();
    let mut values: Vec<String> = text.split(", ").map(str::to_string).collect();
    let what = match rng.random_range(0..8) {
        0 => {
            // Milliseconds instead of seconds, from some point on or throughout.
            let from = if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(0..values.len())
            };
            for v in &mut values[from..] {
                if let Ok(x) = v.parse::<f64>() {
                    *v = format!("{}", x * 1000.0);
                }
            }
            format!("times 1000 from value {from}")
        }
        1 | 2 => {
            let i = rng.random_range(0..values.len());
            let new = *[
                "1e19",
                "-1e19",
                "1e39",
                "-1e39",
                "1e308",
                "NaN",
                "Infinity",
                "-Infinity",
                "0",
                "-1",
                "4102444800",
                "631152000",
                "'x'",
                "null",
                "true",
                "[]",
                "{}",
                "0x7fffffff",
            ]
            .choose(rng)
            .unwrap();
            values[i] = new.to_string();
            format!("value {i} = {new}")
        }
        3 => {
            values.reverse();
            "reversed".to_string()
        }
        4 => {
            let i = rng.random_range(0..values.len());
            values.remove(i);
            format!("value {i} removed")
        }
        5 => {
            values.clear();
            "emptied".to_string()
        }
        6 => {
            // A jump: every value from some point on shifted by years.
            let from = rng.random_range(0..values.len());
            let shift = *[-1e9, -3.2e7, 3.2e7, 3.2e9, 1e12].choose(rng).unwrap();
            for v in &mut values[from..] {
                if let Ok(x) = v.parse::<f64>() {
                    *v = format!("{}", x + shift);
                }
            }
            format!("shifted by {shift} from value {from}")
        }
        _ => {
            // Deep nesting in one value: a parser that recurses per level must not overflow.
            let i = rng.random_range(0..values.len());
            let depth = rng.random_range(1000..=200_000);
            let closed = rng.random_bool(0.5);
            values[i] = "[".repeat(depth)
                + &if closed {
                    "]".repeat(depth)
                } else {
                    String::new()
                };
            format!("value {i} nested {depth} deep (closed {closed})")
        }
    };
    let _ = write!(log, "'{key}' of the line at byte {line}: {what}; ");
    bytes.splice(span, values.join(", ").into_bytes());
}

/// Mutant `index`: a base (round robin) and one to three mutations of it.
fn make_mutant(index: usize, bases: &[Base]) -> Mutant {
    let mut rng = StdRng::seed_from_u64(SEED.wrapping_add(index as u64));
    let base_index = index % bases.len();
    let base = &bases[base_index];
    let mut bytes = base.bytes.clone();
    let mut log = String::new();
    let rounds = rng.random_range(1..=3);
    for _ in 0..rounds {
        if rng.random_bool(0.35) {
            mutate_bytes(&mut bytes, &mut rng, &mut log);
            continue;
        }
        match base.format {
            Format::Fit => {
                mutate_fit(base, &mut bytes, &mut rng, &mut log);
                // Most FIT mutants get valid CRCs, so that they get past the CRC check.
                if rng.random_bool(0.9) {
                    fix_fit_crcs(&mut bytes);
                } else {
                    log.push_str("CRCs left stale; ");
                }
            }
            Format::Tcx | Format::Gpx => mutate_xml(base.format, &mut bytes, &mut rng, &mut log),
            Format::FitRec => mutate_fitrec(&mut bytes, &mut rng, &mut log),
        }
    }
    Mutant {
        base: base_index,
        bytes,
        description: format!(
            "mutant {index} of {}: {}",
            base.name,
            log.trim_end_matches("; ")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Running the mutants.

/// What one mutant did.
#[derive(Debug, Default)]
struct Outcome {
    read: bool,
    sequences: usize,
    resample_errors: usize,
    /// A sequence resampled without an error but with a feature or heart rate not finite.
    non_finite: Option<String>,
}

/// A planned route's speed, km/h (as `predict --speed 12`).
const ROUTE_SPEED_KMH: f64 = 12.0;
/// A planned route's start, Unix seconds (2021-01-01).
const ROUTE_START_S: f64 = 1_609_459_200.0;

/// The workouts of `bytes`, a file of `format`; a planned route (`route`) read without times
/// and timed as `predict --speed` times it.
fn read(format: Format, bytes: &[u8], route: bool) -> anyhow::Result<Vec<Workout>> {
    let mut skipped = Vec::new();
    if !route {
        return data::read_bytes(format, bytes, "mutant", &mut skipped);
    }
    let times = PointTimes::Optional;
    let mut workouts = data::read_bytes_with(format, bytes, "mutant", times, &mut skipped)?;
    for w in &mut workouts {
        predict::retime(w, ROUTE_SPEED_KMH, ROUTE_START_S, INTERVAL_S)?;
    }
    Ok(workouts)
}

fn read_and_resample(format: Format, bytes: &[u8], route: bool) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok(workouts) = read(format, bytes, route) else {
        return outcome;
    };
    outcome.read = true;
    // Each workout as read, and the pieces cleaning makes of it (what `prepare` resamples).
    let cleaned: Vec<Workout> = workouts
        .iter()
        .flat_map(|w| data::clean(w).pieces)
        .collect();
    for workout in workouts.iter().chain(&cleaned) {
        // A route has no heart rate, which `resample` requires.
        let resampled = if route {
            features::resample_any(workout, INTERVAL_S)
        } else {
            features::resample(workout, INTERVAL_S)
        };
        match resampled {
            Ok(seq) => {
                outcome.sequences += 1;
                let bad = seq
                    .features
                    .iter()
                    .chain(&seq.heart_rate)
                    .position(|v| !v.is_finite());
                if let Some(i) = bad {
                    outcome.non_finite.get_or_insert_with(|| {
                        format!(
                            "{}: value {i} of {} steps is not finite",
                            workout.source,
                            seq.len()
                        )
                    });
                }
            }
            Err(_) => outcome.resample_errors += 1,
        }
    }
    outcome
}

/// Runs a whole `prepare` on the mutant written as a file of its format.
fn run_prepare(format: Format, bytes: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let ext = match format {
        Format::Fit => "fit",
        Format::Tcx => "tcx",
        Format::Gpx => "gpx",
        Format::FitRec => "jsonl",
    };
    let input = dir.path().join(format!("mutant.{ext}"));
    std::fs::write(&input, bytes).unwrap();
    let options = PrepareOptions {
        inputs: vec![input],
        history: Vec::new(),
        out: dir.path().join("out"),
        seq_len: 32,
        whole_workouts: false,
        interval_s: INTERVAL_S,
        split: [0.8, 0.1, 0.1],
        split_by: SplitBy::User,
        seed: 0,
        profile: Default::default(),
        threads: None,
    };
    prepare::prepare(&options).is_ok()
}

/// The most memory a mutant may hold at once: 128 bytes per input byte plus 64 MiB. The
/// unmutated real files peak at up to 66 bytes per input byte for FIT (fitparser turns each
/// record into a list of named fields), 2 for TCX/GPX and 7 for FitRec (printed by this test),
/// so the linear term leaves twice the largest. The 64 MiB is for the grid: `resample` allows
/// up to 64 steps per record (plus 10 000), which a record whose timestamp is edited far away
/// uses up, and a small file's grid then outweighs its bytes: at ~130 bytes per step, the at
/// most ~2 000 records of these files (and their mutants) take under 20 MB. A grid sized by
/// the time span instead (one timestamp in 2100) would take gigabytes.
fn memory_bound(input: usize) -> usize {
    128 * input + (64 << 20)
}

/// Failures per kind, each with the mutants that showed it.
#[derive(Default)]
struct Failures {
    list: Vec<String>,
}

impl Failures {
    fn push(&mut self, text: String) {
        self.list.push(text);
    }
}

/// The message of the last panic, recorded by the hook instead of printed.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[test]
fn mutants_of_real_workouts_never_panic_hang_or_balloon() {
    let only: Option<usize> = std::env::var("HRCAST_MUTANT")
        .ok()
        .map(|v| v.parse().expect("HRCAST_MUTANT is a mutant index"));
    let bases = bases();

    // The CRC helper agrees with the files' own CRCs, and finds their record timestamps.
    for base in bases.iter().filter(|b| b.format == Format::Fit) {
        let chunks = fit_chunks(&base.bytes);
        assert!(!chunks.is_empty(), "{}: no FIT header", base.name);
        for c in &chunks {
            let stored = u16::from_le_bytes([base.bytes[c.data_end], base.bytes[c.data_end + 1]]);
            assert_eq!(
                fit_crc(&base.bytes[c.start..c.data_end]),
                stored,
                "{}",
                base.name
            );
        }
        let stamps = base
            .fit_fields
            .iter()
            .filter(|f| f.number == FIT_TIMESTAMP)
            .count();
        let records = data::read_bytes(Format::Fit, &base.bytes, "x", &mut Vec::new()).unwrap()[0]
            .samples
            .len();
        assert!(
            stamps >= records,
            "{}: {stamps} record timestamps located, {records} records read",
            base.name
        );
    }

    // How much the unmutated files take, per input byte (the justification of the bound).
    for base in &bases {
        let before = LIVE.load(Relaxed);
        PEAK.store(before, Relaxed);
        let outcome = read_and_resample(base.format, &base.bytes, base.route);
        assert!(outcome.read && outcome.sequences > 0, "{}", base.name);
        let peak = PEAK.load(Relaxed) - before;
        eprintln!(
            "unmutated {:<45} {:>8} bytes, peak {:>10} bytes ({:.1} per input byte)",
            base.name,
            base.bytes.len(),
            peak,
            peak as f64 / base.bytes.len() as f64
        );
    }

    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info.payload_as_str().unwrap_or("(no message)");
        *LAST_PANIC.lock().unwrap() = Some(format!("{message}{location}"));
    }));

    // The watchdog: a mutant running past HANG_S is named and the test aborted.
    static STARTED_MS: AtomicU64 = AtomicU64::new(u64::MAX);
    let clock = Instant::now();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let started = STARTED_MS.load(Relaxed);
            let now = clock.elapsed().as_millis() as u64;
            if started != u64::MAX && now.saturating_sub(started) > HANG_S * 1000 {
                let current = CURRENT.lock().map(|c| c.clone()).unwrap_or_default();
                eprintln!("mutation test: HANG, still running after {HANG_S} s: {current}");
                std::process::abort();
            }
        }
    });

    let mut failures = Failures::default();
    let (mut total, mut read_errors, mut read_ok, mut sequences, mut resample_errors) =
        (0, 0, 0, 0, 0);
    let (mut panics, mut slow, mut over_memory, mut non_finite) = (0, 0, 0, 0);
    let (mut prepares, mut prepares_ok) = (0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    let mut largest_ratio = (0.0f64, String::new());
    let mut largest_request = (0usize, String::new());
    let run_start = Instant::now();
    // Per base: time spent, mutants, mutants read.
    let mut per_base = vec![(Duration::ZERO, 0, 0); bases.len()];

    let indices: Vec<usize> = match only {
        Some(i) => vec![i],
        None => (0..MUTANTS).collect(),
    };
    for index in indices {
        let mutant = make_mutant(index, &bases);
        let format = bases[mutant.base].format;
        let with_prepare = index % PREPARE_EVERY == 0;
        *CURRENT.lock().unwrap() = mutant.description.clone();
        if only.is_some() {
            eprintln!("{}", mutant.description);
        }
        total += 1;

        let steps: &[&str] = if with_prepare {
            &["read + resample", "prepare"]
        } else {
            &["read + resample"]
        };
        for &step in steps {
            let before = LIVE.load(Relaxed);
            PEAK.store(before, Relaxed);
            LARGEST.store(0, Relaxed);
            let t0 = Instant::now();
            STARTED_MS.store(clock.elapsed().as_millis() as u64, Relaxed);
            let result = catch_unwind(|| {
                if step == "prepare" {
                    Outcome {
                        read: run_prepare(format, &mutant.bytes),
                        ..Outcome::default()
                    }
                } else {
                    read_and_resample(format, &mutant.bytes, bases[mutant.base].route)
                }
            });
            STARTED_MS.store(u64::MAX, Relaxed);
            let elapsed = t0.elapsed();
            let peak = PEAK.load(Relaxed).saturating_sub(before);
            let largest = LARGEST.load(Relaxed);
            let what = format!("{step} of {}", mutant.description);
            per_base[mutant.base].0 += elapsed;

            if elapsed > slowest.0 {
                slowest = (elapsed, what.clone());
            }
            let ratio = peak as f64 / mutant.bytes.len().max(1) as f64;
            if ratio > largest_ratio.0 {
                largest_ratio = (ratio, what.clone());
            }
            if largest > largest_request.0 {
                largest_request = (largest, what.clone());
            }
            match result {
                Ok(outcome) if step == "prepare" => {
                    prepares += 1;
                    prepares_ok += usize::from(outcome.read);
                }
                Ok(outcome) => {
                    per_base[mutant.base].1 += 1;
                    if outcome.read {
                        per_base[mutant.base].2 += 1;
                        read_ok += 1;
                    } else {
                        read_errors += 1;
                    }
                    sequences += outcome.sequences;
                    resample_errors += outcome.resample_errors;
                    if let Some(text) = outcome.non_finite {
                        non_finite += 1;
                        failures.push(format!("NON-FINITE FEATURES ({text}): {what}"));
                    }
                }
                Err(_) => {
                    panics += 1;
                    let message = LAST_PANIC.lock().unwrap().take().unwrap_or_default();
                    failures.push(format!("PANIC ({message}): {what}"));
                }
            }
            if elapsed > SLOW {
                slow += 1;
                failures.push(format!("SLOW ({:.1} s): {what}", elapsed.as_secs_f64()));
            }
            if peak > memory_bound(mutant.bytes.len()) {
                over_memory += 1;
                failures.push(format!(
                    "MEMORY (peak {peak} bytes for {} input bytes, bound {}): {what}",
                    mutant.bytes.len(),
                    memory_bound(mutant.bytes.len())
                ));
            }
        }
    }
    let _ = std::panic::take_hook();

    eprintln!(
        "mutation test: {total} mutants in {:.1} s: {read_errors} rejected with an error, \
         {read_ok} read ({sequences} sequences resampled, {resample_errors} resample errors); \
         {prepares} prepare runs ({prepares_ok} wrote files); {panics} panics, {slow} slow \
         (> {} s), {over_memory} over the memory bound, {non_finite} with non-finite features",
        run_start.elapsed().as_secs_f64(),
        SLOW.as_secs()
    );
    eprintln!(
        "slowest {:.3} s: {}\nlargest peak {:.1} bytes per input byte: {}\nlargest single \
         allocation {} bytes: {}",
        slowest.0.as_secs_f64(),
        slowest.1,
        largest_ratio.0,
        largest_ratio.1,
        largest_request.0,
        largest_request.1
    );
    for (base, (time, mutants, read)) in bases.iter().zip(&per_base) {
        eprintln!(
            "  {:<40} {mutants:>4} mutants, {read:>4} read, {:>6.2} s",
            base.name,
            time.as_secs_f64()
        );
    }
    assert!(!REFUSED.load(Relaxed), "an allocation was refused");
    if !failures.list.is_empty() {
        let shown: Vec<&String> = failures.list.iter().take(12).collect();
        panic!(
            "{} failures among {total} mutants (rerun one with HRCAST_MUTANT=<index>); the \
             first ones:\n{}",
            failures.list.len(),
            shown
                .iter()
                .map(|s| format!("- {s}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
