//! What every reader target does: decode the bytes as one format, then resample each workout;
//! and the same bytes read as a planned route (points without times, timed from a speed as
//! `hrcast predict --speed` times them).

use hrcast::data::{self, Format, PointTimes};
use hrcast::{features, predict};

/// Run once before fuzzing: puts back Rust's default panic hook in place of libfuzzer-sys's,
/// which aborts on every panic, even one the code under test catches. The FIT reader turns a
/// panic inside fitparser into an error (`catch_unwind`), as it does in hrcast itself; that is
/// handled, not a crash. A panic that escapes still ends the run as a crash (libfuzzer-sys
/// aborts on it), and every panic's message is still printed by the default hook.
pub fn init() {
    let _ = std::panic::take_hook();
}

/// Grid interval of the resampling, in seconds (the default of `hrcast prepare`).
const INTERVAL_S: f64 = 5.0;

/// A planned route's speed, km/h.
const ROUTE_SPEED_KMH: f64 = 12.0;

/// Reads `bytes` as `format` and resamples every workout read; then reads them as a planned
/// route, times it and resamples it. Errors are fine; panics, hangs and runaway allocations are
/// what the fuzzer looks for.
pub fn read_and_resample(format: Format, bytes: &[u8]) {
    let mut skipped = Vec::new();
    if let Ok(workouts) = data::read_bytes(format, bytes, "fuzz", &mut skipped) {
        for workout in &workouts {
            let _ = features::resample(workout, INTERVAL_S);
        }
    }
    let route = data::read_bytes_with(format, bytes, "fuzz", PointTimes::Optional, &mut skipped);
    for mut workout in route.into_iter().flatten() {
        if predict::retime(&mut workout, ROUTE_SPEED_KMH, 0.0, INTERVAL_S).is_ok() {
            let _ = features::resample_any(&workout, INTERVAL_S);
        }
    }
}
