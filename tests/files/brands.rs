//! One real file per device brand at hand (tests/data/brands, see its README; Garmin's from
//! tests/data/workouts): each reads completely, to the same steps and heart rate as before the
//! FIT decoder's stderr line became hrcast's own record, and `hrcast prepare` over it prints
//! nothing on stderr that hrcast did not write.

#[path = "../common/fit_crc.rs"]
mod fit_crc;

use crate::common::{hrcast_in, succeeded};
use hrcast::data::{self, Format, Profile};
use hrcast::workouts;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One brand's file and what hrcast made of it (recorded with fitparser 0.11.0 unpatched).
struct Brand {
    brand: &'static str,
    /// Relative to the repository root.
    file: &'static str,
    /// Records read from the file.
    records: usize,
    /// Steps of the 5 s grid, over the pieces kept.
    steps: usize,
    /// Of them, steps with a valid heart rate.
    valid: usize,
    /// Mean heart rate over the valid steps, bpm.
    mean_hr: f64,
    /// The warnings `prepare` prints about it (hrcast's own), `{file}` standing for its path.
    warnings: &'static [&'static str],
}

const BRANDS: &[Brand] = &[
    Brand {
        brand: "Garmin (Edge 1000)",
        file: "tests/data/workouts/sweat/2020-06-01-16-52-40.fit",
        records: 96,
        steps: 26,
        valid: 20,
        mean_hr: 149.95,
        warnings: &[],
    },
    Brand {
        brand: "COROS (PACE 2; 1 odd-size field definition)",
        file: "tests/data/brands/coros/448700156267757569.fit",
        records: 1525,
        steps: 306,
        valid: 304,
        mean_hr: 172.12,
        warnings: &[],
    },
    Brand {
        brand: "COROS (PACE 2; 30 odd-size field definitions)",
        file: "tests/data/brands/coros/449927328282214400.fit",
        records: 14176,
        steps: 3152,
        valid: 2861,
        mean_hr: 144.94,
        warnings: &[],
    },
    Brand {
        brand: "Stryd (developer fields)",
        file: "tests/data/brands/stryd/developer-types-sample.fit",
        records: 3424,
        steps: 685,
        valid: 685,
        mean_hr: 130.82,
        warnings: &[],
    },
    Brand {
        brand: "Suunto (cross-country skiing)",
        file: "tests/data/brands/suunto/test2.fit",
        records: 3913,
        steps: 598,
        valid: 597,
        mean_hr: 153.22,
        warnings: &[
            "warning: {file}: 924 records stamped at or before the record before them dropped",
        ],
    },
    Brand {
        brand: "Wahoo (ELEMNT BOLT)",
        file: "tests/data/brands/wahoo/Morning_Ride.fit",
        records: 10208,
        steps: 2252,
        valid: 2046,
        mean_hr: 164.94,
        warnings: &[],
    },
    Brand {
        brand: "Zwift",
        file: "tests/data/brands/zwift/Zwift_Zwift_Fast_Fridays_Bologna_Time_Trial_E_.fit",
        records: 1224,
        steps: 245,
        valid: 245,
        mean_hr: 172.97,
        warnings: &[],
    },
    Brand {
        brand: "Polar (M400, TCX)",
        file: "tests/data/brands/polar/3173437224.tcx",
        records: 3507,
        steps: 781,
        valid: 701,
        mean_hr: 130.85,
        warnings: &[],
    },
];

/// Steps, valid steps and mean heart rate of the workouts in `path`, as `prepare` resamples them.
fn resampled(path: &Path) -> (usize, usize, f64) {
    let loaded = workouts::load(&[path.to_path_buf()], 5.0, Profile::default()).unwrap();
    let mut steps = 0;
    let mut heart_rates = Vec::new();
    for p in &loaded.prepared {
        steps += p.sequence.len();
        let valid = p.sequence.valid.iter();
        heart_rates.extend(p.sequence.heart_rate.iter().zip(valid).filter(|(_, v)| **v));
    }
    let sum: f64 = heart_rates.iter().map(|(hr, _)| f64::from(**hr)).sum();
    (steps, heart_rates.len(), sum / heart_rates.len() as f64)
}

#[test]
fn every_brand_reads_completely_to_the_same_steps_and_heart_rate() {
    for brand in BRANDS {
        let path = Path::new(ROOT).join(brand.file);
        let name = brand.brand;
        let mut skipped = Vec::new();
        let read = data::read_file(&path, &mut skipped).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(skipped.is_empty(), "{name}: {skipped:?}");
        assert_eq!(read.len(), 1, "{name}");
        assert_eq!(read[0].samples.len(), brand.records, "{name}: records");
        let (steps, valid, mean_hr) = resampled(&path);
        assert_eq!((steps, valid), (brand.steps, brand.valid), "{name}: steps");
        assert!(
            (mean_hr - brand.mean_hr).abs() < 0.005,
            "{name}: mean heart rate {mean_hr:.4}, was {}",
            brand.mean_hr
        );
    }
}

#[test]
fn prepare_prints_only_hrcast_s_own_warnings_for_every_brand() {
    let dir = tempfile::tempdir().unwrap();
    for (i, brand) in BRANDS.iter().enumerate() {
        let file = Path::new(ROOT).join(brand.file).display().to_string();
        let out = dir.path().join(i.to_string()).display().to_string();
        let args = [
            "prepare", "--input", &file, "--out", &out, "--split", "1,0,0",
        ];
        let run = hrcast_in(dir.path(), &args);
        let stdout = succeeded(&run);
        assert!(
            stdout.contains("1 workouts, 1 kept"),
            "{}: {stdout}",
            brand.brand
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        let want: Vec<String> = brand
            .warnings
            .iter()
            .map(|w| w.replace("{file}", &file))
            .collect();
        assert_eq!(stderr.lines().collect::<Vec<_>>(), want, "{}", brand.brand);
    }
}

#[test]
fn the_two_coros_files_together_print_nothing() {
    // Before the patch: 31 lines "ERROR: field size: 1 is not a multiple of the base type Uint32
    // (size 4) parsing as a byte array", from fitparser. The field (`event.data`) is no field
    // hrcast reads, so there is nothing to say.
    let dir = tempfile::tempdir().unwrap();
    let coros = Path::new(ROOT).join("tests/data/brands/coros");
    let out = dir.path().join("out").display().to_string();
    let input = coros.display().to_string();
    let run = hrcast_in(
        dir.path(),
        &[
            "prepare", "--input", &input, "--out", &out, "--split", "1,0,0",
        ],
    );
    assert!(succeeded(&run).contains("read 2 files: 2 workouts, 2 kept"));
    assert_eq!(String::from_utf8_lossy(&run.stderr), "");
}

/// The offsets of the base-type bytes of `field` in the definitions of `record` messages of a
/// little-endian FIT file (definition header, reserved 0, architecture 0, message 20, fields).
fn record_field_base_types(bytes: &[u8], field: u8) -> Vec<usize> {
    let mut at = Vec::new();
    for p in 0..bytes.len().saturating_sub(6) {
        if bytes[p] & 0xF0 == 0x40 && bytes[p + 1..p + 5] == [0, 0, 20, 0] {
            let fields = usize::from(bytes[p + 5]);
            let defs = bytes[p + 6..].chunks_exact(3).take(fields);
            at.extend(
                defs.enumerate()
                    .filter(|(_, d)| d[0] == field)
                    .map(|(i, _)| p + 8 + 3 * i),
            );
        }
    }
    at
}

#[test]
fn an_odd_size_field_that_hrcast_reads_is_ignored_with_one_note() {
    // A Garmin file whose heart_rate (1 byte, uint8) is redefined as a uint16: 1 byte is no
    // whole uint16, so the decoder reads it as a raw byte. hrcast ignores it and says so once.
    let path = Path::new(ROOT).join(BRANDS[0].file);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = record_field_base_types(&bytes, 3);
    assert_eq!(at.len(), 2, "the file defines record messages twice");
    for &i in &at {
        assert_eq!(bytes[i], 0x02, "heart_rate is a uint8");
        bytes[i] = 0x84;
    }
    fit_crc::fix_fit_crcs(&mut bytes);
    let mut skipped = Vec::new();
    let read = data::read_bytes(Format::Fit, &bytes, "odd.fit", &mut skipped).unwrap();
    assert_eq!(read[0].samples.len(), BRANDS[0].records);
    assert!(read[0].samples.iter().all(|s| s.heart_rate.is_none()));
    assert!(read[0].samples.iter().all(|s| s.distance_m.is_some()));
    let notes: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "odd.fit: 1 of its fields defined with a size that is no multiple of their type's, \
          read as raw bytes, ignored: record heart_rate (1 byte for a uint16)"
        ]
    );
}

#[test]
fn the_vendored_fitparser_is_the_locked_one_and_the_patch_applies() {
    // Cargo.toml's [patch.crates-io] points fitparser at vendor/fitparser: the lock file then
    // names it without a registry source. A fitparser upgrade that leaves the patch behind
    // shows here (and in the build, which needs the patch's take_odd_size_fields).
    let read = |p: &str| std::fs::read_to_string(PathBuf::from(ROOT).join(p)).unwrap();
    let version = |text: &str| -> String {
        let line = text.lines().find(|l| l.starts_with("version = ")).unwrap();
        line.trim_start_matches("version = ")
            .trim_matches('"')
            .to_string()
    };
    let vendored = version(&read("vendor/fitparser/Cargo.toml"));
    let lock = read("Cargo.lock");
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"fitparser\""))
        .unwrap();
    assert_eq!(
        version(entry.trim()),
        vendored,
        "the vendored fitparser is the locked one"
    );
    assert!(
        !entry.contains("source ="),
        "fitparser comes from a registry, not vendor/fitparser: the patch no longer applies"
    );
    let manifest = read("Cargo.toml");
    assert!(manifest.contains("fitparser = { path = \"vendor/fitparser\" }"));
    assert!(manifest.contains(&format!("fitparser = \"{vendored}\"")));
    // The patch itself: the decoder's source prints nothing (outside its doc comments).
    for file in [
        "src/de/parser.rs",
        "src/de/decode.rs",
        "src/de/mod.rs",
        "src/lib.rs",
    ] {
        let text = read(&format!("vendor/fitparser/{file}"));
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        let prints = code.filter(|l| l.contains("print!(") || l.contains("println!("));
        assert_eq!(prints.count(), 0, "vendor/fitparser/{file} prints");
    }
    assert!(read("vendor/fitparser/src/de/parser.rs").contains("fn take_odd_size_fields"));
}
