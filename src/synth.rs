//! `hrcast synth`: synthetic workouts whose heart rate follows a physiological model, written
//! in the FitRec/Endomondo JSON-lines format (docs/formats.md).
//!
//! # The model
//!
//! Each simulated **person** draws:
//! - sex (male or female, even odds) and age (20 to 60 years);
//! - maximal heart rate `hr_max = 208 - 0.7 age + N(0, 5)` (Tanaka), resting heart rate
//!   `hr_rest` between 45 and 75 bpm, lower for the fitter;
//! - fitness `f` in [0, 1], which sets the threshold speed on the flat: running `9 + 7 f` km/h,
//!   cycling `24 + 12 f` km/h;
//! - heart-rate time constants: on-kinetics `tau_on` 15 to 35 s (rising), off-kinetics
//!   `tau_off` 30 to 80 s (recovering, slower);
//! - cardiac drift: 2 to 8 bpm per hour of work at threshold.
//!
//! Each **workout** draws a sport (run or bike), a duration (25 to 100 minutes), a start time
//! (2 to 5 days after the person's previous one), a route and a plan:
//! - the route is an altitude profile over distance: segments of 200 m to 2 km with grades
//!   drawn from N(0, 3%) clipped to ±12%, starting at 0 to 1,500 m;
//! - the plan is a warm-up at 60 % effort, a main part (steady at 70 to 90 %, intervals of
//!   1 to 5 minutes at 95 to 115 % with recoveries at 50 %, or fartlek with random changes) and a
//!   cool-down at 55 %, with up to two pauses of 20 to 180 s (stopped, speed 0) on the way.
//!
//! The simulation runs at 1 s:
//! - speed follows effort and grade: `v = e v_threshold / (1 + k grade)` (`k` = 8 running,
//!   15 cycling; descents speed a rider up, capped at 65 km/h) with AR(1) noise, through a
//!   first-order response of 4 s (people do not change speed instantly);
//! - the metabolic load is what the speed and the climb demand: `load = v (1 + k grade) /
//!   v_threshold` (0 when stopped), so speed and altitude carry the information;
//! - the heart rate's target is `hr_rest + (hr_max - hr_rest) (0.15 + 0.72 load)`, capped at
//!   `hr_max`, plus drift `drift · hours · load`;
//! - the heart rate approaches the target with `d hr/dt = (target - hr) / tau`, `tau = tau_on`
//!   when rising and `tau_off` when falling, which gives the lag that lags, derivatives and
//!   rolling means can explain.
//!
//! The **recording** is "smart": a sample every 1 to 8 s (a base interval per workout, jittered),
//! heart rate with N(0, 1.5) bpm sensor noise, barometric altitude noise of 0.5 m, GPS positions
//! with 3 m noise along a wandering heading, and in one workout of three, one to three sensor
//! dropouts of 10 to 60 s where the strap reports 0 bpm (masked downstream). One workout in four
//! has no `speed` key, as in FitRec, so speed must be derived from the positions.
//!
//! Each line also carries the person's `restingHeartRate` and `maxHeartRate` (rounded to the
//! bpm), as a device's user profile would: the person-level inputs `resting_hr` and `max_hr`.
//!
//! Everything is drawn from one seeded generator: the same seed gives the same file.

use crate::atomic;
use crate::values::at_least;
use anyhow::{Context, Result, ensure};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The file `synth` writes inside `--out`, named like the FitRec data set.
pub const SYNTH_FILE_NAME: &str = "endomondoHR_proper.json";
/// Simulation step, seconds.
const DT_S: f64 = 1.0;
/// Speed response time constant, seconds.
const SPEED_TAU_S: f64 = 4.0;
/// Cycling speed cap on descents, km/h.
const MAX_BIKE_KMH: f64 = 65.0;
/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_195.0;
/// First workout start: 2015-01-01 00:00 UTC.
const FIRST_START_S: f64 = 1_420_070_400.0;

/// Options of `hrcast synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthOptions {
    /// Folder to write endomondoHR_proper.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of simulated people.
    #[arg(long, default_value_t = 30, value_parser = at_least(1))]
    pub users: u32,
    /// Workouts per person.
    #[arg(long, alias = "workouts_per_user", default_value_t = 8, value_parser = at_least(1))]
    pub workouts_per_user: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A simulated person's physiology.
#[derive(Debug, Clone)]
struct Person {
    id: i64,
    male: bool,
    hr_rest: f64,
    hr_max: f64,
    fitness: f64,
    tau_on: f64,
    tau_off: f64,
    drift_bpm_per_h: f64,
}

impl Person {
    fn draw(id: i64, rng: &mut StdRng) -> Person {
        let age: f64 = rng.random_range(20.0..60.0);
        let fitness: f64 = rng.random_range(0.0..1.0);
        let noise = Normal::new(0.0, 5.0).expect("valid normal");
        Person {
            id,
            male: rng.random_bool(0.5),
            hr_rest: 75.0 - 25.0 * fitness + rng.random_range(-5.0..5.0),
            hr_max: 208.0 - 0.7 * age + noise.sample(rng),
            fitness,
            tau_on: rng.random_range(15.0..35.0),
            tau_off: rng.random_range(30.0..80.0),
            drift_bpm_per_h: rng.random_range(2.0..8.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sport {
    Run,
    Bike,
}

impl Sport {
    fn name(self) -> &'static str {
        match self {
            Sport::Run => "run",
            Sport::Bike => "bike",
        }
    }

    /// How much a grade slows the athlete down at equal effort.
    fn grade_cost(self) -> f64 {
        match self {
            Sport::Run => 8.0,
            Sport::Bike => 15.0,
        }
    }

    fn threshold_kmh(self, fitness: f64) -> f64 {
        match self {
            Sport::Run => 9.0 + 7.0 * fitness,
            Sport::Bike => 24.0 + 12.0 * fitness,
        }
    }
}

/// Altitude as a piecewise-linear function of distance.
struct Route {
    /// (start distance m, start altitude m, grade) per segment.
    segments: Vec<(f64, f64, f64)>,
}

impl Route {
    fn draw(length_m: f64, rng: &mut StdRng) -> Route {
        let grade = Normal::<f64>::new(0.0, 0.03).expect("valid normal");
        let mut segments = Vec::new();
        let (mut d, mut alt): (f64, f64) = (0.0, rng.random_range(0.0..1500.0));
        while d <= length_m {
            let g: f64 = grade.sample(rng).clamp(-0.12, 0.12);
            let len: f64 = rng.random_range(200.0..2000.0);
            segments.push((d, alt, g));
            d += len;
            alt = (alt + g * len).max(0.0);
        }
        Route { segments }
    }

    /// (altitude, grade) at a distance.
    fn at(&self, d: f64) -> (f64, f64) {
        let i = self
            .segments
            .partition_point(|s| s.0 <= d)
            .saturating_sub(1);
        let (d0, a0, g) = self.segments[i];
        ((a0 + g * (d - d0)).max(0.0), g)
    }
}

/// Planned effort (fraction of threshold) per second; 0 marks a pause.
fn draw_plan(duration_s: usize, rng: &mut StdRng) -> Vec<f64> {
    let warm = rng.random_range(300..600).min(duration_s / 4);
    let cool = 300.min(duration_s / 6);
    let mut plan = vec![0.6; warm];
    let main = duration_s - warm - cool;
    match rng.random_range(0..3) {
        0 => plan.extend(std::iter::repeat_n(rng.random_range(0.7..0.9), main)),
        1 => {
            while plan.len() < warm + main {
                let work = rng.random_range(60..300);
                let rest = rng.random_range(60..180);
                plan.extend(std::iter::repeat_n(rng.random_range(0.95..1.15), work));
                plan.extend(std::iter::repeat_n(0.5, rest));
            }
            plan.truncate(warm + main);
        }
        _ => {
            while plan.len() < warm + main {
                let len = rng.random_range(30..400);
                plan.extend(std::iter::repeat_n(rng.random_range(0.55..1.1), len));
            }
            plan.truncate(warm + main);
        }
    }
    plan.extend(std::iter::repeat_n(0.55, cool));
    for _ in 0..rng.random_range(0..=2) {
        let len = rng.random_range(20..180);
        let at = rng.random_range(warm..(duration_s - len).max(warm + 1));
        for e in plan.iter_mut().skip(at).take(len) {
            *e = 0.0;
        }
    }
    plan
}

/// The recorded channels of one workout.
#[derive(Default)]
struct Recording {
    timestamp: Vec<f64>,
    heart_rate: Vec<f64>,
    speed: Vec<f64>,
    altitude: Vec<f64>,
    latitude: Vec<f64>,
    longitude: Vec<f64>,
}

/// Simulates one workout second by second and records it.
fn simulate(person: &Person, sport: Sport, start_s: f64, rng: &mut StdRng) -> Recording {
    let duration_s = rng.random_range(25 * 60..100 * 60);
    let threshold = sport.threshold_kmh(person.fitness);
    let route = Route::draw(threshold * 1.5 * duration_s as f64 / 3.6, rng);
    let plan = draw_plan(duration_s, rng);
    let unit = Normal::new(0.0, 1.0).expect("valid normal");

    let base_interval: f64 = rng.random_range(1.0..6.0);
    let dropouts: Vec<(usize, usize)> = if rng.random_bool(1.0 / 3.0) {
        (0..rng.random_range(1..=3))
            .map(|_| (rng.random_range(0..duration_s), rng.random_range(10..60)))
            .collect()
    } else {
        Vec::new()
    };
    let (mut lat, mut lon) = (rng.random_range(40.0..55.0), rng.random_range(-5.0..15.0));
    let mut heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);

    let mut rec = Recording::default();
    let (mut v, mut d, mut hr) = (0.0f64, 0.0f64, person.hr_rest + 10.0);
    let mut speed_noise = 0.0;
    let mut next_record = 0.0;
    for (second, &effort) in plan.iter().enumerate() {
        let t = second as f64 * DT_S;
        let (altitude, grade) = route.at(d);
        speed_noise = 0.95 * speed_noise + 0.3 * unit.sample(rng);
        let wanted = if effort == 0.0 {
            0.0
        } else {
            let v = effort * threshold / (1.0 + sport.grade_cost() * grade).max(0.3);
            let v = v * (1.0 + 0.03 * speed_noise);
            if sport == Sport::Bike {
                v.min(MAX_BIKE_KMH)
            } else {
                v
            }
        };
        v += (wanted - v) * DT_S / SPEED_TAU_S;
        let load = (v * (1.0 + sport.grade_cost() * grade) / threshold).max(0.0);
        let reserve = person.hr_max - person.hr_rest;
        let target = (person.hr_rest + reserve * (0.15 + 0.72 * load)).min(person.hr_max)
            + person.drift_bpm_per_h * (t / 3600.0) * load;
        let tau = if target > hr {
            person.tau_on
        } else {
            person.tau_off
        };
        hr += (target - hr) * DT_S / tau;

        let step_m = v / 3.6 * DT_S;
        d += step_m;
        heading += 0.05 * unit.sample(rng);
        lat += step_m * heading.cos() / METRES_PER_DEGREE;
        lon += step_m * heading.sin() / (METRES_PER_DEGREE * lat.to_radians().cos());

        if t >= next_record {
            let dropped = dropouts
                .iter()
                .any(|&(s, len)| second >= s && second < s + len);
            let gps = 3.0 / METRES_PER_DEGREE;
            rec.timestamp.push(start_s + t);
            rec.heart_rate.push(if dropped {
                0.0
            } else {
                (hr + 1.5 * unit.sample(rng)).round()
            });
            rec.speed.push(v);
            rec.altitude.push(altitude + 0.5 * unit.sample(rng));
            rec.latitude.push(lat + gps * unit.sample(rng));
            rec.longitude.push(lon + gps * unit.sample(rng));
            next_record = t
                + (base_interval + rng.random_range(-1.0..2.0))
                    .clamp(1.0, 8.0)
                    .round();
        }
    }
    rec
}

/// Formats a list as a Python literal with `decimals` digits.
fn list(values: &[f64], decimals: usize) -> String {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{v:.decimals$}").expect("writing to a String");
    }
    out.push(']');
    out
}

/// Generates the whole data set as FitRec JSON lines.
pub fn generate(users: usize, workouts_per_user: usize, seed: u64) -> String {
    let mut out = Vec::new();
    generate_into(&mut out, users, workouts_per_user, seed).expect("writing to memory");
    String::from_utf8(out).expect("synth writes ASCII")
}

/// Writes the data set [`generate`] makes to `out`, one line as soon as it is simulated, so that
/// memory holds one workout whatever the size of the set.
pub fn generate_into(
    out: &mut impl std::io::Write,
    users: usize,
    workouts_per_user: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut line = String::new();
    for u in 0..users {
        let person = Person::draw(u as i64 + 1, &mut rng);
        let mut start = FIRST_START_S + rng.random_range(0.0..30.0) * 86_400.0;
        for w in 0..workouts_per_user {
            let sport = if rng.random_bool(0.55) {
                Sport::Run
            } else {
                Sport::Bike
            };
            let with_speed = rng.random_bool(0.75);
            let rec = simulate(&person, sport, start.round(), &mut rng);
            let id = person.id * 100_000 + w as i64;
            line.clear();
            write!(
                line,
                "{{'id': {id}, 'userId': {}, 'gender': '{}', 'restingHeartRate': {:.0}, \
                 'maxHeartRate': {:.0}, 'sport': '{}', 'timestamp': {}, 'altitude': {}, \
                 'heart_rate': {}, 'latitude': {}, 'longitude': {}",
                person.id,
                if person.male { "male" } else { "female" },
                person.hr_rest,
                person.hr_max,
                sport.name(),
                list(&rec.timestamp, 0),
                list(&rec.altitude, 1),
                list(&rec.heart_rate, 0),
                list(&rec.latitude, 6),
                list(&rec.longitude, 6),
            )
            .expect("writing to a String");
            if with_speed {
                write!(line, ", 'speed': {}", list(&rec.speed, 2)).expect("writing to a String");
            }
            line.push_str("}\n");
            out.write_all(line.as_bytes())?;
            start += rng.random_range(2.0..5.0) * 86_400.0;
        }
    }
    Ok(())
}

/// Writes the synthetic workouts, each as it is simulated, and returns the path written.
pub fn synth(options: &SynthOptions) -> Result<PathBuf> {
    ensure!(options.users > 0, "--users must be at least 1");
    ensure!(
        options.workouts_per_user > 0,
        "--workouts-per-user must be at least 1"
    );
    let path = Path::new(&options.out).join(SYNTH_FILE_NAME);
    atomic::write_with(&path, |out| {
        generate_into(
            out,
            options.users as usize,
            options.workouts_per_user as usize,
            options.seed,
        )
        .with_context(|| format!("cannot write {}", path.display()))
    })?;
    Ok(path)
}

/// Runs `hrcast synth` from the command line: writes the file and says what it wrote.
pub fn run(options: &SynthOptions) -> Result<ExitCode> {
    let path = synth(options)?;
    println!(
        "wrote {} ({} users x {} workouts)",
        path.display(),
        options.users,
        options.workouts_per_user
    );
    Ok(ExitCode::SUCCESS)
}
