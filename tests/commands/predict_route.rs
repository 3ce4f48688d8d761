//! `predict` on a planned route: points without times (a GPX route, a route planner's track, a
//! TCX course) timed from `--pace` or `--speed`, the CSV, the PNG and the printed summary; a
//! folder of routes; a recorded workout retimed at another pace.

use crate::common::{WORKOUTS, fails_with, hrcast_in, png_size, succeeded};
use hrcast::data::haversine_m;
use std::path::Path;
use std::process::Output;

/// Latitude step between the points of the test routes, degrees (about 500 m north).
const STEP_DEG: f64 = 0.0045;
/// Points of the test routes.
const POINTS: usize = 13;

/// Runs hrcast in `dir` with `args`; fails the test where it fails; its stdout.
fn run(dir: &Path, args: &[&str]) -> String {
    succeeded(&hrcast_in(dir, args))
}

/// `hrcast predict` in `dir`, on the CPU, with the model [`train`] wrote, of `input` into
/// `out`, with `flags`.
fn predict_in(dir: &Path, input: &str, out: &str, flags: &[&str]) -> Output {
    let mut args = vec![
        "predict",
        "--checkpoint",
        "checkpoints/best_model.safetensors",
        "--input",
        input,
        "--out",
        out,
        "--device",
        "cpu",
    ];
    args.extend(flags);
    hrcast_in(dir, &args)
}

/// A tiny model trained on the test workouts, at `dir/checkpoints/best_model.safetensors`.
fn train(dir: &Path) {
    train_with(dir, &[]);
}

/// [`train`] with more flags.
fn train_with(dir: &Path, flags: &[&str]) {
    let prepare = [
        "prepare",
        "--input",
        WORKOUTS,
        "--out",
        "p",
        "--seq-len",
        "100",
    ];
    run(dir, &prepare);
    let mut train = vec![
        "train",
        "--data",
        "p",
        "--epochs",
        "1",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--device",
        "cpu",
    ];
    train.extend(flags);
    run(dir, &train);
}

/// The route's points: (latitude, longitude, elevation), north from 45° N 7° E, up a hill and
/// down again.
fn points() -> Vec<(f64, f64, f64)> {
    (0..POINTS)
        .map(|i| {
            let climb = i.min(POINTS - 1 - i) as f64;
            (45.0 + STEP_DEG * i as f64, 7.0, 200.0 + 20.0 * climb)
        })
        .collect()
}

/// The route's length, km.
fn route_km() -> f64 {
    let p = points();
    let metres: f64 = p
        .windows(2)
        .map(|w| haversine_m(w[0].0, w[0].1, w[1].0, w[1].1))
        .sum();
    metres / 1000.0
}

/// A GPX route of [`points`] as a route planner writes it: `<rte>` of `<rtept>`s, no times.
fn gpx_route() -> String {
    let points: String = (points().iter())
        .map(|(lat, lon, ele)| {
            format!("<rtept lat=\"{lat}\" lon=\"{lon}\"><ele>{ele}</ele></rtept>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><gpx version=\"1.1\"><rte><name>hill</name>{points}</rte></gpx>"
    )
}

/// The same route as a track without times (`<trkpt>`s).
fn gpx_track_without_times() -> String {
    gpx_route()
        .replace("rtept", "trkpt")
        .replace("<rte>", "<trk><trkseg>")
        .replace("</rte>", "</trkseg></trk>")
}

/// The same route as a TCX course: `<Trackpoint>`s without `<Time>`.
fn tcx_course() -> String {
    let points: String = (points().iter())
        .map(|(lat, lon, ele)| {
            format!(
                "<Trackpoint><Position><LatitudeDegrees>{lat}</LatitudeDegrees>\
                 <LongitudeDegrees>{lon}</LongitudeDegrees></Position>\
                 <AltitudeMeters>{ele}</AltitudeMeters></Trackpoint>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><TrainingCenterDatabase><Courses><Course><Name>hill</Name>\
         <Track>{points}</Track></Course></Courses></TrainingCenterDatabase>"
    )
}

/// The rows of a predict CSV: (time_s, actual, predicted); checks the header.
fn rows(path: &Path) -> Vec<(f64, Option<f64>, f64)> {
    let csv = std::fs::read_to_string(path).unwrap();
    assert_eq!(csv.lines().next(), Some("time_s,actual,predicted"));
    csv.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let number = |k: usize| cells[k].parse::<f64>().unwrap();
            (number(0), cells[1].parse().ok(), number(2))
        })
        .collect()
}

/// The number after `label` in `text` (up to the next space or comma).
fn number_after(text: &str, label: &str) -> f64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("{label}: {text}"))
        + label.len()..];
    let end = rest.find([' ', ',']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|e| panic!("{label}: {e}: {text}"))
}

/// Seconds of a clock `m:ss` or `h:mm:ss`.
fn seconds(clock: &str) -> f64 {
    clock.split(':').fold(0.0, |total, part| {
        total * 60.0 + part.parse::<f64>().unwrap()
    })
}

#[test]
fn a_planned_route_is_timed_by_its_pace_plotted_and_summed_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d);
    std::fs::write(d.join("hill.gpx"), gpx_route()).unwrap();
    let predict = |out: &str, flags: &[&str]| predict_in(d, "hill.gpx", out, flags);

    // Without a pace there is nothing to time the route with.
    fails_with(
        &predict("none.csv", &[]),
        &["hill.gpx", "--pace", "--speed"],
    );
    assert!(!d.join("none.csv").exists() && !d.join("none.png").exists());
    fails_with(&predict("x.csv", &["--pace", "5:75"]), &["--pace", "MM:SS"]);
    fails_with(
        &predict("x.csv", &["--pace", "5:00", "--speed", "12"]),
        &["--pace", "--speed"],
    );

    let out = succeeded(&predict(
        "pace/hill.csv",
        &["--pace", "5:00", "--max-hr", "190"],
    ));
    let by_speed = succeeded(&predict("speed/hill.csv", &["--speed", "12"]));
    let paced = rows(&d.join("pace/hill.csv"));
    assert_eq!(
        paced,
        rows(&d.join("speed/hill.csv")),
        "5:00 per km is 12 km/h"
    );
    assert!(
        paced.iter().all(|r| r.1.is_none()),
        "a route records no heart rate"
    );

    // 5 minutes per km: the last step is the route's length at 300 s per km (on a 5 s grid).
    let km = route_km();
    let last = paced.last().unwrap().0;
    assert!((last - km * 300.0).abs() <= 5.0, "{last} s for {km} km");
    assert!(paced.windows(2).all(|w| w[1].0 - w[0].0 == 5.0));

    // The summary: distance, duration, mean and peak as in the CSV, zones adding up.
    assert!(
        out.contains("wrote pace/hill.csv and pace/hill.png"),
        "{out}"
    );
    assert!(
        (number_after(&out, "distance ") - km).abs() < 0.006,
        "{out}"
    );
    let duration = out
        .split("duration ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert_eq!(seconds(duration), last, "{out}");
    let predicted: Vec<f64> = paced.iter().map(|r| r.2).collect();
    let mean = predicted.iter().sum::<f64>() / predicted.len() as f64;
    let peak = predicted.iter().copied().fold(f64::MIN, f64::max);
    assert!((number_after(&out, "mean ") - mean).abs() < 0.06, "{out}");
    assert!((number_after(&out, "peak ") - peak).abs() < 0.06, "{out}");
    let zones = out.split("190 bpm: ").nth(1).expect(&out).trim();
    let zone_times: Vec<f64> = zones
        .split(", ")
        .map(|z| seconds(z.rsplit(' ').next().unwrap()))
        .collect();
    assert_eq!(zone_times.len(), 5, "{zones}");
    assert_eq!(zone_times.iter().sum::<f64>(), last, "{zones}");
    assert!(by_speed.contains("time in zones: unknown"), "{by_speed}");
    assert!(by_speed.contains("--max-hr"), "{by_speed}");

    // The plot: the heart rate over the elevation, one panel above the other.
    assert_eq!(png_size(&d.join("pace/hill.png")), (900, 1100));
}

#[test]
fn a_folder_of_routes_gives_one_csv_png_and_summary_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d);
    std::fs::create_dir_all(d.join("routes/tcx")).unwrap();
    std::fs::write(d.join("routes/track.gpx"), gpx_track_without_times()).unwrap();
    std::fs::write(d.join("routes/tcx/course.tcx"), tcx_course()).unwrap();
    std::fs::write(d.join("routes/broken.gpx"), "<gpx><rte><rtept").unwrap();
    let predict = |input: &str| predict_in(d, input, "planned", &["--speed", "12"]);
    let predicted = predict("routes");
    let out = succeeded(&predicted);
    let err = String::from_utf8_lossy(&predicted.stderr);
    assert!(err.contains("warning: skipped routes/broken.gpx"), "{err}");
    assert!(!d.join("planned/broken_predictions.csv").exists());
    assert_eq!(out.matches("wrote ").count(), 2, "{out}");
    assert_eq!(
        out.matches("predicted heart rate: mean").count(),
        2,
        "{out}"
    );
    let track = rows(&d.join("planned/track_predictions.csv"));
    let course = rows(&d.join("planned/tcx/course_predictions.csv"));
    assert_eq!(track, course, "the same route in two formats");
    for png in ["track_predictions.png", "tcx/course_predictions.png"] {
        assert_eq!(png_size(&d.join("planned").join(png)), (900, 1100), "{png}");
    }

    // Two files of one name would write one CSV: refused before anything is written.
    std::fs::create_dir_all(d.join("twins")).unwrap();
    std::fs::write(d.join("twins/hill.gpx"), gpx_route()).unwrap();
    std::fs::write(d.join("twins/hill.tcx"), tcx_course()).unwrap();
    std::fs::remove_dir_all(d.join("planned")).unwrap();
    fails_with(
        &predict("twins"),
        &["hill.gpx", "hill.tcx", "would both write"],
    );
    assert!(!d.join("planned/hill_predictions.csv").exists());
}

#[test]
fn a_route_predicted_with_history_is_the_persons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_with(d, &["--features", "all,history"]);
    std::fs::write(d.join("hill.gpx"), gpx_route()).unwrap();
    let history = Path::new(WORKOUTS).join("tcx");
    let predict = |out: &str, flags: &[&str]| {
        let predicted = predict_in(d, "hill.gpx", out, &[&["--pace", "6:00"], flags].concat());
        succeeded(&predicted);
        String::from_utf8_lossy(&predicted.stderr).into_owned()
    };
    let newcomer = predict("newcomer.csv", &[]);
    assert!(newcomer.contains("predicting for a newcomer"), "{newcomer}");
    let known = predict("known.csv", &["--history", history.to_str().unwrap()]);
    assert!(
        !known.contains("newcomer"),
        "the route starts now, after them: {known}"
    );
    assert_ne!(
        rows(&d.join("newcomer.csv")),
        rows(&d.join("known.csv")),
        "the person's history changes the prediction"
    );
}

#[test]
fn a_recorded_workout_given_a_pace_is_run_at_that_pace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d);
    let gpx = Path::new(WORKOUTS).join("gpx/garmin-activity.gpx");
    let predict =
        |out: &str, flags: &[&str]| succeeded(&predict_in(d, gpx.to_str().unwrap(), out, flags));
    let recorded = predict("recorded.csv", &[]);
    assert!(recorded.contains("MAE"), "{recorded}");
    let retimed = predict("slow.csv", &["--pace", "9:00"]);
    assert!(
        !retimed.contains("MAE"),
        "the recorded heart rate was at another pace"
    );
    let slow = rows(&d.join("slow.csv"));
    assert!(slow.iter().all(|r| r.1.is_none()));
    let km = number_after(&retimed, "distance ");
    let last = slow.last().unwrap().0;
    assert!(
        (last - km * 540.0).abs() <= 5.0 + 0.005 * 540.0,
        "{last} s, {km} km"
    );
}
